"""/api/v1 review queue: first emails a campaign holds until a teammate has personalised and approved them.

Staff and personalisers (a personaliser's token reaches nothing else); the views call the service the web pages call
(outreach.mail.review), and what they answer is described in openapi_mail.py.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, request, url_for

from outreach.accounts import permissions
from outreach.api.common import _body, _commit, _paginate, _user
from outreach.api.errors import ApiError, forbidden, not_found
from outreach.api.inputs import MAX_ID, query_int
from outreach.api.serialize import when
from outreach.mail import review
from outreach.mail.mailboxes import MailError
from outreach.models.mail import Message
from outreach.web.state import db_session, settings

bp = Blueprint("review", __name__)  # nested in the /api/v1 blueprint (api/views.py)


@bp.before_request
def _reviewers_only() -> None:
    if not permissions.can_review(_user()):
        raise forbidden("client-viewers do not review emails")


def review_json(m: Message) -> dict[str, Any]:
    prospect = m.prospect
    return {"id": m.id, "campaign_id": m.campaign_id, "prospect_id": m.prospect_id, "site": prospect.site.domain,
            "page_url": prospect.page_url, "to_email": m.to_email, "to_name": m.to_name, "from_email": m.from_email,
            "subject": m.subject, "body_text": m.body_text, "body_html": m.body_html, "send_at": when(m.send_at),
            "status": m.status, "is_awaiting_review": review.is_awaiting(db_session(), m),
            "edited_at": when(m.edited_at), "approved_at": when(m.approved_at),
            "approved_by": m.approved_by.display_name if m.approved_by else None,
            "url": url_for("api.review.get_review", message_id=m.id, _external=True)}


def _message(message_id: int) -> Message:
    found = review.review_item(db_session(), message_id) if message_id <= MAX_ID else None
    if found is None:
        raise not_found("first email to review")
    return found


def _refused(exc: MailError) -> ApiError:
    if isinstance(exc, review.ReviewConflict):
        return ApiError(409, "conflict", str(exc))
    extra = {k: v for k, v in (("line", exc.line), ("suggestion", exc.suggestion)) if v is not None}
    return ApiError(422, "invalid", str(exc), exc.field or "body", extra)


@bp.get("/review")
def list_reviews() -> dict[str, Any]:
    """First emails waiting for review, the soonest due first (`campaign_id` narrows to one campaign)."""
    return _paginate(review.queue_query(query_int(request.args, "campaign_id")), review_json)


@bp.get("/review/<int:message_id>")
def get_review(message_id: int) -> dict[str, Any]:
    return review_json(_message(message_id))


@bp.patch("/review/<int:message_id>")
def edit_review(message_id: int) -> dict[str, Any]:
    """Personalise a waiting first email for its prospect (checked like a template; kept on the timeline)."""
    message = _message(message_id)
    body = _body("subject", "body_text", "body_html")
    edit = review.Edit(body.string("subject", default=message.subject, max_length=500),
                       body.string("body_text", default=message.body_text, max_length=20000),
                       body.optional_string("body_html", max_length=20000))
    session = db_session()
    try:
        review.edit_message(session, message, edit, _user(), settings())
    except MailError as exc:
        session.rollback()
        raise _refused(exc) from None
    _commit()
    return review_json(message)


@bp.post("/review/<int:message_id>/approve")
def approve_review(message_id: int) -> dict[str, Any]:
    """Let a waiting first email go at its time; 409 if it no longer waits (approved by someone else, sent...)."""
    message = _message(message_id)
    session = db_session()
    try:
        review.approve(session, message, _user())
    except MailError as exc:
        session.rollback()
        raise _refused(exc) from None
    _commit()
    return review_json(message)


@bp.post("/review/approve")
def approve_reviews() -> dict[str, Any]:
    """Approve several waiting first emails; each id left out comes back with the reason."""
    ids = _body("ids").ids("ids", max_items=review.BULK_LIMIT)
    result = review.approve_many(db_session(), ids, _user())
    _commit()
    return {"approved": [m.id for m in result.approved],
            "refused": [{"id": message_id, "reason": reason} for message_id, reason in result.refused]}
