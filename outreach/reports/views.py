"""Client reports in the app, as CSV and PDF, and behind signed read-only links opened without an account."""
from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from outreach.accounts import permissions
from outreach.backlinks.service import BacklinkError, client_settings, set_client_settings
from outreach.lib.clock import utcnow
from outreach.models import Campaign, Client, ReportShare
from outreach.reports import service
from outreach.web.auth import record_or_404, staff_required
from outreach.web.ids import parse_id
from outreach.web.state import db_session, settings

bp = Blueprint("reports", __name__)


@bp.route("/reports")
@login_required
def index() -> str | Response:
    if not permissions.is_staff(current_user):
        return redirect(url_for("reports.client_report", client_id=current_user.client_id))
    clients = db_session().scalars(select(Client).order_by(Client.name)).all()
    return render_template("reports/index.html", clients=clients)


def _client_or_404(client_id: int) -> Client:
    return record_or_404(db_session().get(Client, client_id))


def _campaign_id(raw: str | None) -> int | None:
    """None for "all campaigns"; a value that cannot be a campaign's id is a 404, not a database error."""
    if not (raw or "").strip():
        return None
    return parse_id(raw) or abort(404)


def _campaign_of(client: Client, campaign_id: int | None) -> Campaign | None:
    if not campaign_id:
        return None
    campaign = db_session().get(Campaign, campaign_id)
    if campaign is None or campaign.client_id != client.id:
        abort(404)
    return campaign


def _shows_prices(client: Client, *, in_app: bool) -> bool:
    """The team sees prices in the app; downloads and shared links are what the client gets."""
    return permissions.report_shows_prices(current_user if in_app else None,
                                           client_settings(db_session(), client.id).is_costs_in_report)


def _report_from_args(client: Client, *, in_app: bool = False) -> tuple[service.Report, str | None]:
    campaign = _campaign_of(client, _campaign_id(request.args.get("campaign")))
    show_costs = _shows_prices(client, in_app=in_app)
    try:
        start, end = service.parse_range(request.args.get("from"), request.args.get("to"))
    except service.ReportError as exc:
        start, end = service.parse_range(None, None)
        report = service.build_report(db_session(), client, campaign=campaign, date_from=start, date_to=end,
                                      show_costs=show_costs)
        return report, str(exc)
    return service.build_report(db_session(), client, campaign=campaign, date_from=start, date_to=end,
                                show_costs=show_costs), None


def _args(report: service.Report) -> dict[str, object]:
    args: dict[str, object] = {"from": report.date_from.isoformat(), "to": report.date_to.isoformat()}
    if report.campaign:
        args["campaign"] = report.campaign.id
    return args


@bp.route("/reports/clients/<int:client_id>")
@login_required
def client_report(client_id: int) -> str:
    client = _client_or_404(client_id)
    report, error = _report_from_args(client, in_app=True)
    if error:
        flash(f"{error}; showing the last 90 days instead.", "error")
    campaigns = db_session().scalars(select(Campaign).where(Campaign.client_id == client.id)
                                     .order_by(Campaign.name)).all()
    shares = []
    if permissions.can_change(current_user, client):
        shares = db_session().scalars(select(ReportShare).where(ReportShare.client_id == client.id)
                                      .order_by(ReportShare.id.desc()).limit(20)).all()
    secret = current_app.config["SECRET_KEY"]
    share_urls = {s.id: url_for("reports.shared", token=service.share_token(s, secret), _external=True)
                  for s in shares}

    return render_template("reports/report.html", client=client, report=report, campaigns=campaigns,
                           args=_args(report), shares=shares, share_urls=share_urls, now=utcnow(),
                           link_settings=client_settings(db_session(), client.id),
                           default_days=settings().backlinks.live_check_days)


@bp.route("/reports/clients/<int:client_id>/report.csv")
@login_required
def client_csv(client_id: int) -> Response:
    report, _ = _report_from_args(_client_or_404(client_id))
    return _csv_response(report)


@bp.route("/reports/clients/<int:client_id>/report.pdf")
@login_required
def client_pdf(client_id: int) -> Response:
    report, _ = _report_from_args(_client_or_404(client_id))
    return _pdf_response(report)


def _filename(report: service.Report, ext: str) -> str:
    # ASCII only: a header must be Latin-1 for WSGI, and "日本" passed isalnum() (a 500 under waitress)
    base = "".join(ch if ch.isascii() and ch.isalnum() else "-" for ch in report.client.name.lower()).strip("-")
    base = "-".join(part for part in base.split("-") if part) or "client"
    return f"links-{base}-{report.date_from}-{report.date_to}.{ext}"


def _csv_response(report: service.Report) -> Response:
    return Response(service.report_csv(report), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{_filename(report, "csv")}"'})


def _pdf_response(report: service.Report) -> Response:
    try:
        pdf = service.render_pdf(report)
    except service.PdfUnavailable as exc:
        return Response(str(exc) + "\n", status=503, mimetype="text/plain")
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{_filename(report, "pdf")}"'})


@bp.route("/reports/clients/<int:client_id>/shares", methods=["POST"])
@staff_required
def create_share(client_id: int) -> Response:
    client = _client_or_404(client_id)
    campaign = _campaign_of(client, _campaign_id(request.form.get("campaign")))
    session = db_session()
    try:
        start, end = service.parse_range(request.form.get("from"), request.form.get("to"))
        share = service.create_share(session, client, campaign=campaign, date_from=start, date_to=end,
                                     days_valid=request.form.get("days", type=int) or 0, actor=current_user)
    except service.ReportError as exc:
        flash(str(exc), "error")
        return redirect(url_for("reports.client_report", client_id=client.id))
    session.commit()
    flash(f"Shareable link created; it works until {share.expires_at:%Y-%m-%d %H:%M} UTC unless you revoke it.",
          "success")
    return redirect(url_for("reports.client_report", client_id=client.id, **_share_args(share)) + "#shares")


def _share_args(share: ReportShare) -> dict[str, object]:
    args: dict[str, object] = {"from": share.date_from.isoformat(), "to": share.date_to.isoformat()}
    if share.campaign_id:
        args["campaign"] = share.campaign_id
    return args


@bp.route("/reports/clients/<int:client_id>/settings", methods=["POST"])
@staff_required
def link_settings(client_id: int) -> Response:
    client = _client_or_404(client_id)
    try:
        set_client_settings(db_session(), client.id, live_check_days=request.form.get("live_check_days"),
                            is_monthly_report=request.form.get("is_monthly_report") == "1",
                            is_costs_in_report=request.form.get("is_costs_in_report") == "1", actor=current_user)
    except BacklinkError as exc:
        flash(str(exc), "error")
    else:
        db_session().commit()
        flash("Monitoring settings saved.", "success")
    return redirect(url_for("reports.client_report", client_id=client.id) + "#settings")


@bp.route("/reports/shares/<int:share_id>/revoke", methods=["POST"])
@staff_required
def revoke_share(share_id: int) -> Response:
    share = db_session().get(ReportShare, share_id)
    if share is None:
        abort(404)
    service.revoke_share(db_session(), share, current_user)
    db_session().commit()
    flash("Link revoked: it no longer opens the report.", "success")
    return redirect(url_for("reports.client_report", client_id=share.client_id) + "#shares")


# --- the shared link: no account, read-only ----------------------------------------------------------

def _shared_report(token: str) -> service.Report:
    session = db_session()
    share = service.share_from_token(session, token, current_app.config["SECRET_KEY"])
    if share is None:
        abort(404)
    share.open_count += 1
    share.last_opened_at = utcnow()
    report = service.build_report(session, share.client, campaign=share.campaign, date_from=share.date_from,
                                  date_to=share.date_to, show_costs=permissions.report_shows_prices(
                                      None, client_settings(session, share.client_id).is_costs_in_report))
    session.commit()
    return report


def _private(response: Response) -> Response:
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


@bp.route("/r/<token>")
def shared(token: str) -> Response:
    report = _shared_report(token)
    links = {"PDF": url_for("reports.shared_pdf", token=token), "CSV": url_for("reports.shared_csv", token=token)}
    return _private(Response(service.render_standalone(report, links=links), mimetype="text/html"))


@bp.route("/r/<token>/report.pdf")
def shared_pdf(token: str) -> Response:
    return _private(_pdf_response(_shared_report(token)))


@bp.route("/r/<token>/report.csv")
def shared_csv(token: str) -> Response:
    return _private(_csv_response(_shared_report(token)))
