"""Who may see and change what on the campaign pages: client-viewers read only their client."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.campaigns import service
from outreach.models import Prospect


@pytest.fixture
def cards(team: dict[str, Any], make_prospect: Any) -> dict[str, Prospect]:
    return {"mine": make_prospect(team["campaign"], "https://acme-prospect.test/"),
            "theirs": make_prospect(team["other_campaign"], "https://other-prospect.test/")}


def test_a_client_viewer_reads_only_their_clients_prospects(login: Any, team: dict[str, Any],
                                                            cards: dict[str, Prospect]) -> None:
    client = login(team["viewer"])
    html = client.get("/prospects").get_data(as_text=True)
    assert "acme-prospect.test" in html and "other-prospect.test" not in html
    assert 'name="ids"' not in html and "bulkbar" not in html  # read-only: no bulk actions
    response = client.get("/prospects/export.csv")
    text = response.get_data(as_text=True)
    response.close()
    assert "acme-prospect.test" in text and "other-prospect.test" not in text
    html = client.get(f"/campaigns/{team['campaign'].id}").get_data(as_text=True)
    assert "acme-prospect.test" in html and "Move acme-prospect.test to" not in html
    assert 'draggable="true"' not in html
    assert client.get(f"/campaigns/{team['campaign'].id}/prospects").status_code == 200


@pytest.mark.parametrize("url", [
    "/campaigns/{other}", "/campaigns/{other}/prospects", "/campaigns/{other}/prospects/export.csv",
    "/prospects/{theirs}",
])
def test_a_viewer_of_another_client_gets_404(login: Any, team: dict[str, Any], cards: dict[str, Prospect],
                                             url: str) -> None:
    client = login(team["viewer"])
    response = client.get(url.format(other=team["other_campaign"].id, theirs=cards["theirs"].id))
    assert response.status_code == 404
    response.close()


@pytest.mark.parametrize(("method", "url"), [
    ("get", "/sites"), ("get", "/contacts"), ("get", "/sites/export.csv"), ("get", "/contacts/export.csv"),
    ("get", "/do-not-contact"), ("post", "/do-not-contact"),
    ("get", "/campaigns/{mine_campaign}/import"), ("post", "/campaigns/{mine_campaign}/import"),
    ("post", "/prospects/{mine}/stage"), ("post", "/prospects/bulk"),
])
def test_a_client_viewer_cannot_use_staff_pages(login: Any, team: dict[str, Any], cards: dict[str, Prospect],
                                                method: str, url: str) -> None:
    client = login(team["viewer"])
    target = url.format(mine_campaign=team["campaign"].id, mine=cards["mine"].id)
    response = getattr(client, method)(target, data={"stage": "lost", "ids": [str(cards["mine"].id)],
                                                     "action": "delete", "confirmed": "yes", "value": "x.test"})
    assert response.status_code == 403


def test_a_viewer_cannot_change_anything_even_by_posting(login: Any, team: dict[str, Any], db: Session,
                                                        cards: dict[str, Prospect]) -> None:
    client = login(team["outsider"])
    mine = cards["mine"]
    for url in (f"/prospects/{mine.id}/stage", f"/prospects/{mine.id}/notes", f"/prospects/{mine.id}/details"):
        assert client.post(url, data={"stage": "lost", "text": "x", "tags": "x"}).status_code == 403
    db.rollback()
    assert db.scalar(select(Prospect.stage).where(Prospect.id == mine.id)) == "new"


def test_members_see_and_act_on_every_client(login: Any, team: dict[str, Any], db: Session,
                                            cards: dict[str, Prospect]) -> None:
    client = login(team["teammate"])
    html = client.get("/prospects").get_data(as_text=True)
    assert "acme-prospect.test" in html and "other-prospect.test" in html and 'name="ids"' in html
    for url in ("/sites", "/contacts", "/do-not-contact", f"/campaigns/{team['campaign'].id}/import"):
        assert client.get(url).status_code == 200, url
    response = client.post("/prospects/bulk", data={"ids": [str(cards["theirs"].id)], "action": "tag",
                                                    "tag": "ok"})
    assert response.status_code == 302


def test_bulk_assign_refuses_a_client_viewer_as_owner(login: Any, team: dict[str, Any], db: Session,
                                                     cards: dict[str, Prospect]) -> None:
    client = login(team["owner"])
    response = client.post("/prospects/bulk", data={"ids": [str(cards["mine"].id)], "action": "owner",
                                                    "owner_id": str(team["viewer"].id)}, follow_redirects=True)
    assert "the owner must be a team member" in response.get_data(as_text=True)
    db.rollback()
    assert db.scalar(select(Prospect.owner_id).where(Prospect.id == cards["mine"].id)) is None
    with pytest.raises(service.CampaignError, match="select at least one prospect"):
        service.bulk_update(db, [], "stage", "new", None)


def test_a_client_viewer_cannot_be_made_owner_of_a_prospect(login: Any, team: dict[str, Any], db: Session,
                                                            cards: dict[str, Prospect]) -> None:
    client = login(team["owner"])
    response = client.post(f"/prospects/{cards['mine'].id}/details",
                           data={"tags": "", "owner_id": str(team["viewer"].id)}, follow_redirects=True)
    assert "the owner must be a team member, not a client viewer" in response.get_data(as_text=True)
    db.rollback()
    assert db.scalar(select(Prospect.owner_id).where(Prospect.id == cards["mine"].id)) is None
