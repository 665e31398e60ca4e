"""A scale-out deployment on loopback: gunicorn with 2 workers behind a (pretend) proxy, a scheduler and a
Celery worker, on PostgreSQL and Redis; and the proxy headers ignored when no proxy is configured."""
from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.accounts.service import create_user
from outreach.db import make_engine, make_sessionmaker
from outreach.migrate import upgrade
from outreach.models import LoginSession, User
from tests.conftest import PASSWORD, free_port
from tests.jobs.test_backends import _redis_up
from tests.runtime.conftest import process_env

OUTREACH = [sys.executable, "-m", "outreach.cli"]
CLIENT_IP = "203.0.113.7"


class Browser:
    """Just enough of a browser over http.client: one cookie jar, no redirects followed."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict[str, str] | None = None,
                headers: dict[str, str] | None = None) -> tuple[http.client.HTTPResponse, str]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        text = response.read().decode()
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        connection.close()
        return response, text


def _wait_for(check: Callable[[], bool], what: str, processes: list[subprocess.Popen[bytes]],
              attempts: int = 600) -> None:
    """Poll until check() holds (a server starting, a first heartbeat), failing at once if a process died."""
    for _ in range(attempts):
        for process in processes:
            assert process.poll() is None, f"{process.args} exited with {process.returncode} while waiting for {what}"
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.1)  # waiting for another process to get there, not for time to pass
    raise AssertionError(f"gave up waiting for {what}")


@pytest.fixture
def processes() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
        process = subprocess.Popen([*OUTREACH, *args], env=env, cwd=log.parent, stdout=log.open("wb"),
                                   stderr=subprocess.STDOUT)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in started:
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _json_lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


def test_gunicorn_scheduler_and_worker_behind_a_proxy(tmp_path: Path, pg_url: str,
                                                      processes: Callable[..., subprocess.Popen[bytes]]) -> None:
    if not _redis_up():
        if os.environ.get("CI") == "true":
            pytest.fail("Redis on 127.0.0.1:6379 is unreachable")
        pytest.skip("Redis on 127.0.0.1:6379 is unreachable")
    upgrade(pg_url)
    engine = make_engine(pg_url)
    with make_sessionmaker(engine)() as session:
        admin = create_user(session, "boss@agency.test", PASSWORD, role="admin")
        session.commit()
        admin_id = admin.id
    env = process_env(tmp_path, pg_url, OUTREACH_APP_SECRET_KEY="one key shared by every process",
                      OUTREACH_WEB_PROXY_HOPS="1", OUTREACH_LOGGING_FORMAT="json",
                      OUTREACH_SCHEDULER_BACKEND="celery", OUTREACH_SCHEDULER_BROKER_URL="redis://127.0.0.1:6379/12")
    port = free_port()
    web = processes(["web", "--workers", "2", "--threads", "2", "--port", str(port)], env, tmp_path / "web.log")
    scheduler = processes(["scheduler"], env, tmp_path / "scheduler.log")
    worker = processes(["worker", "--concurrency", "2"], env, tmp_path / "worker.log")
    everyone = [web, scheduler, worker]
    browser = Browser(port)

    _wait_for(lambda: browser.request("GET", "/healthz")[0].status == 200, "the web", everyone)
    _wait_for(lambda: len(_children(web.pid)) == 2, "two gunicorn workers", everyone)
    _wait_for(lambda: browser.request("GET", "/readyz")[0].status == 200, "the scheduler's first heartbeat",
              everyone)
    _wait_for(lambda: f"outreach-{worker.pid}@" in (tmp_path / "worker.log").read_text(), "the worker's name",
              everyone)

    # a login through the proxy: the session records the client's address, HTTPS at the proxy sends HSTS
    proxied = {"X-Forwarded-For": CLIENT_IP, "X-Forwarded-Proto": "https",
               "Referer": f"https://127.0.0.1:{port}/login"}
    response, page = browser.request("GET", "/login", headers=proxied)
    assert response.status == 200 and response.headers["Strict-Transport-Security"] == "max-age=31536000"
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response, _ = browser.request("POST", "/login", {"csrf_token": token, "email": "boss@agency.test",
                                                     "password": PASSWORD}, headers=proxied)
    assert response.status == 302, response.status
    with make_sessionmaker(engine)() as session:
        assert session.scalars(select(LoginSession.ip)).all() == [CLIENT_IP]

    # every request has an id (the proxy's, when it sends one), echoed and logged with the user
    response, page = browser.request("GET", "/status", headers={**proxied, "X-Request-ID": "req-from-nginx-42"})
    assert response.status == 200 and "running" in page
    assert response.headers["X-Request-ID"] == "req-from-nginx-42"
    response, _ = browser.request("GET", "/healthz", headers={"X-Request-ID": "has spaces\tand a tab"})
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])

    for process in everyone:
        process.send_signal(signal.SIGTERM)
    assert web.wait(timeout=60) == 0
    scheduler.wait(timeout=60)
    worker.wait(timeout=60)
    engine.dispose()

    access = [line for line in _json_lines(tmp_path / "web.log") if line.get("logger") == "outreach.access"]
    status_line = next(line for line in access if line.get("request_id") == "req-from-nginx-42")
    assert status_line["user_id"] == admin_id and str(status_line["message"]).startswith(f'{CLIENT_IP} "GET /status')
    assert {"time", "level", "process"} <= status_line.keys()
    names = {line["process"] for line in _json_lines(tmp_path / "scheduler.log")}
    assert any(str(name).endswith(f":{scheduler.pid}") for name in names)


def test_forwarded_headers_are_ignored_without_a_proxy(client: FlaskClient, db: Session,
                                                       make_user: Callable[..., User]) -> None:
    user = make_user("ann@agency.test")
    forged = {"X-Forwarded-For": CLIENT_IP, "X-Forwarded-Proto": "https"}
    response = client.post("/login", data={"email": user.email, "password": PASSWORD}, headers=forged)
    assert response.status_code == 302
    assert "Strict-Transport-Security" not in response.headers
    assert db.scalars(select(LoginSession.ip)).all() == ["127.0.0.1"]
