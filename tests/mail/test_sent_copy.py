"""The Sent folder holds one copy of every sent message, filed by the server or by Outreach, and decides a
message whose outcome is unknown (outreach.mail.sent_copy)."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import time_machine
from sqlalchemy import select

from outreach.mail import imap
from outreach.mail.jobs import reconcile, send_due
from outreach.models import Activity
from outreach.models.mail import Mailbox
from tests.conftest import free_port
from tests.mail.test_sending import MONDAY, enroll, fresh, messages


def sent_copies(imap_server: Any, message_ids: list[str]) -> dict[str, int]:
    """How many copies of each message the Sent folder holds."""
    conn = imap_server.connect()
    try:
        conn.select("Sent", readonly=True)
        return {mid: len(imap.find(conn, mid)) for mid in message_ids}
    finally:
        conn.logout()


def server_files(smtp_sink: Any, imap_server: Any) -> None:
    smtp_sink.on_accept = lambda received: imap_server.append("Sent", received.data)


def test_auto_finds_a_server_that_files_sent_mail_and_never_adds_a_copy(app, db, smtp_sink, imap_server,
                                                                        make_mailbox, outreach_campaign, job_context):
    server_files(smtp_sink, imap_server)
    mailbox = make_mailbox(smtp_sink, imap_server)
    campaign, prospects = outreach_campaign(mailbox, n=3)
    with time_machine.travel(MONDAY, tick=False):
        enroll(db, app, campaign, prospects)
        assert send_due(job_context) == 3
    sent = messages(db, "sent")
    assert sent_copies(imap_server, [m.message_id for m in sent]) == {m.message_id: 1 for m in sent}
    assert db.get(Mailbox, mailbox.id).server_files_sent is True
    assert [m.sent_copy for m in sent] == ["", "server", "server"]  # the first one told


def test_auto_finds_a_server_that_does_not_and_files_each_copy_itself(app, db, smtp_sink, imap_server, make_mailbox,
                                                                      outreach_campaign, job_context):
    mailbox = make_mailbox(smtp_sink, imap_server)
    campaign, prospects = outreach_campaign(mailbox, n=3)
    with time_machine.travel(MONDAY, tick=False):
        enroll(db, app, campaign, prospects)
        assert send_due(job_context) == 3
    sent = messages(db, "sent")
    assert sent_copies(imap_server, [m.message_id for m in sent]) == {m.message_id: 1 for m in sent}
    assert db.get(Mailbox, mailbox.id).server_files_sent is False
    assert [m.sent_copy for m in sent] == ["", "outreach", "outreach"]
    # the copy is the message as sent, headers and all
    conn = imap_server.connect()
    conn.select("Sent", readonly=True)
    (uid,) = imap.find(conn, sent[1].message_id)
    _typ, data = conn.uid("FETCH", uid, "(BODY.PEEK[])")
    conn.logout()
    assert data[0][1] == smtp_sink.received[1].data.replace(b"\n", b"\r\n").replace(b"\r\r\n", b"\r\n")


def test_a_refused_message_leaves_no_copy_in_sent(app, db, smtp_sink, imap_server, make_mailbox, outreach_campaign,
                                                  job_context):
    mailbox = make_mailbox(smtp_sink, imap_server, sent_copy="always")
    campaign, prospects = outreach_campaign(mailbox, n=2)
    smtp_sink.data_faults.append("554")
    with time_machine.travel(MONDAY, tick=False):
        enroll(db, app, campaign, prospects)
        assert send_due(job_context) == 1
    failed, sent = messages(db, "failed"), messages(db, "sent")
    assert len(failed) == len(sent) == 1
    assert sent_copies(imap_server, [failed[0].message_id, sent[0].message_id]) == {
        failed[0].message_id: 0, sent[0].message_id: 1}


def test_nothing_is_sent_while_outreach_cannot_file_the_copy(app, db, smtp_sink, make_mailbox, outreach_campaign,
                                                             job_context):
    mailbox = make_mailbox(smtp_sink, sent_copy="always", imap_host="127.0.0.1", imap_port=free_port(),
                           imap_security="none", imap_username="sender", imap_password="x")
    campaign, prospects = outreach_campaign(mailbox, n=2)
    with time_machine.travel(MONDAY, tick=False):
        enroll(db, app, campaign, prospects)
        assert send_due(job_context) == 0
    assert smtp_sink.received == []  # the content went, the end of DATA never did: the server kept nothing
    for retried in messages(db):  # the second one was not even tried: the folder failed in this tick
        assert retried.status == "scheduled" and retried.attempts == 1
        assert retried.send_at == MONDAY + timedelta(minutes=5)
        assert "cannot file the copy in the Sent folder" in retried.last_error


def test_an_unknown_message_missing_from_a_server_filed_folder_is_sent_again_after_the_grace(
        app, db, smtp_sink, imap_server, make_mailbox, outreach_campaign, job_context):
    server_files(smtp_sink, imap_server)
    mailbox = make_mailbox(smtp_sink, imap_server, sent_copy="never")
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
