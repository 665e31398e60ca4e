from __future__ import annotations

from typing import Any

from flask import Flask
from openapi_spec_validator import validate

from tests.api.conftest import spec_path


def test_the_document_is_valid_openapi_3_1(api_as: Any) -> None:
    response = api_as(None).get("/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"] == "3.1.0"
    validate(spec)


def test_every_api_route_is_documented_with_bearer_auth(app: Flask, api_as: Any) -> None:
    spec = api_as(None).get("/openapi.json").get_json()
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": "an API token from the account page"}
    assert spec["security"] == [{"bearerAuth": []}]
    routes = {(spec_path(rule.rule), method.lower())
              for rule in app.url_map.iter_rules()
              if rule.rule.startswith("/api/v1") and rule.endpoint != "api.unknown"
              for method in rule.methods or () if method not in ("HEAD", "OPTIONS")}
    documented = {(path, method) for path, item in spec["paths"].items() for method in item}
    assert routes - documented == set()
    assert documented - routes == set()
    assert len(routes) >= 20


def test_every_path_parameter_is_declared(api_as: Any) -> None:
    spec = api_as(None).get("/openapi.json").get_json()
    for path, item in spec["paths"].items():
        names = {part[1:-1] for part in path.split("/") if part.startswith("{")}
        for method, operation in item.items():
            declared = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "path"}
            assert declared == names, (path, method)
