"""Replies, auto-replies and bounces read over IMAP from a real Dovecot."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from outreach.mail.inbound import read_return_date
from outreach.mail.jobs import poll_mailboxes, send_due
from outreach.models import Activity, Contact, Notification, Prospect, Suppression
from outreach.models.mail import Enrollment, InboundMessage, Message
from tests.mail.test_sending import MONDAY, enroll, fresh, messages


def reply_to(original: Message, body: str = "Sounds good, send it over.", **headers: str) -> bytes:
    values = {
        "From": f"Ann Lee <{original.to_email}>",
        "To": original.from_email,
        "Subject": f"Re: {original.subject}",
        "Message-ID": f"<reply-{original.message_id}>",
        "In-Reply-To": f"<{original.message_id}>",
        "References": f"<{original.message_id}>",
        "Date": "Tue, 24 Nov 2026 10:00:00 +0000",
    }
    values.update(headers)
    head = "".join(f"{k}: {v}\r\n" for k, v in values.items() if v)
    return (head + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n").encode()


def dsn(original: Message, status: str, action: str = "failed") -> bytes:
    return f"""From: Mail Delivery System <MAILER-DAEMON@mx.site.test>\r
To: {original.from_email}\r
Subject: Undelivered Mail Returned to Sender\r
Message-ID: <dsn-{status}-{original.message_id}>\r
Date: Tue, 24 Nov 2026 10:00:00 +0000\r
Auto-Submitted: auto-replied\r
MIME-Version: 1.0\r
Content-Type: multipart/report; report-type=delivery-status; boundary="BOUNDARY"\r
\r
--BOUNDARY\r
Content-Type: text/plain\r
\r
I'm sorry to have to inform you that your message could not be delivered.\r
\r
--BOUNDARY\r
Content-Type: message/delivery-status\r
\r
Reporting-MTA: dns; mx.site.test\r
\r
Final-Recipient: rfc822; {original.to_email}\r
Action: {action}\r
Status: {status}\r
Diagnostic-Code: smtp; {"550 5.1.1 User unknown" if status.startswith("5") else "452 4.2.2 Mailbox full"}\r
\r
--BOUNDARY\r
Content-Type: text/rfc822-headers\r
\r
From: {original.from_email}\r
To: {original.to_email}\r
Subject: {original.subject}\r
Message-ID: <{original.message_id}>\r
\r
--BOUNDARY--\r
""".encode()


@pytest.fixture
def sent_one(app, db, smtp_sink, imap_server, make_mailbox, outreach_campaign, job_context):  # type: ignore[no-untyped-def]
    mailbox = make_mailbox(smtp_sink, imap_server)
    campaign, prospects = outreach_campaign(mailbox, n=1)
    with time_machine.travel(MONDAY, tick=False):
        enroll(db, app, campaign, prospects)
        assert send_due(job_context) == 1
    (first,) = messages(db, "sent")
    return first, prospects[0]


def timeline(db, prospect):  # type: ignore[no-untyped-def]
    fresh(db)
    return [(a.kind, a.text) for a in db.scalars(select(Activity).where(Activity.prospect_id == prospect.id)
                                               .order_by(Activity.id))]


def test_a_reply_stops_the_sequence_and_moves_the_prospect_to_replied(db, imap_server, sent_one, job_context):
    first, prospect = sent_one
    imap_server.append("INBOX", reply_to(first))
    with time_machine.travel(MONDAY + timedelta(hours=2), tick=False):
        assert poll_mailboxes(job_context) == 1
    fresh(db)
    assert db.get(Prospect, prospect.id).stage == "replied"
    assert db.scalar(select(Enrollment.stop_reason)) == "replied"
    assert [m.status for m in messages(db) if m.step == 2] == ["cancelled"]
    kinds = [k for k, _ in timeline(db, prospect)]
    assert "email_received" in kinds and "email_cancelled" in kinds and "sequence_stopped" in kinds
    inbound = db.scalar(select(InboundMessage))
    assert inbound.kind == "reply" and inbound.reply_to_message_id == first.id
    # nothing more goes out, and reading again adds nothing
    with time_machine.travel(MONDAY + timedelta(days=10), tick=False):
        assert send_due(job_context) == 0
        assert poll_mailboxes(job_context) == 0


def test_a_reply_matched_by_references_only_also_stops(db, imap_server, sent_one, job_context):
    first, prospect = sent_one
    imap_server.append("INBOX", reply_to(first, **{"In-Reply-To": "", "References": f"<x@y> <{first.message_id}>"}))
    with time_machine.travel(MONDAY + timedelta(hours=2), tick=False):
        poll_mailboxes(job_context)
    fresh(db)
    assert db.get(Prospect, prospect.id).stage == "replied"


def test_an_out_of_office_reply_pauses_follow_ups_until_the_return_date(db, imap_server, sent_one, job_context):
    first, prospect = sent_one
    imap_server.append("INBOX", reply_to(first, "I am out of the office until 2026-12-07 with limited access.",
                                         **{"Auto-Submitted": "auto-replied", "Subject": "Out of Office"}))
    with time_machine.travel(MONDAY + timedelta(hours=2), tick=False):
        assert poll_mailboxes(job_context) == 1
    fresh(db)
    assert db.get(Prospect, prospect.id).stage == "contacted"
    enrollment = db.scalar(select(Enrollment))
    assert enrollment.status == "active"
    assert enrollment.paused_until == datetime(2026, 12, 7, 0, 0, tzinfo=UTC)  # the mailbox window opens at 0 h
    (follow_up,) = messages(db, "scheduled")
    assert follow_up.send_at == enrollment.paused_until
    assert db.scalar(select(InboundMessage.kind)) == "auto_reply"
    assert any("paused until 2026-12-07" in text for _, text in timeline(db, prospect))


def test_an_auto_reply_without_a_date_leaves_the_sequence_running(db, imap_server, sent_one, job_context):
    first, prospect = sent_one
    imap_server.append("INBOX", reply_to(first, "Thanks for your email. We will get back to you.",
                                         **{"Auto-Submitted": "auto-replied"}))
    with time_machine.travel(MONDAY + timedelta(hours=2), tick=False):
        poll_mailboxes(job_context)
    fresh(db)
    assert db.scalar(select(Enrollment.status)) == "active"
    assert db.get(Prospect, prospect.id).stage == "contacted"


def test_a_hard_bounce_suppresses_the_address_and_stops_everything(db, imap_server, sent_one, job_context):
    first, prospect = sent_one
    imap_server.append("INBOX", dsn(first, "5.1.1"))
    with time_machine.travel(MONDAY + timedelta(hours=2), tick=False):
        poll_mailboxes(job_context)
    fresh(db)
    assert db.get(Prospect, prospect.id).stage == "bounced"
    assert db.get(Message, first.id).status == "bounced"
    assert db.scalar(select(Suppression.reason).where(Suppression.value == first.to_email)) == "bounced"
    assert db.scalar(select(Contact.status).where(Contact.email == first.to_email)) == "invalid"
    assert [m.status for m in messages(db) if m.step == 2] == ["cancelled"]
    assert any("5.1.1" in text for kind, text in timeline(db, prospect) if kind == "email_bounced")


def test_a_soft_bounce_is_counted_and_retried(db, imap_server, smtp_sink, sent_one, job_context):
    first, prospect = sent_one
    imap_server.append("INBOX", dsn(first, "4.2.2"))
    with time_machine.travel(MONDAY + timedelta(hours=2), tick=False):
        poll_mailboxes(job_context)
    fresh(db)
    again = db.get(Message, first.id)
    assert again.status == "scheduled" and again.soft_bounces == 1
    assert db.get(Prospect, prospect.id).stage == "contacted"
    with time_machine.travel(MONDAY + timedelta(hours=9), tick=False):
        assert send_due(job_context) == 1
    assert smtp_sink.ids()[first.message_id] == 2  # a retry after a bounce report, same Message-ID


def test_unrelated_mail_is_stored_but_changes_nothing(db, imap_server, sent_one, job_context):
    first, prospect = sent_one
    imap_server.append("INBOX", reply_to(first, **{"From": "someone@else.test", "In-Reply-To": "<other@x>",
                                                   "References": ""}))
    with time_machine.travel(MONDAY + timedelta(hours=2), tick=False):
        poll_mailboxes(job_context)
    fresh(db)
    assert db.scalar(select(InboundMessage.kind)) == "unmatched"
    assert db.get(Prospect, prospect.id).stage == "contacted"


@pytest.fixture
def owned(db, sent_one, make_user):  # type: ignore[no-untyped-def]
    """The prospect owned by a member; an admin and the client's viewer look on."""
    _first, prospect = sent_one
    prospect = db.get(Prospect, prospect.id)
    users = {"owner": make_user("olive@agency.test"), "admin": make_user("ada@agency.test", role="admin"),
             "viewer": make_user("vic@client.test", role="client_viewer", client=prospect.campaign.client)}
    prospect.owner_id = users["owner"].id
    db.commit()
    return users


def notified(db):  # type: ignore[no-untyped-def]
    fresh(db)
    return [(n.user_id, n.kind, n.title, n.link) for n in db.scalars(select(Notification).order_by(Notification.id))]


def test_a_reply_notifies_the_prospect_owner_and_nobody_else(db, imap_server, sent_one, owned, job_context):
    first, prospect = sent_one
    imap_server.append("INBOX", reply_to(first))
    with time_machine.travel(MONDAY + timedelta(hours=2), tick=False):
        assert poll_mailboxes(job_context) == 1
    [(user_id, kind, title, link)] = notified(db)
    assert user_id == owned["owner"].id and kind == "reply" and link == f"/prospects/{prospect.id}"
    assert title == f"Reply from {first.to_email}: Re: {first.subject}"
    # an auto-reply is no reply: nothing more
    imap_server.append("INBOX", reply_to(first, "Out until 2026-12-07.", **{"Auto-Submitted": "auto-replied",
                                                                           "Message-ID": "<ooo@site.test>"}))
    with time_machine.travel(MONDAY + timedelta(hours=3), tick=False):
        poll_mailboxes(job_context)
    assert len(notified(db)) == 1


def test_a_hard_bounce_notifies_the_prospect_owner(db, imap_server, sent_one, owned, job_context):
    first, prospect = sent_one
    imap_server.append("INBOX", dsn(first, "5.1.1"))
    with time_machine.travel(MONDAY + timedelta(hours=2), tick=False):
        poll_mailboxes(job_context)
    [(user_id, kind, title, link)] = notified(db)
    assert (user_id, kind, title, link) == (owned["owner"].id, "bounce", f"Bounced: {first.to_email}",
                                            f"/prospects/{prospect.id}")
    assert db.get(Prospect, prospect.id).stage == "bounced"


def test_the_third_soft_bounce_notifies_the_prospect_owner(db, imap_server, sent_one, owned, job_context):
    first, _prospect = sent_one
    for status in ("4.2.2", "4.2.1", "4.3.0"):
        imap_server.append("INBOX", dsn(first, status))
    with time_machine.travel(MONDAY + timedelta(hours=2), tick=False):
        assert poll_mailboxes(job_context) == 3
    [(user_id, kind, _title, _link)] = notified(db)
    assert (user_id, kind) == (owned["owner"].id, "bounce")
    assert db.get(Message, first.id).status == "bounced"


@pytest.mark.parametrize(("text", "expected"), [
    ("I'm out of the office until 2026-12-07.", date(2026, 12, 7)),
    ("I will be back on Monday, 7 December 2026.", date(2026, 12, 7)),
    ("Away, returning on December 7th.", date(2026, 12, 7)),
    ("On leave till 3rd of January", date(2027, 1, 3)),
    ("Thanks for your email!", None),
    ("Back on 2020-01-01", None),
])
def test_it_reads_return_dates_from_out_of_office_text(text, expected):
    assert read_return_date(text, date(2026, 11, 24)) == expected
