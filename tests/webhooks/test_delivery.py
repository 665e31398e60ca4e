"""Webhook deliveries end to end: raised where the alert happens, signed, retried with backoff, logged, guarded.

The receiver is a real HTTP server on loopback that checks each signature with its own HMAC code and answers
what the test tells it (a 500 first, to force a retry).
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outreach.backlinks.jobs import check_due
from outreach.campaigns.service import move_prospect
from outreach.jobs.ticks import JobContext
from outreach.lib.clock import utcnow
from outreach.mail import imap
from outreach.mail.mailboxes import MailboxInput, save_mailbox
from outreach.mail.sequences import configure_campaign, enroll_prospects
from outreach.mail.unsubscribe import make_token, signing_secret
from outreach.models import Prospect
from outreach.models.mail import Message, Sequence
from outreach.models.webhooks import WebhookAttempt, WebhookDelivery
from outreach.notifications.events import alert_raised, raise_alert
from outreach.webhooks.delivery import BACKOFF, LEASE, MAX_ATTEMPTS, claim_due
from outreach.webhooks.jobs import deliver_webhooks
from outreach.wiring import connect_subscribers
from tests.backlinks.conftest import TARGET
from tests.lib.testweb import TestWeb
from tests.mail.test_inbound import dsn, reply_to
from tests.race import race_rounds
from tests.webhooks.conftest import Receiver


def fresh(db: Session) -> None:
    db.commit()
    db.expire_all()


def deliveries(db: Session) -> list[WebhookDelivery]:
    fresh(db)
    return list(db.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def attempts(db: Session, delivery: WebhookDelivery) -> list[tuple[int | None, str, str]]:
    fresh(db)
    return [(a.status_code, a.response_excerpt, a.error) for a in db.scalars(
        select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery.id).order_by(WebhookAttempt.id))]


@pytest.fixture
def emailed(app: Flask, db: Session, make_prospect: Callable[..., Prospect],
            make_sequence: Callable[..., Sequence], make_campaign: Any,
            make_user: Any) -> tuple[Message, Prospect]:
    """A prospect enrolled in a sequence (local outbox): its first email is in the outbox."""
    make_user()  # past first-run setup: the public routes answer
    campaign = make_campaign()
    prospect = make_prospect(campaign, "https://u.test/a", email="u@u.test", contact_name="Uma")
    configure_campaign(db, campaign, None, make_sequence().id)
    settings = app.extensions["outreach"].settings
    enroll_prospects(db, campaign, [prospect.id], settings, signing_secret(settings))
    db.commit()
    message = db.scalar(select(Message))
    assert message is not None
    return message, prospect


def unsubscribe(app: Flask, client: FlaskClient, message: Message) -> None:
    """The recipient's one-click unsubscribe, through the public route."""
    token = make_token(signing_secret(app.extensions["outreach"].settings), message.message_id)
    response = client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200


def test_it_signs_an_unsubscribe_and_retries_it_after_a_500_until_it_is_delivered(
        app: Flask, db: Session, client: FlaskClient, hook: Any, receiver: Receiver, ctx: JobContext,
        emailed: tuple[Message, Prospect]) -> None:
    webhook = hook(["unsubscribe"])
    message, prospect = emailed
    receiver.answers = [(500, "boom: database down, try later")]
    unsubscribe(app, client, message)
    [delivery] = deliveries(db)
    assert (delivery.webhook_id, delivery.event, delivery.status, delivery.attempts) == (
        webhook.id, "unsubscribe", "pending", 0)

    assert deliver_webhooks(ctx) == 1
    [first] = receiver.received
    assert first.signature_ok, "the signature does not verify with the webhook's secret"
    assert first.headers["x-outreach-event"] == "unsubscribe"
    assert first.headers["x-outreach-delivery"] == str(delivery.id)
    assert first.headers["content-type"] == "application/json"
    payload = first.payload
    assert payload["event"] == "unsubscribe" and payload["id"].startswith("evt_")
    assert payload["data"]["prospect"]["id"] == prospect.id
    assert payload["data"]["message"]["to_email"] == "u@u.test"
    assert payload["data"]["detail"] == "one-click"
    [delivery] = deliveries(db)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    assert attempts(db, delivery) == [(500, "boom: database down, try later", "HTTP 500")]
    assert deliver_webhooks(ctx) == 0  # not due before its backoff

    with time_machine.travel(utcnow() + timedelta(seconds=BACKOFF[0] + 1)):
        assert deliver_webhooks(ctx) == 1
    second = receiver.received[1]
    assert second.signature_ok and second.body == first.body
    assert second.headers["x-outreach-delivery"] == str(delivery.id) and second.timestamp > first.timestamp
    [delivery] = deliveries(db)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 2, 200)
    assert [a[:2] for a in attempts(db, delivery)] == [(500, "boom: database down, try later"), (200, "thanks")]
    # a second click changes nothing and tells nobody
    unsubscribe(app, client, message)
    assert len(deliveries(db)) == 1


def test_a_reply_and_a_bounce_reach_only_the_webhooks_that_want_them(
        app: Flask, db: Session, hook: Any, receiver: Receiver, ctx: JobContext, make_campaign: Any,
        make_prospect: Any, make_sequence: Any) -> None:
    state = app.extensions["outreach"]
    replies, bounces = hook(["reply_received"]), hook(["bounce"])
    mailbox = save_mailbox(db, state.secret_box, MailboxInput(
        name="Box", from_name="Sam", from_email="sam@agency.test", smtp_host="127.0.0.1", smtp_port=2525,
        smtp_security="none", smtp_username="", smtp_password=""))
    campaign = make_campaign()
    ann = make_prospect(campaign, "https://ann.test/a", email="ann@ann.test", contact_name="Ann Lee")
    bob = make_prospect(campaign, "https://bob.test/a", email="bob@bob.test", contact_name="Bob Ray")
    configure_campaign(db, campaign, None, make_sequence().id)
    enroll_prospects(db, campaign, [ann.id, bob.id], state.settings, signing_secret(state.settings))
    db.commit()
    to_ann, to_bob = (db.scalar(select(Message).where(Message.prospect_id == p.id)) for p in (ann, bob))
    for message in (to_ann, to_bob):
        message.status, message.sent_at = "sent", utcnow()
    db.commit()
    secret = signing_secret(state.settings)
    imap.handle(db, mailbox, 1, 1, imap.parse(reply_to(to_ann, "Yes please, send the article.")), state.settings,
                secret)
    imap.handle(db, mailbox, 1, 2, imap.parse(dsn(to_bob, "5.1.1")), state.settings, secret)
    db.commit()
    found = {(d.webhook_id, d.event) for d in deliveries(db)}
    assert found == {(replies.id, "reply_received"), (bounces.id, "bounce")}
    assert deliver_webhooks(ctx) == 2
    by_event = {r.payload["event"]: r for r in receiver.received}
    assert by_event["reply_received"].payload["data"]["inbound"]["snippet"].startswith("Yes please")
    assert by_event["reply_received"].payload["data"]["prospect"]["id"] == ann.id
    assert by_event["bounce"].payload["data"]["message"]["to_email"] == "bob@bob.test"
    assert "5.1.1" in by_event["bounce"].payload["data"]["detail"]
    assert {d.status for d in deliveries(db)} == {"delivered"}


def test_a_link_going_live_is_delivered_from_the_check_tick(
        db: Session, web: TestWeb, hook: Any, receiver: Receiver, ctx: JobContext,
        team: dict[str, Any], make_prospect: Any) -> None:
    hook(["link_live", "link_lost"])
    team["campaign"].target_urls = TARGET
    prospect = make_prospect(team["campaign"], url=web.url("/article"), owner_id=team["owner"].id)
    move_prospect(db, prospect, "promised", actor=team["owner"])
    db.commit()
    web.page("/robots.txt", "User-agent: *\nAllow: /\n", content_type="text/plain")
    web.page("/article", f'<html><body><a href="{TARGET}">Acme widgets</a></body></html>')
    assert check_due(ctx) == 1  # checks the link, then raises its alert (and the in-app notification)
    assert deliver_webhooks(ctx) == 1
    [received] = receiver.received
    assert received.signature_ok and received.payload["event"] == "link_live"
    data = received.payload["data"]
    assert data["backlink"]["page_url"] == web.url("/article") and data["backlink"]["status"] == "live"
    assert data["backlink_event"]["kind"] == "went_live"


def test_two_workers_never_claim_the_same_delivery(app: Flask, db: Session, hook: Any) -> None:
    webhook = hook(["bounce"])
    factory = app.extensions["outreach"].sessionmaker

    def prepare() -> list[int]:
        now = utcnow()
        rows = [WebhookDelivery(webhook_id=webhook.id, event="bounce", body="{}", next_attempt_at=now)
                for _ in range(12)]
        db.add_all(rows)
        db.commit()
        return [row.id for row in rows]

    race_rounds(factory, prepare, lambda session: claim_due(session, utcnow(), limit=3), rounds=5)


def test_a_claim_whose_worker_died_is_due_again_after_its_lease(app: Flask, db: Session, hook: Any,
                                                                receiver: Receiver, ctx: JobContext) -> None:
    webhook = hook(["bounce"])
    db.add(WebhookDelivery(webhook_id=webhook.id, event="bounce", body='{"event":"bounce"}'))
    db.commit()
    assert len(claim_due(db, utcnow())) == 1  # a worker claims it, then dies before posting
    db.commit()
    assert deliver_webhooks(ctx) == 0 and receiver.received == []
    with time_machine.travel(utcnow() + LEASE + timedelta(seconds=1)):
        assert deliver_webhooks(ctx) == 1
    [delivery] = deliveries(db)
    assert (delivery.status, delivery.attempts) == ("delivered", 2) and receiver.received[0].signature_ok


def test_the_ssrf_guard_refuses_a_private_address_on_every_attempt(
        app: Flask, db: Session, hook: Any, receiver: Receiver, ctx: JobContext) -> None:
    webhook = hook(["bounce"])  # registered while loopback was allowed (as tests run)
    db.add(WebhookDelivery(webhook_id=webhook.id, event="bounce", body="{}"))
    db.commit()
    guarded = JobContext(ctx.settings.with_(crawl={"allow_private_addresses": False}), ctx.sessionmaker,
                         ctx.secret_box)
    assert deliver_webhooks(guarded) == 1
    assert receiver.received == []
    [delivery] = deliveries(db)
    [(status, _excerpt, error)] = attempts(db, delivery)
    assert status is None and error.startswith("blocked_address") and delivery.status == "pending"


def test_a_delivery_that_keeps_failing_gives_up_and_can_be_sent_again(
        app: Flask, db: Session, hook: Any, receiver: Receiver, ctx: JobContext) -> None:
    webhook = hook(["bounce"])
    db.add(WebhookDelivery(webhook_id=webhook.id, event="bounce", body='{"event":"bounce"}'))
    db.commit()
    receiver.answers = [(503, "unavailable")] * MAX_ATTEMPTS
    with time_machine.travel(utcnow(), tick=True) as clock:
        for wait in (0, *BACKOFF):
            clock.shift(timedelta(seconds=wait + 1))
            assert deliver_webhooks(ctx) == 1
    [delivery] = deliveries(db)
    assert (delivery.status, delivery.attempts) == ("failed", MAX_ATTEMPTS)
    assert len(receiver.received) == MAX_ATTEMPTS and all(r.signature_ok for r in receiver.received)
    from outreach.webhooks.service import redeliver

    redeliver(db, delivery)
    db.commit()
    assert deliver_webhooks(ctx) == 1
    assert deliveries(db)[0].status == "delivered"


def test_a_disabled_webhook_gets_nothing_new_and_its_queued_deliveries_fail(
        app: Flask, db: Session, hook: Any, receiver: Receiver, ctx: JobContext, emailed: Any,
        client: FlaskClient) -> None:
    webhook = hook(["unsubscribe", "bounce"])
    db.add(WebhookDelivery(webhook_id=webhook.id, event="bounce", body="{}"))
    webhook.is_active = False
    db.commit()
    unsubscribe(app, client, emailed[0])
    assert [d.event for d in deliveries(db)] == ["bounce"]
    assert deliver_webhooks(ctx) == 1
    [delivery] = deliveries(db)
    assert delivery.status == "failed" and delivery.last_error == "the webhook is disabled"
    assert receiver.received == []


def test_a_process_that_skipped_its_wiring_cannot_raise_an_alert(db: Session) -> None:
    receivers = list(alert_raised.receivers.values())
    for receiver in receivers:
        alert_raised.disconnect(receiver)
    try:
        with pytest.raises(RuntimeError, match="connect_subscribers"):
            raise_alert(db, "bounce")
    finally:
        connect_subscribers()
    assert db.scalar(select(func.count()).select_from(WebhookDelivery)) == 0


def test_a_link_that_misses_its_agreed_terms_is_delivered_as_terms_not_met(
        db: Session, web: TestWeb, hook: Any, receiver: Receiver, ctx: JobContext, team: dict[str, Any],
        make_prospect: Any) -> None:
    hook(["terms_not_met"])
    team["campaign"].target_urls = TARGET
    prospect = make_prospect(team["campaign"], url=web.url("/article"), owner_id=team["owner"].id)
    move_prospect(db, prospect, "promised", actor=team["owner"])
    db.commit()
    web.page("/article", f'<html><body><a rel="nofollow" href="{TARGET}">Acme widgets</a></body></html>')
    check_due(ctx)
    assert deliver_webhooks(ctx) == 1
    [received] = receiver.received
    assert received.signature_ok and received.payload["event"] == "terms_not_met"
    assert received.payload["data"]["backlink"]["status"] == "terms_not_met"
    assert received.payload["data"]["backlink"]["unmet_terms"][0]["term"] == "rel"
