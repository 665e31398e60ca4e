"""An API client that sends a user's token and checks every answer against the OpenAPI document."""
from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema.validators import Draft202012Validator
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from outreach.accounts.service import create_api_token
from outreach.api.openapi import build_spec
from outreach.models import User
from tests.mail.conftest import (  # noqa: F401 (the real mail servers and mail factories, for the email endpoints)
    dovecot,
    imap_server,
    job_context,
    make_mailbox,
    make_sequence,
    outreach_campaign,
    smtp_sink,
)

SPEC = build_spec()


def spec_path(rule: str) -> str:
    """/api/v1/prospects/<int:prospect_id> -> /api/v1/prospects/{prospect_id}"""
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node and len(node) == 1:
        _, section, kind, name = node["$ref"].split("/")
        node = SPEC[section][kind][name]
    return node


def check_against_spec(app: Flask, method: str, path: str, response: TestResponse) -> None:
    """The response's status is documented for this operation and its JSON matches the schema."""
    adapter = app.url_map.bind("localhost")
    endpoint, _args = adapter.match(path.split("?")[0], method=method)
    if endpoint == "api.unknown":
        assert response.status_code in (401, 404, 405)
        assert set(response.get_json()["error"]) >= {"code", "message", "field"}
        return
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    operation = SPEC["paths"][spec_path(rule.rule)][method.lower()]
    documented = operation["responses"].get(str(response.status_code))
    assert documented is not None, f"{method} {path} answered {response.status_code}, which is not documented"
    documented = _resolve(documented)
    content = documented.get("content")
    if content is None:
        assert response.get_data() == b""
        return
    assert response.mimetype == "application/json"
    schema = {**content["application/json"]["schema"], "components": SPEC["components"]}
    errors = sorted(Draft202012Validator(schema).iter_errors(response.get_json()), key=str)
    assert not errors, f"{method} {path} -> {response.status_code}: {errors[0]}"


class Api:
    """Calls /api/v1 as one user (or with no token), checking each answer against the document."""

    def __init__(self, app: Flask, client: FlaskClient, token: str | None) -> None:
        self.app, self.client, self.token = app, client, token

    def call(self, method: str, path: str, json: Any = None, *, data: Any = None,
             headers: dict[str, str] | None = None, **query: Any) -> TestResponse:
        if not path.startswith("/api/"):
            path = "/api/v1" + path
        sent = dict(headers or {})
        if self.token is not None:
            sent.setdefault("Authorization", f"Bearer {self.token}")
        response = self.client.open(path, method=method, json=json, data=data, headers=sent,
                                    query_string={k: v for k, v in query.items() if v is not None} or None)
        check_against_spec(self.app, method, path, response)
        return response

    def get(self, path: str, **query: Any) -> TestResponse:
        return self.call("GET", path, **query)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> TestResponse:
        return self.call("POST", path, json, **kwargs)

    def patch(self, path: str, json: Any = None, **kwargs: Any) -> TestResponse:
        return self.call("PATCH", path, json, **kwargs)

    def delete(self, path: str) -> TestResponse:
        return self.call("DELETE", path)


@pytest.fixture
def api_as(app: Flask, client: FlaskClient, db: Session) -> Any:
    """api_as(user) -> an Api with a fresh token of that user; api_as(None) sends no token."""

    def make(user: User | None) -> Api:
        if user is None:
            return Api(app, client, None)
        _token, secret = create_api_token(db, user, "tests")
        db.commit()
        return Api(app, client, secret)

    return make


def error_of(response: TestResponse) -> dict[str, Any]:
    return response.get_json()["error"]
