"""Mail pages: mailboxes, templates, sequences, the local outbox, a campaign's Outreach tab, unsubscribe."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload
from werkzeug.wrappers import Response

from outreach.lib import appmail
from outreach.lib.clock import utcnow
from outreach.lib.ids import chosen_id
from outreach.mail import dkim, inbox_views, review, review_views, sequences, smtp
from outreach.mail.connection import check_mailbox
from outreach.mail.domain_checks import domain_refusal, failing, recheck_mailbox
from outreach.mail.estimate import expected_for
from outreach.mail.forms import CampaignMailForm, MailboxForm, TemplateForm
from outreach.mail.mailboxes import (
    MailboxInput,
    MailError,
    daily_allowance,
    delete_mailbox,
    save_mailbox,
    sent_today,
    warmup,
)
from outreach.mail.outbox import WRITTEN, local_outbox, local_path, resolve_unknown, status_label
from outreach.mail.protection import bounce_rate, resume_mailbox
from outreach.mail.queue import QUEUE_STATUSES, messages_query
from outreach.mail.render import VARIABLES, RenderError
from outreach.mail.unsubscribe import read_token, signing_secret, unsubscribe, unsubscribe_url
from outreach.mail.variants import MIN_SENT, variant_stats
from outreach.models import Prospect
from outreach.models.mail import VARIANT_LETTERS, CampaignMail, Enrollment, Mailbox, Message, Sequence, Template
from outreach.web.auth import campaign_or_404, prospect_or_404, staff_required
from outreach.web.forms import error_next_to_field, options
from outreach.web.ids import parse_id
from outreach.web.redirects import safe_next
from outreach.web.state import app_state, db_session, settings

bp = Blueprint("mail", __name__)
# Mail → Inbox (mail.inbox.*), behind the same nav entry
bp.register_blueprint(inbox_views.bp)
# the review queue (mail.review.*), open to personalisers too
bp.register_blueprint(review_views.bp)
#: the one route that works without a session or CSRF token (RFC 8058 one-click unsubscribe)
unsubscribe_bp = Blueprint("unsubscribe", __name__)

#: prospects offered for enrolment on one page (each is checked for conflicts)
ENROL_LIST_LIMIT = 300




# --- overview and mailboxes ------------------------------------------------------------------------

@bp.route("/mail")
@staff_required
def index() -> str:
    session = db_session()
    mailboxes = session.scalars(select(Mailbox).order_by(Mailbox.name)).all()
    usage = {m.id: sent_today(session, m, utcnow()) for m in mailboxes}
    templates = session.scalars(select(Template).order_by(Template.name)).all()
    seqs = session.scalars(select(Sequence).options(selectinload(Sequence.steps)).order_by(Sequence.name)).all()
    local = (session.scalar(select(func.count()).select_from(Message).where(Message.transport == "local")) or 0) \
        + appmail.written_count(settings().mail)
    return render_template("mail/index.html", mailboxes=mailboxes, usage=usage, templates=templates,
                           sequences=seqs, local=local)


def _mailbox_or_404(session: Session, mailbox_id: int) -> Mailbox:
    box = session.get(Mailbox, mailbox_id)
    if box is None:
        abort(404)
    return box


@bp.route("/mail/mailboxes/new", methods=["GET", "POST"])
@bp.route("/mail/mailboxes/<int:mailbox_id>", methods=["GET", "POST"])
@staff_required
def mailbox(mailbox_id: int | None = None) -> str | Response:
    session = db_session()
    box = session.get(Mailbox, mailbox_id) if mailbox_id else None
    if mailbox_id and box is None:
        abort(404)
    form = MailboxForm(obj=box if request.method == "GET" else None)
    form.dkim_private_key.data = ""  # never shown back: the stored key stays encrypted
    if box is None and request.method == "GET":
        form.daily_cap.data = settings().mail.default_daily_cap
    if form.validate_on_submit():
        fields, defaults = form._fields.items(), MailboxInput.__dataclass_fields__
        data = MailboxInput(**{name: field.data if field.data is not None else
                               defaults[name].default if isinstance(defaults[name].default, int) else ""
                               for name, field in fields if name in defaults})
        try:
            box = save_mailbox(session, app_state().secret_box, data, box)
        except MailError as exc:
            error_next_to_field(form, exc, "name")
        else:
            session.commit()
            flash(f"Mailbox {box.name} saved. Test its connection before a campaign sends from it.", "success")
            return redirect(url_for("mail.mailbox", mailbox_id=box.id))
    dkim_record = None
    if box is not None and box.dkim_private_key and box.dkim_selector:
        dkim_record = dkim.dns_record(app_state().secret_box.decrypt(box.dkim_private_key), box.dkim_selector,
                                      box.from_email.rsplit("@", 1)[-1])
    return render_template("mail/mailbox.html", form=form, mailbox=box, dkim_record=dkim_record,
                           base_url=settings().app.base_url, one_click=smtp.is_one_click(settings().app.base_url),
                           ramp=warmup(box, utcnow()) if box is not None else None,
                           bounces=bounce_rate(session, box.id) if box is not None else None)


@bp.route("/mail/mailboxes/<int:mailbox_id>/resume", methods=["POST"])
@staff_required
def resume(mailbox_id: int) -> Response:
    """Resume a mailbox paused for its bounce rate or a block: its queued emails go again."""
    session = db_session()
    box = _mailbox_or_404(session, mailbox_id)
    try:
        queued = resume_mailbox(session, box, current_user)
    except MailError as exc:
        flash(f"{exc}.", "info")
    else:
        session.commit()
        flash(f"{box.name} resumed: its {queued} queued email(s) go out within its limits.", "success")
    return redirect(url_for("mail.mailbox", mailbox_id=mailbox_id))


@bp.app_template_global()
def today_allowance(mailbox: Mailbox) -> int:
    """What the mailbox may send today: its daily cap, or today's step of its warm-up (0: no cap)."""
    return daily_allowance(mailbox, utcnow())


@bp.route("/mail/mailboxes/<int:mailbox_id>/domain", methods=["POST"])
@staff_required
def check_domain(mailbox_id: int) -> Response:
    """Run the domain checks now (the daily tick runs them too)."""
    session = db_session()
    box = _mailbox_or_404(session, mailbox_id)
    checks = recheck_mailbox(session, box, settings(), app_state().secret_box)
    session.commit()
    bad = failing(checks)
    flash(f"Domain checks: {', '.join(n.upper() for n in bad)} failing." if bad else "Domain checks: nothing fails.",
          "error" if bad else "success")
    return redirect(url_for("mail.mailbox", mailbox_id=mailbox_id))


@bp.route("/mail/mailboxes/<int:mailbox_id>/test", methods=["POST"])
@staff_required
def test_mailbox(mailbox_id: int) -> Response:
    session = db_session()
    box = _mailbox_or_404(session, mailbox_id)
    session.commit()  # end the transaction (it holds the write lock) before talking to the servers
    for check in check_mailbox(box, app_state().secret_box, settings().mail.smtp_timeout):
        flash(check.message, {True: "success", False: "error", None: "info"}[check.ok])
    return redirect(url_for("mail.mailbox", mailbox_id=mailbox_id))


@bp.route("/mail/<kind>/<int:item_id>/delete", methods=["POST"])
@staff_required
def delete(kind: str, item_id: int) -> Response:
    """Delete a mailbox, template or sequence that nothing uses yet (history keeps what was used)."""
    session = db_session()
    model, remove = {"mailboxes": (Mailbox, delete_mailbox), "templates": (Template, sequences.delete_template),
                     "sequences": (Sequence, sequences.delete_sequence)}.get(kind, (None, None))
    item = session.get(model, item_id) if model else None
    if item is None or remove is None:
        abort(404)
    try:
        remove(session, item)
    except MailError as exc:
        flash(f"{exc}.", "error")
        return redirect(url_for("mail.index"))
    session.commit()
    flash(f"{item.name} deleted.", "success")
    return redirect(url_for("mail.index"))


# --- templates ---------------------------------------------------------------------------------

@bp.route("/mail/templates/new", methods=["GET", "POST"])
@bp.route("/mail/templates/<int:template_id>", methods=["GET", "POST"])
@staff_required
def template(template_id: int | None = None) -> str | Response:
    session = db_session()
    tpl = session.get(Template, template_id) if template_id else None
    if template_id and tpl is None:
        abort(404)
    form = TemplateForm(obj=tpl if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            tpl = sequences.save_template(session, form.name.data or "", form.subject.data or "",
                                          form.body_text.data or "", form.body_html.data or "", tpl)
        except MailError as exc:
            error_next_to_field(form, exc, "name")
        else:
            session.commit()
            flash(f"Template {tpl.name} saved.", "success")
            return redirect(url_for("mail.template", template_id=tpl.id))
    preview: dict[str, Any] | None = None
    prospects = session.scalars(select(Prospect).where(Prospect.contact_id.is_not(None))
                                .options(selectinload(Prospect.site)).order_by(Prospect.id.desc()).limit(200)).all()
    prospect_id = request.args.get("prospect_id", type=int)
    if tpl is not None and prospect_id:
        prospect = prospect_or_404(prospect_id)
        config = session.get(CampaignMail, prospect.campaign_id)
        mailbox = config.mailbox if config else None
        try:
            rendered = sequences.render_for(session, tpl, prospect, mailbox,
                                            unsubscribe_url(settings(), signing_secret(settings()), "preview"))
            preview = {"prospect": prospect, "rendered": rendered}
        except RenderError as exc:
            preview = {"prospect": prospect, "error": str(exc)}
    return render_template("mail/template.html", form=form, template=tpl, variables=VARIABLES,
                           prospects=prospects, preview=preview, prospect_id=prospect_id)


# --- sequences ---------------------------------------------------------------------------------

@bp.route("/mail/sequences/new", methods=["GET", "POST"])
@bp.route("/mail/sequences/<int:sequence_id>", methods=["GET", "POST"])
@staff_required
def sequence(sequence_id: int | None = None) -> str | Response:
    session = db_session()
    seq = session.get(Sequence, sequence_id) if sequence_id else None
    if sequence_id and seq is None:
        abort(404)
    templates = session.scalars(select(Template).order_by(Template.name)).all()
    error = None
    name = seq.name if seq else ""
    steps = [sequences.step_input(s) for s in seq.steps] if seq else []
    if request.method == "POST":
        name = request.form.get("name", "")
        steps = []
        try:
            for i in range(1, 7):
                raw_template = request.form.get(f"template_{i}", "").strip()
                delay = request.form.get(f"delay_{i}", type=int)
                if raw_template and raw_template != "0":
                    # an id no table can hold names no template: -1 lets the service refuse it in one line
                    steps.append(sequences.StepInput(parse_id(raw_template) or -1, delay if delay is not None else 3,
                                                     request.form.get(f"unit_{i}", "days"),
                                                     request.form.get(f"business_{i}") == "1", _variant_ids(i)))
            seq = sequences.save_sequence(session, name, steps, seq)
        except MailError as exc:
            error = str(exc)
        else:
            session.commit()
            flash(f"Sequence {seq.name} saved.", "success")
            return redirect(url_for("mail.sequence", sequence_id=seq.id))
    rows = steps + [sequences.StepInput(0)] * (6 - len(steps))
    return render_template("mail/sequence.html", sequence=seq, templates=templates, name=name, rows=rows,
                           error=error, max_delay=sequences.MAX_DELAY, variant_letters=VARIANT_LETTERS[1:])


def _variant_ids(i: int) -> tuple[int, ...]:
    """Step i's variants B, C, D from the form, in order (a letter may not follow an empty one)."""
    raw = [request.form.get(f"variant_{i}_{letter}", "").strip() for letter in VARIANT_LETTERS[1:]]
    chosen = [r if r != "0" else "" for r in raw]
    while chosen and not chosen[-1]:
        chosen.pop()
    if "" in chosen:
        gap = VARIANT_LETTERS[1 + chosen.index("")]
        raise MailError(f"step {i}: choose variant {gap} before the letters after it", "steps")
    return tuple(parse_id(r) or -1 for r in chosen)


# --- local outbox ------------------------------------------------------------------------------

@bp.route("/mail/outbox")
@staff_required
def outbox() -> str:
    return render_template("mail/outbox.html", entries=local_outbox(db_session(), settings().mail))


@bp.route("/mail/outbox/<int:message_id>")
@staff_required
def outbox_message(message_id: int) -> str:
    message = db_session().get(Message, message_id)
    if message is None or message.transport != "local":
        abort(404)
    path = local_path(settings().mail, message)
    raw = path.read_text("utf-8", "replace") if message.status == "sent" and path.exists() else None
    to = f"{message.to_name} <{message.to_email}>" if message.to_name else message.to_email
    return render_template("mail/outbox_message.html", subject=message.subject, to=to, when_label="Due",
                           when=message.send_at, status=status_label(message), raw=raw, path=path,
                           body=appmail.readable_text(raw) if raw else message.body_text)


@bp.route("/mail/outbox/app/<name>")
@staff_required
def outbox_app_email(name: str) -> str:
    """One of the app's own emails (an alert or a report) in the local outbox."""
    found = appmail.written_email(settings().mail, name)
    if found is None:
        abort(404)
    email, raw, path = found
    return render_template("mail/outbox_message.html", subject=email.subject, to=email.to, when_label="Written",
                           when=email.written_at, status=WRITTEN, raw=raw, path=path, body=appmail.readable_text(raw))


@bp.app_template_global()
def message_status(message: Message) -> str:
    """A message's status in the one vocabulary of the outbox pages (local messages are written, not sent)."""
    return status_label(message)


# --- a campaign's Outreach tab -------------------------------------------------------------------

@bp.route("/campaigns/<int:campaign_id>/outreach")
@staff_required
def campaign(campaign_id: int) -> str:
    session = db_session()
    camp = campaign_or_404(campaign_id)
    config = session.get(CampaignMail, camp.id)
    form = CampaignMailForm(mailbox_id=config.mailbox_id or 0 if config else 0,
                            sequence_id=config.sequence_id or 0 if config else 0)
    form.mailbox_id.choices = options([(0, "Local outbox (nothing is sent)")] + [
        (m.id, f"{m.name} <{m.from_email}>") for m in session.scalars(select(Mailbox).order_by(Mailbox.name))])
    form.sequence_id.choices = options([(0, "— choose a sequence —")] + [
        (s.id, s.name) for s in session.scalars(select(Sequence).order_by(Sequence.name))])
    queue = session.scalars(messages_query(camp.id, statuses=QUEUE_STATUSES).limit(500)).all()
    recent = session.scalars(messages_query(camp.id, exclude=QUEUE_STATUSES, newest_first=True).limit(50)).all()
    box_ids = {m.mailbox_id for m in queue if m.mailbox_id} | ({config.mailbox_id} if config and config.mailbox_id
                                                                else set())
    now = utcnow()
    usage = [(box, sent_today(session, box, now)) for box in
             session.scalars(select(Mailbox).where(Mailbox.id.in_(box_ids)).order_by(Mailbox.name))]
    expected = expected_for(session, usage, now)
    listed = session.scalars(select(Prospect).where(Prospect.campaign_id == camp.id)
                             .where(Prospect.id.not_in(select(Enrollment.prospect_id)
                                                       .where(Enrollment.campaign_id == camp.id)))
                             .options(selectinload(Prospect.site), selectinload(Prospect.contact))
                             .order_by(Prospect.position).limit(ENROL_LIST_LIMIT)).all()
    reasons = sequences.refusals(session, list(listed))
    candidates = [(prospect, reasons[prospect.id]) for prospect in listed]
    enrollments = session.scalars(select(Enrollment).where(Enrollment.campaign_id == camp.id)
                                  .options(selectinload(Enrollment.prospect).selectinload(Prospect.site))
                                  .order_by(Enrollment.id.desc()).limit(200)).all()
    return render_template("mail/campaign.html", campaign=camp, config=config, form=form, queue=queue,
                           recent=recent, usage=usage, candidates=candidates, enrollments=enrollments,
                           expected=expected, paused=bool(config and config.is_paused),
                           domain_problem=domain_refusal(config.mailbox if config else None),
                           awaiting_review=review.awaiting_count(session, camp.id),
                           refused=request.args.getlist("refused"), test=variant_stats(session, camp.id),
                           min_sent=MIN_SENT)


@bp.route("/campaigns/<int:campaign_id>/outreach/settings", methods=["POST"])
@staff_required
def campaign_settings(campaign_id: int) -> Response:
    camp = campaign_or_404(campaign_id, edit=True)
    mailbox_id = chosen_id(request.form.get("mailbox_id"))
    sequence_id = chosen_id(request.form.get("sequence_id"))
    session = db_session()
    waiting = review.awaiting_count(session, camp.id)
    try:
        sequences.configure_campaign(session, camp, mailbox_id, sequence_id)
        sequences.set_review_required(session, camp, request.form.get("is_review_required") == "1")
    except MailError as exc:
        flash(str(exc), "error")
    else:
        session.commit()
        held = review.awaiting_count(session, camp.id) - waiting
        flash("Sending settings saved." + (f" {-held} first email(s) that waited for review now go as scheduled."
                                           if held < 0 else f" {held} first email(s) now wait for review."
                                           if held > 0 else ""), "success")
    return redirect(url_for("mail.campaign", campaign_id=camp.id))


def _safe_next(target: str | None) -> str | None:
    return safe_next(target)


@bp.route("/campaigns/<int:campaign_id>/outreach/enroll", methods=["POST"])
@staff_required
def enroll(campaign_id: int) -> str | Response:
    """Enrol the chosen prospects (from the Outreach tab, the board, the prospect list or a prospect's page)."""
    camp = campaign_or_404(campaign_id, edit=True)
    # the board and the Outreach tab send prospect_ids, the prospect list's bulk form sends ids
    ids = [int(v) for v in request.form.getlist("prospect_ids") + request.form.getlist("ids") if v.isdigit()][:1000]
    back = _safe_next(request.form.get("next")) or url_for("mail.campaign", campaign_id=camp.id)
    session = db_session()
    if not ids:
        flash("Select the prospects to enrol first.", "error")
        return redirect(back)
    try:
        result = sequences.enroll_prospects(session, camp, ids, settings(), signing_secret(settings()),
                                            actor=current_user, override_reason=request.form.get("override_reason", ""))
    except MailError as exc:
        session.rollback()
        flash(str(exc), "error")
        return redirect(back)
    session.commit()
    if result.enrolled:
        flash(f"Enrolled {len(result.enrolled)} prospect(s); their first emails are in the queue.", "success")
    for prospect, reason in result.refused:
        flash(f"Not enrolled: {prospect.site.domain}: {reason}", "error")
    return redirect(back)


@bp.app_template_global()
def mail_sequence(campaign_id: int) -> Sequence | None:
    """The sequence a campaign enrols into (for the board's and the list's "Enrol" buttons)."""
    config = db_session().get(CampaignMail, campaign_id)
    return config.sequence if config else None


@bp.app_template_global()
def mail_enrollment(prospect: Prospect) -> dict[str, Any]:
    """A prospect's place in the campaign's sequence, or why it cannot be enrolled (for the prospect page)."""
    session = db_session()
    enrollment = session.scalar(select(Enrollment).where(Enrollment.prospect_id == prospect.id))
    if enrollment is not None:
        return {"enrollment": enrollment,
                "awaiting_review": session.scalar(review.queue_query().where(Message.prospect_id == prospect.id))}
    sequence = mail_sequence(prospect.campaign_id)
    return {"enrollment": None, "sequence": sequence,
            "refusal": sequences.refusal(session, prospect) if sequence else None}


@bp.route("/campaigns/<int:campaign_id>/outreach/pause", methods=["POST"])
@staff_required
def pause(campaign_id: int) -> Response:
    camp = campaign_or_404(campaign_id, edit=True)
    paused = request.form.get("paused") == "1"
    session = db_session()
    sequences.set_paused(session, camp, paused, current_user)
    session.commit()
    flash("Sending paused: nothing goes out until you resume." if paused else "Sending resumed.", "success")
    return redirect(url_for("mail.campaign", campaign_id=camp.id))


@bp.route("/prospects/<int:prospect_id>/outreach/cancel", methods=["POST"])
@staff_required
def cancel(prospect_id: int) -> Response:
    prospect = prospect_or_404(prospect_id, edit=True)
    session = db_session()
    if sequences.cancel_prospect(session, prospect, current_user):
        session.commit()
        flash(f"Sequence cancelled for {prospect.site.domain}.", "success")
    else:
        flash(f"{prospect.site.domain} has no running sequence.", "info")
    return redirect(_safe_next(request.form.get("next")) or url_for("mail.campaign", campaign_id=prospect.campaign_id))


@bp.route("/mail/messages/<int:message_id>/resolve", methods=["POST"])
@staff_required
def resolve(message_id: int) -> Response:
    session = db_session()
    message = session.get(Message, message_id)
    if message is None:
        abort(404)
    campaign_or_404(message.campaign_id, edit=True)
    try:
        resolve_unknown(session, message, request.form.get("action", ""), settings(), current_user.display_name)
    except MailError as exc:
        flash(str(exc), "error")
    else:
        session.commit()
        flash("Marked as sent." if message.status == "sent" else "It will be sent again on the next tick.", "success")
    return redirect(url_for("mail.campaign", campaign_id=message.campaign_id))


# --- unsubscribe (no login, no cookies, no CSRF: the signed token is the authority) ---------------

@unsubscribe_bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe_page(token: str) -> tuple[str, int] | str:
    message_id = read_token(signing_secret(settings()), token)
    session = db_session()
    message = session.scalar(select(Message).where(Message.message_id == message_id)) if message_id else None
    if message is None:
        return render_template("mail/unsubscribe.html", state="invalid"), 404
    if request.method == "GET":
        return render_template("mail/unsubscribe.html", state="confirm", email=message.to_email)
    one_click = request.form.get("List-Unsubscribe") == "One-Click"
    unsubscribe(session, message.message_id, via="one-click" if one_click else "unsubscribe page")
    session.commit()
    return render_template("mail/unsubscribe.html", state="done", email=message.to_email)
