"""When a queued email is expected to leave: its due time, held back by its mailbox's sending window,
daily cap and spacing, in the order the sender takes the mailbox's messages (send_at, then id)."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from outreach.mail.mailboxes import daily_allowance, local_midnight, next_window_start, zone
from outreach.models import Campaign
from outreach.models.mail import CampaignMail, Mailbox, Message

#: messages of one mailbox looked at, in sending order (the rest are further out than anyone reads)
MAX_SIMULATED = 20_000
#: when several hold a message back, the one named (a day's cap outweighs a night, a night some minutes)
_BY_WEIGHT = ("daily cap", "sending window", "spacing")


@dataclass(frozen=True)
class Expected:
    at: datetime
    #: what holds it back most past its due time: "" (nothing), "daily cap", "sending window" or "spacing"
    held_by: str


def expected_send_times(due: Iterable[tuple[int, datetime]], mailbox: Mailbox, *, now: datetime,
                        sent_today: int) -> dict[int, Expected]:
    """Expected send time of each (message id, send_at), given what the mailbox already sent today.

    Spacing counts the mean jitter; the real times move by up to half the jitter either way.
    """
    gap = timedelta(seconds=mailbox.min_spacing_seconds + mailbox.jitter_seconds / 2)
    free_at = max(now, mailbox.next_send_at or now)
    day, count = local_midnight(mailbox, now), sent_today
    out: dict[int, Expected] = {}
    previous = "spacing"  # before the first message, free_at is the mailbox's own next_send_at
    for message_id, send_at in due:
        at, reasons = max(send_at, now), set()
        if free_at > at:  # behind the message before it: its spacing, and whatever held that one
            at = free_at
            reasons.update({previous or "spacing", "spacing" if gap else previous})
        for _ in range(400):  # a year of days at most, whatever the settings
            opens = next_window_start(mailbox, at)
            if opens != at:
                at = opens
                reasons.add("sending window")
            midnight = local_midnight(mailbox, at)
            if midnight != day:
                day, count = midnight, 0
            cap = daily_allowance(mailbox, at)  # a warming-up mailbox's cap grows day by day
            if not cap or count < cap:
                break
            at = _next_midnight(mailbox, at)
            reasons.add("daily cap")
        held_by = next((r for r in _BY_WEIGHT if r in reasons), "")
        out[message_id] = Expected(at.astimezone(UTC), held_by)
        previous = held_by
        count += 1
        free_at = at + gap
    return out


def expected_for(session: Session, usage: Iterable[tuple[Mailbox, int]], now: datetime) -> dict[int, Expected]:
    """Expected send times of every message the sender will take from these mailboxes (each with what it
    sent today), by message id.

    Messages of paused or inactive campaigns wait and take no turn; an inactive or paused mailbox sends nothing.
    """
    out: dict[int, Expected] = {}
    for mailbox, used in usage:
        if not mailbox.is_active or mailbox.paused_at is not None:
            continue
        due = session.execute(
            select(Message.id, Message.send_at)
            .join(Campaign, Campaign.id == Message.campaign_id)
            .outerjoin(CampaignMail, CampaignMail.campaign_id == Message.campaign_id)
            .where(Message.mailbox_id == mailbox.id, Message.status == "scheduled", Campaign.status == "active",
                   or_(CampaignMail.is_paused.is_(False), CampaignMail.campaign_id.is_(None)))
            .order_by(Message.send_at, Message.id).limit(MAX_SIMULATED)).all()
        out.update(expected_send_times([(row.id, row.send_at) for row in due], mailbox, now=now, sent_today=used))
    return out


def _next_midnight(mailbox: Mailbox, moment: datetime) -> datetime:
    local = moment.astimezone(zone(mailbox))
    return datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=local.tzinfo)
