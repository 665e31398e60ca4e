"""/api/v1 do-not-contact list: list, add (by hand), change the note, remove; staff only, as on the web.

Entries made by an unsubscribe, a bounce or a complaint are listed with that reason; the API adds only by hand,
through the same contact_rules functions as the Do not contact page.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request, url_for
from sqlalchemy import select

from outreach.api.common import _body, _commit, _created, _paginate, _require_internal, _user
from outreach.api.errors import bad_parameter, invalid, not_found
from outreach.api.inputs import MAX_ID, query_choice
from outreach.api.serialize import user_ref, when
from outreach.campaigns import contact_rules
from outreach.campaigns.errors import CampaignError
from outreach.models import Suppression, User
from outreach.web.state import db_session

bp = Blueprint("suppressions", __name__)  # nested in the /api/v1 blueprint (api/views.py)

KINDS = ("domain", "email")
SORTS = tuple(s for key in contact_rules.SUPPRESSION_SORTS for s in (key, f"-{key}"))


@bp.before_request
def _staff_only() -> None:
    _require_internal("the do-not-contact list")


def suppression_json(s: Suppression, users: dict[int, User] | None = None) -> dict[str, Any]:
    creator = (users or {}).get(s.created_by_id) if s.created_by_id else None
    if creator is None and s.created_by_id and users is None:
        creator = db_session().get(User, s.created_by_id)
    return {"id": s.id, "kind": s.kind, "value": s.value, "reason": s.reason, "note": s.note,
            "created_by": user_ref(creator), "created_at": when(s.created_at),
            "url": url_for("api.suppressions.get_suppression", suppression_id=s.id, _external=True)}


def _suppression(suppression_id: int) -> Suppression:
    found = db_session().get(Suppression, suppression_id) if suppression_id <= MAX_ID else None
    if found is None:
        raise not_found("do-not-contact entry")
    return found


@bp.get("/suppressions")
def list_suppressions() -> dict[str, Any]:
    search = request.args.get("search", "").strip()
    if len(search) > 200:
        raise bad_parameter("search", "search is longer than 200 characters")
    sort = query_choice(request.args, "sort", SORTS, default="-created") or "-created"
    query = contact_rules.suppressions_query(
        search=search or None, reason=query_choice(request.args, "reason", contact_rules.SUPPRESSION_REASONS),
        kind=query_choice(request.args, "kind", KINDS), sort=sort.lstrip("-"), descending=sort.startswith("-"))
    listing = _paginate(query, lambda s: s)
    ids = {s.created_by_id for s in listing["data"] if s.created_by_id}
    users = {u.id: u for u in db_session().scalars(select(User).where(User.id.in_(ids)))} if ids else {}
    listing["data"] = [suppression_json(s, users) for s in listing["data"]]
    return listing


@bp.post("/suppressions")
def add_suppression() -> tuple[Response, int, dict[str, str]]:
    body = _body("value", "kind", "note")
    kind = body.string("kind", max_length=10)
    if kind and kind not in KINDS:
        raise invalid("kind", f"kind must be one of: {', '.join(KINDS)} (or left out to guess from an '@')")
    try:
        added = contact_rules.add_suppression(db_session(), body.string("value", required=True, max_length=320),
                                              kind=kind, note=body.string("note", max_length=500), actor=_user())
    except CampaignError as exc:
        db_session().rollback()
        raise invalid(exc.field or "value", str(exc)) from None
    _commit()
    return _created(suppression_json(added))


@bp.get("/suppressions/<int:suppression_id>")
def get_suppression(suppression_id: int) -> dict[str, Any]:
    return suppression_json(_suppression(suppression_id))


@bp.patch("/suppressions/<int:suppression_id>")
def update_suppression(suppression_id: int) -> dict[str, Any]:
    suppression = _suppression(suppression_id)
    body = _body("note")
    contact_rules.update_suppression(db_session(), suppression, note=body.string("note", required=False,
                                                                                 max_length=500), actor=_user())
    _commit()
    return suppression_json(suppression)


@bp.delete("/suppressions/<int:suppression_id>")
def remove_suppression(suppression_id: int) -> tuple[str, int]:
    """Take an entry off the list: the domain or address may be contacted again."""
    contact_rules.remove_suppression(db_session(), _suppression(suppression_id), actor=_user())
    _commit()
    return "", 204
