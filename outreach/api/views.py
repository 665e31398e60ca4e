"""The /api/v1 blueprint: token auth, JSON errors, and thin views over the campaign services."""
from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request, url_for
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

from outreach.accounts import permissions
from outreach.accounts.service import user_for_token
from outreach.api import (
    backlinks,
    bulk,
    discovery,
    mail,
    notifications,
    queries,
    review,
    suppressions,
    webhooks,
    workspace,
)
from outreach.api import serialize as out
from outreach.api.common import (
    _body,
    _campaign,
    _client,
    _client_json,
    _commit,
    _created,
    _listing,
    _paginate,
    _prospect,
    _prospect_json,
    _require_internal,
    _require_staff,
    _user,
)
from outreach.api.errors import ApiError, bad_parameter, forbidden, invalid, not_found
from outreach.api.inputs import (
    MAX_ID,
    Body,
    check_query,
    query_choice,
    query_int,
)
from outreach.api.openapi import build_spec
from outreach.campaigns import contact_rules, opportunity_context, prospect_query, service
from outreach.models import STAGES, Contact, Prospect, User
from outreach.models.campaigns import CAMPAIGN_KINDS, CAMPAIGN_STATUSES
from outreach.web.state import db_session, settings

log = logging.getLogger(__name__)

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# the other parts' endpoints (api.discovery.*, api.backlinks.*, api.notifications.*, api.mail.*,
# api.review.*, api.suppressions.*, api.bulk.*, api.webhooks.*, api.workspace.*), behind the same token check and
# error handlers
bp.register_blueprint(discovery.bp)
bp.register_blueprint(backlinks.bp)
bp.register_blueprint(notifications.bp)
bp.register_blueprint(mail.bp)
bp.register_blueprint(review.bp)
bp.register_blueprint(suppressions.bp)
bp.register_blueprint(bulk.bp)
bp.register_blueprint(webhooks.bp)
bp.register_blueprint(workspace.bp)

CONTACT_STATUSES = ("unchecked", "valid", "invalid", "unknown")


# --- authentication and errors -----------------------------------------------------------------

@bp.before_request
def _authenticate() -> None:
    """Every endpoint but the OpenAPI document needs `Authorization: Bearer <token>`; cookies are ignored."""
    if request.endpoint == "api.openapi":
        return
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise ApiError(401, "unauthorized",
                       "send an API token as 'Authorization: Bearer <token>' (create one on your account page)")
    session = db_session()
    user = user_for_token(session, secret.strip())
    if user is None:
        raise ApiError(401, "unauthorized", "the API token is unknown, revoked or its user is deactivated")
    g.api_user = user
    if permissions.is_personaliser(user) and not permissions.personaliser_may_open(request.endpoint, request.blueprint):
        raise forbidden("a personaliser may only use the review queue (/api/v1/review)")
    check_query(request.args)


def _error_response(error: ApiError) -> Response:
    response = jsonify(error.body())
    response.status_code = error.status
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="outreach"'
    return response


@bp.errorhandler(ApiError)
def _api_error(error: ApiError) -> Response:
    return _error_response(error)


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Response:
    """Errors werkzeug raises inside a view (a body over the size limit, ...) in the API's shape."""
    code = (error.name or "error").lower().replace(" ", "_")
    return _error_response(ApiError(error.code or 500, code, error.description or error.name))


@bp.errorhandler(IntegrityError)
def _integrity_error(error: IntegrityError) -> Response:
    """A unique constraint caught what the service's check missed (a race, or case folding the database differs on)."""
    db_session().rollback()
    log.info("API write refused by a database constraint: %s", error.orig)
    return _error_response(ApiError(409, "conflict", "this clashes with an existing record; nothing was changed"))


@bp.errorhandler(Exception)
def _unexpected(error: Exception) -> Response:
    if current_app.testing:
        raise error
    log.exception("API request failed: %s %s", request.method, request.path)
    return _error_response(ApiError(500, "internal_error", "the server failed; the error is logged"))


def _service_error(exc: service.CampaignError) -> ApiError:
    return invalid(exc.field or "body", str(exc))


def _conflict_error(exc: contact_rules.ProspectConflict, what: str) -> ApiError:
    return ApiError(409, "conflict", f"{exc}; send override_reason to {what}", "override_reason",
                    {"conflicts": [{"reason": c.reason, "message": c.message, "campaign_id": c.campaign_id}
                                   for c in exc.conflicts]})


def _search() -> str | None:
    value = request.args.get("search", "").strip()
    if len(value) > 200:
        raise bad_parameter("search", "search is longer than 200 characters")
    return value or None


# --- the OpenAPI document ----------------------------------------------------------------------

@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(build_spec())


# --- clients -----------------------------------------------------------------------------------

@bp.get("/clients")
def list_clients() -> dict[str, Any]:
    return _paginate(queries.clients_query(_user(), _search()), _client_json)


@bp.post("/clients")
def create_client() -> tuple[Response, int, dict[str, str]]:
    _require_staff()
    body = _body("name", "website", "report_emails", "notes")
    try:
        client = service.create_client(
            db_session(), body.string("name", required=True, max_length=200),
            website=body.string("website", max_length=500),
            report_emails=", ".join(body.lines("report_emails").splitlines()),
            notes=body.string("notes"), actor=_user())
    except service.CampaignError as exc:
        raise _service_error(exc) from None
    _commit()
    return _created(_client_json(client))


@bp.get("/clients/<int:client_id>")
def get_client(client_id: int) -> dict[str, Any]:
    return _client_json(_client(client_id))


@bp.patch("/clients/<int:client_id>")
def update_client(client_id: int) -> dict[str, Any]:
    client = _client(client_id, edit=True)
    body = _body("name", "website", "report_emails", "notes")
    emails = ", ".join(body.lines("report_emails").splitlines()) if "report_emails" in body else client.report_emails
    try:
        service.update_client(db_session(), client, name=body.string("name", default=client.name, max_length=200),
                              website=body.string("website", default=client.website, max_length=500),
                              report_emails=emails, notes=body.string("notes", default=client.notes),
                              actor=_user())
    except service.CampaignError as exc:
        raise _service_error(exc) from None
    _commit()
    return _client_json(client)


# --- campaigns ---------------------------------------------------------------------------------

@bp.get("/campaigns")
def list_campaigns() -> dict[str, Any]:
    query = queries.campaigns_query(
        _user(), client_id=query_int(request.args, "client_id"),
        status=query_choice(request.args, "status", CAMPAIGN_STATUSES),
        kind=query_choice(request.args, "kind", CAMPAIGN_KINDS), search=_search())
    return _paginate(query, out.campaign)


@bp.post("/campaigns")
def create_campaign() -> tuple[Response, int, dict[str, str]]:
    _require_staff()
    body = _body("client_id", "name", "kind", "target_urls", "keywords", "owner_id")
    kind = body.string("kind", default="custom")
    try:
        campaign = service.create_campaign(
            db_session(), body.integer("client_id", required=True) or 0,
            body.string("name", required=True, max_length=200), kind=kind,
            target_urls=body.lines("target_urls"), keywords=body.lines("keywords"),
            owner_id=body.integer("owner_id"), actor=_user())
    except service.CampaignError as exc:
        raise _service_error(exc) from None
    _commit()
    return _created(out.campaign(campaign))


@bp.get("/campaigns/<int:campaign_id>")
def get_campaign(campaign_id: int) -> dict[str, Any]:
    return out.campaign(_campaign(campaign_id))


@bp.patch("/campaigns/<int:campaign_id>")
def update_campaign(campaign_id: int) -> dict[str, Any]:
    campaign = _campaign(campaign_id, edit=True)
    body = _body("name", "kind", "status", "target_urls", "keywords", "owner_id")
    try:
        service.update_campaign(
            db_session(), campaign, name=body.string("name", default=campaign.name, max_length=200),
            kind=body.string("kind", default=campaign.kind),
            target_urls=body.lines("target_urls") if "target_urls" in body else campaign.target_urls,
            keywords=body.lines("keywords") if "keywords" in body else campaign.keywords,
            owner_id=body.integer("owner_id") if "owner_id" in body else campaign.owner_id,
            status=body.optional_string("status"), actor=_user())
    except service.CampaignError as exc:
        raise _service_error(exc) from None
    _commit()
    return out.campaign(campaign)


# --- prospects ---------------------------------------------------------------------------------

def _prospect_filters(campaign_id: int | None) -> prospect_query.ProspectFilters:
    """The list's filters; the first bad parameter is a 400 naming it."""
    f = prospect_query.without_internal(_user(), prospect_query.parse_filters(
        request.args, default_per_page=settings().app.page_size))
    for name, message in f.errors.items():
        raise bad_parameter(name, message)
    if campaign_id is not None:
        f.campaign_id = campaign_id
    return f


def _prospect_page(f: prospect_query.ProspectFilters) -> dict[str, Any]:
    """A page of prospects, their opportunity contexts read in one query."""
    found = prospect_query.page(db_session(), _user(), f, with_campaign=False)  # the JSON names campaign_id
    contexts = opportunity_context.for_prospects(db_session(), found.items)
    return _listing(found, lambda p: out.prospect(p, _user(), contexts[p.id]))


@bp.get("/prospects")
def list_prospects() -> dict[str, Any]:
    return _prospect_page(_prospect_filters(None))


@bp.get("/campaigns/<int:campaign_id>/prospects")
def campaign_prospects(campaign_id: int) -> dict[str, Any]:
    campaign = _campaign(campaign_id)
    return _prospect_page(_prospect_filters(campaign.id))


@bp.post("/campaigns/<int:campaign_id>/prospects")
def create_prospect(campaign_id: int) -> tuple[Response, int, dict[str, str]]:
    campaign = _campaign(campaign_id, edit=True)
    body = _body("url", "email", "contact_name", "metrics", "owner_id", "override_reason", "tags")
    session = db_session()
    try:
        prospect = service.add_prospect(
            session, campaign, body.string("url", required=True, max_length=2000),
            email=body.optional_string("email", max_length=320),
            contact_name=body.string("contact_name", max_length=200), metrics=body.metrics("metrics"),
            actor=_user(), override_reason=body.optional_string("override_reason", max_length=500),
            owner_id=_owner_id(body))
        if "tags" in body:
            service.set_tags(session, prospect, body.string_list("tags"), _user())
    except contact_rules.ProspectConflict as exc:
        raise _conflict_error(exc, "add it anyway") from None
    except service.CampaignError as exc:
        raise _service_error(exc) from None
    _commit()
    return _created(_prospect_json(_prospect(prospect.id)))


def _owner_id(body: Body) -> int | None:
    """The owner_id field: a team member (admin or member), or null."""
    owner_id = body.integer("owner_id")
    if owner_id is not None:
        owner = db_session().get(User, owner_id)
        if owner is None or not permissions.is_staff(owner) or not owner.is_active:
            raise invalid("owner_id", "the owner must be an active team member (admin or member)")
    return owner_id


@bp.get("/prospects/<int:prospect_id>")
def get_prospect(prospect_id: int) -> dict[str, Any]:
    return _prospect_json(_prospect(prospect_id))


@bp.patch("/prospects/<int:prospect_id>")
def update_prospect(prospect_id: int) -> dict[str, Any]:
    prospect = _prospect(prospect_id, edit=True)
    body = _body("tags", "owner_id", "contact_email", "contact_name", "override_reason")
    session = db_session()
    try:
        if "tags" in body:
            service.set_tags(session, prospect, body.string_list("tags"), _user())
        if "owner_id" in body:
            service.assign_owner(session, prospect, _owner_id(body), _user())
        if "contact_email" in body:
            _set_contact(prospect, body)
        if "contact_name" in body:
            service.set_contact_name(session, prospect, body.optional_string("contact_name", max_length=200) or "",
                                     actor=_user())
    except contact_rules.ProspectConflict as exc:
        session.rollback()
        raise _conflict_error(exc, "use this address anyway") from None
    except service.CampaignError as exc:
        session.rollback()
        raise _service_error(exc) from None
    _commit()
    db_session().expire(prospect)  # reload the owner and tags relationships
    return _prospect_json(_prospect(prospect.id))


def _set_contact(prospect: Prospect, body: Any) -> None:
    email = body.string("contact_email", required=True, max_length=320)
    try:
        service.set_contact(db_session(), prospect, email, actor=_user(),
                            override_reason=body.optional_string("override_reason", max_length=500))
    except contact_rules.ProspectConflict:
        raise
    except service.CampaignError as exc:
        raise invalid("contact_email", str(exc)) from None


@bp.delete("/prospects/<int:prospect_id>")
def delete_prospect(prospect_id: int) -> tuple[str, int]:
    prospect = _prospect(prospect_id, edit=True)
    service.delete_prospects(db_session(), [prospect], _user())
    _commit()
    return "", 204


# --- stage changes, notes, timeline ------------------------------------------------------------

@bp.get("/prospects/<int:prospect_id>/stage-changes")
def list_stage_changes(prospect_id: int) -> dict[str, Any]:
    prospect = _prospect(prospect_id)
    return _paginate(queries.timeline_query(_user(), prospect.id, "stage"), lambda a: out.stage_change(a, _user()))


@bp.post("/prospects/<int:prospect_id>/stage-changes")
def change_stage(prospect_id: int) -> dict[str, Any]:
    prospect = _prospect(prospect_id, edit=True)
    body = _body("stage", "reason", "position")
    stage = body.string("stage", required=True, max_length=20)
    if stage not in STAGES:
        raise invalid("stage", f"unknown stage {stage!r} (expected one of: {', '.join(STAGES)})")
    try:
        changed = service.move_prospect(db_session(), prospect, stage, actor=_user(),
                                        position=body.number("position"),
                                        reason=body.string("reason", max_length=500).strip())
    except service.CampaignError as exc:
        raise _service_error(exc) from None
    _commit()
    return {"changed": changed, "prospect": _prospect_json(prospect)}


@bp.get("/prospects/<int:prospect_id>/timeline")
def timeline(prospect_id: int) -> dict[str, Any]:
    prospect = _prospect(prospect_id)
    kind = request.args.get("kind", "").strip()[:40] or None
    return _paginate(queries.timeline_query(_user(), prospect.id, kind), lambda a: out.activity(a, _user()))


@bp.post("/prospects/<int:prospect_id>/notes")
def add_note(prospect_id: int) -> tuple[Response, int]:
    prospect = _prospect(prospect_id, edit=True)
    body = _body("text")
    try:
        note = service.add_note(db_session(), prospect, body.string("text", required=True), _user())
    except service.CampaignError as exc:
        raise _service_error(exc) from None
    _commit()
    return jsonify(out.activity(note, _user())), 201


# --- contacts ----------------------------------------------------------------------------------

@bp.get("/contacts")
def list_contacts() -> dict[str, Any]:
    _require_internal("contact addresses")
    campaign_id = query_int(request.args, "campaign_id")
    domain = request.args.get("domain", "").strip()[:255] or None
    query = queries.contacts_query(_user(), campaign_id=campaign_id, search=_search(), domain=domain,
                                   status=query_choice(request.args, "status", CONTACT_STATUSES))
    return _paginate(query, out.contact)


@bp.get("/contacts/<int:contact_id>")
def get_contact(contact_id: int) -> dict[str, Any]:
    _require_internal("contact addresses")
    session = db_session()
    contact = session.scalar(select(Contact).where(Contact.id == contact_id)) if contact_id <= MAX_ID else None
    if contact is None or not queries.can_read_contact(session, _user(), contact.id):
        raise not_found("contact")
    return out.contact(contact)


# --- anything else under /api/v1 -----------------------------------------------------------------

@bp.route("/", defaults={"rest": ""}, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
@bp.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown(rest: str) -> Response:
    """A JSON 404 (or 405 when the path exists for other methods) instead of the HTML error page."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    allowed = []
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        try:
            endpoint, _args = adapter.match(method=method)
        except HTTPException:
            continue
        if endpoint != "api.unknown":
            allowed.append(method)
    if allowed:
        response = _error_response(ApiError(405, "method_not_allowed",
                                            f"{request.method} is not allowed here (use {', '.join(allowed)})"))
        response.headers["Allow"] = ", ".join(allowed)
        return response
    raise ApiError(404, "not_found", f"no API endpoint at {request.path} (the endpoints are listed in "
                                     f"{url_for('api.openapi', _external=True)})")

