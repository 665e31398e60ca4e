"""Fake Plausible and Matomo instances on loopback, answering with the documented response shapes (the JSON files
under tests/fixtures/analytics) and checking the credentials the way the real ones do."""
from __future__ import annotations

import http.server
import json
from urllib.parse import parse_qs, urlsplit

from tests.analytics.conftest import fixture
from tests.lib.testweb import TestWeb, send

PLAUSIBLE_KEY = "plausible-key-7Qx"
MATOMO_TOKEN = "matomo-token-9Zy"


def _json(req: http.server.BaseHTTPRequestHandler, status: int, body: object) -> None:
    send(req, status, json.dumps(body), content_type="application/json; charset=utf-8")


class FakePlausible(TestWeb):
    """GET /api/v1/stats/breakdown with a Bearer key: each month's referrers (fixtures for Sep and Oct 2026)."""

    __test__ = False

    def __init__(self, host: str = "127.0.0.41") -> None:
        super().__init__(host)
        self.asked: list[dict[str, list[str]]] = []
        self.routes["/api/v1/stats/breakdown"] = self._breakdown

    def _breakdown(self, req: http.server.BaseHTTPRequestHandler) -> None:
        query = parse_qs(urlsplit(req.path).query)
        self.asked.append(query)
        if req.headers.get("Authorization") != f"Bearer {PLAUSIBLE_KEY}":
            _json(req, 401, json.loads(fixture("plausible-api-v1-error-401.json")))
            return
        if query.get("site_id") != ["acme.example"] or query.get("property") != ["visit:referrer"]:
            _json(req, 400, {"error": "Invalid property"})
            return
        month = query["date"][0][:7]
        name = f"plausible-api-v1-breakdown-referrer-{month}.json"
        try:
            body = json.loads(fixture(name))
        except FileNotFoundError:
            body = {"results": []}
        _json(req, 200, body)


class FakeMatomo(TestWeb):
    """POST /index.php (module=API, method=Referrers.getWebsites, token_auth in the body)."""

    __test__ = False

    def __init__(self, host: str = "127.0.0.42") -> None:
        super().__init__(host)
        self.asked: list[dict[str, list[str]]] = []
        self.routes["/matomo/index.php"] = self._api

    def _api(self, req: http.server.BaseHTTPRequestHandler) -> None:
        length = int(req.headers.get("Content-Length") or 0)
        form = parse_qs(req.rfile.read(length).decode()) if req.command == "POST" else {}
        query = parse_qs(urlsplit(req.path).query)
        self.asked.append({**form, "_query": list(query), "_method": [req.command]})
        if req.command != "POST" or form.get("token_auth") != [MATOMO_TOKEN]:
            _json(req, 200, json.loads(fixture("matomo-api-error.json")))  # Matomo answers errors with 200
            return
        if form.get("method") != ["Referrers.getWebsites"] or form.get("period") != ["month"]:
            _json(req, 200, {"result": "error", "message": "The method is not valid"})
            return
        _json(req, 200, json.loads(fixture("matomo-api-getwebsites-flat-months.json")))
