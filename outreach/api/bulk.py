"""/api/v1 bulk prospect creation: up to 1,000 prospects in one request and one transaction, refused row by row."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for

from outreach.api.common import _campaign, _commit, _user
from outreach.api.errors import ApiError, invalid
from outreach.api.inputs import Body
from outreach.campaigns.bulk_prospects import MAX_ROWS, BulkResult, ProspectRow, RowError, add_prospects
from outreach.web.state import db_session

bp = Blueprint("bulk", __name__)  # nested in the /api/v1 blueprint (api/views.py)

ROW_FIELDS = ("url", "email", "contact_name", "metrics", "owner_id", "override_reason")


def _row(index: int, item: Any) -> ProspectRow:
    """One item of the request as a ProspectRow; ApiError naming the field when a value has the wrong type."""
    body = Body(item, ROW_FIELDS)
    return ProspectRow(index=index, url=body.string("url", required=True, max_length=2000),
                       email=body.optional_string("email", max_length=320),
                       contact_name=body.string("contact_name", max_length=200), metrics=body.metrics("metrics"),
                       owner_id=body.integer("owner_id"),
                       override_reason=body.optional_string("override_reason", max_length=500))


def _error_json(error: RowError) -> dict[str, Any]:
    return {"index": error.index, "field": error.field, "message": error.message,
            "conflicts": [{"reason": c.reason, "message": c.message, "campaign_id": c.campaign_id}
                          for c in error.conflicts]}


def _result_json(result: BulkResult, total: int) -> dict[str, Any]:
    return {"created": [{"index": index, "id": prospect_id,
                         "url": url_for("api.get_prospect", prospect_id=prospect_id, _external=True)}
                        for index, prospect_id in result.created],
            "errors": [_error_json(e) for e in result.errors],
            "meta": {"received": total, "created": len(result.created), "refused": len(result.errors)}}


@bp.post("/campaigns/<int:campaign_id>/prospects/bulk")
def create_prospects(campaign_id: int) -> tuple[Response, int]:
    """Add many prospects; each refused one says why (index, field, message). With all_or_none, any refusal
    creates nothing. 201 when any was created; 422 when none was."""
    campaign = _campaign(campaign_id, edit=True)
    body = Body(request.get_json(force=True, silent=True), ("prospects", "all_or_none"))
    items = body.data.get("prospects")
    if not isinstance(items, list) or not items:
        raise invalid("prospects", "prospects must be a non-empty list of objects")
    if len(items) > MAX_ROWS:
        raise invalid("prospects", f"at most {MAX_ROWS:,} prospects per request (got {len(items):,})")
    all_or_none = body.boolean("all_or_none", default=False)
    rows, errors = [], []
    for index, item in enumerate(items):
        try:
            rows.append(_row(index, item))
        except ApiError as exc:
            errors.append(RowError(index, exc.field, exc.message))
    result = BulkResult()
    if rows and not (all_or_none and errors):
        result = add_prospects(db_session(), campaign, rows, actor=_user(), all_or_none=all_or_none)
    result.errors = sorted(errors + result.errors, key=lambda e: e.index)
    if all_or_none and result.errors:
        db_session().rollback()
        result.created = []
    if not result.created:
        db_session().rollback()
        refused = len(result.errors)
        raise ApiError(422, "invalid", f"no prospect was created: {refused} of {len(items)} refused "
                                       f"(first: item {result.errors[0].index}: {result.errors[0].message})",
                       "prospects", {"rows": [_error_json(e) for e in result.errors]})
    _commit()
    return jsonify(_result_json(result, len(items))), 201
