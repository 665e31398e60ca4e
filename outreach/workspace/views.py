"""The admin's Settings tab: what the team decides for itself in the app."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import BooleanField

from outreach.web.auth import admin_required
from outreach.web.state import db_session, settings
from outreach.workspace import service

bp = Blueprint("workspace", __name__)


class WorkspaceForm(FlaskForm):
    catch_all_probe = BooleanField("Probe mail servers for catch-all domains")


@bp.route("/settings", methods=["GET", "POST"])
@admin_required
def index() -> str | Response:
    session = db_session()
    current = service.effective(session, settings())
    # a posted form is read as sent: an unticked box sends nothing
    form = WorkspaceForm(catch_all_probe=current.catch_all_probe) if request.method == "GET" else WorkspaceForm()
    if form.validate_on_submit():
        service.set_catch_all_probe(session, current_user, bool(form.catch_all_probe.data))
        session.commit()
        flash("Catch-all probe " + ("on: contact checks ask each domain's mail server about a made-up address."
                                    if form.catch_all_probe.data else "off."), "success")
        return redirect(url_for("workspace.index"))
    return render_template("workspace/settings.html", form=form, current=current, dns=settings().dns)
