"""The catch-all probe is a workspace setting an admin turns on in the app (off by default; the config key is the
default): a contact check says risky/catch-all only while it is on, through a real aiosmtpd server and loopback DNS."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from outreach.contacts.catch_all import LIMITER
from outreach.contacts.jobs import validate_unchecked
from outreach.jobs.ticks import JobContext
from outreach.models import AuditLog, Contact
from outreach.workspace.service import effective
from tests.contacts.conftest import Probed
from tests.contacts.dnsserver import DNSServer
from tests.contacts.test_confidence import RECORDS


@pytest.fixture
def dns_records() -> dict[tuple[str, str], list[str]]:
    return RECORDS


def job_context(app: Any, server: DNSServer, port: int, *, config_probe: bool = False) -> JobContext:
    state = app.extensions["outreach"]
    settings = state.settings.with_(dns={"nameservers": ["127.0.0.1"], "port": server.port, "timeout": 2.0,
                                         "cache_seconds": 0, "catch_all_port": port,
                                         "catch_all_probe": config_probe})
    return JobContext(settings=settings, sessionmaker=state.sessionmaker, secret_box=state.secret_box)


def check(db: Any, ctx: JobContext, email: str) -> Contact:
    db.rollback()  # a new snapshot: the settings a request just committed
    contact = Contact(email=email)
    db.add(contact)
    db.commit()
    assert validate_unchecked(ctx) == 1
    db.commit()
    db.expire_all()
    return db.get(Contact, contact.id)


def rcpts(state: Probed) -> list[str]:
    return [c for c in state.commands if c.startswith("RCPT")]


def test_the_contact_check_says_catch_all_only_while_an_admin_has_the_probe_on(
        app: Any, db: Any, login: Any, team: dict[str, Any], dns_server: DNSServer, mx: tuple[Probed, int]) -> None:
    state, port = mx
    ctx = job_context(app, dns_server, port)
    off = check(db, ctx, "jane@mail.test")
    assert (off.status, off.confidence) == ("valid", "valid") and state.commands == []  # off by default

    admin = login(team["admin"])
    assert "the default from the config file" in admin.get("/settings").get_data(as_text=True)
    assert admin.post("/settings", data={"catch_all_probe": "y"}).status_code == 302
    on = check(db, ctx, "joe@other.test")
    assert on.confidence == "risky"
    assert on.confidence_reason.startswith("catch-all: mx.mail.test accepts any address at other.test")
    assert len(rcpts(state)) == 1 and rcpts(state)[0].startswith("RCPT no-such-user-")
    assert "DATA" not in state.commands and "joe@other.test" not in " ".join(state.commands)
    assert "Now on, set here." in admin.get("/settings").get_data(as_text=True)

    assert admin.post("/settings", data={}).status_code == 302  # the box unticked
    LIMITER.clear()
    again = check(db, ctx, "ann@third.test")
    assert again.confidence == "valid" and len(rcpts(state)) == 1  # no probe once it is off
    changes = db.scalars(select(AuditLog.details).where(AuditLog.action == "workspace_settings_changed")
                         .order_by(AuditLog.id)).all()
    assert [c["catch_all_probe"] for c in changes] == [{"from": None, "to": True}, {"from": True, "to": False}]


def test_the_config_key_is_the_default_until_an_admin_decides(
        app: Any, db: Any, dns_server: DNSServer, mx: tuple[Probed, int]) -> None:
    state, port = mx
    ctx = job_context(app, dns_server, port, config_probe=True)
    assert effective(db, ctx.settings).catch_all_probe_from == "config"
    assert check(db, ctx, "jane@mail.test").confidence == "risky"
    assert len(rcpts(state)) == 1


def test_only_an_admin_sees_or_changes_the_workspace_settings(app: Any, db: Any, login: Any,
                                                              team: dict[str, Any]) -> None:
    member = login(team["owner"])
    assert member.get("/settings").status_code == 403
    assert member.post("/settings", data={"catch_all_probe": "y"}).status_code == 403
    db.rollback()
    assert effective(db, app.extensions["outreach"].settings).catch_all_probe is False

