"""Pausing a mailbox before it burns: when too many of its last sends bounced, or a server answered with a block.

A paused mailbox sends nothing: the due-rows query skips it, a claim gives its message back (`wait`) and the last
look before DATA puts a message back in the queue (outreach.mail.outbox). Its queued messages stay `scheduled`;
only a person resumes it (the mailbox page, the API), and then they go, each once. Pausing is a conditional
update, so two workers seeing the same bounce raise one alert. The warm-up ramp lives with the other limits in
outreach.mail.mailboxes (`daily_allowance`).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from outreach.accounts.service import audit
from outreach.lib.clock import utcnow
from outreach.mail.mailboxes import MailError
from outreach.models import User
from outreach.models.mail import Mailbox, Message
from outreach.notifications.events import raise_alert
from outreach.notifications.service import notify, owner_or_team

#: the bounce rate is counted over this many of the mailbox's latest sends
BOUNCE_WINDOW = 100
#: ... and over at least this many: a young mailbox's first bounce is not yet a rate
MIN_SAMPLE = 20
#: what a send that left and then bounced for good counts as (a hard bounce, or soft bounces until it gave up)
SENT_STATUSES = ("sent", "bounced")


def bounce_rate(session: Session, mailbox_id: int) -> tuple[int, int]:
    """(bounced, sends) over the mailbox's last BOUNCE_WINDOW sends."""
    latest = (select(Message.status).where(Message.mailbox_id == mailbox_id, Message.status.in_(SENT_STATUSES))
              .order_by(Message.claimed_at.desc().nulls_last(), Message.id.desc()).limit(BOUNCE_WINDOW).subquery())
    row = session.execute(select(func.count(), func.count(case((latest.c.status == "bounced", 1))))
                          .select_from(latest)).one()
    return int(row[1] or 0), int(row[0] or 0)


def check_bounce_rate(session: Session, mailbox_id: int, *, now: datetime | None = None) -> bool:
    """Pause the mailbox if its bounce rate is over its threshold; True when this call paused it (flushed)."""
    mailbox = session.get(Mailbox, mailbox_id)
    if mailbox is None or not mailbox.bounce_pause_percent or mailbox.paused_at is not None:
        return False
    bounced, sends = bounce_rate(session, mailbox_id)
    if bounced * 100 <= mailbox.bounce_pause_percent * max(sends, MIN_SAMPLE):
        return False
    reason = (f"{bounced} of its last {sends} emails bounced, over the {mailbox.bounce_pause_percent}% it allows: "
              "check the list of addresses before resuming")
    return pause_mailbox(session, mailbox, reason, now=now)


def pause_mailbox(session: Session, mailbox: Mailbox, reason: str, *, now: datetime | None = None) -> bool:
    """Pause the mailbox with the reason and tell the team (in the app and to webhooks); False if it already was
    paused. Flushes; the caller commits."""
    now = now or utcnow()
    reason = reason[:500]
    done = session.execute(update(Mailbox).where(Mailbox.id == mailbox.id, Mailbox.paused_at.is_(None))
                           .values(paused_at=now, pause_reason=reason)
                           .execution_options(synchronize_session=False)).rowcount
    if done != 1:
        return False
    set_committed_value(mailbox, "paused_at", now)
    set_committed_value(mailbox, "pause_reason", reason)
    title = f"Mailbox {mailbox.name} paused"
    notify(session, owner_or_team(session, []), "mailbox_paused", title,
           f"{mailbox.from_email}: {reason}. Its queued emails wait until someone resumes it.",
           f"/mail/mailboxes/{mailbox.id}")
    raise_alert(session, "mailbox_paused", mailbox=mailbox, detail=reason)
    audit(session, None, "mailbox_paused", "mailbox", mailbox.id, {"reason": reason})
    session.flush()
    return True


def resume_mailbox(session: Session, mailbox: Mailbox, actor: User | None) -> int:
    """A person resumes a paused mailbox: its queued emails go again. Returns how many are queued (flushed)."""
    if mailbox.paused_at is None:
        raise MailError(f"{mailbox.name} is not paused")
    reason, paused_at = mailbox.pause_reason, mailbox.paused_at
    mailbox.paused_at, mailbox.pause_reason = None, ""
    audit(session, actor, "mailbox_resumed", "mailbox", mailbox.id,
          {"paused_at": paused_at.isoformat(), "reason": reason})
    session.flush()
    return session.scalar(select(func.count()).select_from(Message)
                          .where(Message.mailbox_id == mailbox.id, Message.status == "scheduled")) or 0
