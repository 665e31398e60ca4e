"""The Notifications page, its unread badge in the top bar, and marking notifications read."""
from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from outreach.accounts import permissions
from outreach.models import Notification
from outreach.notifications import service
from outreach.web.auth import staff_required
from outreach.web.state import db_session

bp = Blueprint("notifications", __name__)
PAGE_SIZE = 50
#: each kind's badge on the page: (label, tone)
KIND_BADGES = {
    "went_live": ("live", "ok"), "relive": ("live again", "ok"), "terms_met": ("terms met", "ok"),
    "terms_not_met": ("terms not met", "warn"), "rel_changed": ("rel changed", "warn"),
    "anchor_changed": ("anchor changed", "warn"), "became_noindex": ("noindex", "warn"),
    "lost": ("lost", "bad"), "missed": ("missed", "bad"), "bounce": ("bounce", "bad"), "reply": ("reply", ""),
    "scheduler_stale": ("scheduler stopped", "bad"), "mailbox_paused": ("mailbox paused", "bad"),
}


@bp.app_template_global()
def unread_notifications() -> int:
    """The top bar's badge: the signed-in staff user's unread count (one indexed count per page)."""
    if not current_user.is_authenticated or not permissions.is_staff(current_user):
        return 0
    if "unread_notifications" not in g:
        g.unread_notifications = service.unread_count(db_session(), current_user.id)
    return int(g.unread_notifications)


@bp.route("/notifications")
@staff_required
def index() -> str:
    session = db_session()
    unread_only = request.args.get("unread") == "1"
    page = max(1, min(request.args.get("page", 1, type=int) or 1, 100_000))
    query = service.notifications_query(current_user.id, unread_only=unread_only)
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    items = session.scalars(query.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
    return render_template("notifications/index.html", items=items, unread_only=unread_only, page=page,
                           pages=max(1, -(-total // PAGE_SIZE)), total=total, badges=KIND_BADGES)


def _own(notification_id: int) -> Notification:
    found = service.get_for(db_session(), current_user.id, notification_id)
    if found is None:
        abort(404)
    return found


def _back() -> str:
    return url_for("notifications.index", **({"unread": "1"} if request.form.get("unread") == "1" else {}))


@bp.route("/notifications/<int:notification_id>/open", methods=["POST"])
@staff_required
def open_one(notification_id: int) -> Response:
    """Mark it read and go to the record it is about."""
    notification = _own(notification_id)
    service.mark_read(db_session(), notification)
    db_session().commit()
    return redirect(notification.link)


@bp.route("/notifications/<int:notification_id>/read", methods=["POST"])
@staff_required
def read_one(notification_id: int) -> Response:
    service.mark_read(db_session(), _own(notification_id))
    db_session().commit()
    return redirect(_back())


@bp.route("/notifications/read-all", methods=["POST"])
@staff_required
def read_all() -> Response:
    count = service.mark_all_read(db_session(), current_user.id)
    db_session().commit()
    flash(f"Marked {count} notification{'' if count == 1 else 's'} read." if count else "Nothing was unread.",
          "success" if count else "info")
    return redirect(_back())
