from __future__ import annotations

from typing import Any

import pytest
import time_machine
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.accounts.service import create_api_token, revoke_api_token
from outreach.lib.clock import utcnow
from outreach.models import ApiToken, Client
from tests.api.conftest import Api, error_of


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer   ", "Basic dXNlcjpwYXNz", "Token abc",
                                    "Bearer otk_not-a-real-token"])
def test_it_answers_401_in_json_without_a_valid_token(api_as: Any, team: dict[str, Any],
                                                      header: str | None) -> None:
    api = api_as(None)
    response = api.get("/clients", headers={"Authorization": header} if header is not None else {})
    assert response.status_code == 401
    assert error_of(response)["code"] == "unauthorized"
    assert error_of(response)["field"] is None
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_it_accepts_a_token_and_records_its_use(api_as: Any, team: dict[str, Any], db: Session) -> None:
    api = api_as(team["owner"])
    assert api.get("/clients").status_code == 200
    token = db.scalar(select(ApiToken).where(ApiToken.user_id == team["owner"].id))
    db.refresh(token)
    assert token.last_used_at is not None


def test_a_revoked_token_is_refused(app: Any, client: FlaskClient, team: dict[str, Any], db: Session) -> None:
    token, secret = create_api_token(db, team["owner"], "script")
    db.commit()
    api = Api(app, client, secret)
    assert api.get("/clients").status_code == 200
    revoke_api_token(db, team["owner"], token.id)
    db.commit()
    response = api.get("/clients")
    assert response.status_code == 401
    assert "revoked" in error_of(response)["message"]


def test_a_deactivated_users_token_is_refused(api_as: Any, team: dict[str, Any], db: Session) -> None:
    api = api_as(team["teammate"])
    team["teammate"].is_active = False
    db.commit()
    assert api.get("/clients").status_code == 401


def test_a_login_cookie_is_not_enough(login: Any, team: dict[str, Any], api_as: Any) -> None:
    login(team["admin"])  # the test client now carries a session cookie
    response = api_as(None).get("/clients")
    assert response.status_code == 401


def test_writes_need_no_csrf_token_because_they_carry_no_cookie(app: Any, api_as: Any, team: dict[str, Any],
                                                                db: Session) -> None:
    app.config["WTF_CSRF_ENABLED"] = True
    response = api_as(team["owner"]).post("/clients", {"name": "Globex"})
    assert response.status_code == 201
    assert db.scalar(select(Client).where(Client.name == "Globex")) is not None


def test_the_token_last_used_time_is_written_at_most_once_a_minute(api_as: Any, team: dict[str, Any],
                                                                   db: Session) -> None:
    api = api_as(team["owner"])
    with time_machine.travel(utcnow(), tick=False) as traveller:
        api.get("/clients")
        token = db.scalar(select(ApiToken).where(ApiToken.user_id == team["owner"].id))
        first = token.last_used_at
        traveller.shift(30)
        db.rollback()  # end the read transaction, to see what the app committed since
        api.get("/clients")
        db.refresh(token)
        assert token.last_used_at == first
        traveller.shift(61)
        db.rollback()
        api.get("/clients")
        db.refresh(token)
        assert token.last_used_at > first


def test_the_openapi_document_needs_no_token(api_as: Any) -> None:
    assert api_as(None).get("/openapi.json").status_code == 200


def test_unknown_paths_and_methods_answer_json(api_as: Any, team: dict[str, Any]) -> None:
    api = api_as(team["owner"])
    response = api.get("/nothing/here")
    assert response.status_code == 404 and error_of(response)["code"] == "not_found"
    response = api.get("/prospects/not-a-number")
    assert response.status_code == 404 and error_of(response)["code"] == "not_found"
    response = api.get("/api/v1/")
    assert response.status_code == 404 and "openapi.json" in error_of(response)["message"]
    response = api.call("PUT", "/clients")
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"
    assert response.headers["Allow"] == "GET, POST"


def test_api_answers_set_no_cookie(api_as: Any, team: dict[str, Any]) -> None:
    api = api_as(team["owner"])
    for response in (api.get("/clients"), api.post("/clients", {"name": "Globex"}), api_as(None).get("/clients")):
        assert "Set-Cookie" not in response.headers
        assert response.mimetype == "application/json"


def test_no_api_write_asks_a_token_authenticated_client_for_a_csrf_token(app: Any, api_as: Any,
                                                                         team: dict[str, Any]) -> None:
    """Every API route (nested blueprints too: api.mail, api.webhooks, ...) is exempt from the web's CSRF check."""
    api = api_as(team["admin"])
    app.config["WTF_CSRF_ENABLED"] = True  # as in production (the app fixture turns it off again)
    asked = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1") or rule.endpoint == "api.unknown":
            continue
        url = rule.rule
        for name in rule.arguments:
            url = url.replace(f"<int:{name}>", "999999")
        for method in sorted(rule.methods & {"POST", "PATCH", "DELETE"}):
            response = api.call(method, url, {})
            if "CSRF" in response.get_data(as_text=True):
                asked.append((method, rule.rule))
    assert asked == []
