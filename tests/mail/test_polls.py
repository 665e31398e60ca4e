"""Polls on time: a mailbox is read within one tick of its due time, and a failed poll is tried at the next tick."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import time_machine
from sqlalchemy import func, select, update

from outreach.jobs.ticks import JobContext
from outreach.mail.jobs import poll_mailboxes, retry_delay
from outreach.models.mail import InboundMessage, Mailbox
from tests.conftest import free_port
from tests.mail.test_sending import MONDAY, fresh

TICK = 15  # poll_tick_seconds in these tests


def polls_every_minute(job_context: JobContext) -> JobContext:
    settings = job_context.settings.with_(mail={"poll_minutes": 1}, scheduler={"poll_tick_seconds": TICK})
    return JobContext(settings, job_context.sessionmaker, job_context.secret_box)


def incoming(n: int) -> bytes:
    return (f"From: someone@else.test\r\nTo: sam@agency.test\r\nSubject: hello {n}\r\nMessage-ID: <in-{n}@else.test>"
            "\r\n\r\nHi\r\n").encode()


def read_count(db: Any) -> int:
    fresh(db)
    return db.scalar(select(func.count()).select_from(InboundMessage))


def test_a_poll_due_just_after_a_tick_runs_at_that_tick_and_keeps_its_period(app, db, imap_server, make_mailbox,
                                                                             job_context):
    ctx = polls_every_minute(job_context)
    mailbox = make_mailbox(imap=imap_server)
    with time_machine.travel(MONDAY, tick=False):
        poll_mailboxes(ctx)  # the first poll: due at once
    imap_server.append("INBOX", incoming(1))
    # the ticks drift: this one fires a moment before the poll's due time; waiting for the next would make it late
    with time_machine.travel(MONDAY + timedelta(seconds=60 - 2), tick=False):
        poll_mailboxes(ctx)
    assert read_count(db) == 1
    imap_server.append("INBOX", incoming(2))
    with time_machine.travel(MONDAY + timedelta(seconds=60 + 60 - 2 - TICK), tick=False):
        poll_mailboxes(ctx)  # more than half a tick early: not yet
    assert read_count(db) == 1
    with time_machine.travel(MONDAY + timedelta(seconds=60 + 60 - 2), tick=False):
        poll_mailboxes(ctx)
    assert read_count(db) == 2
    assert db.get(Mailbox, mailbox.id).next_poll_at == MONDAY + timedelta(seconds=60 + 60 - 2 + 60)


def test_a_failed_poll_is_tried_again_at_the_next_tick_then_less_often(app, db, imap_server, make_mailbox,
                                                                       job_context):
    ctx = polls_every_minute(job_context)
    mailbox = make_mailbox(imap=imap_server, imap_port=free_port())  # nothing listens there: every poll fails
    imap_server.append("INBOX", incoming(1))
    tried = []
    for second in range(0, 120, TICK):
        with time_machine.travel(MONDAY + timedelta(seconds=second), tick=False):
            poll_mailboxes(ctx)
        fresh(db)
        box = db.get(Mailbox, mailbox.id)
        if len(tried) < box.poll_failures:
            tried.append(second)
    # at once, at the next tick, then 2 and 4 ticks later, never further apart than the poll interval
    assert tried == [0, 15, 45, 105]
    assert "127.0.0.1" in box.last_poll_error
    db.execute(update(Mailbox).where(Mailbox.id == mailbox.id).values(imap_port=imap_server.port))
    db.commit()
    with time_machine.travel(MONDAY + timedelta(seconds=105 + 60), tick=False):
        poll_mailboxes(ctx)
    fresh(db)
    box = db.get(Mailbox, mailbox.id)
    assert (box.poll_failures, box.last_poll_error) == (0, "")
    assert read_count(db) == 1


def test_the_retry_delay_grows_to_the_poll_interval() -> None:
    tick, interval = timedelta(seconds=15), timedelta(minutes=5)
    assert [retry_delay(n, tick, interval).total_seconds() for n in range(1, 8)] == [15, 30, 60, 120, 240, 300, 300]
