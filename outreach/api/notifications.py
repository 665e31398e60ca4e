"""/api/v1 notifications: the token's user's own alerts, newest first, and marking one read."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from outreach.accounts import permissions
from outreach.api.common import _commit, _paginate, _user
from outreach.api.errors import forbidden, not_found
from outreach.api.inputs import MAX_ID, query_choice
from outreach.api.serialize import when
from outreach.models import Notification
from outreach.notifications import service
from outreach.web.state import db_session

bp = Blueprint("notifications", __name__)  # nested in the /api/v1 blueprint (api/views.py)


def notification_json(n: Notification) -> dict[str, Any]:
    return {"id": n.id, "kind": n.kind, "title": n.title, "body": n.body, "link": n.link,
            "web_url": request.host_url.rstrip("/") + n.link, "created_at": when(n.created_at),
            "read_at": when(n.read_at), "is_read": n.read_at is not None}


def _staff_user_id() -> int:
    user = _user()
    if not permissions.is_staff(user):
        raise forbidden("notifications are for admins and members; client-viewers get none")
    return user.id


@bp.get("/notifications")
def list_notifications() -> dict[str, Any]:
    user_id = _staff_user_id()
    unread_only = query_choice(request.args, "unread", ("true", "false"), default="false") == "true"
    listing = _paginate(service.notifications_query(user_id, unread_only=unread_only), notification_json)
    listing["unread"] = service.unread_count(db_session(), user_id)
    return listing


@bp.post("/notifications/<int:notification_id>/read")
def read_notification(notification_id: int) -> dict[str, Any]:
    user_id = _staff_user_id()
    found = service.get_for(db_session(), user_id, notification_id) if notification_id <= MAX_ID else None
    if found is None:
        raise not_found("notification")
    service.mark_read(db_session(), found)
    _commit()
    return notification_json(found)
