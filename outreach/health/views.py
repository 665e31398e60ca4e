"""/healthz and /readyz for load balancers, /metrics for Prometheus, and the admin's Status page."""
from __future__ import annotations

import hmac
import threading
import time

from flask import Blueprint, Response, abort, jsonify, render_template, request
from werkzeug.wrappers import Response as BaseResponse

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
    snap = service.snapshot(db_session(), state.settings)
    return render_template("health/status.html", snap=snap, head=head(), process=process_name(),
                           stale_after=state.settings.health.scheduler_stale_seconds)


@bp.after_app_request
def _watch_after_request(response: BaseResponse) -> BaseResponse:
    if request.endpoint not in ("health.healthz", "static", "health.status"):
        _watch()
    return response


def _watch(*, force: bool = False) -> None:
    """Look at the heartbeat at most every WATCH_SECONDS in this process; alert when it is stale."""
    global _next_watch
    now = time.monotonic()
    with _watch_lock:
        if not force and now < _next_watch:
            return
        _next_watch = now + WATCH_SECONDS
    state = app_state()
    try:
        alerts.watch(state.sessionmaker, state.settings, background=True)
    except Exception:  # an unmigrated or unreachable database must not turn every page into a 500
        alerts.log.exception("could not look at the scheduler heartbeat")
