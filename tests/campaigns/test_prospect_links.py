"""A prospect's page lists its backlinks and offers staff an "Add backlink" shortcut prefilled with it."""
from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outreach.backlinks.service import create_backlink
from outreach.campaigns import service
from outreach.lib.clock import utcnow
from outreach.models import Backlink, Campaign, Prospect


def _prospect(db: Session, campaign: Campaign, stage: str, url: str = "https://blog.pub.test/resources") -> Prospect:
    prospect = service.add_prospect(db, campaign, url, email="ed@pub.test", contact_name="Ed Ito")
    if stage != "new":
        prospect.stage = stage  # set directly: moving to promised would add a backlink of its own
    db.commit()
    return prospect


def _card(html: str) -> str:
    match = re.search(r'<section class="card" data-testid="prospect-links">(.*?)</section>', html, re.S)
    assert match, "no Backlinks card"
    return match.group(1)


def test_it_lists_the_prospects_backlinks_with_status_page_check_and_link_quality(
        login: Any, team: dict[str, Any], db: Session) -> None:
    prospect = _prospect(db, team["campaign"], "live")
    live = create_backlink(db, client_id=team["client"].id, campaign_id=team["campaign"].id, prospect_id=prospect.id,
                           page_url="https://blog.pub.test/2026/tools", target_url="https://acme.test/")
    live.status, live.is_follow, live.is_indexable = "live", True, True
    live.last_checked_at = utcnow() - timedelta(hours=3)
    lost = create_backlink(db, client_id=team["client"].id, campaign_id=team["campaign"].id, prospect_id=prospect.id,
                           page_url="https://blog.pub.test/old", target_url="https://acme.test/")
    lost.status, lost.is_follow, lost.seen_rel, lost.is_indexable = "lost", False, "sponsored", False
    db.commit()
    card = _card(login(team["owner"]).get(f"/prospects/{prospect.id}").get_data(as_text=True))
    assert f'href="/backlinks/{live.id}" class="url">https://blog.pub.test/2026/tools</a>' in card
    assert f'href="/backlinks/{lost.id}" class="url">https://blog.pub.test/old</a>' in card
    assert '<span class="badge ok" data-testid="link-status">Live</span>' in card
    assert '<span class="badge bad" data-testid="link-status">Lost</span>' in card
    live_row, lost_row = card.split(f'data-backlink="{live.id}"')[1], card.split(f'data-backlink="{lost.id}"')[1]
    live_row = live_row.split("</li>")[0]
    lost_row = lost_row.split("</li>")[0]
    assert "checked 3 h ago" in live_row and " · followed" in live_row and " · indexable" in live_row
    assert "not checked yet" in lost_row and " · sponsored" in lost_row and " · not indexable" in lost_row
    assert 'data-testid="add-backlink"' in card


def test_the_add_backlink_shortcut_shows_for_staff_in_negotiating_promised_live_and_lost_only(
        login: Any, team: dict[str, Any], db: Session) -> None:
    client = login(team["owner"])
    for i, stage in enumerate(("negotiating", "promised", "live", "lost")):
        prospect = _prospect(db, team["campaign"], stage, f"https://s{i}.test/")
        card = _card(client.get(f"/prospects/{prospect.id}").get_data(as_text=True))
        assert f'href="/backlinks/new?prospect_id={prospect.id}">Add backlink</a>' in card, stage
        assert "No link in the ledger for this prospect yet" in card
    for i, stage in enumerate(("new", "contacted", "replied", "declined")):
        prospect = _prospect(db, team["campaign"], stage, f"https://n{i}.test/")
        html = client.get(f"/prospects/{prospect.id}").get_data(as_text=True)
        assert 'data-testid="prospect-links"' not in html and "Add backlink" not in html, stage


def test_a_client_viewer_sees_its_prospects_links_but_no_shortcut(
        login: Any, team: dict[str, Any], db: Session) -> None:
    prospect = _prospect(db, team["campaign"], "promised")
    create_backlink(db, client_id=team["client"].id, campaign_id=team["campaign"].id, prospect_id=prospect.id,
                    target_url="https://acme.test/", site_url="https://blog.pub.test/")
    db.commit()
    client = login(team["viewer"])
    card = _card(client.get(f"/prospects/{prospect.id}").get_data(as_text=True))
    assert "page not published yet" in card and "Add backlink" not in card
    assert client.get(f"/backlinks/new?prospect_id={prospect.id}").status_code == 403


def test_the_add_form_opened_from_a_prospect_is_prefilled_and_the_link_belongs_to_it(
        login: Any, team: dict[str, Any], db: Session) -> None:
    campaign = team["campaign"]
    campaign.target_urls = "https://acme.test/widgets"
    prospect = _prospect(db, campaign, "negotiating")
    client = login(team["owner"])
    html = client.get(f"/backlinks/new?prospect_id={prospect.id}").get_data(as_text=True)
    assert f'name="prospect_id" type="hidden" value="{prospect.id}"' in html
    assert 'value="https://acme.test/widgets"' in html and 'value="https://blog.pub.test/resources"' in html
    assert 'value="https://blog.pub.test/"' in html
    assert re.search(rf'<option selected value="{campaign.id}">', html)
    assert "pub.test</a> in Acme resource pages." in html
    response = client.post("/backlinks/new", data={
        "prospect_id": prospect.id, "client_id": campaign.client_id, "campaign_id": campaign.id,
        "page_url": "https://blog.pub.test/2026/widgets", "site_url": "", "target_url": "https://acme.test/widgets",
        "match_mode": "exact", "agreed_anchor": "Acme widgets", "agreed_rel": "follow", "price": "", "notes": ""})
    assert response.status_code == 302
    backlink = db.scalars(select(Backlink)).one()
    assert backlink.prospect_id == prospect.id and backlink.page_url == "https://blog.pub.test/2026/widgets"
    card = _card(client.get(f"/prospects/{prospect.id}").get_data(as_text=True))
    assert f'href="/backlinks/{backlink.id}"' in card


def test_a_prospects_link_cannot_be_filed_under_another_campaign(
        login: Any, team: dict[str, Any], db: Session, make_campaign: Any) -> None:
    prospect = _prospect(db, team["campaign"], "promised")
    elsewhere = make_campaign(team["client"], "Elsewhere")
    client = login(team["owner"])
    response = client.post("/backlinks/new", data={
        "prospect_id": prospect.id, "client_id": team["client"].id, "campaign_id": elsewhere.id,
        "page_url": "https://blog.pub.test/post", "target_url": "https://acme.test/", "match_mode": "exact",
        "agreed_rel": "follow"})
    assert response.status_code == 200
    assert "the prospect&#39;s link must stay in the prospect&#39;s campaign" in response.get_data(as_text=True)
    assert db.scalar(select(func.count()).select_from(Backlink)) == 0
    assert client.get("/backlinks/new?prospect_id=999999").status_code == 404
    assert client.get("/backlinks/new?prospect_id=abc").status_code == 400
