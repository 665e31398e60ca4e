"""Scheduler ticks for email: send what is due, read mailboxes, reconcile what a crash left behind.

No transaction is open while a server is talked to: each reads what it needs, commits, then connects.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session

from outreach.db import write_transaction
from outreach.jobs.ticks import JobContext
from outreach.lib.clock import utcnow
from outreach.mail import imap, inbound
from outreach.mail.mailboxes import imap_password
from outreach.mail.outbox import Sender, reconcile_unknown, recover_stale
from outreach.mail.unsubscribe import signing_secret
from outreach.models.mail import Mailbox, Message

log = logging.getLogger(__name__)


def send_due(ctx: JobContext) -> int:
    """Send every message that is due (claims make two schedulers harmless)."""
    return Sender(ctx.settings, ctx.sessionmaker, ctx.secret_box, ctx.stopping).run()


def poll_mailboxes(ctx: JobContext) -> int:
    """Read each IMAP mailbox whose poll is due, claiming it first so two schedulers never both read it.

    A poll due before the middle of the next tick counts as due now: otherwise one due a moment after this
    tick would wait a whole extra tick. A failed poll is tried again at the next tick, then further apart.
    """
    done = 0
    now = utcnow()
    tick = timedelta(seconds=ctx.settings.scheduler.poll_tick_seconds)
    interval = timedelta(minutes=ctx.settings.mail.poll_minutes)
    with ctx.sessionmaker() as session:
        ids = due_polls(session, now + tick / 2)
    for mailbox_id in ids:
        if ctx.stopping():
            break
        with ctx.sessionmaker() as session:
            write_transaction(session)
            claimed = claim_poll(session, mailbox_id, now + tick / 2, now + interval)
            session.commit()
            if not claimed:
                continue
            mailbox = session.get(Mailbox, mailbox_id)
            session.commit()
            if mailbox is None:
                continue
            done += poll_one(ctx, session, mailbox, retry_at=now + retry_delay(mailbox.poll_failures + 1, tick,
                                                                               interval))
    return done


def retry_delay(failures: int, tick: timedelta, interval: timedelta) -> timedelta:
    """How long after failing `failures` times in a row a poll is tried again: at the next tick after the first
    failure, then 2, 4, 8... ticks later, never later than the poll interval (a wrong password is not hammered)."""
    return min(interval, tick * 2 ** (failures - 1))


def _poll_due(when: datetime) -> ColumnElement[bool]:
    return or_(Mailbox.next_poll_at.is_(None), Mailbox.next_poll_at <= when)


def due_polls(session: Session, when: datetime) -> list[int]:
    """Active IMAP mailboxes whose poll is due by `when`."""
    return list(session.scalars(select(Mailbox.id).where(Mailbox.imap_host != "", Mailbox.is_active.is_(True),
                                                         _poll_due(when))))


def claim_poll(session: Session, mailbox_id: int, when: datetime, next_at: datetime) -> bool:
    """Move the mailbox's next poll to `next_at` if it is still due by `when`; False when another worker did."""
    claimed = session.execute(update(Mailbox).where(Mailbox.id == mailbox_id, _poll_due(when))
                              .values(next_poll_at=next_at))
    return claimed.rowcount == 1  # type: ignore[attr-defined]


def poll_one(ctx: JobContext, session: Session, mailbox: Mailbox, *, retry_at: datetime | None = None) -> int:
    """Read the mailbox's new INBOX messages, then decide its unknown messages by its Sent folder; a failure is
    noted on the mailbox and, with `retry_at`, brings its next poll forward to then."""
    secret = signing_secret(ctx.settings)
    try:
        conn = imap.connect(mailbox.imap_host, mailbox.imap_port, mailbox.imap_security, mailbox.imap_username,
                            imap_password(mailbox, ctx.secret_box), ctx.settings.mail.imap_timeout)
    except (imap.ImapError, ValueError) as exc:
        _poll_failed(session, mailbox, str(exc), retry_at)
        return 0
    try:
        count = inbound.poll(session, conn, mailbox, ctx.settings, secret)
        reconcile_unknown(session, conn, mailbox, ctx.settings, secret)
        write_transaction(session)
        session.execute(update(Mailbox).where(Mailbox.id == mailbox.id).values(last_poll_error="", poll_failures=0))
        session.commit()
        return count
    except (imap.ImapError, OSError, imap.imaplib.IMAP4.error) as exc:
        session.rollback()
        _poll_failed(session, mailbox, str(exc), retry_at)
        return 0
    finally:
        imap.logout(conn)


def _poll_failed(session: Session, mailbox: Mailbox, error: str, retry_at: datetime | None) -> None:
    write_transaction(session)
    values: dict[str, object] = {"last_poll_error": error[:500], "poll_failures": Mailbox.poll_failures + 1}
    if retry_at is not None:
        values["next_poll_at"] = retry_at
    session.execute(update(Mailbox).where(Mailbox.id == mailbox.id).values(**values))
    session.commit()


def reconcile(ctx: JobContext) -> int:
    """Messages a dead sender left in `sending`: rescheduled, or unknown and looked up in the Sent folder."""
    with ctx.sessionmaker() as session:
        write_transaction(session)
        counts = recover_stale(session, ctx.settings, lease_seconds=ctx.settings.mail.sending_lease_seconds)
        session.commit()
        boxes = session.scalars(select(Mailbox).join(Message, Message.mailbox_id == Mailbox.id)
                                .where(Message.status == "unknown", Mailbox.imap_host != "").distinct()).all()
        session.commit()
        found = 0
        secret = signing_secret(ctx.settings)
        for mailbox in boxes:
            try:
                conn = imap.connect(mailbox.imap_host, mailbox.imap_port, mailbox.imap_security,
                                    mailbox.imap_username, imap_password(mailbox, ctx.secret_box),
                                    ctx.settings.mail.imap_timeout)
            except (imap.ImapError, ValueError) as exc:
                log.warning("cannot reconcile mailbox %s: %s", mailbox.name, exc)
                continue
            try:
                found += reconcile_unknown(session, conn, mailbox, ctx.settings, secret)
            except (imap.ImapError, OSError, imap.imaplib.IMAP4.error) as exc:
                session.rollback()
                log.warning("cannot reconcile mailbox %s: %s", mailbox.name, exc)
            finally:
                imap.logout(conn)
    return sum(counts.values()) + found
