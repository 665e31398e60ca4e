"""Every request: its id (taken from X-Request-ID or made, echoed in the response), its access-log line, and
the proxy headers trusted when [web] proxy_hops says a proxy sets them."""
from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, g, request
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from outreach.config import Settings
from outreach.lib import logs

access_log = logging.getLogger("outreach.access")
HEADER = "X-Request-ID"
#: an id from the proxy is kept when it is this tame (no spaces, no CR/LF, not too long); else one is made
_GIVEN_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")


def init_app(app: Flask, settings: Settings) -> None:
    """Register first: every later hook and every log line of the request sees its id."""
    hops = settings.web.proxy_hops
    if hops:
        # trust exactly `hops` proxies: the client address is the one the outermost of them saw
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)  # type: ignore[method-assign]
    app.before_request(_start)
    app.after_request(_finish if settings.web.access_log else _echo_id)


def _start() -> None:
    given = request.headers.get(HEADER, "")
    g.request_id = given if _GIVEN_ID.fullmatch(given) else uuid.uuid4().hex
    g.request_started = time.perf_counter()
    # the server's threads serve one request after another: nothing may carry over from the last one
    logs.request_id.set(g.request_id)
    logs.user_id.set(None)
    logs.job_id.set(None)


def _echo_id(response: Response) -> Response:
    if "request_id" in g:
        response.headers[HEADER] = g.request_id
    return response


def _finish(response: Response) -> Response:
    _echo_id(response)
    started = g.get("request_started")
    elapsed = (time.perf_counter() - started) * 1000 if started is not None else 0.0
    access_log.info('%s "%s %s" %s %s %.1f ms', request.remote_addr or "-", request.method,
                    request.full_path.rstrip("?"), response.status_code,
                    response.content_length if response.content_length is not None else "-", elapsed)
    return response
