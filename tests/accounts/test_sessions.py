"""Login sessions live on the server: logging out, or ending a browser from the account page, ends it."""
from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outreach.lib.clock import utcnow
from outreach.models import LoginSession
from outreach.web.templating import browser
from tests.conftest import PASSWORD

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"


def log_in(app: Flask, user: Any, remember: bool = False, agent: str = FIREFOX) -> FlaskClient:
    browser_ = app.test_client()
    browser_.environ_base["HTTP_USER_AGENT"] = agent
    data = {"email": user.email, "password": PASSWORD, **({"remember": "y"} if remember else {})}
    assert browser_.post("/login", data=data).status_code == 302
    return browser_


def copy_of(app: Flask, original: FlaskClient, *names: str) -> FlaskClient:
    """Another browser holding the same cookies and User-Agent (what a stolen cookie gives an attacker)."""
    thief = app.test_client()
    thief.environ_base["HTTP_USER_AGENT"] = original.environ_base["HTTP_USER_AGENT"]
    for name in names:
        cookie = original.get_cookie(name)
        assert cookie is not None, name
        thief.set_cookie(name, cookie.value)
    return thief


def logged_in(client: FlaskClient) -> bool:
    return client.get("/account").status_code == 200


def test_logging_out_ends_the_session_for_a_copied_cookie_too(app: Flask, team: dict[str, Any]) -> None:
    laptop = log_in(app, team["owner"])
    thief = copy_of(app, laptop, "session")
    assert logged_in(thief)
    laptop.post("/logout")
    assert not logged_in(laptop)
    assert not logged_in(thief)


def test_logging_out_ends_a_copied_remember_me_cookie(app: Flask, team: dict[str, Any]) -> None:
    laptop = log_in(app, team["owner"], remember=True)
    thief = copy_of(app, laptop, "remember_token")  # no session cookie: the remember cookie logs it in
    assert logged_in(thief) and logged_in(thief)
    laptop.post("/logout")
    assert not logged_in(thief)
    assert not logged_in(copy_of(app, thief, "remember_token"))


def test_keep_me_logged_in_outlasts_the_browser_session(app: Flask, team: dict[str, Any]) -> None:
    laptop = log_in(app, team["owner"], remember=True)
    restarted = copy_of(app, laptop, "remember_token")  # the browser was closed: only the remember cookie is left
    assert [logged_in(restarted) for _ in range(3)] == [True, True, True]


def test_the_account_page_lists_browsers_and_logs_one_out(app: Flask, team: dict[str, Any], db: Session) -> None:
    laptop = log_in(app, team["owner"])
    phone = log_in(app, team["owner"], remember=True,
                   agent="Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/131.0 Mobile Safari/537.36")
    page = laptop.get("/account").get_data(as_text=True)
    table = page[page.index('data-testid="sessions"'):page.index("</table>", page.index('data-testid="sessions"'))]
    assert "Firefox on Windows" in table and "Chrome on Android" in table and "kept logged in" in table
    assert table.count("this browser") == 1 and table.count(">Log out<") == 1
    phone_login = db.scalar(select(LoginSession).where(LoginSession.is_remembered))
    assert laptop.post(f"/account/sessions/{phone_login.id}/end").status_code == 302
    assert not logged_in(phone) and logged_in(laptop)


def test_log_out_every_other_browser(app: Flask, team: dict[str, Any], db: Session) -> None:
    laptop, phone, tablet = (log_in(app, team["owner"]) for _ in range(3))
    other_user = log_in(app, team["teammate"])
    response = laptop.post("/account/sessions/end-others", follow_redirects=True)
    assert "Logged out 2 other browser(s)." in response.get_data(as_text=True)
    assert [logged_in(b) for b in (laptop, phone, tablet, other_user)] == [True, False, False, True]


def test_nobody_ends_another_users_session(app: Flask, team: dict[str, Any], db: Session) -> None:
    victim = log_in(app, team["teammate"])
    victims_login = db.scalar(select(LoginSession).order_by(LoginSession.id.desc()))
    attacker = log_in(app, team["owner"])
    response = attacker.post(f"/account/sessions/{victims_login.id}/end", follow_redirects=True)
    assert "no such session" in response.get_data(as_text=True)
    assert logged_in(victim)


def test_a_session_unused_for_30_days_ends(app: Flask, team: dict[str, Any], db: Session) -> None:
    with time_machine.travel(utcnow(), tick=False) as traveller:
        laptop = log_in(app, team["owner"], remember=True)
        traveller.shift(timedelta(days=29))
        assert logged_in(laptop)  # a visit keeps it going
        traveller.shift(timedelta(days=31))
        assert not logged_in(laptop)
        log_in(app, team["owner"])  # the next login clears idle rows
        db.expire_all()
        assert db.scalar(select(func.count()).select_from(LoginSession)) == 1


def test_a_cookie_from_before_login_sessions_logs_in_again(app: Flask, team: dict[str, Any]) -> None:
    laptop = log_in(app, team["owner"])
    with laptop.session_transaction() as session:
        session["_user_id"] = f"{team['owner'].id}:{team['owner'].session_fingerprint}"
    assert not logged_in(laptop)


def test_user_agents_read_as_browser_and_system() -> None:
    assert browser(FIREFOX) == "Firefox on Windows"
    assert browser("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Version/17.5 Safari/605.1.15") \
        == "Safari on macOS"
    assert browser("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36 Edg/131.0") \
        == "Edge on Linux"
    assert browser("") == "unknown browser"


def test_a_new_password_keeps_this_browser_logged_in_after_a_restart(app: Flask, team: dict[str, Any]) -> None:
    laptop = log_in(app, team["owner"], remember=True)
    changed = laptop.post("/account", data={"action": "password", "pw-current_password": PASSWORD,
                                            "pw-new_password": "another long passphrase 42",
                                            "pw-confirm": "another long passphrase 42"})
    assert changed.status_code == 302
    restarted = copy_of(app, laptop, "remember_token")
    assert logged_in(restarted) and logged_in(restarted)


def test_a_form_sent_after_a_pause_records_the_visit_without_waiting_for_its_own_lock(
        app: Flask, db: Session, team: dict[str, Any]) -> None:
    """A POST holds the write lock from its first statement (SQLite): the visit is written in that transaction."""
    start = utcnow()
    with time_machine.travel(start, tick=False):
        owner = log_in(app, team["owner"])
    later = start + timedelta(minutes=10)
    with time_machine.travel(later, tick=False):
        began = time.monotonic()
        response = owner.post("/notifications/read-all")
        assert response.status_code == 302 and time.monotonic() - began < 5
    db.rollback()
    assert db.scalar(select(LoginSession.last_seen_at)) == later
