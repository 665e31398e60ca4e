"""/api/v1 webhooks: admins register URLs for alerts and read each delivery's attempts and answers.

The signing secret is answered once, when a webhook is made or its secret rotated; it is stored encrypted.
"""
from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, request, url_for

from outreach.accounts import permissions
from outreach.api.common import _body, _commit, _created, _listing, _paginate, _user
from outreach.api.errors import ApiError, forbidden, invalid, not_found
from outreach.api.inputs import MAX_ID, Body, pagination, query_choice
from outreach.api.serialize import when
from outreach.lib.pages import paginate
from outreach.models.webhooks import DELIVERY_STATUSES, WEBHOOK_EVENTS, Webhook, WebhookAttempt, WebhookDelivery
from outreach.web.state import app_state, db_session, settings
from outreach.webhooks import service
from outreach.webhooks.delivery import fetch_settings

bp = Blueprint("webhooks", __name__)  # nested in the /api/v1 blueprint (api/views.py)


@bp.before_request
def _admins_only() -> None:
    if not permissions.is_admin(_user()):
        raise forbidden("webhooks are managed by admins")


def webhook_json(w: Webhook, secret: str | None = None) -> dict[str, Any]:
    found = {"id": w.id, "target_url": w.url, "description": w.description, "events": list(w.events or []),
             "is_active": w.is_active, "created_at": when(w.created_at), "updated_at": when(w.updated_at),
             "url": url_for("api.webhooks.get_webhook", webhook_id=w.id, _external=True),
             "deliveries_url": url_for("api.webhooks.list_deliveries", webhook_id=w.id, _external=True)}
    if secret is not None:
        found["secret"] = secret
    return found


def attempt_json(a: WebhookAttempt) -> dict[str, Any]:
    return {"attempted_at": when(a.attempted_at), "status_code": a.status_code,
            "response_excerpt": a.response_excerpt, "error": a.error, "duration_ms": a.duration_ms}


def delivery_json(d: WebhookDelivery, attempts: list[WebhookAttempt]) -> dict[str, Any]:
    return {"id": d.id, "webhook_id": d.webhook_id, "event": d.event, "status": d.status, "attempts": d.attempts,
            "next_attempt_at": when(d.next_attempt_at) if d.status == "pending" else None,
            "last_status_code": d.last_status_code, "last_error": d.last_error,
            "delivered_at": when(d.delivered_at), "created_at": when(d.created_at), "payload": json.loads(d.body),
            "log": [attempt_json(a) for a in attempts]}


def _webhook(webhook_id: int) -> Webhook:
    found = db_session().get(Webhook, webhook_id) if webhook_id <= MAX_ID else None
    if found is None:
        raise not_found("webhook")
    return found


def _events(body: Body, *, required: bool) -> list[str] | None:
    if "events" not in body:
        if required:
            raise invalid("events", f"events is required (some of: {', '.join(WEBHOOK_EVENTS)})")
        return None
    return body.string_list("events", max_items=len(WEBHOOK_EVENTS) * 2)


def _webhook_error(exc: service.WebhookError) -> ApiError:
    db_session().rollback()
    return invalid(exc.field or "body", str(exc))


@bp.get("/webhooks")
def list_webhooks() -> dict[str, Any]:
    return _paginate(service.webhooks_query(), webhook_json)


@bp.post("/webhooks")
def create_webhook() -> tuple[Response, int, dict[str, str]]:
    """Register a URL for some events; the answer carries the signing secret, this once."""
    body = _body("target_url", "events", "description")
    try:
        webhook, secret = service.create_webhook(
            db_session(), app_state().secret_box, fetch_settings(settings()),
            url=body.string("target_url", required=True, max_length=2000), events=_events(body, required=True) or [],
            description=body.string("description", max_length=200), actor=_user())
    except service.WebhookError as exc:
        raise _webhook_error(exc) from None
    _commit()
    return _created(webhook_json(webhook, secret))


@bp.get("/webhooks/<int:webhook_id>")
def get_webhook(webhook_id: int) -> dict[str, Any]:
    return webhook_json(_webhook(webhook_id))


@bp.patch("/webhooks/<int:webhook_id>")
def update_webhook(webhook_id: int) -> dict[str, Any]:
    webhook = _webhook(webhook_id)
    body = _body("target_url", "events", "description", "is_active")
    try:
        service.update_webhook(db_session(), webhook, fetch_settings(settings()),
                               url=body.string("target_url", max_length=2000) if "target_url" in body else None,
                               events=_events(body, required=False),
                               description=body.string("description", max_length=200) if "description" in body
                               else None,
                               is_active=body.boolean("is_active", default=webhook.is_active), actor=_user())
    except service.WebhookError as exc:
        raise _webhook_error(exc) from None
    _commit()
    return webhook_json(webhook)


@bp.delete("/webhooks/<int:webhook_id>")
def delete_webhook(webhook_id: int) -> tuple[str, int]:
    service.delete_webhook(db_session(), _webhook(webhook_id), _user())
    _commit()
    return "", 204


@bp.post("/webhooks/<int:webhook_id>/rotate-secret")
def rotate_secret(webhook_id: int) -> dict[str, Any]:
    """A new signing secret, answered this once; deliveries not yet sent are signed with it."""
    webhook = _webhook(webhook_id)
    secret = service.rotate_secret(db_session(), app_state().secret_box, webhook, _user())
    _commit()
    return webhook_json(webhook, secret)


@bp.get("/webhooks/<int:webhook_id>/deliveries")
def list_deliveries(webhook_id: int) -> dict[str, Any]:
    """The webhook's deliveries, newest first, each with its attempts (status code, answer excerpt, time)."""
    webhook = _webhook(webhook_id)
    status = query_choice(request.args, "status", DELIVERY_STATUSES)
    page, per_page = pagination(request.args, settings().app.page_size)
    session = db_session()
    found = paginate(session, service.deliveries_query(webhook.id, status), page, per_page)
    attempts = service.attempts_of(session, [d.id for d in found.items])
    return _listing(found, lambda d: delivery_json(d, attempts[d.id]))


@bp.post("/webhooks/<int:webhook_id>/deliveries/<int:delivery_id>/redeliver")
def redeliver(webhook_id: int, delivery_id: int) -> dict[str, Any]:
    """Queue a delivery that failed for good once more (the next tick sends it, newly signed)."""
    webhook = _webhook(webhook_id)
    session = db_session()
    delivery = session.get(WebhookDelivery, delivery_id) if delivery_id <= MAX_ID else None
    if delivery is None or delivery.webhook_id != webhook.id:
        raise not_found("delivery")
    try:
        service.redeliver(session, delivery)
    except service.WebhookError as exc:
        session.rollback()
        raise ApiError(409, "conflict", str(exc)) from None
    _commit()
    return delivery_json(delivery, service.attempts_of(session, [delivery.id])[delivery.id])

