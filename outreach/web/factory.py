"""The Flask app factory."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, redirect, request, url_for
from flask import Request as FlaskRequest
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import select

from outreach import paths
from outreach.accounts import views as accounts_views
from outreach.analytics import views as analytics_views
from outreach.api import views as api_views
from outreach.backlinks import views as backlinks_views
from outreach.campaigns import lists, suppressions
from outreach.campaigns import views as campaigns_views
from outreach.campaigns.imports import views as imports
from outreach.config import load_settings
from outreach.db import engine_from, make_sessionmaker
from outreach.discovery.broken_links import views as broken_links_views
from outreach.discovery.prospecting import views as prospecting_views
from outreach.health import views as health_views
from outreach.lib.secrets import SecretBox, load_or_create_secret_key
from outreach.mail import views as mail_views
from outreach.models import User
from outreach.notifications import views as notifications_views
from outreach.reports import views as reports_views
from outreach.web import auth, requests, templating
from outreach.web.ids import IdConverter
from outreach.web.sanitize import strip_nul_characters
from outreach.web.state import AppState, app_state, db_session
from outreach.webhooks import views as webhooks_views
from outreach.wiring import connect_subscribers
from outreach.workspace import views as workspace_views

csrf = CSRFProtect()

#: every blueprint of the web app, in registration order
BLUEPRINTS: list[Blueprint] = [
    accounts_views.bp,
    campaigns_views.bp,
    lists.bp,
    imports.bp,
    suppressions.bp,
    api_views.bp,
    backlinks_views.bp,
    reports_views.bp,
    analytics_views.bp,
    mail_views.bp,
    mail_views.unsubscribe_bp,
    broken_links_views.bp,
    prospecting_views.bp,
    notifications_views.bp,
    health_views.bp,
    webhooks_views.bp,
    workspace_views.bp,
]

#: blueprints whose routes authenticate by API token or signed link instead of a session cookie
CSRF_EXEMPT: list[Blueprint] = [api_views.bp, mail_views.unsubscribe_bp]


class Request(FlaskRequest):
    """Bodies are capped at MAX_CONTENT_LENGTH, CSV uploads at IMPORT_MAX_CONTENT_LENGTH (exports are big)."""

    @property  # type: ignore[override]
    def max_content_length(self) -> int | None:
        if self.endpoint == "imports.upload":
            return current_app.config["IMPORT_MAX_CONTENT_LENGTH"]
        return current_app.config["MAX_CONTENT_LENGTH"]


def build_app(overrides: dict[str, dict[str, Any]] | None = None, config_path: str | None = None) -> Flask:
    settings = load_settings(config_path, overrides)
    app = Flask("outreach", template_folder=str(paths.TEMPLATES), static_folder=str(paths.STATIC),
                instance_path=str(Path(settings.app.instance_path).resolve()))
    app.request_class = Request
    app.url_map.converters["int"] = IdConverter  # an id too big for the database is a 404, not a 500
    secret_key = settings.app.secret_key or load_or_create_secret_key(Path(app.instance_path))
    app.config.update(
        SECRET_KEY=secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.app.session_cookie_secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(days=14),
        WTF_CSRF_TIME_LIMIT=None,
        MAX_CONTENT_LENGTH=50 * 1024 * 1024,
        #: a 200,000-row Ahrefs export in UTF-16 is about 160 MB
        IMPORT_MAX_CONTENT_LENGTH=256 * 1024 * 1024,
    )
    engine = engine_from(settings.database)
    app.extensions["outreach"] = AppState(
        settings=settings, engine=engine, sessionmaker=make_sessionmaker(engine),
        write_sessionmaker=make_sessionmaker(engine, write=True), secret_box=SecretBox(secret_key))

    connect_subscribers()
    requests.init_app(app, settings)
    csrf.init_app(app)

    auth.init_app(app)
    templating.init_app(app)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    # Flask-WTF looks a request's blueprint up by its full name: the API's nested blueprints (api.mail, ...)
    # are exempted one by one, or their POSTs would ask a token-authenticated client for a CSRF token
    exempt = {b.name for b in CSRF_EXEMPT}
    for name, blueprint in app.blueprints.items():
        if name.split(".", 1)[0] in exempt:
            csrf.exempt(blueprint)

    app.teardown_appcontext(_close_session)
    app.before_request(strip_nul_characters)
    app.before_request(_require_setup)
    app.after_request(_security_headers)
    return app


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.rollback()
        session.close()


def _require_setup() -> Response | None:
    """Until an admin exists, every page leads to the first-run setup page."""
    state = app_state()
    if state.has_users:
        return None
    if (request.endpoint in ("accounts.setup", "static", *health_views.PUBLIC_ENDPOINTS)
            or request.path.startswith("/api/")):
        return None
    if db_session().scalar(select(User.id).limit(1)) is not None:
        state.has_users = True
        return None
    return redirect(url_for("accounts.setup"))


def _security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Content-Security-Policy",
                       "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                       "script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response
