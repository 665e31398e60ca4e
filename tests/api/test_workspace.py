"""/api/v1/settings: the workspace settings, read and changed by admins only (checked against the OpenAPI
document)."""
from __future__ import annotations

from typing import Any

from outreach.workspace.service import effective


def test_the_api_reads_and_changes_the_setting_for_admins_only(app: Any, db: Any, api_as: Any,
                                                               team: dict[str, Any]) -> None:
    admin, member = api_as(team["admin"]), api_as(team["owner"])
    assert admin.get("/settings").get_json() == {"catch_all_probe": False, "catch_all_probe_from": "config"}
    assert member.get("/settings").status_code == 403
    assert member.patch("/settings", {"catch_all_probe": True}).status_code == 403
    refused = admin.patch("/settings", {"catch_all_probe": "yes"})
    assert refused.status_code == 422 and refused.get_json()["error"]["field"] == "catch_all_probe"
    changed = admin.patch("/settings", {"catch_all_probe": True})
    assert changed.get_json() == {"catch_all_probe": True, "catch_all_probe_from": "workspace"}
    db.rollback()
    assert effective(db, app.extensions["outreach"].settings).catch_all_probe is True
