"""/api/v1/settings: the workspace settings an admin changes (as on the Settings page), each with where its value
comes from (the app, or the config file's default)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint

from outreach.accounts import permissions
from outreach.api.common import _body, _commit, _user
from outreach.api.errors import forbidden
from outreach.web.state import db_session, settings
from outreach.workspace import service

bp = Blueprint("workspace", __name__)  # nested in the /api/v1 blueprint (api/views.py)


@bp.before_request
def _admins_only() -> None:
    if not permissions.is_admin(_user()):
        raise forbidden("workspace settings are changed by admins")


def settings_json() -> dict[str, Any]:
    current = service.effective(db_session(), settings())
    return {"catch_all_probe": current.catch_all_probe, "catch_all_probe_from": current.catch_all_probe_from}


@bp.get("/settings")
def get_settings() -> dict[str, Any]:
    return settings_json()


@bp.patch("/settings")
def update_settings() -> dict[str, Any]:
    body = _body("catch_all_probe")
    if "catch_all_probe" in body:
        service.set_catch_all_probe(db_session(), _user(), body.boolean("catch_all_probe", default=False))
        _commit()
    return settings_json()
