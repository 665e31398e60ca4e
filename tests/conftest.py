"""Fixtures: every database test runs on SQLite and on PostgreSQL.

`app` is one app per backend for the whole run; after each test its tables are emptied (not a
rolled-back transaction: browser tests hit a live server thread that commits on its own
connections, so only emptying the tables leaves every test a clean database).
"""
from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from outreach import create_app
from outreach.models import Base, Campaign, Client, Prospect, User

PG_ADMIN_URL = os.environ.get("OUTREACH_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PASSWORD = "correct horse battery"
BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing() -> Iterator[None]:
    """Hundreds of test users: a fast hash here, werkzeug's scrypt in production."""
    from outreach.accounts import service

    service.PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"
    yield


def _pg_available() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=2):
            return True
    except OSError:
        return False


@contextmanager
def fresh_pg_database(prefix: str) -> Iterator[str]:
    """A new, empty PostgreSQL database (dropped afterwards); skips the test, or fails it in CI, without a server."""
    if not _pg_available():
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL on 127.0.0.1:5432 is unreachable (CI must test on it)")
        pytest.skip("PostgreSQL on 127.0.0.1:5432 is unreachable")
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh database of each backend for this test run."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.db'}"
        return
    with fresh_pg_database("outreach_test") as url:
        yield url


def app_overrides(database_url: str, instance: Path) -> dict[str, dict[str, Any]]:
    return {
        "app": {"secret_key": "test-secret-key-not-for-production", "instance_path": str(instance)},
        "database": {"url": database_url},
        "scheduler": {"enabled": False},
        "crawl": {"allow_private_addresses": True, "per_host_delay": 0.0, "timeout": 5.0},
        "mail": {"outbox_dir": str(instance / "outbox")},
    }


@pytest.fixture(scope="session")
def _session_app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    instance = tmp_path_factory.mktemp("instance")
    app = create_app(app_overrides(database_url, instance))
    app.config.update(TESTING=True, WTF_CSRF_ENABLED=False)
    engine = app.extensions["outreach"].engine
    Base.metadata.create_all(engine)
    yield app
    engine.dispose()


@pytest.fixture
def app(_session_app: Flask) -> Iterator[Flask]:
    yield _session_app
    _session_app.config["WTF_CSRF_ENABLED"] = False
    empty_tables(_session_app)


def change_settings(app: Flask, monkeypatch: pytest.MonkeyPatch, **changes: dict[str, Any]) -> None:
    """Run the app with some settings changed for one test (settings are read-only: it gets a changed copy)."""
    state = app.extensions["outreach"]
    monkeypatch.setattr(state, "settings", state.settings.with_(**changes))


def empty_tables(app: Flask) -> None:
    state = app.extensions["outreach"]
    state.has_users = False
    engine = state.engine
    tables = list(reversed(Base.metadata.sorted_tables))
    # DELETE, not TRUNCATE: on PostgreSQL truncating dozens of small tables costs ~0.7 s per test.
    with engine.begin() as conn:
        for table in tables:
            conn.execute(table.delete())


@pytest.fixture
def db(app: Flask) -> Iterator[Session]:
    """A session on the test database; commit freely, the tables are emptied afterwards."""
    session = app.extensions["outreach"].sessionmaker()
    yield session
    session.rollback()
    session.close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


# --- factories ---------------------------------------------------------------------------------

@pytest.fixture
def make_user(db: Session) -> Callable[..., User]:
    from outreach.accounts.service import create_user

    def make(email: str | None = None, role: str = "member", client: Client | None = None,
             name: str = "") -> User:
        user = create_user(db, email or f"{uuid.uuid4().hex[:8]}@agency.test", PASSWORD, name=name,
                           role=role, client_id=client.id if client else None)
        db.commit()
        return user

    return make


@pytest.fixture
def make_client(db: Session) -> Callable[..., Client]:
    from outreach.campaigns.service import create_client

    def make(name: str | None = None, **kwargs: Any) -> Client:
        client = create_client(db, name or f"Client {uuid.uuid4().hex[:6]}", **kwargs)
        db.commit()
        return client

    return make


@pytest.fixture
def make_campaign(db: Session, make_client: Callable[..., Client]) -> Callable[..., Campaign]:
    from outreach.campaigns.service import create_campaign

    def make(client: Client | None = None, name: str = "Resource pages", **kwargs: Any) -> Campaign:
        campaign = create_campaign(db, (client or make_client()).id, name, **kwargs)
        db.commit()
        return campaign

    return make


@pytest.fixture
def make_prospect(db: Session, make_campaign: Callable[..., Campaign]) -> Callable[..., Prospect]:
    from outreach.campaigns.service import add_prospect

    def make(campaign: Campaign | None = None, url: str | None = None, **kwargs: Any) -> Prospect:
        prospect = add_prospect(db, campaign or make_campaign(),
                                url or f"https://{uuid.uuid4().hex[:8]}.example/resources", **kwargs)
        db.commit()
        return prospect

    return make


@pytest.fixture
def login(client: FlaskClient) -> Callable[[User], FlaskClient]:
    """Log the test client in as `user` (through the real login form)."""

    def do(user: User) -> FlaskClient:
        response = client.post("/login", data={"email": user.email, "password": PASSWORD})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return client

    return do


@pytest.fixture
def team(make_user: Callable[..., User], make_client: Callable[..., Client],
         make_campaign: Callable[..., Campaign]) -> dict[str, Any]:
    """An admin, an owner (member), a teammate (member), a viewer of the client and an outsider viewer."""
    acme = make_client("Acme Widgets")
    other = make_client("Other Co")
    campaign = make_campaign(acme, "Acme resource pages")
    other_campaign = make_campaign(other, "Other campaign")
    return {
        "admin": make_user("admin@agency.test", role="admin"),
        "owner": make_user("owner@agency.test"),
        "teammate": make_user("mate@agency.test"),
        "viewer": make_user("viewer@acme.test", role="client_viewer", client=acme),
        "outsider": make_user("viewer@other.test", role="client_viewer", client=other),
        "client": acme, "other_client": other, "campaign": campaign, "other_campaign": other_campaign,
    }


# --- live server for browser tests ---------------------------------------------------------------

def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The app served by waitress on loopback, with CSRF on as in production."""
    from waitress.server import create_server

    app.config["WTF_CSRF_ENABLED"] = True
    server = create_server(app, host="127.0.0.1", port=free_port(), threads=4)
    closing = threading.Event()

    def run() -> None:
        try:
            server.run()
        except OSError:  # its sockets closed under a select() in progress: the end asked for below
            if not closing.is_set():
                raise

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        closing.set()
        server.close()
        thread.join(timeout=1)  # a browser may keep a connection open; the thread is a daemon


CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium for one test module: Playwright's sync API keeps an event loop running in this thread
    while it is open, which would break asyncio.run in every later test of the session."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
                                      args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(15000)
    pg = context.new_page()
    yield pg
    context.close()
