"""SIGKILL the sending process at random moments: every message arrives exactly once, at most the message in
flight is ever `unknown`, and the Sent folder decides each of those without a person."""
from __future__ import annotations

import imaplib
import json
import random
import signal
import subprocess
import sys
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from outreach.config import as_dict
from outreach.mail import imap
from outreach.mail.jobs import poll_mailboxes
from outreach.mail.outbox import reconcile_unknown, recover_stale
from outreach.mail.sequences import enroll_prospects
from outreach.mail.unsubscribe import signing_secret
from outreach.models import Activity
from outreach.models.mail import Mailbox, Message
from tests.mail.conftest import IMAP_PASSWORD, IMAP_USER, delivers_to
from tests.mail.test_sending import fresh

pytestmark = pytest.mark.slow


def reconcile_after_crash(app, mailbox_id: int) -> None:  # type: ignore[no-untyped-def]
    """What the reconcile tick does once the sending lease of a dead sender ran out (no grace: the sink files
    what it accepts before it answers, and it was waited for)."""
    state = app.extensions["outreach"]
    settings = state.settings
    with state.sessionmaker() as session:
        recover_stale(session, settings, lease_seconds=0)
        session.commit()
        mailbox = session.get(Mailbox, mailbox_id)
        conn = imap.connect(mailbox.imap_host, mailbox.imap_port, "none", IMAP_USER, IMAP_PASSWORD, 10)
        try:
            reconcile_unknown(session, conn, mailbox, settings, signing_secret(settings), grace=timedelta(0))
        finally:
            imap.logout(conn)


@pytest.mark.parametrize("filed_by", ["server", "outreach"])
def test_killing_the_sender_at_random_points_sends_each_message_once_and_strands_none(
        app, db, smtp_sink, imap_server, make_mailbox, outreach_campaign, make_sequence, job_context, filed_by: str):
    rng = random.Random(20261125)
    # "never": the server files sent mail itself (the sink does, below); "always": Outreach appends its copy
    mailbox = make_mailbox(smtp_sink, imap_server, sent_copy="never" if filed_by == "server" else "always")
    campaign, prospects = outreach_campaign(mailbox, n=60, sequence=make_sequence(
        [("Hello {{ contact.first_name }}", "Hi {{ contact.first_name }}", 0)]))
    settings = app.extensions["outreach"].settings
    enroll_prospects(db, campaign, [p.id for p in prospects], settings, signing_secret(settings))
    db.commit()

    # like most providers, the server files an accepted message in Sent before it answers 250; or it does not, and
    # delivers the copy Outreach sends the mailbox itself to its INBOX, as it delivers any message
    delivers_to(smtp_sink, imap_server, "sam@agency.test", files_sent=filed_by == "server")
    file_in_sent = smtp_sink.on_accept
    child_settings = as_dict(settings)
    kills = 0
    for round_ in range(30):
        proc = subprocess.Popen([sys.executable, "-m", "outreach.mail.crashable", json.dumps(child_settings)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if round_ < 8:
            # kill at a random moment of this run, or right after the server took a message (before its 250)
            if rng.random() < 0.3:
                timer = threading.Timer(rng.uniform(0.2, 1.0), proc.send_signal, (signal.SIGKILL,))
                timer.start()
            else:
                target = len(smtp_sink.received) + rng.randint(1, 8)
                smtp_sink.on_accept = _kill_after(file_in_sent, smtp_sink, target, proc)
        _out, err = proc.communicate(timeout=120)
        smtp_sink.on_accept = file_in_sent
        if proc.returncode == -signal.SIGKILL:
            kills += 1
        else:
            assert proc.returncode == 0, err.decode()[-2000:]
        smtp_sink.wait_idle()
        reconcile_after_crash(app, mailbox.id)
        fresh(db)
        if db.scalar(select(Message.id).where(Message.status.in_(("scheduled", "sending", "unknown")))) is None:
            break
    fresh(db)
    statuses = {m.message_id: m.status for m in db.scalars(select(Message))}
    counts = smtp_sink.ids()
    ever_unknown = {a.details["message_id"] for a in db.scalars(select(Activity)
                                                                .where(Activity.kind == "email_unknown"))}
    assert kills >= 5
    assert set(statuses.values()) == {"sent"}, "every message sent, none left unknown for a person"
    assert all(counts[message_id] == 1 for message_id in statuses), "each arrived exactly once"
    assert sum(counts.values()) == len(statuses)
    assert len(ever_unknown) <= kills, "at most the message in flight is unknown after a kill"
    poll_mailboxes(job_context)  # moves the copies that came back through INBOX to Sent
    with imaplib.IMAP4(imap_server.host, imap_server.port) as conn:
        conn.login(IMAP_USER, IMAP_PASSWORD)
        assert imap.in_folder(conn, "Sent", list(statuses)) == set(statuses), "each has its Sent copy"


def _kill_after(inner, sink, target, proc):  # type: ignore[no-untyped-def]
    def accept(received):  # type: ignore[no-untyped-def]
        inner(received)
        if len(sink.received) >= target:
            proc.send_signal(signal.SIGKILL)
    return accept
