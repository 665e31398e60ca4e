from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session


def test_it_lists_filters_and_gets_contacts(api_as: Any, team: dict[str, Any], make_prospect: Any,
                                            db: Session) -> None:
    first = make_prospect(team["campaign"], "https://alpha.example/", email="ann@alpha.example",
                          contact_name="Ann Lee")
    make_prospect(team["other_campaign"], "https://beta.example/", email="bob@beta.example")
    first.contact.status = "valid"
    db.commit()
    api = api_as(team["teammate"])
    body = api.get("/contacts").get_json()
    assert [c["email"] for c in body["data"]] == ["ann@alpha.example", "bob@beta.example"]
    assert body["meta"]["total"] == 2

    def emails(**query: Any) -> list[str]:
        return [c["email"] for c in api.get("/contacts", **query).get_json()["data"]]

    assert emails(status="valid") == ["ann@alpha.example"]
    assert emails(search="lee") == ["ann@alpha.example"]
    assert emails(domain="beta.example") == ["bob@beta.example"]
    assert emails(campaign_id=team["campaign"].id) == ["ann@alpha.example"]
    contact = api.get(f"/contacts/{first.contact_id}").get_json()
    assert contact["name"] == "Ann Lee" and contact["status"] == "valid"
    assert contact["site"] == {"id": first.site_id, "domain": "alpha.example"}
    assert api.get("/contacts/999999").status_code == 404
    assert api.get("/contacts", status="great").status_code == 400
