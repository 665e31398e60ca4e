"""The monitoring state machine, driven through the real tick against a test web, with time moved."""
from __future__ import annotations

import email
import email.policy
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.backlinks import service
from outreach.backlinks.alerts import claim_alert, send_pending_alerts
from outreach.backlinks.jobs import check_due
from outreach.campaigns.service import move_prospect
from outreach.jobs.ticks import JobContext
from outreach.models import Activity, Backlink, BacklinkCheck, BacklinkEvent, Campaign, Prospect, User
from tests.backlinks.conftest import TARGET
from tests.lib.testweb import TestWeb
from tests.race import assert_each_once, claim_together, race_rounds, together

#: each test reads the alert emails it caused from an empty local outbox
pytestmark = pytest.mark.usefixtures("empty_outbox")

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
ARTICLE = "<html><head><title>A</title>{head}</head><body><p>Our picks</p>{body}</body></html>"
LINK = f'<a href="{TARGET}">Acme widgets</a>'


@pytest.fixture
def clock() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def publish(web: TestWeb, body: str = LINK, head: str = "", status: int = 200) -> None:
    web.page("/article", ARTICLE.format(body=body, head=head), status=status)


@pytest.fixture
def promised(db: Session, web: TestWeb, make_campaign: Callable[..., Campaign],
             make_prospect: Callable[..., Prospect], make_user: Callable[..., User],
             clock: time_machine.Coordinates) -> Prospect:
    owner = make_user("owner@agency.test", name="Olive Owner")
    campaign = make_campaign(name="Widgets", target_urls=TARGET, kind="broken_links")
    prospect = make_prospect(campaign, url=web.url("/article"), owner_id=owner.id)
    move_prospect(db, prospect, "promised", actor=owner)
    db.commit()
    return prospect


def fresh(db: Session) -> None:
    """End the test session's transaction (a SQLite reader keeps its snapshot) and forget loaded rows."""
    db.commit()
    db.expire_all()


def backlink_of(db: Session, prospect: Prospect) -> Backlink:
    fresh(db)
    backlink = db.scalar(select(Backlink).where(Backlink.prospect_id == prospect.id))
    assert backlink is not None
    return backlink


def events(db: Session, backlink: Backlink) -> list[str]:
    return list(db.scalars(select(BacklinkEvent.kind).where(BacklinkEvent.backlink_id == backlink.id)
                           .order_by(BacklinkEvent.id)))


def outbox(ctx: JobContext) -> list[email.message.EmailMessage]:
    folder = Path(ctx.settings.mail.outbox_dir)
    files = sorted(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns) if folder.exists() else []
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in files]  # type: ignore[misc]


def test_a_prospect_reaching_promised_gets_a_pending_backlink(db: Session, promised: Prospect) -> None:
    backlink = backlink_of(db, promised)
    assert backlink.status == "pending" and backlink.page_url == promised.page_url
    assert backlink.target_url == TARGET and backlink.campaign_id == promised.campaign_id
    assert backlink.next_check_at == START
    texts = list(db.scalars(select(Activity.text).where(Activity.prospect_id == promised.id)))
    assert any("added to the ledger" in t for t in texts)
    # moving again does not add a second one
    move_prospect(db, promised, "negotiating")
    move_prospect(db, promised, "promised")
    db.commit()
    assert len(db.scalars(select(Backlink)).all()) == 1


def test_the_whole_life_of_a_link(db: Session, web: TestWeb, ctx: JobContext, promised: Prospect,
                                  clock: time_machine.Coordinates) -> None:
    publish(web, body="<p>Not yet</p>")
    assert check_due(ctx) == 1
    backlink = backlink_of(db, promised)
    assert backlink.status == "pending" and backlink.consecutive_failures == 1
    assert backlink.next_check_at == START + timedelta(hours=24)
    assert check_due(ctx) == 0  # not due again yet

    publish(web)
    clock.shift(timedelta(hours=24))
    assert check_due(ctx) == 1
    backlink = backlink_of(db, promised)
    assert backlink.status == "live" and backlink.consecutive_failures == 0
    assert backlink.first_live_at == backlink.live_since == START + timedelta(hours=24)
    assert backlink.is_follow and backlink.is_indexable and backlink.seen_anchor == "Acme widgets"
    assert backlink.next_check_at == START + timedelta(days=8)
    fresh(db)
    assert promised.stage == "live"
    [alert] = outbox(ctx)
    assert alert["To"] == "owner@agency.test" and alert["Subject"].startswith("Link is live")
    assert "Acme widgets" in alert.get_body(("plain",)).get_content()

    # removed: two failed checks are not enough to call it lost
    publish(web, body="<p>Edited</p>")
    clock.shift(timedelta(days=7))
    check_due(ctx)
    backlink = backlink_of(db, promised)
    assert backlink.status == "live" and backlink.consecutive_failures == 1
    assert backlink.next_check_at == START + timedelta(days=9)
    clock.shift(timedelta(days=1))
    check_due(ctx)
    assert backlink_of(db, promised).status == "live"
    clock.shift(timedelta(days=1))
    check_due(ctx)
    backlink = backlink_of(db, promised)
    assert backlink.status == "lost" and backlink.consecutive_failures == 3
    assert backlink.lost_at == START + timedelta(days=10) and backlink.live_since is None
    fresh(db)
    assert promised.stage == "lost"
    assert outbox(ctx)[-1]["Subject"].startswith("Link lost")

    # back again
    publish(web)
    clock.shift(timedelta(days=7))
    check_due(ctx)
    backlink = backlink_of(db, promised)
    assert backlink.status == "live" and backlink.lost_at is None
    assert backlink.first_live_at == START + timedelta(hours=24)
    fresh(db)
    assert promised.stage == "live"
    assert events(db, backlink) == ["went_live", "lost", "relive"]
    assert len(db.scalars(select(BacklinkCheck).where(BacklinkCheck.backlink_id == backlink.id)).all()) == 6
    timeline = list(db.scalars(select(Activity.kind).where(Activity.prospect_id == promised.id)))
    assert timeline.count("backlink") >= 4 and "stage" in timeline


def test_transient_errors_keep_evidence_but_do_not_lose_a_live_link(
        db: Session, web: TestWeb, ctx: JobContext, promised: Prospect, clock: time_machine.Coordinates) -> None:
    publish(web)
    check_due(ctx)
    publish(web, status=503)
    for _ in range(2):
        clock.shift(timedelta(days=7))
        check_due(ctx)
    backlink = backlink_of(db, promised)
    assert backlink.status == "live" and backlink.consecutive_failures == 2
    publish(web)
    clock.shift(timedelta(days=1))
    check_due(ctx)
    backlink = backlink_of(db, promised)
    assert backlink.status == "live" and backlink.consecutive_failures == 0
    checks = db.scalars(select(BacklinkCheck).where(BacklinkCheck.backlink_id == backlink.id)
                        .order_by(BacklinkCheck.id)).all()
    assert [c.status for c in checks] == ["live", "error", "error", "live"]
    assert checks[1].http_status == 503 and checks[1].problems == ["http_503"]
    assert checks[1].evidence["http_status"] == 503
    assert events(db, backlink) == ["went_live"]


def test_a_page_too_complex_to_read_says_unknown_and_never_loses_a_live_link(
        db: Session, web: TestWeb, ctx: JobContext, promised: Prospect, clock: time_machine.Coordinates) -> None:
    publish(web)
    check_due(ctx)
    publish(web, body="<div>" * 1_000 + "<p>no link read</p>")  # nested past max_parse_depth (512)
    for days in (7, 1, 1, 1):  # four checks over three days: a missing link would be lost by now
        clock.shift(timedelta(days=days))
        check_due(ctx)
    backlink = backlink_of(db, promised)
    assert backlink.status == "live" and backlink.consecutive_failures == 0 and backlink.lost_at is None
    assert backlink.next_check_at == START + timedelta(days=11)  # looked at again as soon as a failing link
    checks = db.scalars(select(BacklinkCheck).where(BacklinkCheck.backlink_id == backlink.id)
                        .order_by(BacklinkCheck.id)).all()
    assert [c.status for c in checks] == ["live", "unknown", "unknown", "unknown", "unknown"]
    assert checks[-1].problems == ["too_complex"] and checks[-1].http_status == 200
    assert events(db, backlink) == ["went_live"]


def test_rel_anchor_and_noindex_changes_are_events(db: Session, web: TestWeb, ctx: JobContext,
                                                   promised: Prospect, clock: time_machine.Coordinates) -> None:
    backlink_of(db, promised).agreed_rel = "any"  # no agreed rel: a change of rel is news, not a broken term
    db.commit()
    publish(web)
    check_due(ctx)
    publish(web, body=f'<a href="{TARGET}" rel="sponsored noopener">Cheap widgets</a>',
            head='<meta name="robots" content="noindex">')
    clock.shift(timedelta(days=7))
    check_due(ctx)
    backlink = backlink_of(db, promised)
    assert events(db, backlink) == ["went_live", "rel_changed", "anchor_changed", "became_noindex"]
    assert backlink.seen_rel == "sponsored" and backlink.is_follow is False and backlink.is_indexable is False
    subjects = [m["Subject"] for m in outbox(ctx)]
    assert any(s.startswith("Link rel changed") for s in subjects)
    assert any(s.startswith("Linking page is no longer indexable") for s in subjects)
    texts = list(db.scalars(select(Activity.text).where(Activity.prospect_id == promised.id)))
    assert "rel changed from followed to sponsored" in texts


def test_a_pending_link_past_its_deadline_is_missed_and_no_longer_checked(
        db: Session, web: TestWeb, ctx: JobContext, promised: Prospect, clock: time_machine.Coordinates) -> None:
    publish(web, body="<p>Not yet</p>")
    backlink = backlink_of(db, promised)
    backlink.deadline_at = START + timedelta(days=2)
    db.commit()
    for _ in range(3):
        check_due(ctx)
        clock.shift(timedelta(days=1))
    backlink = backlink_of(db, promised)
    assert backlink.status == "missed" and backlink.next_check_at is None
    assert events(db, backlink) == ["missed"]
    clock.shift(timedelta(days=30))
    assert check_due(ctx) == 0


def test_a_claim_is_taken_once(db: Session, promised: Prospect) -> None:
    first = service.claim_due(db, limit=10)
    second = service.claim_due(db, limit=10)
    db.commit()
    assert len(first) == 1 and second == []
    assert backlink_of(db, promised).next_check_at == START + service.CLAIM_LEASE


def test_a_live_check_interval_can_be_set_per_client(db: Session, web: TestWeb, ctx: JobContext,
                                                     promised: Prospect) -> None:
    from outreach.models import ClientLinkSettings

    campaign = db.get(Campaign, promised.campaign_id)
    db.add(ClientLinkSettings(client_id=campaign.client_id, live_check_days=2))
    db.commit()
    publish(web)
    check_due(ctx)
    assert backlink_of(db, promised).next_check_at == START + timedelta(days=2)


def test_an_unknown_page_is_found_through_the_feed(db: Session, web: TestWeb, ctx: JobContext,
                                                   make_campaign: Callable[..., Campaign],
                                                   make_prospect: Callable[..., Prospect],
                                                   clock: time_machine.Coordinates) -> None:
    campaign = make_campaign(name="Guest posts", target_urls=TARGET, kind="guest_posts")
    prospect = make_prospect(campaign, url=web.url("/write-for-us"))
    move_prospect(db, prospect, "promised")
    db.commit()
    backlink = backlink_of(db, prospect)
    assert backlink.page_url == "" and backlink.site_url == web.url("/")
    web.page("/", '<html><head><link rel="alternate" type="application/rss+xml" href="/blog/rss">'
                  "</head><body>Home</body></html>")
    web.page("/blog/rss", f"""<?xml version="1.0"?><rss><channel><title>Blog</title>
        <item><title>Other</title><link>{web.url('/blog/other')}</link></item>
        <item><title>Ours</title><link>{web.url('/blog/our-guest-post')}</link></item></channel></rss>""",
             content_type="application/rss+xml")
    web.page("/blog/other", ARTICLE.format(head="", body="<p>no link</p>"))
    check_due(ctx)
    assert backlink_of(db, prospect).page_url == "" and backlink_of(db, prospect).status == "pending"
    web.page("/blog/our-guest-post", ARTICLE.format(head="", body=LINK))
    clock.shift(timedelta(days=1))
    check_due(ctx)
    backlink = backlink_of(db, prospect)
    assert backlink.page_url == web.url("/blog/our-guest-post") and backlink.status == "live"
    assert events(db, backlink) == ["page_found", "went_live"]


def test_an_unknown_page_is_found_through_the_sitemap(db: Session, web: TestWeb, ctx: JobContext,
                                                      make_client: Callable[..., Any]) -> None:
    acme = make_client("Acme")
    backlink = service.create_backlink(db, client_id=acme.id, target_url=TARGET, site_url=web.url("/"))
    db.commit()
    web.page("/robots.txt", f"User-agent: *\nAllow: /\nSitemap: {web.url('/maps/index.xml')}\n",
             content_type="text/plain")
    web.page("/maps/index.xml", f"""<sitemapindex><sitemap><loc>{web.url('/maps/posts.xml')}</loc></sitemap>
        </sitemapindex>""", content_type="application/xml")
    web.page("/maps/posts.xml", f"""<urlset>
        <url><loc>{web.url('/old')}</loc><lastmod>2025-01-01</lastmod></url>
        <url><loc>{web.url('/new-post')}</loc><lastmod>2026-11-01</lastmod></url></urlset>""",
             content_type="application/xml")
    web.page("/new-post", ARTICLE.format(head="", body=LINK))
    check_due(ctx)
    fresh(db)
    backlink = db.get(Backlink, backlink.id)
    assert backlink.page_url == web.url("/new-post") and backlink.status == "live"


def test_an_alert_that_cannot_be_sent_is_retried(db: Session, web: TestWeb, ctx: JobContext,
                                                  promised: Prospect) -> None:
    from tests.conftest import free_port

    ctx.settings = ctx.settings.with_(alerts={"smtp_host": "127.0.0.1", "smtp_port": free_port()})  # refused
    publish(web)
    check_due(ctx)
    event = db.scalar(select(BacklinkEvent))
    assert event.notified_at is None and event.notify_attempts == 1 and "SMTP" in event.notify_error
    ctx.settings = ctx.settings.with_(alerts={"smtp_host": ""})
    from outreach.backlinks.jobs import send_alerts

    assert send_alerts(ctx) == 1
    fresh(db)
    event = db.scalar(select(BacklinkEvent))
    assert event.notified_at is not None and event.notify_attempts == 2
    assert len(outbox(ctx)) == 1


def due_backlinks(db: Session, client_id: int, n: int) -> list[int]:
    backlinks = [service.create_backlink(db, client_id=client_id, target_url=TARGET,
                                         page_url=f"https://p{uuid.uuid4().hex[:8]}.example/") for _ in range(n)]
    db.commit()
    return [b.id for b in backlinks]


def test_two_schedulers_claiming_at_once_take_each_due_backlink_once(app: Any, db: Session,
                                                                      make_client: Callable[..., Any]) -> None:
    acme = make_client("Many")
    race_rounds(app.extensions["outreach"].sessionmaker, lambda: due_backlinks(db, acme.id, 7),
                lambda session: service.claim_due(session, limit=3))


def test_a_claim_made_while_another_holds_its_batch_takes_the_next_batch(app: Any, db: Session,
                                                                         make_client: Callable[..., Any]) -> None:
    """Checking grows with workers: on PostgreSQL neither claim waits for the other (SKIP LOCKED); on SQLite
    the second runs after the first commits. Either way two claims of 20 over 40 due links take all 40."""
    acme = make_client("Many")
    state = app.extensions["outreach"]
    for _ in range(3):
        ids = due_backlinks(db, acme.id, 2 * 20)
        taken, overlapped = claim_together(state.sessionmaker, lambda session: service.claim_due(session, limit=20),
                                           hold=0.5)
        assert [len(batch) for batch in taken] == [20, 20]
        assert_each_once(taken, ids)
        assert overlapped or state.engine.dialect.name == "sqlite"


def unsent_alerts(db: Session, backlink_ids: list[int]) -> list[int]:
    """A "went live" alert about each backlink, waiting to be sent."""
    events = [BacklinkEvent(backlink_id=i, kind="went_live", text="live") for i in backlink_ids]
    db.add_all(events)
    db.commit()
    return [e.id for e in events]


def test_two_alert_ticks_claiming_at_once_take_each_alert_once(app: Any, db: Session,
                                                              make_client: Callable[..., Any]) -> None:
    backlink_ids = due_backlinks(db, make_client("Many").id, 6)

    def claim(session: Session) -> list[int]:
        event_id = claim_alert(session)
        return [event_id] if event_id is not None else []

    race_rounds(app.extensions["outreach"].sessionmaker, lambda: unsent_alerts(db, backlink_ids), claim)


def test_two_alert_ticks_at_once_send_each_alert_once(app: Any, db: Session, ctx: JobContext,
                                                      make_client: Callable[..., Any],
                                                      make_user: Callable[..., User]) -> None:
    owner, client = make_user("owner@agency.test"), make_client("Many")
    backlinks = [service.create_backlink(db, client_id=client.id, target_url=TARGET,
                                         page_url=f"https://p{i}.example/", actor=owner) for i in range(6)]
    db.commit()
    unsent_alerts(db, [b.id for b in backlinks])
    assert sum(together(lambda _: send_pending_alerts(ctx.settings, ctx.sessionmaker))) == 6
    assert len(outbox(ctx)) == 6


def test_a_campaign_without_a_target_says_so_once_and_adds_nothing(
        db: Session, ctx: JobContext, make_campaign: Callable[..., Campaign],
        make_prospect: Callable[..., Prospect]) -> None:
    campaign = make_campaign(name="No target")
    prospect = make_prospect(campaign)
    move_prospect(db, prospect, "promised")
    db.commit()
    check_due(ctx)
    check_due(ctx)
    fresh(db)
    assert db.scalar(select(Backlink)) is None
    notes = list(db.scalars(select(Activity.text).where(Activity.prospect_id == prospect.id,
                                                        Activity.kind == "backlink")))
    assert len(notes) == 1 and "no target URL" in notes[0]
