"""Live means live on the agreed terms; lost means failing over days, not a few clicks on "Check now"."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
import time_machine
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.backlinks import terms
from outreach.backlinks.evidence import CheckResult, FoundLink
from outreach.backlinks.jobs import check_due
from outreach.campaigns.service import move_prospect
from outreach.jobs.ticks import JobContext
from outreach.models import Activity, Backlink, Campaign, Prospect, User
from tests.backlinks.conftest import TARGET
from tests.backlinks.test_monitoring import START, backlink_of, events, fresh, outbox, publish
from tests.lib.testweb import TestWeb

#: each test reads the alert emails it caused from an empty local outbox
pytestmark = pytest.mark.usefixtures("empty_outbox")

NOFOLLOW = f'<a href="{TARGET}" rel="nofollow">Acme widgets</a>'
CLICK_HERE = f'<a href="{TARGET}">click here</a>'


@pytest.fixture
def clock() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def owner(make_user: Callable[..., User]) -> User:
    return make_user("owner@agency.test", name="Olive Owner")


@pytest.fixture
def promised(db: Session, web: TestWeb, make_campaign: Callable[..., Campaign],
             make_prospect: Callable[..., Prospect], owner: User, clock: time_machine.Coordinates) -> Prospect:
    campaign = make_campaign(name="Widgets", target_urls=TARGET, kind="broken_links")
    prospect = make_prospect(campaign, url=web.url("/article"), owner_id=owner.id)
    move_prospect(db, prospect, "promised", actor=owner)
    db.commit()
    return prospect


def stage(db: Session, prospect: Prospect) -> str:
    fresh(db)
    return db.get(Prospect, prospect.id).stage


def timeline(db: Session, prospect: Prospect) -> list[str]:
    fresh(db)
    return list(db.scalars(select(Activity.text).where(Activity.prospect_id == prospect.id).order_by(Activity.id)))


def body(message: object) -> str:
    return message.get_body(("plain",)).get_content()  # type: ignore[attr-defined]


def test_a_nofollow_link_is_not_live_until_the_page_is_fixed(db: Session, web: TestWeb, ctx: JobContext,
                                                             promised: Prospect,
                                                             clock: time_machine.Coordinates) -> None:
    publish(web, body=NOFOLLOW)
    assert check_due(ctx) == 1
    backlink = backlink_of(db, promised)
    assert backlink.status == "terms_not_met"
    assert backlink.unmet_terms == [{"term": "rel", "found": "nofollow", "agreed": "follow"}]
    assert backlink.first_live_at is None and backlink.live_since == START
    assert stage(db, promised) == "promised"
    [alert] = outbox(ctx)
    assert alert["To"] == "owner@agency.test" and alert["Subject"].startswith("Link live, terms not met")
    assert "rel is nofollow, agreed follow" in body(alert)
    assert "Live – terms not met: nofollow" in body(alert)
    assert any("not on the agreed terms: rel is nofollow, agreed follow" in t for t in timeline(db, promised))

    publish(web)  # the publisher removes the nofollow
    clock.shift(timedelta(days=7))
    assert check_due(ctx) == 1
    backlink = backlink_of(db, promised)
    assert backlink.status == "live" and backlink.unmet_terms == []
    assert backlink.first_live_at == START + timedelta(days=7) and backlink.live_since == START
    assert stage(db, promised) == "live"
    assert outbox(ctx)[-1]["Subject"].startswith("Link is live")
    assert events(db, backlink) == ["terms_not_met", "went_live"]


def test_a_wrong_anchor_is_not_live_and_the_anchor_forgives_case_and_spacing(
        db: Session, web: TestWeb, ctx: JobContext, promised: Prospect, owner: User,
        login: Callable[[User], FlaskClient], clock: time_machine.Coordinates) -> None:
    backlink = backlink_of(db, promised)
    client = login(owner)
    saved = client.post(f"/backlinks/{backlink.id}/edit", data={
        "page_url": backlink.page_url, "site_url": backlink.site_url, "target_url": backlink.target_url,
        "match_mode": "exact", "agreed_anchor": "Acme widgets", "agreed_rel": "follow", "price": "", "notes": ""})
    assert saved.status_code == 302
    publish(web, body=CLICK_HERE)
    check_due(ctx)
    backlink = backlink_of(db, promised)
    assert backlink.status == "terms_not_met"
    assert backlink.unmet_terms == [{"term": "anchor", "found": "click here", "agreed": "Acme widgets"}]
    assert stage(db, promised) == "promised"
    [alert] = outbox(ctx)
    assert "anchor is “click here”, agreed “Acme widgets”" in body(alert)
    page = client.get(f"/backlinks/{backlink.id}").get_data(as_text=True)
    assert "Live – terms not met: anchor “click here”" in page
    assert "anchor is “click here”, agreed “Acme widgets”" in page
    prospect_page = client.get(f"/prospects/{promised.id}").get_data(as_text=True)
    assert "Live – terms not met: anchor “click here”" in prospect_page
    dashboard = client.get("/").get_data(as_text=True)
    assert "1 more live with terms not met" in dashboard

    publish(web, body=f'<a href="{TARGET}">  acme\n   WIDGETS </a>')
    clock.shift(timedelta(days=7))
    check_due(ctx)
    assert backlink_of(db, promised).status == "live"
    assert stage(db, promised) == "live"


def test_a_live_link_whose_terms_break_is_an_alert_and_going_back_to_them_is_too(
        db: Session, web: TestWeb, ctx: JobContext, promised: Prospect, clock: time_machine.Coordinates) -> None:
    publish(web)
    check_due(ctx)
    assert stage(db, promised) == "live"
    publish(web, body=f'<a href="{TARGET}" rel="sponsored">Acme widgets</a>')
    clock.shift(timedelta(days=7))
    check_due(ctx)
    backlink = backlink_of(db, promised)
    assert backlink.status == "terms_not_met" and backlink.seen_rel == "sponsored"
    assert outbox(ctx)[-1]["Subject"].startswith("Link live, terms not met")
    assert "Link no longer meets the agreed terms: rel is sponsored, agreed follow" in timeline(db, promised)

    publish(web, head='<meta name="robots" content="nofollow">')  # followed link, nofollowed page
    clock.shift(timedelta(days=7))
    check_due(ctx)
    backlink = backlink_of(db, promised)
    assert backlink.status == "terms_not_met"
    assert terms.status_label(backlink) == "Live – terms not met: nofollow (whole page)"
    assert "Link still does not meet the agreed terms: rel is nofollow (whole page), agreed follow" in timeline(
        db, promised)

    publish(web)
    clock.shift(timedelta(days=7))
    check_due(ctx)
    backlink = backlink_of(db, promised)
    assert backlink.status == "live"
    assert outbox(ctx)[-1]["Subject"].startswith("Link now meets the agreed terms")
    assert events(db, backlink) == ["went_live", "terms_not_met", "terms_not_met", "terms_met"]
    assert backlink.first_live_at == START


def test_quick_check_now_failures_never_lose_a_link_but_failures_over_the_minimum_time_do(
        db: Session, web: TestWeb, ctx: JobContext, promised: Prospect, owner: User,
        login: Callable[[User], FlaskClient], clock: time_machine.Coordinates) -> None:
    publish(web)
    check_due(ctx)
    publish(web, body="<p>Gone</p>")
    clock.shift(timedelta(days=7))
    first_failure = START + timedelta(days=7)
    client = login(owner)
    backlink = backlink_of(db, promised)
    for _ in range(5):  # more than lost_after_failures (3), within a minute
        assert client.post(f"/backlinks/{backlink.id}/check").status_code == 302
        clock.shift(timedelta(seconds=10))
    backlink = backlink_of(db, promised)
    assert backlink.status == "live" and backlink.consecutive_failures == 5
    assert backlink.failing_since == first_failure
    assert terms.failing_label(backlink) == "failing: 5 failed checks in a row since 2026-11-09 09:00 UTC"
    ledger = client.get("/backlinks").get_data(as_text=True)
    assert "failing: 5 failed checks in a row since 2026-11-09 09:00 UTC" in ledger
    assert events(db, backlink) == ["went_live"] and stage(db, promised) == "live"

    clock.move_to(first_failure + timedelta(hours=24, minutes=1))
    check_due(ctx)
    assert backlink_of(db, promised).status == "live"  # 6 failures, but over 24 hours only
    clock.move_to(first_failure + timedelta(hours=48, minutes=2))
    check_due(ctx)
    backlink = backlink_of(db, promised)
    assert backlink.status == "lost" and backlink.consecutive_failures == 7
    assert stage(db, promised) == "lost"
    assert outbox(ctx)[-1]["Subject"].startswith("Link lost")


def test_the_minimum_time_is_a_setting(db: Session, web: TestWeb, ctx: JobContext, promised: Prospect,
                                       clock: time_machine.Coordinates) -> None:
    ctx.settings = ctx.settings.with_(backlinks={"lost_after_hours": 72})
    publish(web)
    check_due(ctx)
    publish(web, body="<p>Gone</p>")
    clock.shift(timedelta(days=7))
    for _ in range(3):  # three failures a day apart: 48 hours
        check_due(ctx)
        clock.shift(timedelta(days=1))
    backlink = backlink_of(db, promised)
    assert backlink.status == "live" and backlink.consecutive_failures == 3
    check_due(ctx)  # the fourth, 72 hours after the first
    assert backlink_of(db, promised).status == "lost"


def test_a_terms_not_met_link_that_fails_is_lost_like_a_live_one(db: Session, web: TestWeb, ctx: JobContext,
                                                                 promised: Prospect,
                                                                 clock: time_machine.Coordinates) -> None:
    publish(web, body=NOFOLLOW)
    check_due(ctx)
    publish(web, status=404)
    clock.shift(timedelta(days=7))
    for _ in range(3):
        check_due(ctx)
        clock.shift(timedelta(days=1))
    backlink = backlink_of(db, promised)
    assert backlink.status == "lost" and backlink.lost_at == START + timedelta(days=9)
    assert events(db, backlink) == ["terms_not_met", "lost"]


def test_changing_what_was_agreed_rechecks_the_link_at_once(db: Session, web: TestWeb, ctx: JobContext,
                                                           promised: Prospect, owner: User,
                                                           login: Callable[[User], FlaskClient],
                                                           clock: time_machine.Coordinates) -> None:
    publish(web, body=NOFOLLOW)
    check_due(ctx)
    backlink = backlink_of(db, promised)
    login(owner).post(f"/backlinks/{backlink.id}/edit", data={
        "page_url": backlink.page_url, "site_url": backlink.site_url, "target_url": backlink.target_url,
        "match_mode": "exact", "agreed_anchor": "", "agreed_rel": "nofollow", "price": "", "notes": ""})
    assert backlink_of(db, promised).next_check_at == START
    check_due(ctx)
    assert backlink_of(db, promised).status == "live"
    assert stage(db, promised) == "live"


# --- the comparison itself ------------------------------------------------------------------------

def result(*links: FoundLink, follow: bool | None = None) -> CheckResult:
    followed = any(link.is_followed for link in links)
    return CheckResult(page="https://blog.example/a", final_url="https://blog.example/a", http_status=200,
                       status="live", links=list(links), follow=followed if follow is None else follow)


def test_the_link_closest_to_the_terms_is_the_one_compared() -> None:
    nofollow_right_anchor = FoundLink(href=TARGET, anchor="Acme widgets", rel=["nofollow"])
    followed_wrong_anchor = FoundLink(href=TARGET, anchor="Read more", rel=[])
    found = result(nofollow_right_anchor, followed_wrong_anchor)
    assert terms.unmet_terms(found, "Acme widgets", "follow") == [
        {"term": "anchor", "found": "Read more", "agreed": "Acme widgets"}]
    assert terms.unmet_terms(found, "Acme widgets", "nofollow") == []
    assert terms.unmet_terms(result(FoundLink(href=TARGET, anchor="ACME  Widgets", rel=[])), "acme widgets",
                             "follow") == []


def test_only_an_agreed_followed_link_makes_rel_a_term() -> None:
    sponsored = result(FoundLink(href=TARGET, anchor="x", rel=["sponsored", "nofollow"]))
    assert terms.describe(terms.unmet_terms(sponsored, "", "follow")) == "rel is nofollow sponsored, agreed follow"
    assert terms.unmet_terms(sponsored, "", "any") == []
    assert terms.unmet_terms(sponsored, "", "ugc") == []
    image = result(FoundLink(href=TARGET, anchor="", rel=[], is_image=True))
    assert terms.describe(terms.unmet_terms(image, "Acme", "follow")) == "anchor is “(no text)”, agreed “Acme”"


def test_the_status_reads_the_same_everywhere() -> None:
    link = Backlink(status="terms_not_met", consecutive_failures=0, failing_since=None,
                    unmet_terms=[{"term": "rel", "found": "nofollow", "agreed": "follow"},
                                 {"term": "anchor", "found": "click here", "agreed": "Acme"}])
    assert terms.status_label(link) == "Live – terms not met: nofollow, anchor “click here”"
    assert terms.status_label(Backlink(status="missed", unmet_terms=[])) == "Missed deadline"
    assert terms.failing_label(link) == ""
    assert terms.agreed_label("Acme", "follow") == "anchor “Acme”, followed"
    assert terms.agreed_label("", "sponsored") == "any anchor, sponsored or followed"


def test_terms_imported_from_csv_are_the_ones_checked(db: Session, web: TestWeb, ctx: JobContext,
                                                       make_client: Callable[..., object],
                                                       clock: time_machine.Coordinates) -> None:
    from outreach.backlinks import service

    acme = make_client("Acme")
    report = service.import_csv(db, "page_url,target_url,agreed_anchor,agreed_rel\n"
                                    f"{web.url('/article')},{TARGET},Acme widgets,follow\n", client_id=acme.id)
    db.commit()
    assert not report.errors
    publish(web, body=f'<a href="{TARGET}" rel="ugc">Widgets by Acme</a>')
    check_due(ctx)
    fresh(db)
    backlink = db.get(Backlink, report.created[0].id)
    assert backlink.status == "terms_not_met"
    assert terms.describe(backlink.unmet_terms) == ("rel is ugc, agreed follow; "
                                                    "anchor is “Widgets by Acme”, agreed “Acme widgets”")
