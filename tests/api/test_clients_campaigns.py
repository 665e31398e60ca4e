from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outreach.models import AuditLog, Campaign, Client
from tests.api.conftest import error_of


@pytest.fixture
def staff(api_as: Any, team: dict[str, Any]) -> Any:
    return api_as(team["admin"])


def test_it_creates_gets_and_changes_a_client(staff: Any, db: Session, team: dict[str, Any]) -> None:
    response = staff.post("/clients", {"name": " Globex ", "website": "globex.example",
                                       "report_emails": ["Hank@Globex.example", "ops@globex.example"]})
    assert response.status_code == 201
    client = response.get_json()
    assert client["name"] == "Globex" and client["website"] == "https://globex.example"
    assert client["report_emails"] == ["hank@globex.example", "ops@globex.example"]
    assert staff.get(f"/clients/{client['id']}").get_json() == client
    changed = staff.patch(f"/clients/{client['id']}", {"notes": "Pays late"}).get_json()
    assert changed["notes"] == "Pays late" and changed["name"] == "Globex"
    assert changed["report_emails"] == client["report_emails"]
    db.rollback()
    assert db.scalar(select(AuditLog.user_id).where(AuditLog.action == "client.create",
                                                  AuditLog.object_id == client["id"])) == team["admin"].id


@pytest.mark.parametrize(("body", "field", "words"), [
    ({}, "name", "required"),
    ({"name": "acme widgets"}, "name", "exists already"),
    ({"name": "Globex", "website": "javascript:alert(1)"}, "website", ""),
    ({"name": "Globex", "report_emails": ["not-an-address"]}, "report_emails", ""),
    ({"name": "Globex", "report_emails": [1]}, "report_emails", "list of strings"),
    ({"name": "x" * 201}, "name", "longer than 200"),
])
def test_a_bad_client_is_refused(staff: Any, db: Session, body: dict[str, Any], field: str, words: str) -> None:
    response = staff.post("/clients", body)
    assert response.status_code == 422
    assert error_of(response)["field"] == field and words in error_of(response)["message"]
    db.rollback()
    assert db.scalar(select(func.count()).select_from(Client)) == 2


def test_it_lists_and_searches_clients(staff: Any, team: dict[str, Any]) -> None:
    body = staff.get("/clients").get_json()
    assert [c["name"] for c in body["data"]] == ["Acme Widgets", "Other Co"]
    assert body["meta"] == {"total": 2, "page": 1, "per_page": 50, "pages": 1}
    assert [c["name"] for c in staff.get("/clients", search="acme").get_json()["data"]] == ["Acme Widgets"]


def test_it_creates_and_changes_a_campaign(staff: Any, team: dict[str, Any]) -> None:
    response = staff.post("/campaigns", {"client_id": team["client"].id, "name": "Broken links Q1",
                                         "kind": "broken_links", "target_urls": ["https://acme.example/guide"],
                                         "keywords": "widgets\ngadgets", "owner_id": team["owner"].id})
    assert response.status_code == 201
    campaign = response.get_json()
    assert campaign["kind"] == "broken_links" and campaign["status"] == "active"
    assert campaign["target_urls"] == ["https://acme.example/guide"]
    assert campaign["keywords"] == ["widgets", "gadgets"]
    assert campaign["owner"]["id"] == team["owner"].id
    assert campaign["prospects_url"].endswith(f"/api/v1/campaigns/{campaign['id']}/prospects")
    changed = staff.patch(f"/campaigns/{campaign['id']}", {"status": "paused", "owner_id": None}).get_json()
    assert changed["status"] == "paused" and changed["owner"] is None
    assert changed["keywords"] == ["widgets", "gadgets"] and changed["name"] == "Broken links Q1"


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "No client"}, "client_id"),
    ({"client_id": 999999, "name": "Nobody's"}, "client_id"),
    ({"client_id": "acme", "name": "x"}, "client_id"),
    ({"client_id": "ACME", "name": ""}, "name"),
    ({"client_id": "ACME", "name": "x", "kind": "spam"}, "kind"),
    ({"client_id": "ACME", "name": "x", "target_urls": ["not a url"]}, "target_urls"),
    ({"client_id": "ACME", "name": "x", "owner_id": 999999}, "owner_id"),
])
def test_a_bad_campaign_is_refused(staff: Any, team: dict[str, Any], db: Session, body: dict[str, Any],
                                   field: str) -> None:
    body = {k: team["client"].id if v == "ACME" else v for k, v in body.items()}
    response = staff.post("/campaigns", body)
    assert response.status_code == 422
    assert error_of(response)["field"] == field
    db.rollback()
    assert db.scalar(select(func.count()).select_from(Campaign)) == 2


def test_a_bad_campaign_change_is_refused(staff: Any, team: dict[str, Any], db: Session) -> None:
    response = staff.patch(f"/campaigns/{team['campaign'].id}", {"status": "finished"})
    assert response.status_code == 422 and error_of(response)["field"] == "status"
    db.rollback()
    assert db.get(Campaign, team["campaign"].id).status == "active"


def test_it_filters_campaigns(staff: Any, team: dict[str, Any], make_campaign: Any) -> None:
    make_campaign(team["client"], "Guest posts", kind="guest_posts")

    def names(**query: Any) -> list[str]:
        response = staff.get("/campaigns", **query)
        assert response.status_code == 200
        return sorted(c["name"] for c in response.get_json()["data"])

    assert names(client_id=team["client"].id) == ["Acme resource pages", "Guest posts"]
    assert names(kind="guest_posts") == ["Guest posts"]
    assert names(search="RESOURCE") == ["Acme resource pages"]
    assert names(status="archived") == []
    assert staff.get("/campaigns", status="done").status_code == 400
