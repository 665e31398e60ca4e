"""The global do-not-contact list: domains and addresses nobody may contact without an override."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from outreach.campaigns import contact_rules, listing, service
from outreach.models import Suppression, User
from outreach.web.auth import staff_required
from outreach.web.state import db_session

bp = Blueprint("dnc", __name__)

REASON_LABELS = {"manual": "Added by hand", "unsubscribed": "Unsubscribed", "bounced": "Bounced",
                 "complained": "Marked as spam"}


@bp.route("/do-not-contact", methods=["GET", "POST"])
@staff_required
def index() -> str | Response:
    session = db_session()
    error = None
    value = note = ""
    if request.method == "POST":
        value, note = request.form.get("value", ""), request.form.get("note", "")
        try:
            added = contact_rules.add_suppression(session, value, note=note, actor=current_user)
        except service.CampaignError as exc:
            error = str(exc)
        else:
            session.commit()
            flash(f"{added.value} is on the do-not-contact list.", "success")
            return redirect(url_for("dnc.index"))
    f = listing.parse_filters(request.args, sorts=["value", "created"], default_sort="created", default_desc=True)
    reason = request.args.get("reason", "")
    kind = request.args.get("kind", "")
    query = contact_rules.suppressions_query(
        search=f.q or None, reason=reason if reason in REASON_LABELS else None,
        kind=kind if kind in ("domain", "email") else None, sort=f.sort, descending=f.desc)
    page = listing.paginate(session, query, f)
    user_ids = {s.created_by_id for s in page.items if s.created_by_id}
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(user_ids)))} if user_ids else {}
    return render_template("campaigns/dnc.html", page=page, f=f, error=error, value=value, note=note,
                           reason=reason, kind=kind, reasons=REASON_LABELS, users=users)


def _suppression_or_404(suppression_id: int) -> Suppression:
    suppression = db_session().get(Suppression, suppression_id)
    if suppression is None:
        abort(404)
    return suppression


@bp.post("/do-not-contact/<int:suppression_id>/note")
@staff_required
def update(suppression_id: int) -> Response:
    suppression = _suppression_or_404(suppression_id)
    session = db_session()
    contact_rules.update_suppression(session, suppression, note=request.form.get("note", ""), actor=current_user)
    session.commit()
    flash(f"Note saved for {suppression.value}.", "success")
    return redirect(url_for("dnc.index"))


@bp.post("/do-not-contact/<int:suppression_id>/remove")
@staff_required
def remove(suppression_id: int) -> Response:
    suppression = _suppression_or_404(suppression_id)
    session = db_session()
    value = suppression.value
    contact_rules.remove_suppression(session, suppression, actor=current_user)
    session.commit()
    flash(f"{value} removed from the do-not-contact list; it can be contacted again.", "success")
    return redirect(url_for("dnc.index"))
