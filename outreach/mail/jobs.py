"""Scheduler ticks for email: send what is due, read mailboxes, reconcile what a crash left behind."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session

from outreach.jobs.ticks import JobContext
from outreach.lib.clock import utcnow
from outreach.mail import imap
from outreach.mail.mailboxes import imap_password
from outreach.mail.outbox import Sender, recover_stale
from outreach.mail.unsubscribe import signing_secret
from outreach.models.mail import Mailbox, Message

log = logging.getLogger(__name__)


def send_due(ctx: JobContext) -> int:
    """Send every message that is due (claims make two schedulers harmless)."""
    return Sender(ctx.settings, ctx.sessionmaker, ctx.secret_box, ctx.stopping).run()


def poll_mailboxes(ctx: JobContext) -> int:
    """Read each IMAP mailbox whose poll is due, claiming it first so two schedulers never both read it."""
    done = 0
    now = utcnow()
    interval = timedelta(minutes=ctx.settings.mail.poll_minutes)
    with ctx.sessionmaker() as session:
        ids = due_polls(session, now)
    for mailbox_id in ids:
        if ctx.stopping():
            break
        with ctx.sessionmaker() as session:
            claimed = claim_poll(session, mailbox_id, now, interval)
            session.commit()
            if not claimed:
                continue
            mailbox = session.get(Mailbox, mailbox_id)
            assert mailbox is not None
            done += poll_one(ctx, session, mailbox)
    return done


def _poll_due(now: datetime) -> ColumnElement[bool]:
    return or_(Mailbox.next_poll_at.is_(None), Mailbox.next_poll_at <= now)


def due_polls(session: Session, now: datetime) -> list[int]:
    """Active IMAP mailboxes whose poll is due."""
    return list(session.scalars(select(Mailbox.id).where(Mailbox.imap_host != "", Mailbox.is_active.is_(True),
                                                         _poll_due(now))))


def claim_poll(session: Session, mailbox_id: int, now: datetime, interval: timedelta) -> bool:
    """Move the mailbox's next poll `interval` ahead if it is still due; False when another worker did."""
    claimed = session.execute(update(Mailbox).where(Mailbox.id == mailbox_id, _poll_due(now))
                              .values(next_poll_at=now + interval))
    return claimed.rowcount == 1  # type: ignore[attr-defined]


def poll_one(ctx: JobContext, session, mailbox: Mailbox) -> int:  # type: ignore[no-untyped-def]
    secret = signing_secret(ctx.settings)
    try:
        conn = imap.connect(mailbox.imap_host, mailbox.imap_port, mailbox.imap_security, mailbox.imap_username,
                            imap_password(mailbox, ctx.secret_box), ctx.settings.mail.imap_timeout)
    except (imap.ImapError, ValueError) as exc:
        mailbox.last_poll_error = str(exc)[:500]
        session.commit()
        return 0
    try:
        count = imap.poll(session, conn, mailbox, ctx.settings, secret)
        imap.reconcile_unknown(session, conn, mailbox, ctx.settings, secret)
        mailbox.last_poll_error = ""
        session.commit()
        return count
    except (imap.ImapError, OSError, imap.imaplib.IMAP4.error) as exc:
        session.rollback()
        mailbox.last_poll_error = str(exc)[:500]
        session.commit()
        return 0
    finally:
        imap.logout(conn)


def reconcile(ctx: JobContext) -> int:
    """Messages a dead sender left in `sending`: rescheduled, or unknown and looked up in the Sent folder."""
    with ctx.sessionmaker() as session:
        counts = recover_stale(session, ctx.settings, lease_seconds=ctx.settings.mail.sending_lease_seconds)
        session.commit()
        boxes = session.scalars(select(Mailbox).join(Message, Message.mailbox_id == Mailbox.id)
                                .where(Message.status == "unknown", Mailbox.imap_host != "").distinct()).all()
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
                found += imap.reconcile_unknown(session, conn, mailbox, ctx.settings, secret)
            except (imap.ImapError, OSError, imap.imaplib.IMAP4.error) as exc:
                session.rollback()
                log.warning("cannot reconcile mailbox %s: %s", mailbox.name, exc)
            finally:
                imap.logout(conn)
    return sum(counts.values()) + found
