"""The campaigns dashboard: a pipeline bar per active campaign and the user's summary."""
from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.backlinks.service import create_backlink
from outreach.campaigns import service
from outreach.lib.clock import utcnow
from outreach.mail.sequences import configure_campaign, enroll_prospects, save_sequence, save_template
from outreach.mail.unsubscribe import signing_secret
from outreach.models import Backlink, Campaign, Prospect


def _fill(db: Session, campaign: Campaign, stages: dict[str, int]) -> None:
    for stage, n in stages.items():
        for _ in range(n):
            p = service.add_prospect(db, campaign, f"https://{uuid.uuid4().hex[:8]}.test/links",
                                     email=f"ed@{uuid.uuid4().hex[:6]}.test", contact_name="Ed Ito")
            if stage != "new":
                service.move_prospect(db, p, stage)
    db.commit()


def _link(db: Session, campaign: Campaign, status: str) -> Backlink:
    backlink = create_backlink(db, client_id=campaign.client_id, campaign_id=campaign.id,
                               page_url=f"https://{uuid.uuid4().hex[:6]}.test/post", target_url="https://acme.test/")
    backlink.status = status
    db.commit()
    return backlink


def _row(html: str, campaign: Campaign) -> str:
    match = re.search(rf'<tr data-campaign="{campaign.id}">(.*?)</tr>', html, re.S)
    assert match, f"no row for {campaign.name}"
    return match.group(1)


def _stat(html: str, name: str) -> str:
    match = re.search(rf'data-testid="sum-{name}">([^<]*)<', html)
    assert match, name
    return match.group(1)


def test_it_draws_a_pipeline_bar_per_active_campaign_with_its_stage_counts(
        login: Any, team: dict[str, Any], db: Session, make_campaign: Any) -> None:
    _fill(db, team["campaign"], {"new": 2, "contacted": 3, "live": 1})
    paused = make_campaign(team["client"], "Paused one")
    paused.status = "paused"
    db.commit()
    html = login(team["owner"]).get("/").get_data(as_text=True)
    row = _row(html, team["campaign"])
    assert '<svg' in row and 'aria-label="Prospects per stage"' in row
    assert "<title>New: 2</title>" in row and "<title>Contacted: 3</title>" in row and "<title>Live: 1</title>" in row
    assert "<title>Qualified" not in row  # empty stages take no room
    paused_row = _row(html, paused)
    assert "<svg" not in paused_row and "paused" in paused_row
    empty = _row(html, team["other_campaign"])
    assert "nothing yet" in empty


def test_the_summary_counts_stages_across_active_campaigns_and_links_live_and_lost(
        login: Any, team: dict[str, Any], db: Session, make_campaign: Any) -> None:
    second = make_campaign(team["client"], "Second")
    paused = make_campaign(team["client"], "Paused")
    paused.status = "paused"
    _fill(db, team["campaign"], {"new": 2, "negotiating": 1})
    _fill(db, second, {"new": 1, "replied": 2, "lost": 1})
    _fill(db, paused, {"new": 5})
    _link(db, team["campaign"], "live")
    _link(db, second, "live")
    _link(db, second, "lost")
    _link(db, team["other_campaign"], "live")  # counted for staff: they see every client
    html = login(team["owner"]).get("/").get_data(as_text=True)
    assert _stat(html, "in-progress") == "6"  # 3 new + 1 negotiating + 2 replied; live and exits are not in progress
    assert _stat(html, "live") == "3" and _stat(html, "lost") == "1"
    stages = re.search(r'data-testid="sum-stages">(.*?)</p>', html, re.S).group(1)  # type: ignore[union-attr]
    assert re.findall(r'data-stage="(\w+)">[^<]*?(\d+)<', stages) == [
        ("new", "3"), ("replied", "2"), ("negotiating", "1"), ("lost", "1")]


def test_it_counts_the_emails_scheduled_to_go_out_today(
        app: Flask, login: Any, team: dict[str, Any], db: Session) -> None:
    campaign = team["campaign"]
    _fill(db, campaign, {"new": 3})
    template = save_template(db, "Hello", "Hello {{ contact.first_name }}", "Hi {{ contact.first_name }}")
    configure_campaign(db, campaign, None, save_sequence(db, "One step", [(template.id, 0)]).id)
    db.commit()
    settings = app.extensions["outreach"].settings
    ids = list(db.scalars(select(Prospect.id).where(Prospect.campaign_id == campaign.id).order_by(Prospect.id)))
    enroll_prospects(db, campaign, ids[:2], settings, signing_secret(settings))
    enroll_prospects(db, campaign, ids[2:], settings, signing_secret(settings), now=utcnow() + timedelta(days=3))
    db.commit()
    html = login(team["owner"]).get("/").get_data(as_text=True)
    assert _stat(html, "due-today") == "2"


def test_a_client_viewer_sees_only_its_clients_figures_and_no_staff_controls(
        login: Any, team: dict[str, Any], db: Session) -> None:
    _fill(db, team["campaign"], {"contacted": 1})
    _fill(db, team["other_campaign"], {"contacted": 4, "live": 2})
    _link(db, team["campaign"], "lost")
    _link(db, team["other_campaign"], "live")
    html = login(team["viewer"]).get("/").get_data(as_text=True)
    assert "Acme resource pages" in html and "Other campaign" not in html
    assert _stat(html, "in-progress") == "1" and _stat(html, "live") == "0" and _stat(html, "lost") == "1"
    assert 'data-testid="sum-due-today"' not in html and "New campaign" not in html and "reclaim" not in html


def test_the_dashboard_runs_the_same_number_of_queries_for_3_or_9_campaigns(
        login: Any, team: dict[str, Any], db: Session, make_campaign: Any, make_client: Any,
        count_queries: Any) -> None:
    client = login(team["owner"])

    def add(n: int) -> None:
        for _ in range(n):
            campaign = make_campaign(make_client(), f"C {uuid.uuid4().hex[:4]}", owner_id=team["owner"].id)
            _fill(db, campaign, {"new": 1, "contacted": 1, "live": 1})
            _link(db, campaign, "live")

    add(1)
    with count_queries() as few:
        assert client.get("/").status_code == 200
    add(6)
    with count_queries() as many:
        html = client.get("/").get_data(as_text=True)
    assert html.count('aria-label="Prospects per stage"') == 9
    assert many.count == few.count, many.statements[few.count:]


def _board(login: Any, user: Any, campaign: Campaign) -> str:
    return login(user).get(f"/campaigns/{campaign.id}").get_data(as_text=True)


def test_an_empty_board_suggests_the_discovery_tab_that_matches_the_campaign_kind(
        login: Any, team: dict[str, Any], db: Session, make_campaign: Any) -> None:
    expected = {"broken_links": ("Find broken links", "/broken-links"),
                "guest_posts": ("Find guest-post targets", "/prospecting#run"),
                "mentions": ("Find unlinked mentions", "/prospecting#run")}
    for kind, (label, path) in expected.items():
        campaign = make_campaign(team["client"], f"{kind} campaign", kind=kind)
        html = _board(login, team["owner"], campaign)
        assert f'href="/campaigns/{campaign.id}{path}">{label}</a>' in html, kind
        assert "Import CSV" in html and "Add prospect" in html
    custom = make_campaign(team["client"], "Custom", kind="custom")
    assert 'data-testid="discover"' not in _board(login, team["owner"], custom)


def test_the_discovery_suggestion_is_for_staff_and_for_empty_boards_only(
        client: Any, login: Any, team: dict[str, Any], db: Session, make_campaign: Any) -> None:
    campaign = make_campaign(team["client"], "Dead links", kind="broken_links")
    html = _board(login, team["viewer"], campaign)
    assert "This board is empty" in html and 'data-testid="discover"' not in html
    client.post("/logout")
    _fill(db, campaign, {"new": 1})
    assert 'data-testid="discover"' not in _board(login, team["owner"], campaign)


def test_my_campaigns_narrows_the_table_and_the_summary_to_the_campaigns_i_own(
        login: Any, team: dict[str, Any], db: Session, make_campaign: Any) -> None:
    mine = make_campaign(team["client"], "Mine", owner_id=team["owner"].id)
    _fill(db, mine, {"contacted": 2})
    _fill(db, team["campaign"], {"contacted": 5})
    _link(db, mine, "live")
    _link(db, team["campaign"], "live")
    client = login(team["owner"])
    everything = client.get("/").get_data(as_text=True)
    assert _stat(everything, "in-progress") == "7" and _stat(everything, "live") == "2"
    html = client.get("/?mine=1").get_data(as_text=True)
    assert f'data-campaign="{mine.id}"' in html and f'data-campaign="{team["campaign"].id}"' not in html
    assert _stat(html, "in-progress") == "2" and _stat(html, "live") == "1"
    assert "in your active campaigns" in html
    assert re.search(r'<td><a href="/clients/\d+">Acme Widgets</a></td>\s*<td>[^<]*</td><td class="num">2</td>', html)
    client.post("/logout")
    empty = login(team["teammate"]).get("/?mine=1").get_data(as_text=True)
    assert "You own no campaigns." in empty and "Show all campaigns" in empty


def test_a_client_viewer_cannot_narrow_to_its_own_campaigns(login: Any, team: dict[str, Any]) -> None:
    html = login(team["viewer"]).get("/?mine=1").get_data(as_text=True)
    assert "Acme resource pages" in html and 'data-testid="scope"' not in html
