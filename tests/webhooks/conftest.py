"""A webhook receiver on loopback that checks every signature, and the app side: registering a webhook."""
from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from outreach.jobs.ticks import JobContext
from outreach.models.webhooks import Webhook
from outreach.webhooks.delivery import fetch_settings
from outreach.webhooks.service import create_webhook
from tests.backlinks.conftest import web  # noqa: F401 (a publisher's test web, for link alerts)
from tests.conftest import free_port
from tests.mail.conftest import make_sequence  # noqa: F401 (fixture)


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    timestamp: int
    signature_ok: bool

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Records each POST and whether its X-Outreach-Signature is right for `secret`; answers from `answers`
    in order (then 200)."""

    host: str
    port: int
    secret: str = ""
    answers: list[tuple[int, str]] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/hooks/outreach"


def check_signature(secret: str, header: str, body: bytes) -> tuple[int, bool]:
    """(timestamp, whether v1 is HMAC-SHA256 of "t.body"), computed here without the app's code."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    expected = hmac.new(secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    return int(parts["t"]), hmac.compare_digest(expected, parts["v1"])


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver("127.0.0.41", free_port("127.0.0.41"))

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            timestamp, ok = check_signature(state.secret, self.headers.get("X-Outreach-Signature", "t=0,v1="), body)
            state.received.append(Received({k.lower(): v for k, v in self.headers.items()}, body, timestamp, ok))
            status, text = state.answers.pop(0) if state.answers else (200, "thanks")
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer((state.host, state.port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def ctx(app: Flask) -> JobContext:
    state = app.extensions["outreach"]
    return JobContext(settings=state.settings, sessionmaker=state.sessionmaker, secret_box=state.secret_box)


@pytest.fixture
def hook(app: Flask, db: Session, receiver: Receiver) -> Any:
    """hook(events) -> a webhook to the receiver for these events (the receiver learns its secret)."""

    def make(events: list[str], url: str | None = None) -> Webhook:
        state = app.extensions["outreach"]
        webhook, secret = create_webhook(db, state.secret_box, fetch_settings(state.settings),
                                         url=url or receiver.url, events=events)
        db.commit()
        receiver.secret = secret
        return webhook

    return make
