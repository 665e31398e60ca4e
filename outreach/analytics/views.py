"""The referral traffic page of a client: import an analytics export, connect a Plausible or Matomo, pull now."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from outreach.analytics import connections, service
from outreach.analytics.forms import ConnectionForm, EditConnectionForm, ImportTrafficForm
from outreach.analytics.rows import BadAnalyticsFile
from outreach.models import AnalyticsConnection, Backlink, Client
from outreach.web.auth import record_or_404, staff_required
from outreach.web.forms import error_next_to_field
from outreach.web.state import app_state, db_session, settings

bp = Blueprint("analytics", __name__)


def _client(client_id: int) -> Client:
    return record_or_404(db_session().get(Client, client_id), edit=True)


def _connection(connection_id: int) -> AnalyticsConnection:
    return record_or_404(db_session().get(AnalyticsConnection, connection_id), edit=True)


def _page(client: Client, import_form: ImportTrafficForm | None = None,
          connect_form: ConnectionForm | None = None) -> str:
    session = db_session()
    links = list(session.scalars(select(Backlink).where(Backlink.client_id == client.id)))
    found = session.scalars(select(AnalyticsConnection).where(AnalyticsConnection.client_id == client.id)
                            .order_by(AnalyticsConnection.id)).all()
    return render_template("analytics/client.html", client=client, import_form=import_form or ImportTrafficForm(),
                           connect_form=connect_form or ConnectionForm(), connections=found,
                           edit_forms={c.id: EditConnectionForm(base_url=c.base_url, site_id=c.site_id)
                                       for c in found},
                           coverage=service.coverage(session, client.id), traffic=service.recent(session, links),
                           labels=service.SOURCE_LABELS, kinds=connections.KIND_LABELS)


@bp.route("/clients/<int:client_id>/traffic")
@staff_required
def client_traffic(client_id: int) -> str:
    return _page(_client(client_id))


def _month(text: str) -> date | None:
    text = text.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text[:7] + "-01")
    except ValueError:
        raise BadAnalyticsFile(f"month {text!r} is not like 2026-10") from None


@bp.route("/clients/<int:client_id>/traffic/import", methods=["POST"])
@staff_required
def import_traffic(client_id: int) -> str | Response:
    client = _client(client_id)
    form = ImportTrafficForm()
    upload = request.files.get("file")
    if not form.validate_on_submit():
        return _page(client, import_form=form), 400
    if upload is None or not upload.filename:
        form.file.errors = ["choose the export file"]
        return _page(client, import_form=form), 400
    session = db_session()
    try:
        summary = service.import_file(session, client, upload.read(service.MAX_FILE_BYTES + 1),
                                      filename=upload.filename, source=form.source.data or "",
                                      month=_month(form.month.data or ""), actor=current_user)
    except BadAnalyticsFile as exc:
        session.rollback()
        form.file.errors = [f"Nothing was imported: {exc}"]
        return _page(client, import_form=form), 400
    session.commit()
    months = ", ".join(f"{m:%b %Y}" for m in summary.months)
    flash(f"Imported {service.SOURCE_LABELS[summary.source]} figures for {months}: {summary.referrers} referring "
          f"pages and sites, {summary.sessions:,} sessions ({summary.skipped} rows named no web page, such as "
          "direct visits or search engines).", "success")
    return redirect(url_for("analytics.client_traffic", client_id=client.id))


@bp.route("/clients/<int:client_id>/traffic/connections", methods=["POST"])
@staff_required
def connect(client_id: int) -> str | Response:
    client = _client(client_id)
    form = ConnectionForm()
    session = db_session()
    if form.validate_on_submit():
        try:
            connections.create_connection(session, app_state().secret_box, client, kind=form.kind.data,
                                          base_url=form.base_url.data or "", site_id=form.site_id.data or "",
                                          token=form.token.data or "", actor=current_user)
        except connections.BadConnection as exc:
            session.rollback()
            error_next_to_field(form, exc, "base_url")
        else:
            session.commit()
            flash("Connected. The figures of the last twelve months arrive within a few minutes, then every "
                  "month; use “Pull now” to fetch them at once.", "success")
            return redirect(url_for("analytics.client_traffic", client_id=client.id))
    return _page(client, connect_form=form), 400


@bp.route("/analytics/connections/<int:connection_id>/edit", methods=["POST"])
@staff_required
def edit_connection(connection_id: int) -> Response:
    connection = _connection(connection_id)
    form = EditConnectionForm()
    session = db_session()
    try:
        connections.update_connection(session, app_state().secret_box, connection,
                                      base_url=form.base_url.data or "", site_id=form.site_id.data or "",
                                      token=form.token.data or "", actor=current_user)
    except connections.BadConnection as exc:
        session.rollback()
        flash(str(exc), "error")
    else:
        session.commit()
        flash("Connection saved; it is pulled again within a few minutes.", "success")
    return redirect(url_for("analytics.client_traffic", client_id=connection.client_id))


@bp.route("/analytics/connections/<int:connection_id>/pull", methods=["POST"])
@staff_required
def pull(connection_id: int) -> Response:
    """Pull now, in the request (bounded by the fetch timeouts), claimed like the scheduled pull."""
    connection = _connection(connection_id)
    client_id = connection.client_id
    db_session().rollback()  # no transaction held open during the fetch
    state = app_state()
    outcome = connections.pull_now(settings(), state.sessionmaker, state.secret_box, connection_id)
    if outcome is None:
        flash("A pull of this connection is already running; its figures arrive when it is done.", "warning")
    elif outcome.error:
        flash(f"The pull failed: {outcome.error}", "error")
    elif outcome.summary is not None and not outcome.summary.months:
        flash("Nothing to pull: every complete month is already stored.", "success")
    elif outcome.summary is not None:
        months = ", ".join(f"{m:%b %Y}" for m in outcome.summary.months)
        flash(f"Pulled {months}: {outcome.summary.referrers} referring pages and sites, "
              f"{outcome.summary.sessions:,} sessions.", "success")
    return redirect(url_for("analytics.client_traffic", client_id=client_id))


@bp.route("/analytics/connections/<int:connection_id>/delete", methods=["POST"])
@staff_required
def disconnect(connection_id: int) -> Response:
    connection = _connection(connection_id)
    client_id = connection.client_id
    connections.delete_connection(db_session(), connection, current_user)
    db_session().commit()
    flash("Disconnected. The figures already stored stay.", "success")
    return redirect(url_for("analytics.client_traffic", client_id=client_id))


