"""/api/v1/suppressions: the do-not-contact list through the same contact_rules functions as the web page."""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outreach.campaigns.contact_rules import suppress
from outreach.models import AuditLog, Suppression
from tests.api.conftest import error_of


def entries(db: Session) -> list[tuple[str, str, str]]:
    db.rollback()
    return [tuple(row) for row in db.execute(select(Suppression.kind, Suppression.value, Suppression.reason)
                                             .order_by(Suppression.value))]


def test_it_adds_lists_annotates_and_removes_entries(db: Session, api_as: Any, team: dict[str, Any]) -> None:
    api = api_as(team["owner"])
    email = api.post("/suppressions", {"value": " Ann@Site.TEST ", "note": "asked by phone"})
    assert email.status_code == 201
    assert (email.get_json()["kind"], email.get_json()["value"]) == ("email", "ann@site.test")
    assert email.get_json()["created_by"] == {"id": team["owner"].id, "name": team["owner"].display_name}
    domain = api.post("/suppressions", {"value": "https://www.competitor.test/about"})
    assert (domain.get_json()["kind"], domain.get_json()["value"]) == ("domain", "competitor.test")
    suppress(db, "gone@bounced.test", "bounced", "550 5.1.1")
    db.commit()

    listed = api.get("/suppressions", sort="value").get_json()
    assert [e["value"] for e in listed["data"]] == ["ann@site.test", "competitor.test", "gone@bounced.test"]
    assert [e["value"] for e in api.get("/suppressions", reason="bounced").get_json()["data"]] == ["gone@bounced.test"]
    assert [e["value"] for e in api.get("/suppressions", kind="domain").get_json()["data"]] == ["competitor.test"]
    assert [e["value"] for e in api.get("/suppressions", search="phone").get_json()["data"]] == ["ann@site.test"]
    assert error_of(api.get("/suppressions", reason="spam"))["field"] == "reason"

    entry = email.get_json()["id"]
    assert api.get(f"/suppressions/{entry}").get_json() == email.get_json()
    assert api.patch(f"/suppressions/{entry}", {"note": "wrote back: stop"}).get_json()["note"] == "wrote back: stop"
    assert api.delete(f"/suppressions/{entry}").status_code == 204
    assert api.get(f"/suppressions/{entry}").status_code == 404
    assert entries(db) == [("domain", "competitor.test", "manual"), ("email", "gone@bounced.test", "bounced")]
    actions = db.scalars(select(AuditLog.action).where(AuditLog.object_type == "suppression").order_by(AuditLog.id))
    assert list(actions) == ["suppression.add", "suppression.add", "suppression.update", "suppression.remove"]


def test_a_bad_or_repeated_entry_is_refused_in_one_line_and_changes_nothing(db: Session, api_as: Any,
                                                                           team: dict[str, Any]) -> None:
    api = api_as(team["teammate"])
    assert api.post("/suppressions", {"value": "ann@site.test"}).status_code == 201
    for body, field, message in [
        ({"value": "ANN@site.test"}, "value", "already on the do-not-contact list (manual)"),
        ({"value": "   "}, "value", "value must not be empty"),
        ({"value": "ann@@site"}, "value", "not a valid address"),
        ({"value": "site.test", "kind": "ip"}, "kind", "kind must be one of"),
        ({"value": "x.test", "reason": "unsubscribed"}, "reason", "unknown field 'reason'"),
    ]:
        response = api.post("/suppressions", body)
        assert response.status_code == 422, body
        error = error_of(response)
        assert error["field"] == field and message in error["message"], (body, error)
    assert entries(db) == [("email", "ann@site.test", "manual")]
    assert db.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.object_type == "suppression")) == 1


def test_client_viewers_neither_read_nor_change_the_list(db: Session, api_as: Any, team: dict[str, Any]) -> None:
    suppress(db, "ann@site.test", "unsubscribed", "one-click")
    db.commit()
    entry = db.scalar(select(Suppression.id))
    viewer = api_as(team["viewer"])
    for method, path, body in [("GET", "/suppressions", None), ("GET", f"/suppressions/{entry}", None),
                               ("POST", "/suppressions", {"value": "x@y.test"}),
                               ("PATCH", f"/suppressions/{entry}", {"note": "x"}),
                               ("DELETE", f"/suppressions/{entry}", None)]:
        response = viewer.call(method, path, body)
        assert response.status_code == 403 and "do-not-contact" in error_of(response)["message"], (method, path)
    assert entries(db) == [("email", "ann@site.test", "unsubscribed")]
