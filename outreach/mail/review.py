"""Personalise before sending: a campaign may hold each first email until a teammate has reviewed it.

A campaign whose mail settings say `is_review_required` holds every first email (step 1) in `scheduled` until it
is approved: the sending engine leaves a held message alone (`held()`, read by outreach.mail.outbox's due-rows
query and its claim), so it is neither sent nor failed. A reviewer (staff, or a personaliser:
outreach.accounts.permissions) may edit the rendered subject and body for that one prospect: the edit goes through
the template's save-time checks, is rendered with the prospect's variables, replaces the message's text (whatever
template or variant rendered it) and is kept on the prospect's timeline. Approving is a conditional update, so
two reviewers approving at once approve it, and the engine sends it, once. Follow-ups are never held.

Verbs flush and do not commit; the request or command commits.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, func, literal_column, select, update
from sqlalchemy.orm import Session, selectinload

from outreach.campaigns.service import record
from outreach.config import Settings
from outreach.db import write_transaction
from outreach.lib.clock import utcnow
from outreach.mail.headers import HeaderError, check_header
from outreach.mail.mailboxes import MailError
from outreach.mail.render import Rendered, RenderError, check_placeholders, check_syntax, render_email
from outreach.mail.sequences import context_for, template_field
from outreach.mail.template_check import check_template
from outreach.mail.unsubscribe import signing_secret, unsubscribe_url
from outreach.models import Campaign, Prospect, User
from outreach.models.mail import CampaignMail, Message

#: the step a review holds: the first email (follow-ups go as scheduled)
FIRST_STEP = 1
#: rows one bulk approval takes
BULK_LIMIT = 500


class ReviewConflict(MailError):
    """The email is no longer waiting for review (approved by someone else, sent, cancelled): nothing changed."""


def held() -> ColumnElement[bool]:
    """SQL: a first email of a campaign that requires review, not approved yet (the query joins CampaignMail,
    an outer join will do). The one hook of the review into the sending engine."""
    return and_(Message.step == literal_column(str(FIRST_STEP)), Message.approved_at.is_(None),
                CampaignMail.is_review_required.is_(True))


#: SQL: still to be sent (a literal, as `step = 1` in held(): the partial index ix_mail_messages_awaiting_review
#: serves a query only when its WHERE repeats the index's terms, which bound parameters do not)
SCHEDULED = Message.status == literal_column("'scheduled'")


def queue_query(campaign_id: int | None = None) -> Select[tuple[Message]]:
    """First emails waiting for review (of one campaign, or all), the soonest due first."""
    query = (select(Message).join(CampaignMail, CampaignMail.campaign_id == Message.campaign_id)
             .where(held(), SCHEDULED)
             .options(selectinload(Message.prospect).selectinload(Prospect.site),
                      selectinload(Message.prospect).selectinload(Prospect.campaign).selectinload(Campaign.client))
             .order_by(Message.send_at, Message.id))
    return query.where(Message.campaign_id == campaign_id) if campaign_id is not None else query


def awaiting_counts(session: Session) -> dict[int, int]:
    """How many first emails wait for review, per campaign (campaigns with none are left out)."""
    query = (select(Message.campaign_id, func.count())
             .join(CampaignMail, CampaignMail.campaign_id == Message.campaign_id)
             .where(held(), SCHEDULED).group_by(Message.campaign_id))
    return {campaign_id: n for campaign_id, n in session.execute(query)}


def awaiting_count(session: Session, campaign_id: int | None = None) -> int:
    counts = awaiting_counts(session)
    return counts.get(campaign_id, 0) if campaign_id is not None else sum(counts.values())


def review_item(session: Session, message_id: int) -> Message | None:
    """The message, if it is a first email a reviewer may open: one of a campaign that requires review, or one
    reviewed already. Anything else (a follow-up, another campaign's email) is None: reviewers see only these."""
    message = session.get(Message, message_id)
    if message is None or message.step != FIRST_STEP:
        return None
    if message.approved_at is not None or message.edited_at is not None:
        return message
    required = session.scalar(select(CampaignMail.is_review_required)
                              .where(CampaignMail.campaign_id == message.campaign_id))
    return message if required else None


def is_awaiting(session: Session, message: Message) -> bool:
    """Whether the message waits for review now (held, scheduled)."""
    return session.scalar(select(Message.id).outerjoin(CampaignMail, CampaignMail.campaign_id == Message.campaign_id)
                          .where(Message.id == message.id, SCHEDULED, held())) is not None


def _not_awaiting(session: Session, message: Message) -> ReviewConflict:
    """Why this email cannot be edited or approved any more, in one sentence."""
    session.refresh(message)
    if message.approved_at is not None:
        who = message.approved_by.display_name if message.approved_by else "someone"
        return ReviewConflict(f"{who} approved this email at {message.approved_at:%Y-%m-%d %H:%M} UTC; "
                              "nothing was changed")
    if message.status != "scheduled":
        return ReviewConflict(f"this email is {message.status} and no longer waits for review; nothing was changed")
    return ReviewConflict("this campaign no longer requires review: the email goes as scheduled; nothing was changed")


@dataclass(frozen=True)
class Edit:
    """What a reviewer wrote: the subject and bodies (variables such as {{ contact.first_name }} may be used)."""

    subject: str
    body_text: str
    #: None keeps the message's HTML alternative as it is
    body_html: str | None = None


def _rendered_edit(session: Session, message: Message, edit: Edit, settings: Settings) -> Rendered:
    """The edit checked as a template is when saved, rendered for this prospect, and refused if a placeholder is
    left: MailError names the field."""
    body_html = message.body_html if edit.body_html is None else edit.body_html
    subject = edit.subject.strip()
    if not subject:
        raise MailError("the subject is required", "subject")
    if not edit.body_text.strip():
        raise MailError("the plain-text body is required", "body_text")
    try:
        check_header("the subject", subject)
    except HeaderError as exc:
        raise MailError(str(exc), "subject") from None
    try:
        check_syntax(subject, edit.body_text, body_html)
        check_template(subject, edit.body_text, body_html)
        context = context_for(session, message.prospect, message.mailbox,
                              unsubscribe_url(settings, signing_secret(settings), message.message_id))
        rendered = render_email(subject, edit.body_text, body_html, context)
        check_placeholders(rendered)
    except RenderError as exc:
        raise MailError(str(exc), template_field(exc), line=exc.line, suggestion=exc.suggestion) from None
    if len(rendered.subject) > 500:
        raise MailError("the subject is longer than 500 characters", "subject")
    return rendered


def edit_message(session: Session, message: Message, edit: Edit, actor: User, settings: Settings) -> Message:
    """Replace a waiting first email's text for this prospect only, and keep the edit on the prospect's timeline.

    MailError (naming the field) when the text is refused; ReviewConflict when the email no longer waits."""
    if not is_awaiting(session, message):
        raise _not_awaiting(session, message)
    rendered = _rendered_edit(session, message, edit, settings)
    if (rendered.subject, rendered.body_text, rendered.body_html) == (message.subject, message.body_text,
                                                                      message.body_html):
        return message  # nothing changed: nothing to keep on the timeline
    now = utcnow()
    write_transaction(session)
    result = session.execute(
        update(Message).where(Message.id == message.id, Message.status == "scheduled", Message.approved_at.is_(None))
        .values(subject=rendered.subject, body_text=rendered.body_text, body_html=rendered.body_html, edited_at=now)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise _not_awaiting(session, message)
    session.refresh(message)
    record(session, message.prospect, "email_edited",
           f"Personalised the first email for this prospect:\nSubject: {rendered.subject}\n\n{rendered.body_text}",
           actor, {"message_id": message.message_id, "subject": rendered.subject, "body_text": rendered.body_text,
                   "body_html": rendered.body_html})
    session.flush()
    return message


def approve(session: Session, message: Message, actor: User, *, now: datetime | None = None) -> Message:
    """Let a waiting first email go at its time (at once if that has passed); ReviewConflict if it no longer
    waits. A conditional update: of two reviewers approving at once, one approves and the other is told."""
    if not is_awaiting(session, message):
        raise _not_awaiting(session, message)
    now = now or utcnow()
    write_transaction(session)
    result = session.execute(
        update(Message).where(Message.id == message.id, Message.status == "scheduled", Message.step == FIRST_STEP,
                              Message.approved_at.is_(None))
        .values(approved_at=now, approved_by_id=actor.id).execution_options(synchronize_session=False))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise _not_awaiting(session, message)
    session.refresh(message)
    edited = " (personalised)" if message.edited_at else ""
    goes = max(message.send_at, now)
    record(session, message.prospect, "email_approved",
           f"Approved the first email “{message.subject}”{edited}; it goes at {goes:%Y-%m-%d %H:%M} UTC or as soon "
           "as the mailbox allows", actor, {"message_id": message.message_id})
    session.flush()
    return message


@dataclass
class BulkApproval:
    approved: list[Message] = field(default_factory=list)
    #: (message id, why it was not approved) for each one left out
    refused: list[tuple[int, str]] = field(default_factory=list)


def approve_many(session: Session, message_ids: list[int], actor: User) -> BulkApproval:
    """Approve each chosen first email that still waits; every other id comes back with the reason."""
    result = BulkApproval()
    for message_id in list(dict.fromkeys(message_ids))[:BULK_LIMIT]:
        message = review_item(session, message_id)
        if message is None:
            result.refused.append((message_id, "not a first email waiting for review"))
            continue
        try:
            result.approved.append(approve(session, message, actor))
        except ReviewConflict as exc:
            result.refused.append((message_id, str(exc)))
    return result
