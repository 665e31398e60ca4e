from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.models import ApiToken, User
from tests.conftest import PASSWORD


def test_it_sends_every_page_to_setup_until_an_admin_exists(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/setup")


def test_setup_creates_the_admin_then_disappears(client: FlaskClient, db: Session) -> None:
    response = client.post("/setup", data={"name": "Ann", "email": "Ann@Agency.test",
                                           "password": PASSWORD, "confirm": PASSWORD})
    assert response.status_code == 302
    admin = db.scalar(select(User))
    assert admin is not None and admin.role == "admin" and admin.email == "ann@agency.test"
    assert client.get("/setup").status_code == 404
    assert client.get("/").status_code == 200  # logged in by setup


def test_setup_refuses_a_short_password_next_to_the_field(client: FlaskClient, db: Session) -> None:
    response = client.post("/setup", data={"email": "a@agency.test", "password": "short",
                                           "confirm": "short"})
    assert response.status_code == 200
    assert "at least 10 characters" in response.get_data(as_text=True)
    assert db.scalar(select(User)) is None


def test_login_locks_after_repeated_failures(client: FlaskClient, make_user: Any) -> None:
    user = make_user("sam@agency.test")
    for _ in range(5):
        response = client.post("/login", data={"email": user.email, "password": "wrong password"})
        assert "wrong email address or password" in response.get_data(as_text=True)
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert "too many failed attempts" in response.get_data(as_text=True)


def test_login_does_not_redirect_off_site(client: FlaskClient, make_user: Any) -> None:
    user = make_user()
    response = client.post("/login?next=//evil.example/", data={"email": user.email, "password": PASSWORD})
    assert response.headers["Location"] == "/"


def test_a_member_cannot_manage_users(login: Any, team: dict[str, Any]) -> None:
    client = login(team["owner"])
    assert client.get("/users").status_code == 403
    assert client.post("/users", data={"email": "x@y.test", "password": PASSWORD, "role": "admin"}
                       ).status_code == 403


def test_an_admin_creates_a_client_viewer_bound_to_a_client(login: Any, team: dict[str, Any],
                                                            db: Session) -> None:
    client = login(team["admin"])
    response = client.post("/users", data={"email": "cv@acme.test", "password": PASSWORD,
                                           "role": "client_viewer", "client_id": team["client"].id})
    assert response.status_code == 302
    viewer = db.scalar(select(User).where(User.email == "cv@acme.test"))
    assert viewer is not None and viewer.client_id == team["client"].id


def test_a_client_viewer_without_a_client_is_refused(login: Any, team: dict[str, Any]) -> None:
    client = login(team["admin"])
    response = client.post("/users", data={"email": "cv@acme.test", "password": PASSWORD,
                                           "role": "client_viewer", "client_id": 0})
    assert "must be bound to an existing client" in response.get_data(as_text=True)


def test_changing_the_password_needs_the_current_one(login: Any, make_user: Any) -> None:
    user = make_user()
    client = login(user)
    response = client.post("/account", data={"action": "password", "pw-current_password": "nope",
                                             "pw-new_password": "another password", "pw-confirm": "another password"})
    assert "the current password is wrong" in response.get_data(as_text=True)
    response = client.post("/account", data={"action": "password", "pw-current_password": PASSWORD,
                                             "pw-new_password": "another password", "pw-confirm": "another password"})
    assert response.status_code == 302


def test_an_api_token_is_shown_once_and_stored_hashed(login: Any, make_user: Any, db: Session) -> None:
    user = make_user()
    client = login(user)
    response = client.post("/account", data={"action": "token", "tok-name": "script"})
    page = response.get_data(as_text=True)
    assert "otk_" in page
    token = db.scalar(select(ApiToken))
    assert token is not None and "otk_" not in token.token_hash


def test_forms_need_a_csrf_token(app: Flask, client: FlaskClient, make_user: Any) -> None:
    app.config["WTF_CSRF_ENABLED"] = True
    user = make_user()
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 400


def test_pages_carry_security_headers(client: FlaskClient) -> None:
    response = client.get("/login")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
