"""Reading the outbox: a campaign's queue and sent mail, one message's history, and replies grouped by thread.

Read-only (the Outreach tab and the API call these); what changes a message lives in outbox.py, stops.py, imap.py.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from outreach.models import Activity, Prospect
from outreach.models.mail import InboundMessage, Message

#: what is still to happen: due, being sent, or waiting for a person (or the Sent folder) to say what became of it
QUEUE_STATUSES = ("scheduled", "sending", "unknown")


def messages_query(campaign_id: int, *, statuses: Sequence[str] | None = None, exclude: Sequence[str] = (),
                   prospect_id: int | None = None, newest_first: bool = False) -> Select[tuple[Message]]:
    """A campaign's messages (of these statuses, or all but `exclude`), by due time (or newest first)."""
    query = (select(Message).where(Message.campaign_id == campaign_id)
             .options(selectinload(Message.mailbox), selectinload(Message.prospect).selectinload(Prospect.site)))
    if statuses is not None:
        query = query.where(Message.status.in_(statuses))
    if exclude:
        query = query.where(Message.status.not_in(exclude))
    if prospect_id is not None:
        query = query.where(Message.prospect_id == prospect_id)
    return query.order_by(Message.id.desc()) if newest_first else query.order_by(Message.send_at, Message.id)


@dataclass(frozen=True)
class HistoryEntry:
    """One thing that happened to a message: a timeline entry about it, or a message that came back about it."""

    at: datetime
    kind: str
    text: str
    inbound_id: int | None = None


def message_history(session: Session, message: Message) -> list[HistoryEntry]:
    """Everything recorded about this message, oldest first: scheduling, attempts, retries, sending, bounces,
    cancellation, and the replies, auto-replies and bounce reports that name it."""
    entries = [HistoryEntry(a.created_at, a.kind, a.text)
               for a in session.scalars(select(Activity).where(Activity.prospect_id == message.prospect_id,
                                                               Activity.kind.like("email\\_%", escape="\\"))
                                        .order_by(Activity.id))
               if (a.details or {}).get("message_id") == message.message_id]
    for inbound in session.scalars(select(InboundMessage).where(InboundMessage.reply_to_message_id == message.id)
                                   .order_by(InboundMessage.id)):
        entries.append(HistoryEntry(inbound.received_at, f"inbound_{inbound.kind}",
                                    f"{inbound.kind.replace('_', ' ')} from {inbound.from_email}: {inbound.subject}",
                                    inbound.id))
    return sorted(entries, key=lambda e: e.at)


# --- inbound mail by thread --------------------------------------------------------------------------------

@dataclass
class Thread:
    """The messages that came back from one prospect's contact (its sequence is one email thread)."""

    prospect_id: int
    campaign_id: int
    last_received_at: datetime
    count: int
    messages: list[InboundMessage]


def threads_query(*, campaign_id: int | None = None, kinds: Sequence[str] | None = None) -> Select[Any]:
    """(prospect id, campaign id, latest arrival, count) of each thread that received mail, the latest first."""
    last = func.max(InboundMessage.received_at)
    query = (select(Message.prospect_id, Message.campaign_id, last.label("last_received_at"),
                    func.count(InboundMessage.id).label("count"))
             .join(Message, Message.id == InboundMessage.reply_to_message_id)
             .group_by(Message.prospect_id, Message.campaign_id)
             .order_by(last.desc(), Message.prospect_id.desc()))
    if campaign_id is not None:
        query = query.where(Message.campaign_id == campaign_id)
    if kinds:
        query = query.where(InboundMessage.kind.in_(kinds))
    return query


def threads(session: Session, rows: Sequence[Any], *, kinds: Sequence[str] | None = None) -> list[Thread]:
    """The threads of threads_query's rows, each with its messages oldest first (in one query)."""
    prospect_ids = [row.prospect_id for row in rows]
    found: dict[int, list[InboundMessage]] = {pid: [] for pid in prospect_ids}
    if prospect_ids:
        query = (select(Message.prospect_id, InboundMessage)
                 .join(Message, Message.id == InboundMessage.reply_to_message_id)
                 .where(Message.prospect_id.in_(prospect_ids))
                 .options(selectinload(InboundMessage.reply_to))
                 .order_by(InboundMessage.received_at, InboundMessage.id))
        if kinds:
            query = query.where(InboundMessage.kind.in_(kinds))
        for prospect_id, inbound in session.execute(query):
            found[prospect_id].append(inbound)
    return [Thread(row.prospect_id, row.campaign_id, row.last_received_at, row.count, found[row.prospect_id])
            for row in rows]


def unmatched_query() -> Select[tuple[InboundMessage]]:
    """Inbound mail that names none of our messages (newest first): it belongs to no thread."""
    return (select(InboundMessage).where(InboundMessage.reply_to_message_id.is_(None))
            .order_by(InboundMessage.received_at.desc(), InboundMessage.id.desc()))
