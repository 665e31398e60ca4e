"""The team inbox: replies, auto-replies, bounces and unsubscribe requests, in threads per prospect; answering
one in its thread; taking a sender who asks to be removed off every list. Staff only (the views check)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from outreach.accounts.permissions import STAFF_ROLES
from outreach.campaigns.contact_rules import add_suppression, send_block
from outreach.campaigns.errors import CampaignError
from outreach.campaigns.service import move_prospect, record
from outreach.lib.clock import utcnow
from outreach.mail.headers import HeaderError, check_header
from outreach.mail.mailboxes import MailError
from outreach.mail.removal import own_words
from outreach.mail.render import Rendered
from outreach.mail.sequences import _message_row, new_message_id
from outreach.mail.stops import EARLY_STAGES, stop_contact_everywhere
from outreach.models import Campaign, Prospect, Suppression, User
from outreach.models.mail import REPLY_STEP, CampaignMail, InboundMessage, Message

#: what the inbox lists by default: everything read from the mailboxes that concerns a prospect
STATUSES = ("unread", "read", "all")
#: the longest answer a person may write (the quoted message comes on top)
MAX_ANSWER = 20_000


@dataclass(frozen=True)
class InboxFilter:
    #: unread | read | all
    status: str = "all"
    campaign_id: int | None = None
    #: a user id: the prospects that user owns
    owner_id: int | None = None


def inbox_query(filters: InboxFilter) -> Any:
    """Inbound messages matched to a prospect, newest first, with what the list shows loaded."""
    query = (select(InboundMessage).join(Message, Message.id == InboundMessage.reply_to_message_id)
             .join(Prospect, Prospect.id == Message.prospect_id)
             .options(selectinload(InboundMessage.reply_to).selectinload(Message.prospect)
                      .selectinload(Prospect.site),
                      selectinload(InboundMessage.reply_to).selectinload(Message.prospect)
                      .selectinload(Prospect.campaign),
                      selectinload(InboundMessage.reply_to).selectinload(Message.prospect)
                      .selectinload(Prospect.owner))
             .order_by(InboundMessage.received_at.desc(), InboundMessage.id.desc()))
    if filters.status == "unread":
        query = query.where(InboundMessage.read_at.is_(None))
    elif filters.status == "read":
        query = query.where(InboundMessage.read_at.is_not(None))
    if filters.campaign_id is not None:
        query = query.where(Prospect.campaign_id == filters.campaign_id)
    if filters.owner_id is not None:
        query = query.where(Prospect.owner_id == filters.owner_id)
    return query


def inbox(session: Session, filters: InboxFilter, limit: int = 200) -> list[InboundMessage]:
    return list(session.scalars(inbox_query(filters).limit(limit)))


def unread_count(session: Session) -> int:
    """Unread inbound messages about a prospect (the Mail badge)."""
    return session.scalar(select(func.count()).select_from(InboundMessage)
                          .where(InboundMessage.read_at.is_(None), InboundMessage.reply_to_message_id.is_not(None))
                          ) or 0


def unmatched_count(session: Session) -> int:
    """Messages read from the mailboxes that concern no prospect (not listed: newsletters, colleagues...)."""
    return session.scalar(select(func.count()).select_from(InboundMessage)
                          .where(InboundMessage.reply_to_message_id.is_(None))) or 0


def team(session: Session) -> list[User]:
    """The people the inbox can be filtered by as owners: active admins and members."""
    return list(session.scalars(select(User).where(User.role.in_(STAFF_ROLES), User.is_active.is_(True))
                                .order_by(User.name, User.email)))


def campaigns_with_mail(session: Session) -> list[Campaign]:
    """The campaigns the inbox can be filtered by: those with an inbound message."""
    ids = select(Message.campaign_id).join(InboundMessage, InboundMessage.reply_to_message_id == Message.id)
    return list(session.scalars(select(Campaign).where(Campaign.id.in_(ids)).order_by(Campaign.name)))


def preview(inbound: InboundMessage, length: int = 160) -> str:
    """The start of what the sender wrote (not the quoted email), on one line."""
    words = " ".join(own_words(inbound.body_text or inbound.snippet).split())
    return words if len(words) <= length else words[:length - 1].rstrip() + "…"


def prospect_of(inbound: InboundMessage) -> Prospect | None:
    return inbound.reply_to.prospect if inbound.reply_to is not None else None


# --- threads -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ThreadItem:
    """One email of a conversation: ours (`message`) or theirs (`inbound`)."""

    when: datetime
    message: Message | None = None
    inbound: InboundMessage | None = None

    @property
    def ours(self) -> bool:
        return self.message is not None


def thread(session: Session, prospect: Prospect) -> list[ThreadItem]:
    """The prospect's conversation, oldest first: what we sent (or are about to send) and what came back."""
    ours = session.scalars(select(Message).where(Message.prospect_id == prospect.id,
                                                 or_(Message.status.in_(("sent", "unknown", "sending")),
                                                     (Message.step >= REPLY_STEP)
                                                     & Message.status.in_(("scheduled", "failed", "cancelled"))))
                           .options(selectinload(Message.mailbox))).all()
    theirs = session.scalars(select(InboundMessage).join(Message, Message.id == InboundMessage.reply_to_message_id)
                             .where(Message.prospect_id == prospect.id)).all()
    items = [ThreadItem(m.sent_at or m.send_at, message=m) for m in ours]
    items += [ThreadItem(i.received_at, inbound=i) for i in theirs]
    return sorted(items, key=lambda item: (item.when, 0 if item.ours else 1))


def mark_read(session: Session, inbound: InboundMessage, user: User, read: bool = True) -> None:
    """Read or unread for the whole team."""
    inbound.read_at = utcnow() if read else None
    inbound.read_by_id = user.id if read else None
    session.flush()


# --- answering -----------------------------------------------------------------------------------

def answer_refusal(session: Session, inbound: InboundMessage) -> str | None:
    """Why this message cannot be answered from the app, in one sentence, or None."""
    ours = inbound.reply_to
    if ours is None:
        return "it matched no email of ours, so there is no thread to answer in"
    if inbound.kind in ("bounce", "soft_bounce"):
        return "it is a delivery report from a mail server, not a person"
    if inbound.kind == "unsubscribe":
        return "it is an unsubscribe request, which was applied"
    campaign = ours.prospect.campaign
    if campaign.status != "active":
        return f"the campaign “{campaign.name}” is {campaign.status}; make it active to send"
    config = session.get(CampaignMail, campaign.id)
    if config is not None and config.is_paused:
        return f"sending is paused for “{campaign.name}”; resume it on its Outreach tab to send"
    blocked = send_block(session, _answer_address(inbound), ours.prospect.overridden)
    if blocked:
        return blocked
    return None


def _answer_address(inbound: InboundMessage) -> str:
    return inbound.from_email or (inbound.reply_to.to_email if inbound.reply_to else "")


def _subject(inbound: InboundMessage) -> str:
    subject = inbound.subject.strip() or (inbound.reply_to.subject if inbound.reply_to else "")
    return subject if subject.lower().startswith("re:") else f"Re: {subject}"


def _quoted(inbound: InboundMessage) -> str:
    words = own_words(inbound.body_text or inbound.snippet).strip()
    if not words:
        return ""
    quoted = "\n".join(f"> {line}" if line else ">" for line in words.splitlines())
    return f"\n\nOn {inbound.received_at:%a, %d %b %Y at %H:%M} UTC, {inbound.from_email} wrote:\n{quoted}"


def schedule_answer(session: Session, inbound: InboundMessage, text: str, actor: User) -> Message:
    """Put a person's answer in the outbox, in the thread of the message it answers (In-Reply-To, References),
    to go through the send engine like any other email; MailError says why it cannot."""
    reason = answer_refusal(session, inbound)
    if reason:
        raise MailError(f"This message cannot be answered from Outreach: {reason}.", "body")
    body = text.strip()
    if not body:
        raise MailError("write your answer first", "body")
    if len(body) > MAX_ANSWER:
        raise MailError(f"the answer is {len(body):,} characters long; {MAX_ANSWER:,} at most", "body")
    ours = inbound.reply_to
    assert ours is not None
    subject = _subject(inbound)[:500]
    in_reply_to = inbound.message_id.split()[0] if inbound.message_id else ours.message_id
    try:
        check_header("the subject", subject)
        check_header("the Message-ID it answers", in_reply_to)
    except HeaderError as exc:
        raise MailError(str(exc), "body") from None
    references = " ".join(dict.fromkeys(filter(None, [*ours.references.split(), ours.message_id, in_reply_to])))
    step = (session.scalar(select(func.max(Message.step)).where(Message.enrollment_id == ours.enrollment_id,
                                                                Message.step >= REPLY_STEP)) or REPLY_STEP - 1) + 1
    mailbox = ours.mailbox
    message = _message_row(ours.enrollment, ours.prospect, ours.contact, mailbox, step, new_message_id(mailbox),
                           Rendered(subject, body + _quoted(inbound), ""), utcnow(), in_reply_to, references)
    message.to_email = _answer_address(inbound)[:320]
    message.to_name = ours.to_name if message.to_email == ours.to_email else ""
    message.author_id = actor.id
    session.add(message)
    record(session, ours.prospect, "email_answer", f"{actor.display_name} answered “{inbound.subject}” from "
           f"{inbound.from_email}: {body[:300]}", actor, {"message_id": message.message_id, "inbound_id": inbound.id})
    mark_read(session, inbound, actor)
    session.flush()
    return message


# --- "remove me" ---------------------------------------------------------------------------------

def removal_done(session: Session, inbound: InboundMessage) -> bool:
    """Whether the sender of this message is on the do-not-contact list already."""
    return session.scalar(select(Suppression.id).where(Suppression.kind == "email",
                                                       Suppression.value == inbound.from_email.lower())) is not None


def honour_removal(session: Session, inbound: InboundMessage, actor: User) -> None:
    """Put the sender on the do-not-contact list and stop every sequence of the contact, in every campaign."""
    prospect = prospect_of(inbound)
    if prospect is None or not inbound.from_email:
        raise MailError("this message matched no prospect: add the address on the Do not contact page", "value")
    quote = own_words(inbound.body_text or inbound.snippet).strip().replace("\n", " ")[:200]
    try:
        add_suppression(session, inbound.from_email, kind="email", reason="unsubscribed",
                        note=f"asked to be removed in a reply: “{quote}”", actor=actor)
    except CampaignError as exc:
        if "already" not in str(exc):
            raise MailError(str(exc), "value") from None
    detail = f"{inbound.from_email} asked to be removed in a reply"
    record(session, prospect, "do_not_contact", f"{actor.display_name} put {inbound.from_email} on the "
           f"do-not-contact list: they asked to be removed (“{quote}”)", actor, {"inbound_id": inbound.id})
    contact = inbound.reply_to.contact if inbound.reply_to else None
    if contact is not None and contact.email.lower() == inbound.from_email.lower():
        stop_contact_everywhere(session, contact, "unsubscribed", detail, stage="unsubscribed",
                                source_message_id=inbound.message_id)
    if prospect.stage in (*EARLY_STAGES, "replied"):  # their reply was this request: the card leaves the pipeline
        move_prospect(session, prospect, "unsubscribed", actor=actor, reason=detail)
    mark_read(session, inbound, actor)
    session.flush()
