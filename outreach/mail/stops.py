"""Stop conditions: a reply, bounce or unsubscribe cancels every later step for that contact."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from outreach.campaigns.contact_rules import suppress
from outreach.campaigns.service import move_prospect, record
from outreach.lib.clock import utcnow
from outreach.mail.protection import check_bounce_rate
from outreach.models import Contact, Prospect, User
from outreach.models.mail import Enrollment, Message, step_label
from outreach.notifications.events import raise_alert
from outreach.notifications.service import notify_about_prospect

#: prospect stages from which a stop moves the card (a card further along stays where the user put it)
EARLY_STAGES = ("new", "qualified", "contacted")


def cancel_scheduled(session: Session, enrollment: Enrollment, reason: str) -> int:
    """Cancel the enrollment's scheduled messages, each noted on the timeline."""
    messages = session.scalars(select(Message).where(Message.enrollment_id == enrollment.id,
                                                     Message.status == "scheduled")).all()
    for message in messages:
        result = session.execute(update(Message).where(Message.id == message.id, Message.status == "scheduled")
                                 .values(status="cancelled", status_reason=reason[:500]))
        if result.rowcount == 1:  # type: ignore[attr-defined]
            record(session, message.prospect, "email_cancelled",
                   f"Cancelled {step_label(message.step)} “{message.subject}”: {reason}",
                   details={"message_id": message.message_id, "reason": reason})
    session.flush()
    return len(messages)


def stop_enrollment(session: Session, enrollment: Enrollment, reason: str, detail: str, *,
                    stage: str | None = None, source_message_id: str | None = None) -> None:
    """Stop the sequence for good, cancel what is scheduled and say why on the timeline."""
    if enrollment.status == "stopped":
        return
    enrollment.status = "stopped"
    enrollment.stop_reason = reason[:40]
    enrollment.stop_detail = detail[:500]
    enrollment.stopped_at = utcnow()
    record(session, enrollment.prospect, "sequence_stopped", f"Sequence stopped ({reason}): {detail}",
           details={"reason": reason, "message_id": source_message_id})
    cancel_scheduled(session, enrollment, f"sequence stopped: {reason}")
    if stage and enrollment.prospect.stage in EARLY_STAGES:
        move_prospect(session, enrollment.prospect, stage, reason=detail[:200])
    session.flush()


def on_stage_changed(prospect: Prospect, *, session: Session, old: str, new: str, actor: User | None) -> None:
    """On a stage change: a card moved past *contacted* (replied, negotiating, promised...) ends its sequence now.

    The sender would cancel the next step at claim time anyway; stopping here keeps the queue and the
    prospect page from showing a follow-up as "scheduled" that will never go.
    """
    if new in EARLY_STAGES:
        return
    enrollments = session.scalars(select(Enrollment).where(Enrollment.prospect_id == prospect.id,
                                                           Enrollment.status == "active")).all()
    for enrollment in enrollments:
        stop_enrollment(session, enrollment, "stage", f"the prospect moved to stage {new}")


def stop_contact_everywhere(session: Session, contact: Contact, reason: str, detail: str, *, stage: str,
                            source_message_id: str | None = None) -> int:
    """Stop every active enrollment of this contact, in every campaign."""
    enrollments = session.scalars(select(Enrollment).where(Enrollment.contact_id == contact.id,
                                                           Enrollment.status == "active")).all()
    for enrollment in enrollments:
        stop_enrollment(session, enrollment, reason, detail, stage=stage, source_message_id=source_message_id)
    # prospects of this contact that were never enrolled still leave the pipeline
    for prospect in session.scalars(select(Prospect).where(Prospect.contact_id == contact.id,
                                                           Prospect.stage.in_(EARLY_STAGES))):
        move_prospect(session, prospect, stage, reason=detail[:200])
    return len(enrollments)


def hard_bounce(session: Session, message: Message, detail: str, when: datetime | None = None) -> None:
    """The address does not exist: mark bounced, suppress it, stop everything for the contact."""
    message.status = "bounced"
    message.status_reason = detail[:500]
    contact = message.contact
    contact.status = "invalid"
    contact.status_reason = f"bounced: {detail}"[:300]
    suppress(session, contact.email, "bounced", detail)
    record(session, message.prospect, "email_bounced", f"Bounced “{message.subject}”: {detail}",
           details={"message_id": message.message_id, "detail": detail})
    stop_contact_everywhere(session, contact, "bounced", detail, stage="bounced",
                            source_message_id=message.message_id)
    notify_bounce(session, message, detail)
    if message.mailbox_id is not None:
        check_bounce_rate(session, message.mailbox_id, now=when)


def notify_bounce(session: Session, message: Message, detail: str) -> None:
    """Tell the prospect's owner (else the team) that an email to it bounced."""
    notify_about_prospect(session, message.prospect, "bounce", f"Bounced: {message.to_email}",
                          f"“{message.subject}” bounced: {detail}"[:1000])
    raise_alert(session, "bounce", prospect=message.prospect, message=message, detail=detail)
