"""The review queue: first emails a campaign holds until a teammate has personalised and approved them.

A blueprint nested in the mail blueprint (its endpoints are mail.review.*), open to staff and personalisers; the
service (outreach.mail.review) says which messages a reviewer may open, and checks each one again when it changes.
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from outreach.accounts import permissions
from outreach.lib.ids import chosen_id
from outreach.mail import review
from outreach.mail.forms import ReviewForm
from outreach.mail.mailboxes import MailError
from outreach.models import Campaign
from outreach.models.mail import Message
from outreach.web.auth import requires
from outreach.web.forms import error_next_to_field
from outreach.web.redirects import safe_next
from outreach.web.state import db_session, settings

bp = Blueprint("review", __name__)

reviewer_required = requires(permissions.can_review)


@bp.app_template_global()
def review_waiting(campaign_id: int | None = None) -> int:
    """First emails (of the campaign) waiting for review: the count beside its Outreach tab, on the Mail page."""
    return review.awaiting_count(db_session(), campaign_id)


def _message_or_404(message_id: int) -> Message:
    message = review.review_item(db_session(), message_id)
    if message is None:
        abort(404)
    return message


@bp.route("/review")
@reviewer_required
def queue() -> str:
    session = db_session()
    campaign_id = chosen_id(request.args.get("campaign_id"))
    counts = review.awaiting_counts(session)
    campaigns = {c.id: c for c in session.scalars(select(Campaign).where(Campaign.id.in_(list(counts))))}
    messages = session.scalars(review.queue_query(campaign_id).limit(review.BULK_LIMIT)).all()
    return render_template("mail/review_queue.html", messages=messages, counts=counts, campaigns=campaigns,
                           campaign_id=campaign_id, total=sum(counts.values()))


@bp.route("/review/<int:message_id>", methods=["GET", "POST"])
@reviewer_required
def message(message_id: int) -> str | Response:
    session = db_session()
    found = _message_or_404(message_id)
    awaiting = review.is_awaiting(session, found)
    form = ReviewForm(obj=found if request.method == "GET" else None)
    if awaiting and form.validate_on_submit():
        edit = review.Edit(form.subject.data or "", form.body_text.data or "",
                           form.body_html.data or "" if found.body_html else None)
        try:
            review.edit_message(session, found, edit, current_user, settings())
            if request.form.get("action") == "approve":
                review.approve(session, found, current_user)
        except review.ReviewConflict as exc:
            session.rollback()
            flash(f"{exc}.", "error")
            return redirect(url_for("mail.review.message", message_id=message_id))
        except MailError as exc:
            session.rollback()
            error_next_to_field(form, exc, "body_text")
        else:
            session.commit()
            if found.approved_at is not None:
                flash(f"Approved the email to {found.to_email}.", "success")
                return redirect(url_for("mail.review.queue", campaign_id=found.campaign_id))
            flash("Saved. It still waits for approval.", "success")
            return redirect(url_for("mail.review.message", message_id=message_id))
    return render_template("mail/review_message.html", message=found, form=form, awaiting=awaiting,
                           staff=permissions.is_staff(current_user))


@bp.route("/review/approve", methods=["POST"])
@reviewer_required
def approve() -> Response:
    """Approve the chosen first emails (one from its page, or the rows selected in the queue)."""
    ids = [int(v) for v in request.form.getlist("ids") if v.isdigit() and len(v) < 12][:review.BULK_LIMIT]
    back = safe_next(request.form.get("next")) or url_for("mail.review.queue")
    if not ids:
        flash("Select the emails to approve first.", "error")
        return redirect(back)
    session = db_session()
    result = review.approve_many(session, ids, current_user)
    session.commit()
    if result.approved:
        flash(f"Approved {len(result.approved)} email(s): each goes at its time, as the mailbox allows.", "success")
    for message_id, reason in result.refused[:5]:
        flash(f"Not approved (email {message_id}): {reason}.", "error")
    return redirect(back)
