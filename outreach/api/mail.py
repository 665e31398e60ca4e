"""/api/v1 email: mailboxes, templates, sequences and their steps, a campaign's mail settings, enrolment, the queue
and each message's history, resolving an unknown message, and inbound mail by thread.

Staff only, as on the web (a client viewer sees no email at all). The views call the services the web pages call
(outreach.mail.*); what they answer is described in openapi_mail.py.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from flask import Blueprint, Response, request, url_for
from sqlalchemy import select

from outreach.api.common import (
    _body,
    _campaign,
    _commit,
    _created,
    _listing,
    _paginate,
    _prospect,
    _require_internal,
    _user,
)
from outreach.api.errors import ApiError, invalid, not_found
from outreach.api.inputs import MAX_ID, Body, pagination, query_int
from outreach.api.serialize import when
from outreach.lib.clock import utcnow
from outreach.lib.pages import paginate
from outreach.mail import protection, review, sequences
from outreach.mail.connection import check_mailbox
from outreach.mail.mailboxes import MailboxInput, MailError, delete_mailbox, save_mailbox, sent_today, warmup
from outreach.mail.outbox import resolve_unknown, status_label
from outreach.mail.queue import message_history, messages_query, threads, threads_query, unmatched_query
from outreach.mail.sequences import MAX_DELAY, StepInput
from outreach.mail.unsubscribe import signing_secret
from outreach.mail.variants import MIN_SENT, variant_stats
from outreach.models import Prospect
from outreach.models.mail import (
    INBOUND_KINDS,
    MESSAGE_STATUSES,
    SECURITY,
    SENT_COPY_MODES,
    VARIANT_LETTERS,
    CampaignMail,
    Enrollment,
    InboundMessage,
    Mailbox,
    Message,
    Sequence,
    Template,
)
from outreach.web.state import app_state, db_session, settings

bp = Blueprint("mail", __name__)  # nested in the /api/v1 blueprint (api/views.py)

MAILBOX_FIELDS = tuple(MailboxInput.__dataclass_fields__)
#: at most this many steps (the first email and its follow-ups), as sequences.save_sequence says
MAX_STEPS = 6
RESOLVE_ACTIONS = ("sent", "resend")


@bp.before_request
def _staff_only() -> None:
    _require_internal("email (mailboxes, templates, sequences, messages)")


def _mail_error(exc: MailError, default_field: str = "body") -> ApiError:
    extra = {k: v for k, v in (("line", exc.line), ("suggestion", exc.suggestion)) if v is not None}
    return ApiError(422, "invalid", str(exc), exc.field or default_field, extra)


def _conflict(exc: MailError) -> ApiError:
    return ApiError(409, "conflict", str(exc))


def _get(model: Any, record_id: int, what: str) -> Any:
    found = db_session().get(model, record_id) if record_id <= MAX_ID else None
    if found is None:
        raise not_found(what)
    return found


# --- mailboxes -------------------------------------------------------------------------------------

def mailbox_json(m: Mailbox) -> dict[str, Any]:
    """A mailbox without its passwords: only whether each is set."""
    return {"id": m.id, "name": m.name, "from_name": m.from_name, "from_email": m.from_email,
            "smtp_host": m.smtp_host, "smtp_port": m.smtp_port, "smtp_security": m.smtp_security,
            "smtp_username": m.smtp_username, "has_smtp_password": bool(m.smtp_password),
            "imap_host": m.imap_host, "imap_port": m.imap_port, "imap_security": m.imap_security,
            "imap_username": m.imap_username, "has_imap_password": bool(m.imap_password),
            "imap_sent_folder": m.imap_sent_folder, "sent_copy": m.sent_copy, "daily_cap": m.daily_cap,
            "min_spacing_seconds": m.min_spacing_seconds, "jitter_seconds": m.jitter_seconds,
            "window_days": m.day_numbers, "window_start_hour": m.window_start_hour,
            "window_end_hour": m.window_end_hour, "timezone": m.timezone, "is_active": m.is_active,
            "sent_today": sent_today(db_session(), m, utcnow()), "last_poll_error": m.last_poll_error,
            "next_poll_at": when(m.next_poll_at), "created_at": when(m.created_at),
            "dkim_selector": m.dkim_selector, "has_dkim_private_key": bool(m.dkim_private_key),
            "domain_checks": m.domain_checks, "domain_checked_at": when(m.domain_checked_at),
            **protection_json(m), "url": url_for("api.mail.get_mailbox", mailbox_id=m.id, _external=True)}


def protection_json(m: Mailbox) -> dict[str, Any]:
    """The mailbox's warm-up (settings and where it is today) and whether it is paused, and why."""
    ramp = warmup(m, utcnow())
    return {"warmup_start": m.warmup_start, "warmup_increment": m.warmup_increment,
            "warmup": None if ramp is None else {
                "started_on": m.warmup_started_on.isoformat() if m.warmup_started_on else None, "day": ramp.day,
                "today_allowance": ramp.allowance, "cap_reached_on": ramp.cap_reached_on.isoformat(),
                "is_done": ramp.is_done},
            "bounce_pause_percent": m.bounce_pause_percent, "is_paused": m.is_paused,
            "paused_at": when(m.paused_at), "pause_reason": m.pause_reason}


def _mailbox_input(body: Body, current: Mailbox | None) -> MailboxInput:
    """The body over the mailbox's current values (or the defaults); passwords left out keep the stored ones."""
    base = MailboxInput(name="", from_name="", from_email="", smtp_host="", smtp_port=587, smtp_security="starttls",
                        smtp_username="", smtp_password="", daily_cap=settings().mail.default_daily_cap)
    if current is not None:
        for name in MAILBOX_FIELDS:
            if hasattr(current, name) and not name.endswith(("_password", "_private_key")):
                setattr(base, name, getattr(current, name))
    for name in ("name", "from_email", "smtp_host"):
        if current is None:
            body.string(name, required=True)
    for name, limit in (("name", 200), ("from_name", 200), ("from_email", 320), ("smtp_host", 255),
                        ("smtp_username", 320), ("smtp_password", 500), ("imap_host", 255), ("imap_username", 320),
                        ("imap_password", 500), ("imap_sent_folder", 200), ("timezone", 64), ("dkim_selector", 63),
                        ("dkim_private_key", 10000)):
        if name in body:
            setattr(base, name, body.string(name, max_length=limit))
    for name, allowed in (("smtp_security", SECURITY), ("imap_security", SECURITY), ("sent_copy", SENT_COPY_MODES)):
        if name in body:
            value = body.string(name, max_length=20)
            if value not in allowed:
                raise invalid(name, f"{name} must be one of: {', '.join(allowed)}")
            setattr(base, name, value)
    for name, low, high in (("smtp_port", 1, 65535), ("imap_port", 1, 65535), ("daily_cap", 0, 10000),
                            ("min_spacing_seconds", 0, 86400), ("jitter_seconds", 0, 86400),
                            ("window_start_hour", 0, 23), ("window_end_hour", 1, 24), ("warmup_start", 0, 10000),
                            ("warmup_increment", 0, 10000), ("bounce_pause_percent", 0, 100)):
        setattr(base, name, body.whole(name, low, high, default=getattr(base, name)))
    if "window_days" in body:
        days = body.data["window_days"]
        if not isinstance(days, list) or not days or any(isinstance(d, bool) or d not in range(1, 8) for d in days):
            raise invalid("window_days", "window_days is a list of ISO weekdays, 1 (Monday) to 7 (Sunday)")
        base.window_days = ",".join(str(d) for d in sorted(set(days)))
    base.is_active = body.boolean("is_active", default=base.is_active)
    return base


@bp.get("/mailboxes")
def list_mailboxes() -> dict[str, Any]:
    return _paginate(select(Mailbox).order_by(Mailbox.name, Mailbox.id), mailbox_json)


@bp.post("/mailboxes")
def create_mailbox() -> tuple[Response, int, dict[str, str]]:
    body = _body(*MAILBOX_FIELDS)
    try:
        mailbox = save_mailbox(db_session(), app_state().secret_box, _mailbox_input(body, None))
    except MailError as exc:
        raise _mail_error(exc) from None
    _commit()
    return _created(mailbox_json(mailbox))


@bp.get("/mailboxes/<int:mailbox_id>")
def get_mailbox(mailbox_id: int) -> dict[str, Any]:
    return mailbox_json(_get(Mailbox, mailbox_id, "mailbox"))


@bp.patch("/mailboxes/<int:mailbox_id>")
def update_mailbox(mailbox_id: int) -> dict[str, Any]:
    mailbox = _get(Mailbox, mailbox_id, "mailbox")
    body = _body(*MAILBOX_FIELDS)
    session = db_session()
    try:
        save_mailbox(session, app_state().secret_box, _mailbox_input(body, mailbox), mailbox)
    except MailError as exc:
        session.rollback()
        raise _mail_error(exc) from None
    _commit()
    return mailbox_json(mailbox)


@bp.delete("/mailboxes/<int:mailbox_id>")
def remove_mailbox(mailbox_id: int) -> tuple[str, int]:
    try:
        delete_mailbox(db_session(), _get(Mailbox, mailbox_id, "mailbox"))
    except MailError as exc:
        raise _conflict(exc) from None
    _commit()
    return "", 204


@bp.post("/mailboxes/<int:mailbox_id>/resume")
def resume_mailbox(mailbox_id: int) -> dict[str, Any]:
    """Resume a mailbox paused for its bounce rate or a block (409 when it is not paused)."""
    mailbox = _get(Mailbox, mailbox_id, "mailbox")
    try:
        protection.resume_mailbox(db_session(), mailbox, _user())
    except MailError as exc:
        raise _conflict(exc) from None
    _commit()
    return mailbox_json(mailbox)


@bp.post("/mailboxes/<int:mailbox_id>/test")
def test_mailbox(mailbox_id: int) -> dict[str, Any]:
    """Log in over SMTP and IMAP now; each protocol's outcome in one line (a failure is a result, not an error)."""
    mailbox = _get(Mailbox, mailbox_id, "mailbox")
    session = db_session()
    session.expunge(mailbox)  # its loaded values serve the test: no transaction stays open while the servers answer
    session.rollback()
    checks = check_mailbox(mailbox, app_state().secret_box, settings().mail.smtp_timeout)
    return {"ok": all(c.ok is not False for c in checks),
            **{c.protocol: {"ok": c.ok, "message": c.message} for c in checks}}


# --- templates -------------------------------------------------------------------------------------

def template_json(t: Template) -> dict[str, Any]:
    return {"id": t.id, "name": t.name, "subject": t.subject, "body_text": t.body_text, "body_html": t.body_html,
            "created_at": when(t.created_at), "updated_at": when(t.updated_at),
            "url": url_for("api.mail.get_template", template_id=t.id, _external=True)}


def _save_template(body: Body, current: Template | None) -> Template:
    required = current is None
    try:
        return sequences.save_template(
            db_session(),
            body.string("name", required=required, max_length=200, default=current.name if current else ""),
            body.string("subject", required=required, max_length=500, default=current.subject if current else ""),
            body.string("body_text", required=required, max_length=20000,
                        default=current.body_text if current else ""),
            body.string("body_html", max_length=20000, default=current.body_html if current else ""), current)
    except MailError as exc:
        db_session().rollback()
        raise _mail_error(exc) from None


@bp.get("/templates")
def list_templates() -> dict[str, Any]:
    return _paginate(select(Template).order_by(Template.name, Template.id), template_json)


@bp.post("/templates")
def create_template() -> tuple[Response, int, dict[str, str]]:
    template = _save_template(_body("name", "subject", "body_text", "body_html"), None)
    _commit()
    return _created(template_json(template))


@bp.get("/templates/<int:template_id>")
def get_template(template_id: int) -> dict[str, Any]:
    return template_json(_get(Template, template_id, "template"))


@bp.patch("/templates/<int:template_id>")
def update_template(template_id: int) -> dict[str, Any]:
    template = _get(Template, template_id, "template")
    _save_template(_body("name", "subject", "body_text", "body_html"), template)
    _commit()
    return template_json(template)


@bp.delete("/templates/<int:template_id>")
def remove_template(template_id: int) -> tuple[str, int]:
    try:
        sequences.delete_template(db_session(), _get(Template, template_id, "template"))
    except MailError as exc:
        raise _conflict(exc) from None
    _commit()
    return "", 204


# --- sequences and their steps -----------------------------------------------------------------------

def step_json(sequence: Sequence, step: Any) -> dict[str, Any]:
    return {"position": step.position, "template_id": step.template_id, "template_name": step.template.name,
            "delay": step.delay_amount, "delay_unit": step.delay_unit, "business_days_only": step.business_days_only,
            "variants": [{"letter": v.letter, "template_id": v.template_id, "template_name": v.template.name}
                         for v in step.variants],
            "url": url_for("api.mail.update_step", sequence_id=sequence.id, position=step.position, _external=True)}


def sequence_json(s: Sequence) -> dict[str, Any]:
    return {"id": s.id, "name": s.name, "steps": [step_json(s, step) for step in s.steps],
            "created_at": when(s.created_at),
            "url": url_for("api.mail.get_sequence", sequence_id=s.id, _external=True)}


def _steps(body: Body) -> list[StepInput]:
    """The body's steps: template id, and how long after the previous step each goes."""
    value = body.data.get("steps")
    if not isinstance(value, list):
        raise invalid("steps", "steps must be a list of {template_id, delay, delay_unit, business_days_only}")
    if len(value) > MAX_STEPS:
        raise invalid("steps", f"at most {MAX_STEPS} steps: more follow-ups burn mailboxes")
    steps = []
    for i, item in enumerate(value, start=1):
        steps.append(_step(item, f"steps[{i - 1}]", first=i == 1))
    return steps


def _variants(body: Body, current: StepInput | None) -> tuple[int, ...]:
    """Variants B, C, D in order, each {template_id} (a `letter`, when given, must be its place's letter)."""
    if "variants" not in body:
        return current.variants if current else ()
    value = body.data["variants"]
    if not isinstance(value, list) or len(value) > len(VARIANT_LETTERS) - 1:
        raise invalid("variants", f"variants must be a list of at most {len(VARIANT_LETTERS) - 1} {{template_id}} "
                                  f"(B to {VARIANT_LETTERS[-1]}; the step's own template is A)")
    ids = []
    for i, (letter, item) in enumerate(zip(VARIANT_LETTERS[1:], value, strict=False)):
        try:
            variant = Body(item, ("template_id", "letter"))
            template_id = variant.integer("template_id", required=True)
            if variant.string("letter", default=letter) != letter:
                raise invalid("letter", f"variant {i + 1} is {letter}: letters follow the order of the list")
        except ApiError as exc:
            raise invalid(f"variants[{i}].{exc.field}" if exc.field else f"variants[{i}]", exc.message) from None
        ids.append(template_id or 0)
    return tuple(ids)


def _step(item: Any, where: str, *, first: bool, current: StepInput | None = None) -> StepInput:
    try:
        body = Body(item, ("template_id", "delay", "delay_unit", "business_days_only", "variants"))
    except ApiError as exc:
        raise invalid(f"{where}.{exc.field}" if exc.field else where, exc.message) from None
    try:
        template_id = body.integer("template_id", required=current is None) or (current.template_id if current else 0)
        unit = body.string("delay_unit", default=current.unit if current else "days")
        if unit not in MAX_DELAY:
            raise invalid("delay_unit", "delay_unit must be hours or days")
        delay = body.whole("delay", 0 if first else 1, MAX_DELAY[unit],
                           default=current.delay if current else (0 if first else 3))
        business = body.boolean("business_days_only", default=current.business_days_only if current else True)
        variants = _variants(body, current)
    except ApiError as exc:
        raise invalid(f"{where}.{exc.field}", exc.message) from None
    return StepInput(template_id, delay, unit, business, variants)


def _save_sequence(name: str, steps: list[StepInput], current: Sequence | None) -> Sequence:
    session = db_session()
    try:
        sequence = sequences.save_sequence(session, name, steps, current)
    except MailError as exc:
        session.rollback()
        raise _mail_error(exc) from None
    _commit()
    session.refresh(sequence)
    return sequence


def _sequence(sequence_id: int) -> Sequence:
    return _get(Sequence, sequence_id, "sequence")


def _current_steps(sequence: Sequence) -> list[StepInput]:
    return [sequences.step_input(s) for s in sequence.steps]


@bp.get("/sequences")
def list_sequences() -> dict[str, Any]:
    return _paginate(select(Sequence).order_by(Sequence.name, Sequence.id), sequence_json)


@bp.post("/sequences")
def create_sequence() -> tuple[Response, int, dict[str, str]]:
    body = _body("name", "steps")
    name = body.string("name", required=True, max_length=200)
    return _created(sequence_json(_save_sequence(name, _steps(body), None)))


@bp.get("/sequences/<int:sequence_id>")
def get_sequence(sequence_id: int) -> dict[str, Any]:
    return sequence_json(_sequence(sequence_id))


@bp.patch("/sequences/<int:sequence_id>")
def update_sequence(sequence_id: int) -> dict[str, Any]:
    sequence = _sequence(sequence_id)
    body = _body("name", "steps")
    name = body.string("name", max_length=200, default=sequence.name)
    steps = _steps(body) if "steps" in body else _current_steps(sequence)
    return sequence_json(_save_sequence(name, steps, sequence))


@bp.delete("/sequences/<int:sequence_id>")
def remove_sequence(sequence_id: int) -> tuple[str, int]:
    try:
        sequences.delete_sequence(db_session(), _sequence(sequence_id))
    except MailError as exc:
        raise _conflict(exc) from None
    _commit()
    return "", 204


@bp.get("/sequences/<int:sequence_id>/steps")
def list_steps(sequence_id: int) -> dict[str, Any]:
    sequence = _sequence(sequence_id)
    return {"data": [step_json(sequence, step) for step in sequence.steps]}


@bp.post("/sequences/<int:sequence_id>/steps")
def add_step(sequence_id: int) -> tuple[Response, int, dict[str, str]]:
    """Append a step (or insert it at `position`, moving the later ones down)."""
    sequence = _sequence(sequence_id)
    steps = _current_steps(sequence)
    body = _body("template_id", "delay", "delay_unit", "business_days_only", "position")
    position = body.whole("position", 1, len(steps) + 1, default=len(steps) + 1)
    step = _step({k: v for k, v in body.data.items() if k != "position"}, "body", first=position == 1)
    if position == 1 and steps:  # the old first email becomes a follow-up: it needs a delay
        steps[0] = dataclasses.replace(steps[0], delay=steps[0].delay or 3)
    steps.insert(position - 1, step)
    sequence = _save_sequence(sequence.name, steps, sequence)
    return _created(step_json(sequence, sequence.steps[position - 1]))


def _position(sequence: Sequence, position: int) -> int:
    if not 1 <= position <= len(sequence.steps):
        raise not_found("step")
    return position


@bp.patch("/sequences/<int:sequence_id>/steps/<int:position>")
def update_step(sequence_id: int, position: int) -> dict[str, Any]:
    sequence = _sequence(sequence_id)
    steps = _current_steps(sequence)
    index = _position(sequence, position) - 1
    steps[index] = _step(request.get_json(force=True, silent=True), "body", first=position == 1,
                         current=steps[index])
    sequence = _save_sequence(sequence.name, steps, sequence)
    return step_json(sequence, sequence.steps[index])


@bp.delete("/sequences/<int:sequence_id>/steps/<int:position>")
def remove_step(sequence_id: int, position: int) -> tuple[str, int]:
    """Remove a step; the later ones move up (a sequence keeps at least its first email)."""
    sequence = _sequence(sequence_id)
    steps = _current_steps(sequence)
    del steps[_position(sequence, position) - 1]
    _save_sequence(sequence.name, steps, sequence)
    return "", 204


# --- a campaign's mail settings and enrolment ----------------------------------------------------------

def settings_json(campaign_id: int, config: CampaignMail | None) -> dict[str, Any]:
    mailbox = config.mailbox if config else None
    sequence = config.sequence if config else None
    return {"campaign_id": campaign_id, "mailbox_id": mailbox.id if mailbox else None,
            "mailbox": {"id": mailbox.id, "name": mailbox.name, "from_email": mailbox.from_email} if mailbox else None,
            "sequence_id": sequence.id if sequence else None,
            "sequence": {"id": sequence.id, "name": sequence.name} if sequence else None,
            "is_paused": bool(config and config.is_paused),
            "is_review_required": bool(config and config.is_review_required),
            "awaiting_review": review.awaiting_count(db_session(), campaign_id),
            "sends_to_local_outbox": mailbox is None,
            "url": url_for("api.mail.get_mail_settings", campaign_id=campaign_id, _external=True)}


@bp.get("/campaigns/<int:campaign_id>/mail-settings")
def get_mail_settings(campaign_id: int) -> dict[str, Any]:
    campaign = _campaign(campaign_id)
    return settings_json(campaign.id, db_session().get(CampaignMail, campaign.id))


@bp.patch("/campaigns/<int:campaign_id>/mail-settings")
def update_mail_settings(campaign_id: int) -> dict[str, Any]:
    """The mailbox (null: the local outbox) and sequence a campaign sends with, pausing it, and holding each first
    email for review."""
    campaign = _campaign(campaign_id, edit=True)
    body = _body("mailbox_id", "sequence_id", "is_paused", "is_review_required")
    session = db_session()
    config = session.get(CampaignMail, campaign.id)
    mailbox_id = body.integer("mailbox_id") if "mailbox_id" in body else (config.mailbox_id if config else None)
    sequence_id = body.integer("sequence_id") if "sequence_id" in body else (config.sequence_id if config else None)
    try:
        sequences.configure_campaign(session, campaign, mailbox_id, sequence_id)
    except MailError as exc:
        session.rollback()
        raise _mail_error(exc) from None
    if "is_paused" in body:
        sequences.set_paused(session, campaign, body.boolean("is_paused", default=False), _user())
    if "is_review_required" in body:
        sequences.set_review_required(session, campaign, body.boolean("is_review_required", default=False))
    _commit()
    session.expire_all()
    return settings_json(campaign.id, session.get(CampaignMail, campaign.id))


def enrollment_json(e: Enrollment) -> dict[str, Any]:
    return {"id": e.id, "prospect_id": e.prospect_id, "campaign_id": e.campaign_id, "sequence_id": e.sequence_id,
            "mailbox_id": e.mailbox_id, "variant": e.variant or None, "status": e.status, "stop_reason": e.stop_reason,
            "stop_detail": e.stop_detail, "paused_until": when(e.paused_until), "created_at": when(e.created_at),
            "stopped_at": when(e.stopped_at),
            "messages_url": url_for("api.mail.list_messages", campaign_id=e.campaign_id, prospect_id=e.prospect_id,
                                    _external=True)}


@bp.post("/campaigns/<int:campaign_id>/enrollments")
def enroll(campaign_id: int) -> dict[str, Any]:
    """Enrol prospects in the campaign's sequence; each one refused comes back with the reason (the web's rules)."""
    campaign = _campaign(campaign_id, edit=True)
    body = _body("prospect_ids", "override_reason")
    ids = body.ids("prospect_ids")
    session = db_session()
    found = set(session.scalars(select(Prospect.id).where(Prospect.id.in_(ids), Prospect.campaign_id == campaign.id)))
    refused = [{"prospect_id": pid, "reason": "not a prospect of this campaign"} for pid in ids if pid not in found]
    enrolled: list[dict[str, Any]] = []
    if found:
        try:
            result = sequences.enroll_prospects(session, campaign, sorted(found), settings(),
                                                signing_secret(settings()), actor=_user(),
                                                override_reason=body.string("override_reason", max_length=300))
        except MailError as exc:
            session.rollback()
            raise _mail_error(exc, "prospect_ids") from None
        _commit()
        refused += [{"prospect_id": p.id, "reason": reason} for p, reason in result.refused]
        first = {m.prospect_id: m for m in session.scalars(select(Message).where(
            Message.prospect_id.in_([p.id for p in result.enrolled]), Message.step == 1))}
        enrolled = [{"prospect_id": p.id, "variant": first[p.id].enrollment.variant or None,
                     "message": message_json(first[p.id])} for p in result.enrolled]
    order = {pid: i for i, pid in enumerate(ids)}
    refused.sort(key=lambda r: order[r["prospect_id"]])
    return {"enrolled": enrolled, "refused": refused}


@bp.get("/campaigns/<int:campaign_id>/template-test")
def get_template_test(campaign_id: int) -> dict[str, Any]:
    """Per variant of the campaign's sequence: sent, replied, bounced, unsubscribed, reply rate, and the verdict."""
    campaign = _campaign(campaign_id)
    result = variant_stats(db_session(), campaign.id)
    return {"campaign_id": campaign.id, "sequence_id": result.sequence.id if result else None,
            "variants": [{"letter": v.letter, "enrolled": v.enrolled, "sent": v.sent, "replied": v.replied,
                          "bounced": v.bounced, "unsubscribed": v.unsubscribed, "reply_rate": v.reply_rate}
                         for v in (result.variants if result else [])],
            "note": result.note if result else "The campaign's sequence has no variants: nothing is being tested.",
            "test": "fisher_exact", "min_sent": MIN_SENT,
            "p_value": result.p_value if result else None, "is_significant": bool(result and result.is_significant),
            "leader": result.leader if result else None}


@bp.get("/prospects/<int:prospect_id>/enrollment")
def get_enrollment(prospect_id: int) -> dict[str, Any]:
    """The prospect's place in its campaign's sequence, or 404 with why it cannot be enrolled."""
    prospect = _prospect(prospect_id)
    session = db_session()
    enrollment = session.scalar(select(Enrollment).where(Enrollment.prospect_id == prospect.id))
    if enrollment is None:
        raise ApiError(404, "not_found", f"not enrolled ({sequences.refusal(session, prospect) or 'it can be'})")
    return enrollment_json(enrollment)


@bp.delete("/prospects/<int:prospect_id>/enrollment")
def cancel_enrollment(prospect_id: int) -> dict[str, Any]:
    """Stop the prospect's sequence by hand: what is scheduled is cancelled."""
    prospect = _prospect(prospect_id, edit=True)
    session = db_session()
    if not sequences.cancel_prospect(session, prospect, _user()):
        raise ApiError(409, "conflict", f"{prospect.site.domain} has no running sequence")
    _commit()
    enrollment = session.scalar(select(Enrollment).where(Enrollment.prospect_id == prospect.id))
    assert enrollment is not None
    return enrollment_json(enrollment)


# --- the queue, one message and its history, resolving an unknown one ----------------------------------

def message_json(m: Message) -> dict[str, Any]:
    return {"id": m.id, "campaign_id": m.campaign_id, "prospect_id": m.prospect_id,
            "enrollment_id": m.enrollment_id, "mailbox_id": m.mailbox_id, "step": m.step,
            "message_id": m.message_id, "in_reply_to": m.in_reply_to, "from_email": m.from_email,
            "to_email": m.to_email, "to_name": m.to_name, "subject": m.subject, "status": m.status,
            "status_label": status_label(m), "status_reason": m.status_reason, "last_error": m.last_error,
            "transport": m.transport, "attempts": m.attempts, "send_at": when(m.send_at), "sent_at": when(m.sent_at),
            "created_at": when(m.created_at),
            "url": url_for("api.mail.get_message", message_id=m.id, _external=True)}


def _message(message_id: int, *, edit: bool = False) -> Message:
    message = _get(Message, message_id, "message")
    _campaign(message.campaign_id, edit=edit)
    return message


@bp.get("/campaigns/<int:campaign_id>/messages")
def list_messages(campaign_id: int) -> dict[str, Any]:
    """The campaign's messages by due time; `status=queue` is what is still to happen."""
    campaign = _campaign(campaign_id)
    raw = request.args.get("status", "")
    statuses = None
    if raw:
        statuses = [s for s in raw.split(",") if s]
        if statuses == ["queue"]:
            statuses = ["scheduled", "sending", "unknown"]
        bad = [s for s in statuses if s not in MESSAGE_STATUSES]
        if bad:
            raise ApiError(400, "bad_parameter", f"status must be 'queue' or comma-separated statuses: "
                                                 f"{', '.join(MESSAGE_STATUSES)}", "status")
    return _paginate(messages_query(campaign.id, statuses=statuses, prospect_id=query_int(request.args, "prospect_id")),
                     message_json)


@bp.get("/messages/<int:message_id>")
def get_message(message_id: int) -> dict[str, Any]:
    """A message with its bodies and its history: scheduled, attempts, retries, sent, bounced, replies..."""
    message = _message(message_id)
    history = [{"at": when(e.at), "kind": e.kind, "text": e.text, "inbound_id": e.inbound_id}
               for e in message_history(db_session(), message)]
    return {**message_json(message), "body_text": message.body_text, "body_html": message.body_html,
            "history": history}


@bp.post("/messages/<int:message_id>/resolve")
def resolve_message(message_id: int) -> dict[str, Any]:
    """Say what became of a message whose delivery is unknown: "sent" (it went) or "resend" (send it again)."""
    message = _message(message_id, edit=True)
    body = _body("action")
    action = body.string("action", required=True, max_length=20)
    if action not in RESOLVE_ACTIONS:
        raise invalid("action", f"action must be one of: {', '.join(RESOLVE_ACTIONS)}")
    session = db_session()
    try:
        resolve_unknown(session, message, action, settings(), _user().display_name)
    except MailError as exc:
        session.rollback()
        raise ApiError(409, "conflict", str(exc)) from None
    _commit()
    return message_json(message)


# --- inbound mail ------------------------------------------------------------------------------------

def inbound_json(i: InboundMessage) -> dict[str, Any]:
    ours = i.reply_to
    return {"id": i.id, "mailbox_id": i.mailbox_id, "kind": i.kind, "from_email": i.from_email,
            "subject": i.subject, "snippet": i.snippet, "message_id": i.message_id,
            "received_at": when(i.received_at), "details": i.details or {},
            "in_reply_to": {"id": ours.id, "step": ours.step, "subject": ours.subject,
                            "url": url_for("api.mail.get_message", message_id=ours.id, _external=True)}
            if ours is not None else None}


def _kinds() -> list[str] | None:
    raw = request.args.get("kind", "")
    if not raw:
        return None
    kinds = [k for k in raw.split(",") if k]
    if any(k not in INBOUND_KINDS or k == "unmatched" for k in kinds):
        raise ApiError(400, "bad_parameter", "kind must be comma-separated kinds of: "
                                             f"{', '.join(k for k in INBOUND_KINDS if k != 'unmatched')}", "kind")
    return kinds


@bp.get("/inbound-threads")
def list_threads() -> dict[str, Any]:
    """Replies, auto-replies and bounces grouped by prospect (one thread per sequence), latest first."""
    campaign_id = query_int(request.args, "campaign_id")
    if campaign_id is not None:
        _campaign(campaign_id)
    kinds = _kinds()
    session = db_session()

    def render(thread: Any) -> dict[str, Any]:
        return {"prospect_id": thread.prospect_id, "campaign_id": thread.campaign_id,
                "last_received_at": when(thread.last_received_at), "count": thread.count,
                "messages": [inbound_json(i) for i in thread.messages],
                "prospect_url": url_for("api.get_prospect", prospect_id=thread.prospect_id, _external=True)}

    page, per_page = pagination(request.args, settings().app.page_size)
    found = paginate(session, threads_query(campaign_id=campaign_id, kinds=kinds), page, per_page, scalars=False)
    found.items = threads(session, found.items, kinds=kinds)
    return _listing(found, render)


@bp.get("/inbound-unmatched")
def list_unmatched() -> dict[str, Any]:
    """Inbound mail that names none of our messages (it belongs to no thread), newest first."""
    return _paginate(unmatched_query(), inbound_json)

