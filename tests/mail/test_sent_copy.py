"""The Sent folder holds one copy of every sent message, filed by the server or by Outreach, and decides a
message whose outcome is unknown (outreach.mail.sent_copy)."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from sqlalchemy import func, select

from outreach.mail import imap
from outreach.mail.jobs import poll_mailboxes, reconcile, send_due
from outreach.models import Activity
from outreach.models.mail import Enrollment, InboundMessage, Mailbox
from tests.mail.conftest import delivers_to
from tests.mail.test_sending import MONDAY, enroll, fresh, messages


def sent_copies(imap_server: Any, message_ids: list[str]) -> dict[str, int]:
    """How many copies of each message the Sent folder holds."""
    return copies(imap_server, "Sent", message_ids)


def copies(imap_server: Any, folder: str, message_ids: list[str]) -> dict[str, int]:
    conn = imap_server.connect()
    try:
        conn.select(folder, readonly=True)
        return {mid: len(imap.find(conn, mid)) for mid in message_ids}
    finally:
        conn.logout()


def test_auto_finds_a_server_that_files_sent_mail_and_never_adds_a_copy(app, db, smtp_sink, imap_server,
                                                                        make_mailbox, outreach_campaign, job_context):
    delivers_to(smtp_sink, imap_server, "sam@agency.test", files_sent=True)
    mailbox = make_mailbox(smtp_sink, imap_server)
    campaign, prospects = outreach_campaign(mailbox, n=3)
    with time_machine.travel(MONDAY, tick=False):
        enroll(db, app, campaign, prospects)
        assert send_due(job_context) == 3
    sent = messages(db, "sent")
    assert sent_copies(imap_server, [m.message_id for m in sent]) == {m.message_id: 1 for m in sent}
    assert db.get(Mailbox, mailbox.id).server_files_sent is True
    assert [m.sent_copy for m in sent] == ["", "server", "server"]  # the first one told
    assert all(r.rcpt_tos == [r.message["To"].split("<")[-1].strip(">")] for r in smtp_sink.received)


def test_auto_finds_a_server_that_does_not_and_files_each_copy_through_the_mailbox(
        app, db, smtp_sink, imap_server, make_mailbox, outreach_campaign, job_context):
    delivers_to(smtp_sink, imap_server, "sam@agency.test")
    mailbox = make_mailbox(smtp_sink, imap_server)
    campaign, prospects = outreach_campaign(mailbox, n=3)
    with time_machine.travel(MONDAY, tick=False):
        enroll(db, app, campaign, prospects)
        assert send_due(job_context) == 3
        sent = messages(db, "sent")
        assert db.get(Mailbox, mailbox.id).server_files_sent is False
        assert [m.sent_copy for m in sent] == ["", "outreach", "outreach"]
        # the first was appended after the fact; the others went to the mailbox too, in the same transaction
        assert ["sam@agency.test" in r.rcpt_tos for r in smtp_sink.received] == [False, True, True]
        ids = [m.message_id for m in sent]
        assert copies(imap_server, "INBOX", ids) == {ids[0]: 0, ids[1]: 1, ids[2]: 1}
        assert poll_mailboxes(job_context) == 0  # the copies are ours: no reply, nothing stops
    assert copies(imap_server, "INBOX", ids) == dict.fromkeys(ids, 0)
    assert copies(imap_server, "Sent", ids) == dict.fromkeys(ids, 1)
    fresh(db)
    assert db.scalar(select(func.count()).select_from(InboundMessage)) == 0
    assert {e.status for e in db.scalars(select(Enrollment))} == {"active"}


def test_a_refused_message_leaves_no_copy(app, db, smtp_sink, imap_server, make_mailbox, outreach_campaign,
                                          job_context):
    delivers_to(smtp_sink, imap_server, "sam@agency.test")
    mailbox = make_mailbox(smtp_sink, imap_server, sent_copy="always")
    campaign, prospects = outreach_campaign(mailbox, n=2)
    smtp_sink.data_faults.append("554")
    with time_machine.travel(MONDAY, tick=False):
        enroll(db, app, campaign, prospects)
        assert send_due(job_context) == 1
        poll_mailboxes(job_context)
    failed, sent = messages(db, "failed"), messages(db, "sent")
    assert len(failed) == len(sent) == 1
    assert copies(imap_server, "Sent", [failed[0].message_id, sent[0].message_id]) == {
        failed[0].message_id: 0, sent[0].message_id: 1}


def test_a_server_refusing_the_copy_recipient_sends_the_message_without_a_record(
        app, db, smtp_sink, imap_server, make_mailbox, outreach_campaign, job_context):
    smtp_sink.rcpt_replies["sam@agency.test"] = "550 5.7.1 No relaying to yourself"
    mailbox = make_mailbox(smtp_sink, imap_server, sent_copy="always")
    campaign, prospects = outreach_campaign(mailbox, n=1)
    with time_machine.travel(MONDAY, tick=False):
        enroll(db, app, campaign, prospects)
        assert send_due(job_context) == 1
    (sent,) = messages(db, "sent")
    assert sent.sent_copy == ""  # if a crash left it unknown, a person would decide
    assert len(smtp_sink.received) == 1


@pytest.mark.parametrize("filed_by", ["server", "outreach"])
def test_an_unknown_message_is_decided_by_its_copy_and_one_without_is_sent_again_after_the_grace(
        app, db, smtp_sink, imap_server, make_mailbox, outreach_campaign, job_context, filed_by):
    delivers_to(smtp_sink, imap_server, "sam@agency.test", files_sent=filed_by == "server")
    mailbox = make_mailbox(smtp_sink, imap_server, sent_copy="never" if filed_by == "server" else "always")
    campaign, prospects = outreach_campaign(mailbox, n=2)
    # the first connection drops after the server accepted (and filed) it, the second before it accepted anything
    smtp_sink.data_faults.extend(["drop", "abort"])
    with time_machine.travel(MONDAY, tick=False):
        enroll(db, app, campaign, prospects)
        send_due(job_context)
    accepted = smtp_sink.received[0].message_id
    assert [m.status for m in messages(db)] == ["unknown", "unknown"]
    with time_machine.travel(MONDAY + timedelta(minutes=1), tick=False):
        reconcile(job_context)  # within the grace: the server may still be filing the second one
    by_id = {m.message_id: m for m in messages(db) if m.step == 1}
    assert by_id[accepted].status == "sent"
    (missing,) = [m for m in by_id.values() if m.message_id != accepted]
    assert missing.status == "unknown"
    with time_machine.travel(MONDAY + timedelta(minutes=3), tick=False):
        reconcile(job_context)
        fresh(db)
        assert db.get(type(missing), missing.id).status == "scheduled"
        assert send_due(job_context) == 1
    assert smtp_sink.ids() == {accepted: 1, missing.message_id: 1}
    resend = db.scalar(select(Activity).where(Activity.kind == "email_resend"))
    assert "never accepted it" in resend.text
