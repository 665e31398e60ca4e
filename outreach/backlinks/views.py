"""The link ledger: all backlinks, a campaign's Links tab, a backlink's checks, add, import, check now."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, time

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response

from outreach.accounts import permissions
from outreach.analytics.service import recent
from outreach.backlinks import reasons, service, terms
from outreach.backlinks.alerts import send_pending_alerts
from outreach.backlinks.forms import BacklinkForm, EditBacklinkForm, ImportForm
from outreach.backlinks.jobs import Job, run_checks
from outreach.backlinks.reclaim_panel import ReclaimPanel, reclaim_panel
from outreach.backlinks.value import CURRENCIES, signals
from outreach.lib.aio import run_sync
from outreach.mail.mailboxes import MailError
from outreach.mail.reclaim_email import schedule_reclaim
from outreach.mail.unsubscribe import signing_secret
from outreach.models import Backlink, BacklinkCheck, BacklinkEvent, Campaign, Client, Prospect
from outreach.models.backlinks import BACKLINK_STATUSES
from outreach.reports.charts import sparkline_svg
from outreach.web.auth import campaign_or_404, record_or_404, staff_required
from outreach.web.forms import error_next_to_field, options
from outreach.web.ids import parse_id
from outreach.web.redirects import safe_next
from outreach.web.state import app_state, db_session, settings

bp = Blueprint("backlinks", __name__)
PAGE_SIZE = 100
# how a link's state reads on every page that shows it (ledger, link page, prospect page)
bp.add_app_template_filter(terms.status_label, "link_status")
bp.add_app_template_filter(terms.failing_label, "link_failing")
bp.add_app_template_filter(terms.sentence, "link_difference")
bp.add_app_template_filter(lambda b: terms.agreed_label(b.agreed_anchor, b.agreed_rel), "link_agreed")
bp.add_app_template_global(terms.STATUS_BADGES, "LINK_BADGES")
bp.add_app_template_global(terms.STATUS_LABELS, "LINK_STATUS_LABELS")
bp.add_app_template_global(CURRENCIES, "CURRENCIES")
bp.add_app_template_filter(reasons.label, "reason_label")
bp.add_app_template_global(sparkline_svg, "sparkline")


def _ledger_query(client_id: int | None = None, campaign_id: int | None = None) -> Select[tuple[Backlink]]:
    query = (select(Backlink).options(selectinload(Backlink.client), selectinload(Backlink.campaign))
             .order_by(Backlink.status != "lost", Backlink.id.desc())
             .where(permissions.client_filter(current_user, Backlink.client_id)))
    if client_id:
        query = query.where(Backlink.client_id == client_id)
    if campaign_id:
        query = query.where(Backlink.campaign_id == campaign_id)
    status = request.args.get("status", "")
    if status in BACKLINK_STATUSES:
        query = query.where(Backlink.status == status)
    q = request.args.get("q", "").strip()
    if q:
        like = f"%{q.lower()}%"
        query = query.where(func.lower(Backlink.page_url).like(like) | func.lower(Backlink.target_url).like(like)
                            | func.lower(Backlink.site_url).like(like))
    return query


def _latest(backlinks: list[Backlink]) -> dict[int, BacklinkCheck]:
    ids = [b.id for b in backlinks]
    if not ids:
        return {}
    newest = (select(func.max(BacklinkCheck.id)).where(BacklinkCheck.backlink_id.in_(ids))
              .group_by(BacklinkCheck.backlink_id))
    return {c.backlink_id: c for c in db_session().scalars(select(BacklinkCheck).where(BacklinkCheck.id.in_(newest)))}


def _counts(client_id: int | None = None, campaign_id: int | None = None) -> dict[str, int]:
    query = (select(Backlink.status, func.count()).group_by(Backlink.status)
             .where(permissions.client_filter(current_user, Backlink.client_id)))
    if client_id:
        query = query.where(Backlink.client_id == client_id)
    if campaign_id:
        query = query.where(Backlink.campaign_id == campaign_id)
    return dict(db_session().execute(query).all())


@bp.route("/backlinks")
@login_required
def ledger() -> str:
    client_id = request.args.get("client", type=int)
    backlinks = list(db_session().scalars(_ledger_query(client_id=client_id).limit(PAGE_SIZE)))
    clients = _visible_clients()
    return render_template("backlinks/ledger.html", backlinks=backlinks, latest=_latest(backlinks),
                           counts=_counts(client_id=client_id), clients=clients, campaign=None,
                           statuses=BACKLINK_STATUSES, page_size=PAGE_SIZE,
                           traffic=recent(db_session(), backlinks))


@bp.route("/campaigns/<int:campaign_id>/links")
@login_required
def campaign_links(campaign_id: int) -> str:
    campaign = campaign_or_404(campaign_id)
    session = db_session()
    backlinks = list(session.scalars(_ledger_query(campaign_id=campaign.id).limit(PAGE_SIZE)))
    every = list(session.scalars(select(Backlink).where(Backlink.campaign_id == campaign.id)))
    return render_template("backlinks/campaign_links.html", campaign=campaign, backlinks=backlinks,
                           latest=_latest(backlinks), counts=_counts(campaign_id=campaign.id),
                           statuses=BACKLINK_STATUSES, page_size=PAGE_SIZE, traffic=recent(session, backlinks),
                           campaign_traffic=recent(session, every))


def _visible_clients() -> list[Client]:
    query = select(Client).where(permissions.client_filter(current_user, Client.id)).order_by(Client.name)
    return list(db_session().scalars(query))


def _fill_choices(form: BacklinkForm | ImportForm) -> None:
    session = db_session()
    form.client_id.choices = options((c.id, c.name) for c in _visible_clients())
    campaigns = session.scalars(select(Campaign).options(selectinload(Campaign.client))
                                .order_by(Campaign.name)).all()
    form.campaign_id.choices = options([(0, "— none —")] + [(c.id, f"{c.client.name} · {c.name}")
                                                            for c in campaigns])




def _deadline(value: object) -> datetime | None:
    return datetime.combine(value, time(23, 59), tzinfo=UTC) if value else None  # type: ignore[arg-type]


@bp.route("/backlinks/new", methods=["GET", "POST"])
@staff_required
def new() -> str | Response:
    form = BacklinkForm()
    _fill_choices(form)
    prospect = _prospect_from(request.args if request.method == "GET" else request.form)
    if request.method == "GET":
        campaign = prospect.campaign if prospect else db_session().get(
            Campaign, request.args.get("campaign_id", type=int) or 0)
        if campaign is not None:
            form.campaign_id.data, form.client_id.data = campaign.id, campaign.client_id
            form.target_url.data = (campaign.target_url_list or [""])[0]
        if prospect is not None:
            form.prospect_id.data = str(prospect.id)
            for name, value in service.defaults_for_prospect(prospect).items():
                getattr(form, name).data = value
    if form.validate_on_submit():
        session = db_session()
        try:
            backlink = service.create_backlink(
                session, client_id=form.client_id.data, campaign_id=form.campaign_id.data or None,
                prospect_id=prospect.id if prospect else None,
                page_url=form.page_url.data or "", site_url=form.site_url.data or "",
                target_url=form.target_url.data or "", match_mode=form.match_mode.data,
                agreed_anchor=form.agreed_anchor.data or "", agreed_rel=form.agreed_rel.data,
                price=form.price.data, currency=form.currency.data or "",
                payment_status=form.payment_status.data or None, notes=form.notes.data or "",
                deadline_at=_deadline(form.deadline.data), render_js=bool(form.render_js.data), actor=current_user)
        except service.BacklinkError as exc:
            error_next_to_field(form, exc, "page_url")
        else:
            session.commit()
            flash("Link added to the ledger. Its first check runs within a minute, or use “Check now”.", "success")
            return redirect(url_for("backlinks.detail", backlink_id=backlink.id))
    return render_template("backlinks/form.html", form=form, backlink=None, prospect=prospect)


def _prospect_from(values: Mapping[str, str]) -> Prospect | None:
    """The prospect the form was opened from (?prospect_id=, then a hidden field), if the user may see it."""
    raw = (values.get("prospect_id") or "").strip()
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()):
        abort(400)  # not an id at all
    prospect_id = parse_id(raw)
    if prospect_id is None:
        abort(404)  # a number no record can have
    return record_or_404(db_session().get(Prospect, prospect_id))


def _backlink_or_404(backlink_id: int, *, edit: bool = False) -> Backlink:
    return record_or_404(db_session().get(Backlink, backlink_id), edit=edit)


@bp.route("/backlinks/<int:backlink_id>")
@login_required
def detail(backlink_id: int) -> str:
    backlink = _backlink_or_404(backlink_id)
    form = None
    if permissions.can_change(current_user, backlink):
        form = EditBacklinkForm(obj=backlink)
        form.deadline.data = backlink.deadline_at.date() if backlink.deadline_at else None
        form.price.data = "" if backlink.price is None else f"{backlink.price:g}"
        form.payment_status.data = backlink.payment_status or ""
    return _detail_page(backlink, form)


def _detail_page(backlink: Backlink, form: EditBacklinkForm | None) -> str:
    """The link page: its checks and changes, why it is lost or worth less, its value and referral traffic."""
    session = db_session()
    checks = session.scalars(select(BacklinkCheck).where(BacklinkCheck.backlink_id == backlink.id)
                             .order_by(BacklinkCheck.id.desc()).limit(50)).all()
    events = session.scalars(select(BacklinkEvent).where(BacklinkEvent.backlink_id == backlink.id)
                             .order_by(BacklinkEvent.id.desc()).limit(50)).all()
    latest = checks[0] if checks else None
    traffic = recent(session, [backlink])
    value = signals(session, [backlink], {backlink.id: traffic.link_total(backlink.id)})[backlink.id]
    return render_template("backlinks/detail.html", backlink=backlink, checks=checks, events=events, form=form,
                           reclaim=_reclaim_panel(backlink), why=reasons.why(backlink, latest), value=value,
                           traffic=traffic, is_shared=any(backlink.id in ids for ids in traffic.shared.values()))


def _reclaim_panel(backlink: Backlink) -> ReclaimPanel | None:
    if not permissions.can_see_internal(current_user):
        return None
    return reclaim_panel(db_session(), backlink, settings(), request.args.get("reclaim_template", type=int))


@bp.route("/backlinks/<int:backlink_id>/reclaim", methods=["POST"])
@staff_required
def send_reclaim(backlink_id: int) -> Response:
    """Schedule the reclaim email in the original thread; the outbox sends it like any other message."""
    backlink = _backlink_or_404(backlink_id, edit=True)
    template_id = request.form.get("template_id", type=int) or 0
    session = db_session()
    try:
        message = schedule_reclaim(session, backlink, template_id, settings(), signing_secret(settings()),
                                   actor=current_user)
        session.commit()
    except MailError as exc:
        session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("backlinks.detail", backlink_id=backlink_id, reclaim_template=template_id or None))
    except IntegrityError:  # the same form sent twice at once: the other request scheduled it
        session.rollback()
        flash("No reclaim email: one was just scheduled for this link.", "error")
        return redirect(url_for("backlinks.detail", backlink_id=backlink_id))
    flash(f"Reclaim email to {message.to_email} scheduled: it goes out with the next send, within the mailbox's "
          "window and limits.", "success")
    return redirect(url_for("backlinks.detail", backlink_id=backlink_id))


@bp.route("/backlinks/<int:backlink_id>/edit", methods=["POST"])
@staff_required
def edit(backlink_id: int) -> str | Response:
    backlink = _backlink_or_404(backlink_id, edit=True)
    form = EditBacklinkForm()
    session = db_session()
    if form.validate_on_submit():
        try:
            service.update_backlink(
                session, backlink, page_url=form.page_url.data or "", target_url=form.target_url.data or "",
                site_url=form.site_url.data or "", match_mode=form.match_mode.data,
                agreed_anchor=form.agreed_anchor.data or "", agreed_rel=form.agreed_rel.data,
                price=form.price.data, currency=form.currency.data or "",
                payment_status=form.payment_status.data or "", notes=form.notes.data or "",
                deadline_at=_deadline(form.deadline.data), render_js=bool(form.render_js.data), actor=current_user)
        except service.BacklinkError as exc:
            session.rollback()
            error_next_to_field(form, exc, "page_url")
        else:
            session.commit()
            flash("Saved.", "success")
            return redirect(url_for("backlinks.detail", backlink_id=backlink.id))
    backlink = _backlink_or_404(backlink_id)
    return _detail_page(backlink, form), 400


@bp.route("/backlinks/<int:backlink_id>/check", methods=["POST"])
@staff_required
def check(backlink_id: int) -> Response:
    """Check now, in the request (one page, bounded by the fetch timeout); alerts go out after the commit."""
    backlink = _backlink_or_404(backlink_id, edit=True)
    session = db_session()
    job = Job.of(backlink, settings())
    session.rollback()  # no transaction held open during the fetch
    outcome = run_sync(run_checks([job], settings())).get(backlink.id)
    if outcome is None:
        flash("The check could not run; see the server log.", "error")
        return redirect(_safe_next() or url_for("backlinks.detail", backlink_id=backlink_id))
    backlink = _backlink_or_404(backlink_id, edit=True)
    if outcome.found_page and not backlink.page_url:
        service.attach_page(session, backlink, outcome.found_page)
    service.apply_check(session, backlink, outcome.result, settings().backlinks)
    session.commit()
    send_pending_alerts(settings(), app_state().sessionmaker)
    result = outcome.result
    summary = terms.status_label(backlink) if result.is_live else result.status.capitalize()
    problems = f" Problems: {', '.join(result.problems)}." if result.problems else ""
    failing = terms.failing_label(backlink)
    if failing:
        rules = settings().backlinks
        failing = (f" The link is {failing}; it is called lost after {rules.lost_after_failures} failed checks "
                   f"over at least {rules.lost_after_hours} hours.")
    flash(f"{summary}: HTTP {result.http_status or result.error}.{problems}{failing}",
          "success" if backlink.status == "live" and not result.problems else "warning")
    return redirect(_safe_next() or url_for("backlinks.detail", backlink_id=backlink_id))


def _safe_next() -> str | None:
    return safe_next(request.form.get("next"))


@bp.route("/backlinks/<int:backlink_id>/pause", methods=["POST"])
@staff_required
def pause(backlink_id: int) -> Response:
    backlink = _backlink_or_404(backlink_id, edit=True)
    paused = request.form.get("paused") == "1"
    service.set_paused(db_session(), backlink, paused, actor=current_user)
    db_session().commit()
    flash("Checks paused." if paused else "Checks resumed.", "success")
    return redirect(url_for("backlinks.detail", backlink_id=backlink.id))


@bp.route("/backlinks/import", methods=["GET", "POST"])
@staff_required
def import_csv() -> str | Response:
    form = ImportForm()
    _fill_choices(form)
    if request.method == "GET":
        campaign = db_session().get(Campaign, request.args.get("campaign_id", type=int) or 0)
        if campaign is not None:
            form.campaign_id.data, form.client_id.data = campaign.id, campaign.client_id
    errors: list[tuple[int, str]] = []
    if form.validate_on_submit():
        upload = request.files.get("file")
        raw = upload.read() if upload and upload.filename else (form.text.data or "").encode()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("cp1252", errors="replace")
        session = db_session()
        if not text.strip():
            form.text.errors = ["choose a CSV file or paste its content"]
        else:
            try:
                report = service.import_csv(session, text, client_id=form.client_id.data,
                                            campaign_id=form.campaign_id.data or None, actor=current_user)
            except service.BacklinkError as exc:
                form.client_id.errors = [str(exc)]
            else:
                if report.errors:
                    session.rollback()
                    errors = report.errors
                else:
                    session.commit()
                    flash(f"Imported {len(report.created)} links. They are checked within a minute.", "success")
                    if form.campaign_id.data:
                        return redirect(url_for("backlinks.campaign_links", campaign_id=form.campaign_id.data))
                    return redirect(url_for("backlinks.ledger"))
    return render_template("backlinks/import.html", form=form, errors=errors, columns=service.CSV_COLUMNS)
