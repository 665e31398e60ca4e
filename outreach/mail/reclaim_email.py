"""Reclaim emails: when a won link is lost, one message to the contact in the original thread.

A reclaim email is an ordinary outbox message of the prospect's enrolment (claimed, throttled, re-checked
at claim time) whose step is RECLAIM_STEP or more, so that it is never taken for a sequence step: it
schedules no follow-up and its cancellation does not stop the sequence.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outreach.backlinks import reasons
from outreach.campaigns.contact_rules import send_block
from outreach.campaigns.service import record
from outreach.config import Settings
from outreach.lib.clock import utcnow
from outreach.mail.mailboxes import MailError
from outreach.mail.render import Rendered, RenderError, render_email, wrap
from outreach.mail.sequences import _message_row, context_for, new_message_id
from outreach.mail.unsubscribe import unsubscribe_url
from outreach.models import Backlink, BacklinkCheck, BacklinkEvent, User
from outreach.models.mail import RECLAIM_STEP, InboundMessage, Message, Template

#: a reclaim email counts as made (and blocks another for the same loss) in these states
LIVE_STATUSES = ("scheduled", "sending", "sent", "unknown")


def last_sent(session: Session, prospect_id: int) -> Message | None:
    """The last message we sent this prospect: the thread a reclaim email answers."""
    return session.scalar(select(Message).where(Message.prospect_id == prospect_id, Message.status == "sent")
                          .order_by(Message.sent_at.desc(), Message.id.desc()).limit(1))


def existing_reclaim(session: Session, backlink: Backlink) -> Message | None:
    """A reclaim email already made for the current loss of this link."""
    if backlink.prospect_id is None:
        return None
    query = select(Message).where(Message.prospect_id == backlink.prospect_id, Message.step >= RECLAIM_STEP,
                                  Message.status.in_(LIVE_STATUSES))
    if backlink.lost_at is not None:
        query = query.where(Message.created_at >= backlink.lost_at)
    return session.scalar(query.order_by(Message.id.desc()).limit(1))


def refusal(session: Session, backlink: Backlink) -> str | None:
    """Why no reclaim email can be scheduled for this link now, in one sentence, or None."""
    if backlink.status != "lost":
        return f"the link is {backlink.status}, not lost"
    prospect = backlink.prospect
    if prospect is None:
        return "this link has no prospect, so there is no email thread to reply in"
    if prospect.campaign.status != "active":
        return f"the campaign “{prospect.campaign.name}” is {prospect.campaign.status}; make it active to send"
    previous = last_sent(session, prospect.id)
    if previous is None:
        return f"nothing was ever sent to {prospect.site.domain} from Outreach, so there is no thread to reply in"
    suppressed = send_block(session, previous.to_email, prospect.overridden)
    if suppressed:
        return suppressed
    if previous.contact.status == "invalid":
        return f"{previous.to_email} is invalid ({previous.contact.status_reason or 'failed validation'})"
    done = existing_reclaim(session, backlink)
    if done is not None:
        when = done.sent_at or done.send_at
        return f"a reclaim email for this loss is already {done.status} ({when:%Y-%m-%d %H:%M} UTC)"
    return None


def lost_reason(session: Session, backlink: Backlink) -> str:
    """Why the link was lost, as a clause to the publisher: from the check that lost it, else the latest one."""
    check = session.scalar(select(BacklinkCheck).join(BacklinkEvent, BacklinkEvent.check_id == BacklinkCheck.id)
                           .where(BacklinkEvent.backlink_id == backlink.id, BacklinkEvent.kind == "lost")
                           .order_by(BacklinkEvent.id.desc()).limit(1))
    if check is None:
        check = session.scalar(select(BacklinkCheck).where(BacklinkCheck.backlink_id == backlink.id)
                               .order_by(BacklinkCheck.id.desc()).limit(1))
    if check is not None and check.status != "live":
        found = reasons.of_check(check)
        if not backlink.lost_reason or found.code == backlink.lost_reason:
            return reasons.phrase(found)
    return reasons.phrase(reasons.Reason(backlink.lost_reason or "link_removed"))


def _context(session: Session, backlink: Backlink, previous: Message, unsubscribe: str) -> dict[str, Any]:
    context = context_for(session, previous.prospect, previous.mailbox, unsubscribe)
    context["backlink"] = wrap({"page_url": backlink.page_url, "target_url": backlink.target_url,
                                "anchor": backlink.agreed_anchor or backlink.seen_anchor,
                                "lost_reason": lost_reason(session, backlink)}, "backlink.")
    return context


def _thread_subject(previous: Message) -> str:
    return previous.subject if previous.subject.lower().startswith("re:") else f"Re: {previous.subject}"


def render_reclaim(session: Session, backlink: Backlink, template: Template, settings: Settings,
                   secret: str, message_id: str = "preview") -> Rendered:
    """The reclaim email as it would go out (MailError naming the variable when the template fails)."""
    previous = last_sent(session, backlink.prospect_id) if backlink.prospect_id else None
    if previous is None:
        raise MailError(refusal(session, backlink) or "there is no thread to reply in", "template_id")
    try:
        rendered = render_email(template.subject, template.body_text, template.body_html,
                                _context(session, backlink, previous, unsubscribe_url(settings, secret, message_id)))
    except RenderError as exc:
        raise MailError(f"template “{template.name}” cannot be sent to {previous.to_email}: {exc}",
                        "template_id") from None
    return Rendered(_thread_subject(previous), rendered.body_text, rendered.body_html)


def schedule_reclaim(session: Session, backlink: Backlink, template_id: int, settings: Settings,
                     secret: str, *, actor: User | None = None, now: datetime | None = None) -> Message:
    """Put one reclaim email in the outbox, replying to the last message we sent the contact."""
    reason = refusal(session, backlink)
    if reason:
        raise MailError(f"No reclaim email: {reason}.", "template_id")
    template = session.get(Template, template_id)
    if template is None:
        raise MailError("choose an existing template", "template_id")
    previous = last_sent(session, backlink.prospect_id)  # type: ignore[arg-type]
    assert previous is not None
    mailbox = previous.mailbox
    message_id = new_message_id(mailbox)
    rendered = render_reclaim(session, backlink, template, settings, secret, message_id)
    step = (session.scalar(select(func.max(Message.step)).where(Message.enrollment_id == previous.enrollment_id,
                                                                Message.step >= RECLAIM_STEP)) or RECLAIM_STEP - 1) + 1
    references = " ".join(filter(None, [previous.references, previous.message_id]))
    message = _message_row(previous.enrollment, previous.prospect, previous.contact, mailbox, step, message_id,
                           rendered, now or utcnow(), previous.message_id, references)
    session.add(message)
    record(session, previous.prospect, "reclaim_scheduled",
           f"Reclaim email “{message.subject}” scheduled to {message.to_email} (template “{template.name}”): "
           f"the link on {backlink.page_url or backlink.site_url} was lost",
           actor, {"message_id": message_id, "backlink_id": backlink.id})
    session.flush()
    return message


def stop_reason(session: Session, message_id: int) -> str | None:
    """At claim time: why a scheduled reclaim email must not go any more (the link came back, they replied)."""
    message = session.get(Message, message_id)
    if message is None:
        return None
    lost = session.scalar(select(Backlink.id).where(Backlink.prospect_id == message.prospect_id,
                                                    Backlink.status == "lost").limit(1))
    if lost is None:
        return "the link is no longer lost"
    replied = session.scalar(select(InboundMessage.id).join(Message, Message.id == InboundMessage.reply_to_message_id)
                             .where(Message.prospect_id == message.prospect_id, InboundMessage.kind == "reply",
                                    InboundMessage.received_at >= message.created_at).limit(1))
    if replied is not None:
        return "the contact replied after it was scheduled"
    return None
