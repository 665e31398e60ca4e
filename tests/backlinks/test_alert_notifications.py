"""Every backlink alert becomes an in-app notification for the link's owner, through the real check tick."""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.backlinks.alerts import HEADLINES
from outreach.backlinks.jobs import check_due, send_alerts
from outreach.backlinks.service import ALERT_KINDS
from outreach.campaigns.service import move_prospect
from outreach.jobs.ticks import JobContext
from outreach.models import Backlink, Notification, Prospect
from outreach.models.notifications import NOTIFICATION_KINDS
from tests.backlinks.conftest import TARGET
from tests.lib.testweb import TestWeb

#: each test reads the alert emails it caused from an empty local outbox
pytestmark = pytest.mark.usefixtures("empty_outbox")

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
ARTICLE = f'<html><head><title>A</title></head><body><p>Our picks</p><a href="{TARGET}">Acme widgets</a></body></html>'


@pytest.fixture(autouse=True)
def _clock() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def promised(db: Session, web: TestWeb, team: dict[str, Any], make_prospect: Callable[..., Prospect]) -> Prospect:
    """A prospect of the team's campaign, owned by the owner, moved to promised: its link is in the ledger."""
    team["campaign"].target_urls = TARGET
    prospect = make_prospect(team["campaign"], url=web.url("/article"), owner_id=team["owner"].id)
    move_prospect(db, prospect, "promised", actor=team["owner"])
    db.commit()
    return prospect


def notifications(db: Session) -> list[Notification]:
    db.commit()
    db.expire_all()
    return list(db.scalars(select(Notification).order_by(Notification.id)))


def test_every_alert_kind_has_a_notification_kind_and_a_headline() -> None:
    assert set(ALERT_KINDS) <= set(NOTIFICATION_KINDS)
    assert set(ALERT_KINDS) <= set(HEADLINES)


def test_a_link_going_live_notifies_its_owner_only(db: Session, web: TestWeb, ctx: JobContext, team: dict[str, Any],
                                                   promised: Prospect) -> None:
    web.page("/article", ARTICLE)
    assert check_due(ctx) == 1
    backlink = db.scalar(select(Backlink).where(Backlink.prospect_id == promised.id))
    assert backlink is not None and backlink.status == "live"
    [note] = notifications(db)
    assert note.user_id == team["owner"].id  # not the admin, the teammate or the client's viewer
    assert note.kind == "went_live" and note.title.startswith("Link is live: ") and web.url("/article") in note.title
    assert note.link == f"/backlinks/{backlink.id}" and "Acme widgets" in note.body and note.read_at is None
    # the alert tick running again (another scheduler) writes nothing more
    assert send_alerts(ctx) == 0
    assert len(notifications(db)) == 1


def test_a_link_with_no_owner_notifies_the_team_and_never_a_client_viewer(
        db: Session, web: TestWeb, ctx: JobContext, team: dict[str, Any], promised: Prospect) -> None:
    promised.owner_id = None  # and the campaign has none, and the link was added by nobody in particular
    db.scalar(select(Backlink).where(Backlink.prospect_id == promised.id)).created_by_id = None
    db.commit()
    web.page("/article", ARTICLE)
    check_due(ctx)
    users = sorted(n.user_id for n in notifications(db))
    assert users == sorted([team["admin"].id, team["owner"].id, team["teammate"].id])
    assert team["viewer"].id not in users and team["outsider"].id not in users


def test_a_retried_alert_email_does_not_repeat_the_notification(db: Session, web: TestWeb, ctx: JobContext,
                                                                promised: Prospect) -> None:
    from tests.conftest import free_port

    # nothing listens: the email fails and is retried
    ctx.settings = ctx.settings.with_(alerts={"smtp_host": "127.0.0.1", "smtp_port": free_port()})
    web.page("/article", ARTICLE)
    check_due(ctx)
    assert len(notifications(db)) == 1  # the notification does not wait for the email
    ctx.settings = ctx.settings.with_(alerts={"smtp_host": ""})
    assert send_alerts(ctx) == 1
    assert len(notifications(db)) == 1


def test_lost_is_notified_too(db: Session, web: TestWeb, ctx: JobContext, promised: Prospect,
                              _clock: time_machine.Coordinates) -> None:
    web.page("/article", ARTICLE)
    check_due(ctx)
    web.page("/article", "<html><body><p>Edited</p></body></html>")
    for _ in range(3):
        _clock.shift(timedelta(days=8))
        check_due(ctx)
    assert [n.kind for n in notifications(db)] == ["went_live", "lost"]


def badge(client: FlaskClient, path: str = "/") -> str | None:
    page = client.get(path).get_data(as_text=True)
    found = re.search(r'data-testid="notifications-badge">([^<]*)<', page)
    return found.group(1) if found else None


def test_the_badge_counts_it_and_the_outbox_lists_the_alert_email(
        db: Session, web: TestWeb, ctx: JobContext, team: dict[str, Any], promised: Prospect,
        login: Callable[..., FlaskClient]) -> None:
    web.page("/article", ARTICLE)
    check_due(ctx)
    [note] = notifications(db)
    client = login(team["owner"])
    assert badge(client) == "1"
    # the local outbox lists the alert email the same tick wrote, in the one status vocabulary
    outbox = client.get("/mail/outbox").get_data(as_text=True)
    assert "Link is live: " in outbox and "owner@agency.test" in outbox and "written to the local outbox" in outbox
    name = re.search(r'href="/mail/outbox/app/([0-9a-f]{32}\.eml)"', outbox)
    assert name is not None
    message = client.get(f"/mail/outbox/app/{name.group(1)}").get_data(as_text=True)
    assert "written to the local outbox" in message and "Auto-Submitted: auto-generated" in message
    assert client.get("/mail/outbox/app/..%2Finstance.eml").status_code == 404
    # opening it marks it read and leads to the link's page; the badge is gone
    response = client.post(f"/notifications/{note.id}/open")
    assert response.status_code == 302 and response.headers["Location"] == note.link
    assert badge(client) is None
    client.post("/logout")
    # the teammate sees no badge and cannot open the owner's notification
    login(team["teammate"])
    assert badge(client) is None
    assert client.post(f"/notifications/{note.id}/read").status_code == 404
