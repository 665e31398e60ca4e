"""SIGKILL the sending process at random moments: every message arrives once, or is honestly `unknown`."""
from __future__ import annotations

import imaplib
import json
import random
import signal
import subprocess
import sys
import threading

import pytest
from sqlalchemy import select

from outreach.config import as_dict
from outreach.mail import imap
from outreach.mail.outbox import recover_stale
from outreach.mail.sequences import enroll_prospects
from outreach.mail.unsubscribe import signing_secret
from outreach.models.mail import Mailbox, Message
from tests.mail.conftest import IMAP_PASSWORD, IMAP_USER
from tests.mail.test_sending import fresh

pytestmark = pytest.mark.slow


def reconcile_after_crash(app, mailbox_id: int) -> None:  # type: ignore[no-untyped-def]
    state = app.extensions["outreach"]
    settings = state.settings
    with state.sessionmaker() as session:
        recover_stale(session, settings, lease_seconds=0)
        session.commit()
        mailbox = session.get(Mailbox, mailbox_id)
        conn = imap.connect(mailbox.imap_host, mailbox.imap_port, "none", IMAP_USER, IMAP_PASSWORD, 10)
        try:
            imap.reconcile_unknown(session, conn, mailbox, settings, signing_secret(settings))
        finally:
            imap.logout(conn)


def test_killing_the_sender_at_random_points_never_sends_a_message_twice(
        app, db, smtp_sink, imap_server, make_mailbox, outreach_campaign, make_sequence):
    rng = random.Random(20261125)
    mailbox = make_mailbox(smtp_sink, imap_server)
    campaign, prospects = outreach_campaign(mailbox, n=60, sequence=make_sequence(
        [("Hello {{ contact.first_name }}", "Hi {{ contact.first_name }}", 0)]))
    settings = app.extensions["outreach"].settings
    enroll_prospects(db, campaign, [p.id for p in prospects], settings, signing_secret(settings))
    db.commit()

    def file_in_sent(received):  # type: ignore[no-untyped-def]
        # like most providers: an accepted message is filed in Sent before the server answers 250
        conn = imaplib.IMAP4(imap_server.host, imap_server.port)
        conn.login(IMAP_USER, IMAP_PASSWORD)
        conn.append("Sent", None, None, received.data)
        conn.logout()

    smtp_sink.on_accept = file_in_sent
    child_settings = as_dict(settings)
    kills = 0
    for round_ in range(30):
        proc = subprocess.Popen([sys.executable, "-m", "outreach.mail.crashable", json.dumps(child_settings)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if round_ < 6:
            # kill at a random moment of this run, or right after the server took a message
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
        reconcile_after_crash(app, mailbox.id)
        fresh(db)
        if db.scalar(select(Message.id).where(Message.status.in_(("scheduled", "sending")))) is None:
            break
    fresh(db)
    statuses = {m.message_id: m.status for m in db.scalars(select(Message))}
    counts = smtp_sink.ids()
    assert kills >= 4
    assert set(statuses.values()) <= {"sent", "unknown"}
    for message_id, status in statuses.items():
        assert counts.get(message_id, 0) <= 1, "sent twice"
        if status == "sent":
            assert counts[message_id] == 1
        else:  # unknown: the kill fell during DATA and the server never accepted it
            assert counts.get(message_id, 0) == 0
    assert sum(counts.values()) == len(counts)


def _kill_after(inner, sink, target, proc):  # type: ignore[no-untyped-def]
    def accept(received):  # type: ignore[no-untyped-def]
        inner(received)
        if len(sink.received) >= target:
            proc.send_signal(signal.SIGKILL)
    return accept
