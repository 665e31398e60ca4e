"""Login sessions and the role checks every view uses."""
from __future__ import annotations

import hmac
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, abort, redirect, request, url_for
from flask import session as web_session
from flask_login import (
    LoginManager,
    current_user,
    login_required,
    login_user,
    logout_user,
    user_loaded_from_cookie,
)
from werkzeug.wrappers import Response

from outreach.accounts import logins, permissions
from outreach.lib import logs
from outreach.models import Campaign, Prospect, User
from outreach.web.state import SAFE_METHODS, app_state, db_session

login_manager = LoginManager()
login_manager.login_view = "accounts.login"
login_manager.login_message = "Please log in to continue."
login_manager.login_message_category = "info"
login_manager.session_protection = "strong"

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    user_loaded_from_cookie.connect(_bind_session_to_browser, app)
    app.before_request(_confine_personalisers)


def _confine_personalisers() -> Response | None:
    """A personaliser reaches the review queue and their account, nothing else: 403 on every other page (the
    campaigns page they land on after logging in leads to the queue). The API checks its token's user itself."""
    if (request.blueprint or "").split(".", 1)[0] == "api" or permissions.personaliser_may_open(
            request.endpoint, request.blueprint):
        return None  # before current_user: static files and health checks load no user
    if not current_user.is_authenticated or not permissions.is_personaliser(current_user):
        return None
    if request.endpoint == "campaigns.dashboard":
        return redirect(url_for("mail.review.queue"))
    abort(403)


def _bind_session_to_browser(_app: Flask, user: User) -> None:
    """A login from the remember-me cookie gets the browser fingerprint a password login gets.

    Flask-Login sets none there, so with strong protection the next request saw a mismatch and ended
    the session (and the remember cookie): "keep me logged in" lasted one request after a restart.
    """
    web_session["_id"] = login_manager._session_identifier_generator()


@login_manager.user_loader
def _load_user(session_id: str) -> User | None:
    """The user of a session or remember cookie, unless deactivated, logged out or the password changed since."""
    user_id, _, rest = session_id.partition(":")
    fingerprint, _, token = rest.partition(":")
    if not user_id.isascii() or not user_id.isdigit() or len(user_id) > 10:
        return None
    found = logins.find_login(db_session(), int(user_id), token)
    if found is None:
        return None
    user, login = found
    if not user.is_active or not hmac.compare_digest(user.session_fingerprint, fingerprint):
        return None
    # a request that may write holds the write lock from its first statement (the query above): touch in it
    logins.touch(app_state().engine, login, db_session() if request.method not in SAFE_METHODS else None)
    user.login_token = token
    logs.user_id.set(user.id)  # every log line of the request names the user
    return user


def log_in(user: User, *, remember: bool = False) -> None:
    """Open a login session for user in this browser (committed) and put it in the session cookie."""
    session = db_session()
    user.login_token = logins.open_login(session, user, user_agent=request.user_agent.string,
                                         ip=request.remote_addr or "", remembered=remember)
    session.commit()
    login_user(user, remember=remember)


def log_out() -> None:
    """End the current login session on the server, then in the browser."""
    session = db_session()
    logins.close_login(session, current_user, current_user.login_token)
    session.commit()
    logout_user()


def requires(allowed: Callable[[User], bool]) -> Callable[[F], F]:
    """Only users for whom allowed(user) holds may call the view (403 otherwise)."""

    def decorator(view: F) -> F:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not allowed(current_user):
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


#: admins and members run campaigns; client-viewers only read their client's results
staff_required = requires(permissions.is_staff)
admin_required = requires(permissions.is_admin)


def record_or_404(record: T | None, *, edit: bool = False) -> T:
    """The record, if the current user may see it (and change it, when asked); else 404/403."""
    if record is None or not permissions.can_see(current_user, record):
        abort(404)
    if edit and not permissions.can_change(current_user, record):
        abort(403)
    return record


def campaign_or_404(campaign_id: int, *, edit: bool = False) -> Campaign:
    """The campaign, if the current user may see it (and edit it, when asked); else 404/403."""
    return record_or_404(db_session().get(Campaign, campaign_id), edit=edit)


def prospect_or_404(prospect_id: int, *, edit: bool = False) -> Prospect:
    return record_or_404(db_session().get(Prospect, prospect_id), edit=edit)
