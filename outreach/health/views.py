"""/healthz and /readyz for load balancers, /metrics for Prometheus, and the admin's Status page."""
from __future__ import annotations

import hmac
import threading
import time

from flask import Blueprint, Response, abort, jsonify, render_template, request
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.wrappers import Response as BaseResponse

from outreach.config import Settings
from outreach.health import alerts, metrics, service
from outreach.lib.logs import process_name
from outreach.migrate import head
from outreach.web.auth import admin_required
from outreach.web.state import app_state, db_session

bp = Blueprint("health", __name__)
#: endpoints a load balancer or Prometheus calls without a login (and before the first admin exists)
PUBLIC_ENDPOINTS = ("health.healthz", "health.readyz", "health.metrics")
#: how often each web process looks at the scheduler heartbeat on its own (outreach.health.alerts)
WATCH_SECONDS = 60.0

_watch_lock = threading.Lock()
_next_watch = 0.0
#: the last look started after a request (tests wait for it)
last_watch: threading.Thread | None = None


@bp.route("/healthz")
def healthz() -> Response:
    """The process is up and answering: no database involved."""
    return jsonify(status="ok", process=process_name())


@bp.route("/readyz")
def readyz() -> tuple[Response, int]:
    """Ready for traffic: the database answers, its schema is at head, a scheduler heartbeat is fresh."""
    state = app_state()
    ready = service.readiness(state.engine, state.settings)
    return jsonify(status="ready" if ready.is_ready else "not ready", checks=ready.checks), (
        200 if ready.is_ready else 503)


@bp.route("/metrics", endpoint="metrics")
def metrics_page() -> BaseResponse:
    """Prometheus metrics, for a bearer of [metrics] token; 404 while no token is set."""
    token = app_state().settings.metrics.token
    if not token:
        abort(404)
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        return Response("a valid bearer token is needed\n", 401, {"WWW-Authenticate": 'Bearer realm="metrics"'},
                        mimetype="text/plain")
    body = metrics.exposition(service.snapshot(db_session(), app_state().settings))
    return Response(body, 200, {"Cache-Control": "no-store"}, content_type=metrics.CONTENT_TYPE)


@bp.route("/status")
@admin_required
def status() -> str:
    """What the scheduler, the queues and the ticks are doing (admins)."""
    state = app_state()
    _watch(force=True)
    session = db_session()
    session.rollback()  # end the read the login check began (SQLite keeps its snapshot): show the alert just raised
    snap = service.snapshot(session, state.settings)
    return render_template("health/status.html", snap=snap, head=head(), process=process_name(),
                           stale_after=state.settings.health.scheduler_stale_seconds)


@bp.after_app_request
def _watch_after_request(response: BaseResponse) -> BaseResponse:
    if request.endpoint not in ("health.healthz", "static", "health.status"):
        _watch()
    return response


def _watch(*, force: bool = False) -> None:
    """Look at the heartbeat at most every WATCH_SECONDS in this process and alert when it is stale.

    From a thread (the Status page, `force`, looks at once, in the request): a page never waits for the
    look, nor for the write lock a request's own transaction may hold on SQLite.
    """
    global _next_watch, last_watch
    now = time.monotonic()
    with _watch_lock:
        if not force and now < _next_watch:
            return
        _next_watch = now + WATCH_SECONDS
    state = app_state()
    if force:
        _look(state.sessionmaker, state.settings)
        return
    last_watch = threading.Thread(target=_look, args=(state.sessionmaker, state.settings), name="scheduler-watch",
                                  daemon=True)
    last_watch.start()


def _look(factory: sessionmaker[Session], settings: Settings) -> None:
    try:
        alerts.watch(factory, settings, background=True)
    except Exception:  # an unmigrated or unreachable database: /readyz says so, the look tries again later
        alerts.log.exception("could not look at the scheduler heartbeat")
