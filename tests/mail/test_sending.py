"""Sending through a real SMTP server on loopback: once, with retries, bounces and unknown outcomes."""
from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import select

from outreach.campaigns.service import move_prospect
from outreach.jobs.ticks import JobContext
from outreach.mail.jobs import reconcile, send_due
from outreach.mail.outbox import Sender
from outreach.mail.sequences import enroll_prospects, set_paused
from outreach.mail.unsubscribe import signing_secret
from outreach.models import Activity, Prospect, Suppression
from outreach.models.mail import Enrollment, Mailbox, Message
from tests.race import together

MONDAY = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def enroll(db, app, campaign, prospects, now=MONDAY):  # type: ignore[no-untyped-def]
    settings = app.extensions["outreach"].settings
    result = enroll_prospects(db, campaign, [p.id for p in prospects], settings, signing_secret(settings), now=now)
    db.commit()
    return result


def fresh(db):  # type: ignore[no-untyped-def]
    """End the test session's read transaction (a SQLite snapshot) and forget what it loaded."""
    db.commit()
    db.expire_all()


def messages(db, status=None):  # type: ignore[no-untyped-def]
    fresh(db)
    query = select(Message).order_by(Message.id)
    if status:
        query = query.where(Message.status == status)
    return db.scalars(query).all()


def with_timeout(ctx: JobContext, seconds: float) -> JobContext:
    return JobContext(ctx.settings.with_(mail={"smtp_timeout": seconds}), ctx.sessionmaker, ctx.secret_box)


def test_it_sends_each_due_message_once_with_threading_and_unsubscribe_headers(
        app, db, smtp_sink, make_mailbox, outreach_campaign, job_context):
    mailbox = make_mailbox(smtp_sink)
    campaign, prospects = outreach_campaign(mailbox, n=2)
    with time_machine.travel(MONDAY, tick=False):
        assert len(enroll(db, app, campaign, prospects).enrolled) == 2
        assert send_due(job_context) == 2
        assert send_due(job_context) == 0
    assert sorted(smtp_sink.ids().values()) == [1, 1]
    first = smtp_sink.received[0].message
    # base_url is http here: no one-click header (RFC 8058 needs https), the mailto link only
    assert first["List-Unsubscribe-Post"] is None
    assert first["List-Unsubscribe"].startswith("<mailto:sam@agency.test?subject=unsubscribe%20")
    assert "http" not in first["List-Unsubscribe"]
    assert first["Subject"].startswith("Hello Ann")
    fresh(db)
    assert {p.stage for p in db.scalars(select(Prospect))} == {"contacted"}
    follow_ups = messages(db, "scheduled")
    assert len(follow_ups) == 2
    # three business days after Monday is Thursday, in the same thread
    assert follow_ups[0].send_at == MONDAY + timedelta(days=3)
    sent_ids = {m.message_id for m in messages(db, "sent")}
    assert follow_ups[0].in_reply_to in sent_ids
    assert follow_ups[0].subject.startswith("Re: Hello Ann")
    with time_machine.travel(MONDAY + timedelta(days=3, minutes=1), tick=False):
        assert send_due(job_context) == 2
    reply = smtp_sink.received[-1].message
    assert reply["In-Reply-To"].strip("<>") in sent_ids
    assert reply["References"]
    assert len(smtp_sink.received) == 4
    fresh(db)
    assert {e.status for e in db.scalars(select(Enrollment))} == {"finished"}
    kinds = [a.kind for a in db.scalars(select(Activity).where(Activity.prospect_id == prospects[0].id))]
    assert kinds.count("email_sent") == 2


@pytest.mark.parametrize("code", ["421", "450", "451", "452"])
def test_it_retries_temporary_failures_with_backoff_and_the_same_message_id(
        app, db, smtp_sink, make_mailbox, outreach_campaign, job_context, code):
    mailbox = make_mailbox(smtp_sink)
    campaign, prospects = outreach_campaign(mailbox, n=1)
    smtp_sink.data_faults.append(code)
    with time_machine.travel(MONDAY, tick=False):
        enroll(db, app, campaign, prospects)
        assert send_due(job_context) == 0
        (message,) = messages(db)
        assert message.status == "scheduled"
        assert message.send_at == MONDAY + timedelta(minutes=5)
        assert code in message.last_error
        assert send_due(job_context) == 0  # not due yet
    with time_machine.travel(MONDAY + timedelta(minutes=6), tick=False):
        assert send_due(job_context) == 1
    (sent,) = messages(db, "sent")
    assert sent.message_id == message.message_id
    assert sent.attempts == 2
    assert smtp_sink.ids() == {message.message_id: 1}


def test_it_treats_an_unknown_recipient_as_a_hard_bounce(app, db, smtp_sink, make_mailbox, outreach_campaign,
                                                          job_context):
    mailbox = make_mailbox(smtp_sink)
    campaign, prospects = outreach_campaign(mailbox, n=1)
    smtp_sink.rcpt_replies[prospects[0].contact.email] = "550 5.1.1 <nobody>: Recipient address rejected"
    with time_machine.travel(MONDAY, tick=False):
        enroll(db, app, campaign, prospects)
        assert send_due(job_context) == 0
    (message,) = messages(db)
    assert message.status == "bounced"
    assert smtp_sink.received == []
    fresh(db)
    assert db.get(Prospect, prospects[0].id).stage == "bounced"
    assert db.scalar(select(Suppression.reason).where(Suppression.value == prospects[0].contact.email)) == "bounced"
    assert db.scalar(select(Enrollment.stop_reason)) == "bounced"


def test_it_marks_a_5xx_after_data_as_failed_and_stops_the_sequence(app, db, smtp_sink, make_mailbox,
                                                                    outreach_campaign, job_context):
    mailbox = make_mailbox(smtp_sink)
    campaign, prospects = outreach_campaign(mailbox, n=1)
    smtp_sink.data_faults.append("554")
    with time_machine.travel(MONDAY, tick=False):
        enroll(db, app, campaign, prospects)
        send_due(job_context)
    (message,) = messages(db)
    assert message.status == "failed"
    assert "554" in message.last_error
    assert db.scalar(select(Enrollment.status)) == "stopped"


@pytest.mark.parametrize("fault", ["drop", "hang"])
def test_it_leaves_a_message_unknown_when_the_connection_is_lost_after_data_and_never_resends_it(
        app, db, smtp_sink, make_mailbox, outreach_campaign, job_context, fault):
    mailbox = make_mailbox(smtp_sink)
    campaign, prospects = outreach_campaign(mailbox, n=2)
    smtp_sink.data_faults.append(fault)
    ctx = with_timeout(job_context, 1.0)
    with time_machine.travel(MONDAY, tick=False):
        enroll(db, app, campaign, prospects)
        send_due(ctx)
    statuses = sorted(m.status for m in messages(db) if m.step == 1)
    assert statuses == ["sent", "unknown"]
    with time_machine.travel(MONDAY + timedelta(days=1), tick=False):
        send_due(ctx)
        reconcile(ctx)  # no IMAP on this mailbox: it stays unknown
    assert sorted(m.status for m in messages(db) if m.step == 1) == ["sent", "unknown"]
    assert all(n == 1 for n in smtp_sink.ids().values())
    assert len(smtp_sink.received) == 2


def test_it_reconciles_unknown_messages_over_imap_sent_folder(app, db, smtp_sink, imap_server, make_mailbox,
                                                              outreach_campaign, job_context):
    mailbox = make_mailbox(smtp_sink, imap_server)
    campaign, prospects = outreach_campaign(mailbox, n=2)
    smtp_sink.data_faults.extend(["drop", "drop"])
    with time_machine.travel(MONDAY, tick=False):
        enroll(db, app, campaign, prospects)
        send_due(job_context)
    unknown = messages(db, "unknown")
    assert len(unknown) == 2
    # the provider filed the first one in Sent; the second never made it there
    imap_server.append("Sent", smtp_sink.received[0].data)
    with time_machine.travel(MONDAY + timedelta(minutes=5), tick=False):
        reconcile(job_context)
    by_id = {m.message_id: m.status for m in messages(db) if m.step == 1}
    assert by_id[smtp_sink.received[0].message_id] == "sent"
    assert by_id[smtp_sink.received[1].message_id] == "unknown"
    assert len(messages(db, "scheduled")) == 1  # the follow-up of the reconciled one


def test_it_reschedules_a_message_claimed_by_a_dead_sender_before_data(app, db, smtp_sink, make_mailbox,
                                                                      outreach_campaign, job_context):
    mailbox = make_mailbox(smtp_sink)
    campaign, prospects = outreach_campaign(mailbox, n=1)
    with time_machine.travel(MONDAY, tick=False):
        enroll(db, app, campaign, prospects)
        (message,) = messages(db)
        message.status, message.claimed_at, message.attempts = "sending", MONDAY, 1
        db.commit()
    with time_machine.travel(MONDAY + timedelta(hours=1), tick=False):
        reconcile(job_context)
        assert messages(db)[0].status == "scheduled"
        assert send_due(job_context) == 1
    assert smtp_sink.ids() == {message.message_id: 1}


def test_two_senders_at_once_send_each_message_once(app, db, smtp_sink, make_mailbox, outreach_campaign,
                                                    job_context):
    mailbox = make_mailbox(smtp_sink)
    campaign, prospects = outreach_campaign(mailbox, n=12)
    enroll(db, app, campaign, prospects, now=datetime.now(UTC))
    assert sum(together(lambda _: send_due(job_context), workers=3)) == 12
    assert len(smtp_sink.received) == 12
    assert set(smtp_sink.ids().values()) == {1}


def test_it_writes_to_the_local_outbox_when_the_campaign_has_no_mailbox(app, db, outreach_campaign, job_context):
    campaign, prospects = outreach_campaign(None, n=1)
    with time_machine.travel(MONDAY, tick=False):
        enroll(db, app, campaign, prospects)
        assert send_due(job_context) == 1
    (message,) = messages(db, "sent")
    assert message.transport == "local"
    files = list(Path(app.extensions["outreach"].settings.mail.outbox_dir).glob(f"*{message.message_id[:8]}*"))
    assert len(files) == 1
    assert b"List-Unsubscribe: <mailto:outbox@outreach.local?subject=unsubscribe%20" in files[0].read_bytes()


def test_it_offers_one_click_unsubscribe_only_at_an_https_address(app, db, smtp_sink, make_mailbox,
                                                                  outreach_campaign, job_context):
    ctx = JobContext(job_context.settings.with_(app={"base_url": "https://outreach.agency.test"}),
                     job_context.sessionmaker, job_context.secret_box)
    campaign, prospects = outreach_campaign(make_mailbox(smtp_sink), n=1)
    with time_machine.travel(MONDAY, tick=False):
        enroll(db, app, campaign, prospects)
        assert send_due(ctx) == 1
    sent = smtp_sink.received[0].message
    assert sent["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    mailto, url = sent["List-Unsubscribe"].split(", ")
    assert mailto.startswith("<mailto:sam@agency.test?subject=unsubscribe%20")
    assert url.startswith("<https://outreach.agency.test/unsubscribe/")


def test_it_keeps_the_daily_cap_the_window_and_the_spacing(app, db, smtp_sink, make_mailbox, outreach_campaign,
                                                           job_context):
    mailbox = make_mailbox(smtp_sink, daily_cap=2, min_spacing_seconds=60, jitter_seconds=30,
                           window_days="1,2,3,4,5", window_start_hour=9, window_end_hour=17,
                           timezone="America/New_York")
    campaign, prospects = outreach_campaign(mailbox, n=4)
    early = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)  # 08:00 in New York: before the window
    with time_machine.travel(early, tick=False):
        enroll(db, app, campaign, prospects, now=early)
        assert send_due(job_context) == 0
    opening = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # 09:00 in New York
    with time_machine.travel(opening, tick=False):
        assert send_due(job_context) == 1  # spacing: one per tick until the gap has passed
        assert send_due(job_context) == 0
    with time_machine.travel(opening + timedelta(seconds=91), tick=False):
        assert send_due(job_context) == 1
    with time_machine.travel(opening + timedelta(minutes=10), tick=False):
        assert send_due(job_context) == 0  # the cap of 2 is reached for today
    saturday = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)
    with time_machine.travel(saturday, tick=False):
        assert send_due(job_context) == 0  # not a sending day
    with time_machine.travel(datetime(2026, 11, 30, 14, 30, tzinfo=UTC), tick=False):
        assert send_due(job_context) == 1
    assert len(smtp_sink.received) == 3


def test_a_paused_campaign_sends_nothing_until_resumed(app, db, smtp_sink, make_mailbox, outreach_campaign,
                                                       job_context):
    mailbox = make_mailbox(smtp_sink)
    campaign, prospects = outreach_campaign(mailbox, n=2)
    with time_machine.travel(MONDAY, tick=False):
        enroll(db, app, campaign, prospects)
        set_paused(db, campaign, True)
        db.commit()
        assert send_due(job_context) == 0
        set_paused(db, campaign, False)
        db.commit()
        assert send_due(job_context) == 2


def test_nothing_is_sent_to_an_address_after_its_unsubscribe_commits(app, db, smtp_sink, make_mailbox,
                                                                     outreach_campaign, job_context):
    """The sink unsubscribes the last recipient while the batch is being sent."""
    from outreach.mail.unsubscribe import unsubscribe

    mailbox = make_mailbox(smtp_sink)
    campaign, prospects = outreach_campaign(mailbox, n=5)
    enroll(db, app, campaign, prospects, now=datetime.now(UTC))
    target = prospects[-1].contact.email
    target_message = db.scalar(select(Message).where(Message.to_email == target))
    factory = app.extensions["outreach"].sessionmaker

    def unsubscribe_now(received):  # type: ignore[no-untyped-def]
        if len(smtp_sink.received) == 1:
            with factory() as session:
                unsubscribe(session, target_message.message_id, via="one-click")
                session.commit()

    smtp_sink.on_accept = unsubscribe_now
    assert send_due(job_context) == 4
    assert smtp_sink.to(target) == []
    fresh(db)
    assert db.get(Message, target_message.id).status == "cancelled"
    assert db.get(Prospect, prospects[-1].id).stage == "unsubscribed"


def test_a_sender_that_is_told_to_stop_finishes_the_current_message_and_returns(
        app, db, smtp_sink, make_mailbox, outreach_campaign, job_context):
    mailbox = make_mailbox(smtp_sink)
    campaign, prospects = outreach_campaign(mailbox, n=3)
    enroll(db, app, campaign, prospects, now=datetime.now(UTC))
    stop = threading.Event()
    smtp_sink.on_accept = lambda received: stop.set()
    sent = Sender(job_context.settings, job_context.sessionmaker, job_context.secret_box, stop.is_set).run()
    assert sent == 1
    assert len(messages(db, "scheduled")) == 3  # two first emails and one follow-up
    assert db.scalar(select(Mailbox.id)) == mailbox.id


def test_a_person_resolves_an_unknown_message_from_the_queue(app, db, smtp_sink, make_mailbox, outreach_campaign,
                                                             job_context, team, login):
    mailbox = make_mailbox(smtp_sink)
    campaign, prospects = outreach_campaign(mailbox, n=2)
    smtp_sink.data_faults.extend(["drop", "drop"])
    enroll(db, app, campaign, prospects, now=datetime.now(UTC))
    send_due(job_context)
    first, second = messages(db, "unknown")
    client = login(team["owner"])
    assert "Send again" in client.get(f"/campaigns/{campaign.id}/outreach").get_data(as_text=True)
    client.post(f"/mail/messages/{first.id}/resolve", data={"action": "sent"})
    client.post(f"/mail/messages/{second.id}/resolve", data={"action": "resend"})
    page = client.post(f"/mail/messages/{first.id}/resolve", data={"action": "resend"}, follow_redirects=True)
    assert "only a message whose delivery is unknown" in page.get_data(as_text=True)
    assert send_due(job_context) == 1
    fresh(db)
    assert db.get(Message, first.id).status == "sent" and db.get(Message, second.id).status == "sent"
    assert smtp_sink.ids()[second.message_id] == 2  # a deliberate resend, same Message-ID


def test_an_unreachable_smtp_server_reschedules_the_batch_after_one_attempt(app, db, make_mailbox, outreach_campaign,
                                                                            job_context):
    from tests.conftest import free_port

    mailbox = make_mailbox(None, smtp_port=free_port())  # nothing listens there
    campaign, prospects = outreach_campaign(mailbox, n=3)
    with time_machine.travel(MONDAY, tick=False):
        enroll(db, app, campaign, prospects)
        assert send_due(job_context) == 0
    queued = messages(db)
    assert {m.status for m in queued} == {"scheduled"}
    assert all(m.send_at == MONDAY + timedelta(minutes=5) and "cannot connect" in m.last_error for m in queued)


def test_moving_a_card_past_contacted_by_hand_ends_its_sequence_at_once(
        app, db, smtp_sink, make_mailbox, outreach_campaign, job_context):
    campaign, prospects = outreach_campaign(make_mailbox(smtp_sink), n=2)
    with time_machine.travel(MONDAY, tick=False):
        enroll(db, app, campaign, prospects)
        assert send_due(job_context) == 2  # step 1 out; step 2 scheduled for both
    fresh(db)
    negotiating = db.get(Prospect, prospects[0].id)
    move_prospect(db, negotiating, "negotiating")
    db.commit()
    statuses = {(m.prospect_id, m.step, m.status) for m in messages(db) if m.step == 2}
    assert (negotiating.id, 2, "cancelled") in statuses
    assert (prospects[1].id, 2, "scheduled") in statuses
    enrollment = db.scalar(select(Enrollment).where(Enrollment.prospect_id == negotiating.id))
    assert (enrollment.status, enrollment.stop_reason) == ("stopped", "stage")
    assert db.get(Prospect, negotiating.id).stage == "negotiating"  # the stop does not move the card back
