"""Templates, sequences, campaign mail settings and enrolment (which creates the first message)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from outreach.campaigns import opportunity_context
from outreach.campaigns.contact_rules import enrolment_conflicts_of
from outreach.campaigns.service import record
from outreach.config import Settings
from outreach.lib.clock import utcnow
from outreach.mail.domain_checks import domain_refusal, failing
from outreach.mail.headers import HeaderError, check_header
from outreach.mail.mailboxes import MailError
from outreach.mail.render import Rendered, RenderError, check_placeholders, check_syntax, render_email, wrap
from outreach.mail.stops import EARLY_STAGES, stop_enrollment
from outreach.mail.template_check import check_template
from outreach.mail.unsubscribe import unsubscribe_url
from outreach.mail.variants import assign_letters, template_for
from outreach.models import Campaign, Contact, Prospect, User
from outreach.models.mail import (
    VARIANT_LETTERS,
    CampaignMail,
    Enrollment,
    Mailbox,
    Message,
    Sequence,
    SequenceStep,
    StepVariant,
    Template,
)

LOCAL_DOMAIN = "outreach.local"


# --- templates and sequences ---------------------------------------------------------------------

def save_template(session: Session, name: str, subject: str, body_text: str, body_html: str = "",
                  template: Template | None = None) -> Template:
    name = name.strip()
    if not name:
        raise MailError("the template needs a name", "name")
    clash = session.scalar(select(Template.id).where(func.lower(Template.name) == name.lower(),
                                                     Template.id != (template.id if template else -1)))
    if clash is not None:
        raise MailError(f"a template called {name!r} exists already", "name")
    try:
        check_header("the subject", subject)
    except HeaderError as exc:
        raise MailError(str(exc), "subject") from None
    if not subject.strip():
        raise MailError("the subject is required", "subject")
    if not body_text.strip():
        raise MailError("the plain-text body is required", "body_text")
    try:
        check_syntax(subject, body_text, body_html)
        check_template(subject, body_text, body_html)
    except RenderError as exc:
        raise MailError(str(exc), template_field(exc), line=exc.line, suggestion=exc.suggestion) from None
    if template is None:
        template = Template()
        session.add(template)
    template.name, template.subject = name[:200], subject.strip()[:500]
    template.body_text, template.body_html = body_text, body_html
    session.flush()
    return template


def template_field(exc: RenderError) -> str:
    """The field of a template form a refusal is about: its message names the subject or the HTML body."""
    return "subject" if "subject" in str(exc) else "body_html" if "HTML" in str(exc) else "body_text"


@dataclass(frozen=True)
class StepInput:
    """A step as a form or the API gives it: its template and how long after the previous step it goes."""

    template_id: int
    delay: int = 3
    #: hours | days
    unit: str = "days"
    #: count Monday–Friday only (a delay in hours that ends on a weekend moves to Monday)
    business_days_only: bool = True
    #: the templates of variants B, C and D of a template test, in that order (template_id is variant A)
    variants: tuple[int, ...] = ()


def step_input(step: SequenceStep) -> StepInput:
    """A saved step as save_sequence takes it (to edit one step and save them all)."""
    return StepInput(step.template_id, step.delay_amount, step.delay_unit, step.business_days_only,
                     tuple(v.template_id for v in step.variants))


def _check_variants(session: Session, i: int, step: StepInput) -> None:
    """A step with variants: each is an existing, different template that passes the template save-time check."""
    if len(step.variants) > len(VARIANT_LETTERS) - 1:
        raise MailError(f"step {i}: at most {len(VARIANT_LETTERS)} variants (A to {VARIANT_LETTERS[-1]})", "steps")
    seen = {step.template_id: "A"}
    for letter, template_id in zip(VARIANT_LETTERS, (step.template_id, *step.variants), strict=False):
        template = session.get(Template, template_id)
        if template is None:
            raise MailError(f"step {i} variant {letter}: choose an existing template", "steps")
        if letter != "A" and template_id in seen:
            raise MailError(f"step {i}: variant {letter} uses the same template as variant {seen[template_id]}",
                            "steps")
        seen.setdefault(template_id, letter)
        try:
            check_syntax(template.subject, template.body_text, template.body_html)
            check_template(template.subject, template.body_text, template.body_html)
        except RenderError as exc:
            raise MailError(f"step {i} variant {letter}: template “{template.name}”: {exc}", "steps",
                            line=exc.line, suggestion=exc.suggestion) from None


#: the longest delay a step may wait, per unit
MAX_DELAY = {"hours": 24 * 60, "days": 60}


def save_sequence(session: Session, name: str, steps: list[StepInput] | list[tuple[int, int]],
                  sequence: Sequence | None = None) -> Sequence:
    """Steps are StepInput, or (template_id, delay in business days after the previous step)."""
    inputs = [s if isinstance(s, StepInput) else StepInput(*s) for s in steps]
    name = name.strip()
    if not name:
        raise MailError("the sequence needs a name", "name")
    clash = session.scalar(select(Sequence.id).where(func.lower(Sequence.name) == name.lower(),
                                                     Sequence.id != (sequence.id if sequence else -1)))
    if clash is not None:
        raise MailError(f"a sequence called {name!r} exists already", "name")
    if not inputs:
        raise MailError("a sequence needs at least its first email", "steps")
    if len(inputs) > 6:
        raise MailError("at most 6 steps: more follow-ups burn mailboxes", "steps")
    for i, step in enumerate(inputs, start=1):
        if session.get(Template, step.template_id) is None:
            raise MailError(f"step {i}: choose an existing template", "steps")
        if step.variants:
            _check_variants(session, i, step)
        if i == 1:
            continue
        if step.unit not in MAX_DELAY:
            raise MailError(f"step {i}: the delay is in hours or days, not {step.unit!r}", "steps")
        if not 1 <= step.delay <= MAX_DELAY[step.unit]:
            raise MailError(f"step {i}: the delay is 1 to {MAX_DELAY[step.unit]} {step.unit}", "steps")
    if sequence is None:
        sequence = Sequence(name=name[:200])
        session.add(sequence)
    sequence.name = name[:200]
    sequence.steps.clear()
    session.flush()
    for i, step in enumerate(inputs, start=1):
        first = i == 1
        sequence.steps.append(SequenceStep(position=i, template_id=step.template_id,
                                           delay_amount=0 if first else step.delay,
                                           delay_unit="days" if first else step.unit,
                                           business_days_only=step.business_days_only,
                                           variants=[StepVariant(letter=letter, template_id=template_id)
                                                     for letter, template_id in zip(VARIANT_LETTERS[1:], step.variants,
                                                                                    strict=False)]))
    session.flush()
    return sequence


def delete_template(session: Session, template: Template) -> None:
    """Delete a template no sequence step (or variant of one) uses."""
    used = (session.scalar(select(func.count()).select_from(SequenceStep)
                           .where(SequenceStep.template_id == template.id)) or 0) \
        + (session.scalar(select(func.count()).select_from(StepVariant)
                          .where(StepVariant.template_id == template.id)) or 0)
    if used:
        raise MailError(f"{template.name} cannot be deleted: {used} sequence steps use it")
    session.delete(template)
    session.flush()


def delete_sequence(session: Session, sequence: Sequence) -> None:
    """Delete a sequence nobody is enrolled in (campaigns that chose it are left without one)."""
    used = session.scalar(select(func.count()).select_from(Enrollment)
                          .where(Enrollment.sequence_id == sequence.id)) or 0
    if used:
        raise MailError(f"{sequence.name} cannot be deleted: {used} prospects are enrolled in it")
    session.delete(sequence)
    session.flush()


def campaign_mail(session: Session, campaign_id: int) -> CampaignMail:
    settings = session.get(CampaignMail, campaign_id)
    if settings is None:
        settings = CampaignMail(campaign_id=campaign_id, is_paused=False)
        session.add(settings)
        session.flush()
    return settings


def configure_campaign(session: Session, campaign: Campaign, mailbox_id: int | None, sequence_id: int | None) -> None:
    settings = campaign_mail(session, campaign.id)
    if mailbox_id is not None and session.get(Mailbox, mailbox_id) is None:
        raise MailError("choose an existing mailbox", "mailbox_id")
    if sequence_id is not None and session.get(Sequence, sequence_id) is None:
        raise MailError("choose an existing sequence", "sequence_id")
    settings.mailbox_id, settings.sequence_id = mailbox_id, sequence_id
    session.flush()


def set_paused(session: Session, campaign: Campaign, paused: bool, actor: User | None = None) -> None:
    settings = campaign_mail(session, campaign.id)
    settings.is_paused = paused
    session.flush()


def set_review_required(session: Session, campaign: Campaign, required: bool) -> None:
    """Hold each first email for review (outreach.mail.review) or not; turned off, the held ones go as scheduled."""
    settings = campaign_mail(session, campaign.id)
    settings.is_review_required = required
    session.flush()


# --- rendering for a prospect --------------------------------------------------------------------

def context_for(session: Session, prospect: Prospect, mailbox: Mailbox | None, unsubscribe: str) -> dict[str, Any]:
    """The variables a template sees for this prospect (see render.VARIABLES)."""
    contact = prospect.contact
    campaign = prospect.campaign
    return wrap({
        "contact": {"first_name": contact.first_name if contact else "", "name": contact.name if contact else "",
                    "email": contact.email if contact else ""},
        "site": {"domain": prospect.site.domain},
        "prospect": {"page_url": prospect.page_url},
        "opportunity": opportunity_context.for_prospect(session, prospect).template_values(),
        "campaign": {"name": campaign.name},
        "client": {"name": campaign.client.name, "website": campaign.client.website},
        "target_url": (campaign.target_url_list or [""])[0],
        "sender": {"name": mailbox.from_name if mailbox else "", "email": mailbox.from_email if mailbox else ""},
        "unsubscribe_url": unsubscribe,
    })


def render_for(session: Session, template: Template, prospect: Prospect, mailbox: Mailbox | None,
               unsubscribe: str) -> Rendered:
    """Render for one prospect; RenderError names the prospect and the variable."""
    try:
        rendered = render_email(template.subject, template.body_text, template.body_html,
                                context_for(session, prospect, mailbox, unsubscribe))
        check_placeholders(rendered)
        return rendered
    except RenderError as exc:
        raise RenderError(f"{prospect.site.domain}: template “{template.name}”: {exc}", exc.variable) from None


def new_message_id(mailbox: Mailbox | None) -> str:
    domain = mailbox.from_email.rsplit("@", 1)[-1] if mailbox else LOCAL_DOMAIN
    return f"{uuid.uuid4().hex}@{domain}"


def create_message(session: Session, enrollment: Enrollment, step: SequenceStep, send_at: datetime,
                   settings: Settings, secret: str, first: Message | None = None) -> Message:
    """Render the step and put it in the outbox with its Message-ID (RenderError if it cannot)."""
    message_id = new_message_id(enrollment.mailbox)
    rendered = render_for(session, template_for(step, enrollment.variant), enrollment.prospect, enrollment.mailbox,
                          unsubscribe_url(settings, secret, message_id))
    in_reply_to = references = ""
    if first is not None:
        previous = session.scalar(select(Message).where(Message.enrollment_id == enrollment.id,
                                                        Message.step == step.position - 1))
        in_reply_to = (previous or first).message_id
        references = " ".join(filter(None, [(previous or first).references, in_reply_to]))
        subject = first.subject if first.subject.lower().startswith("re:") else f"Re: {first.subject}"
        rendered = Rendered(subject, rendered.body_text, rendered.body_html)
    message = _message_row(enrollment, enrollment.prospect, enrollment.contact, enrollment.mailbox, step.position,
                           message_id, rendered, send_at, in_reply_to, references)
    session.add(message)
    session.flush()
    return message


def _message_row(enrollment: Enrollment, prospect: Prospect, contact: Contact, mailbox: Mailbox | None, step: int,
                 message_id: str, rendered: Rendered, send_at: datetime, in_reply_to: str = "",
                 references: str = "") -> Message:
    return Message(enrollment=enrollment, campaign_id=prospect.campaign_id, prospect_id=prospect.id,
                   contact_id=contact.id, mailbox_id=mailbox.id if mailbox else None, step=step,
                   message_id=message_id, in_reply_to=in_reply_to, references=references,
                   from_email=mailbox.from_email if mailbox else f"outbox@{LOCAL_DOMAIN}",
                   from_name=mailbox.from_name if mailbox else "", to_email=contact.email,
                   to_name=contact.name, subject=rendered.subject[:500], body_text=rendered.body_text,
                   body_html=rendered.body_html, send_at=send_at, status="scheduled",
                   transport="smtp" if mailbox else "local")


# --- enrolment -----------------------------------------------------------------------------------

@dataclass
class EnrollResult:
    enrolled: list[Prospect] = field(default_factory=list)
    #: (prospect, reason) for every prospect left out
    refused: list[tuple[Prospect, str]] = field(default_factory=list)


def refusal(session: Session, prospect: Prospect) -> str | None:
    """Why this prospect cannot be emailed now, in one sentence, or None (contact_rules decides conflicts)."""
    return refusals(session, [prospect])[prospect.id]


def refusals(session: Session, prospects: list[Prospect]) -> dict[int, str | None]:
    """refusal() of many prospects by id, in a few queries (enrolling 1,000 asked a few per prospect)."""
    reasons: dict[int, str | None] = {}
    enrolled: set[int] = set()
    ids = [p.id for p in prospects]
    for start in range(0, len(ids), 500):
        enrolled.update(session.scalars(select(Enrollment.prospect_id)
                                        .where(Enrollment.prospect_id.in_(ids[start:start + 500]))))
    rest = []
    for prospect in prospects:
        if prospect.contact is None:
            reasons[prospect.id] = "no contact address yet"
        elif prospect.stage not in EARLY_STAGES:
            reasons[prospect.id] = f"the prospect is at stage {prospect.stage}"
        elif prospect.id in enrolled:
            reasons[prospect.id] = "already enrolled in this campaign's sequence"
        else:
            rest.append(prospect)
    for prospect_id, conflicts in enrolment_conflicts_of(session, rest).items():
        reasons[prospect_id] = "; ".join(c.message for c in conflicts) if conflicts else None
    return reasons


def enroll_prospects(session: Session, campaign: Campaign, prospect_ids: list[int],
                     settings: Settings, secret: str, *, actor: User | None = None,
                     now: datetime | None = None, override_reason: str = "") -> EnrollResult:
    """Enrol prospects in the campaign's sequence and schedule each first email.

    Prospects that must not be emailed are refused one by one, with the reason. A template that fails
    to render for any prospect schedules nothing at all: MailError names the prospect and the variable.
    A mailbox whose domain checks fail is refused unless `override_reason` says why to send anyway (the
    reason goes on each enrolled prospect's timeline).
    """
    now = now or utcnow()
    config = session.get(CampaignMail, campaign.id)
    if config is None or config.sequence is None:
        raise MailError("choose a sequence for this campaign first", "sequence_id")
    steps = config.sequence.steps
    if not steps:
        raise MailError(f"the sequence “{config.sequence.name}” has no steps", "sequence_id")
    domain_problem = domain_refusal(config.mailbox)
    override_reason = " ".join(override_reason.split())[:300]
    if domain_problem and not override_reason:
        raise MailError(domain_problem, "override_reason")
    result = EnrollResult()
    prospects = session.scalars(select(Prospect).where(Prospect.id.in_(prospect_ids),
                                                       Prospect.campaign_id == campaign.id)
                                .options(selectinload(Prospect.site), selectinload(Prospect.contact))
                                .order_by(Prospect.id)).all()
    if not prospects:
        raise MailError("choose at least one prospect of this campaign", "prospect_ids")
    accepted = []
    reasons = refusals(session, list(prospects))
    for prospect in prospects:
        reason = reasons[prospect.id]
        if reason:
            result.refused.append((prospect, reason))
        else:
            accepted.append(prospect)
    letters = assign_letters(session, campaign.id, config.sequence, [p.id for p in accepted])
    errors = []
    empty: list[str] = []  # variables that were missing or empty: the flash says how to give a fallback
    first_emails: list[tuple[str, Rendered]] = []
    for prospect, letter in zip(accepted, letters, strict=True):
        # every step is rendered now, so that a template that fails for anyone schedules nothing at all;
        # the first email's rendering (with its own Message-ID and unsubscribe link) is the one that is kept
        message_id = new_message_id(config.mailbox)
        for step in steps:
            url = unsubscribe_url(settings, secret, message_id) if step.position == 1 else "https://unsubscribe.check/"
            try:
                rendered = render_for(session, template_for(step, letter), prospect, config.mailbox, url)
            except RenderError as exc:
                errors.append(f"step {step.position}: {exc}")
                if exc.variable and exc.variable not in empty:
                    empty.append(exc.variable)
                continue
            if step.position == 1:
                first_emails.append((message_id, rendered))
    if errors:
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        hint = f' (for a fallback write {{{{ {empty[0]} or "…" }}}} in the template)' if empty else ""
        raise MailError("nothing was scheduled: " + "; ".join(errors[:3]) + more + hint, "prospect_ids")
    with session.no_autoflush:
        for prospect, letter, (message_id, rendered) in zip(accepted, letters, first_emails, strict=True):
            enrollment = Enrollment(campaign_id=campaign.id, prospect_id=prospect.id, contact_id=prospect.contact_id,
                                    sequence_id=config.sequence.id, mailbox_id=config.mailbox_id, status="active",
                                    created_by_id=actor.id if actor else None, mailbox=config.mailbox,
                                    variant=letter)
            session.add(enrollment)
            message = _message_row(enrollment, prospect, prospect.contact, config.mailbox, 1, message_id, rendered,
                                   now)
            session.add(message)
            record(session, prospect, "email_scheduled",
                   f"Enrolled in “{config.sequence.name}”{f' (variant {letter})' if letter else ''}: "
                   f"“{message.subject}” scheduled", actor,
                   {"message_id": message.message_id, **({"variant": letter} if letter else {})})
            if domain_problem:
                record(session, prospect, "domain_check_overridden",
                       f"Enrolled although {domain_problem.split(';')[0]}. Reason: {override_reason}", actor,
                       {"mailbox_id": config.mailbox_id, "failing": failing(config.mailbox.domain_checks),
                        "reason": override_reason})
            result.enrolled.append(prospect)
    session.flush()
    return result


def cancel_prospect(session: Session, prospect: Prospect, actor: User | None = None) -> bool:
    """Stop one prospect's sequence by hand."""
    enrollment = session.scalar(select(Enrollment).where(Enrollment.prospect_id == prospect.id))
    if enrollment is None or enrollment.status != "active":
        return False
    who = actor.display_name if actor else "a user"
    stop_enrollment(session, enrollment, "cancelled", f"cancelled by {who}")
    return True
