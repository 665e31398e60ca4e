"""Role rules on every endpoint: staff change anything, a client-viewer reads its own client, others get 404."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outreach.campaigns.service import add_note
from outreach.models import Activity, AuditLog, Campaign, Client, Prospect
from tests.api.conftest import error_of

#: (method, path, body, whether it changes something); the delete comes last, it removes the prospect
ENDPOINTS: list[tuple[str, str, Any, bool]] = [
    ("GET", "/clients/{client}", None, False),
    ("PATCH", "/clients/{client}", {"notes": "Prefers email"}, True),
    ("GET", "/campaigns/{campaign}", None, False),
    ("PATCH", "/campaigns/{campaign}", {"keywords": ["widgets"]}, True),
    ("GET", "/campaigns/{campaign}/prospects", None, False),
    ("POST", "/campaigns/{campaign}/prospects", {"url": "https://fresh-site.example/links"}, True),
    ("GET", "/prospects/{prospect}", None, False),
    ("PATCH", "/prospects/{prospect}", {"tags": ["vip"]}, True),
    ("GET", "/prospects/{prospect}/stage-changes", None, False),
    ("POST", "/prospects/{prospect}/stage-changes", {"stage": "qualified"}, True),
    ("GET", "/prospects/{prospect}/timeline", None, False),
    ("POST", "/prospects/{prospect}/notes", {"text": "Called them"}, True),
    ("GET", "/contacts/{contact}", None, False),
    ("DELETE", "/prospects/{prospect}", None, True),
]

#: reads of what is internal to the agency: a client-viewer gets 403 (contact addresses)
INTERNAL_READS = {"/contacts/{contact}"}

COLLECTION_WRITES: list[tuple[str, Any]] = [
    ("/clients", {"name": "Initech"}),
    ("/campaigns", {"client_id": None, "name": "Another campaign"}),
]


@pytest.fixture
def records(team: dict[str, Any], make_prospect: Any, db: Session) -> dict[str, int]:
    prospect = make_prospect(team["campaign"], "https://blog.example/resources", email="ed@blog.example",
                             contact_name="Ed")
    add_note(db, prospect, "First call", team["owner"])
    db.commit()
    return {"client": team["client"].id, "campaign": team["campaign"].id, "prospect": prospect.id,
            "contact": prospect.contact_id}


def fingerprint(db: Session) -> tuple[Any, ...]:
    db.rollback()
    return (db.scalar(select(func.count()).select_from(Activity)),
            db.scalar(select(func.count()).select_from(AuditLog)),
            db.scalar(select(func.count()).select_from(Prospect)),
            db.scalar(select(func.count()).select_from(Client)),
            tuple(db.execute(select(Campaign.id, Campaign.keywords, Campaign.status).order_by(Campaign.id))))


@pytest.mark.parametrize("who", ["admin", "owner", "teammate"])
def test_staff_read_and_change_every_record(api_as: Any, team: dict[str, Any], records: dict[str, int],
                                            who: str) -> None:
    api = api_as(team[who])
    for method, path, body, _writes in ENDPOINTS:
        response = api.call(method, path.format(**records), body)
        assert response.status_code in (200, 201, 204), (method, path, response.get_json())
    for path, body in COLLECTION_WRITES:
        body = {**body, "client_id": team["client"].id} if "client_id" in body else body
        assert api.post(path, body).status_code == 201


def test_a_client_viewer_reads_its_client_but_changes_nothing(api_as: Any, team: dict[str, Any],
                                                              records: dict[str, int], db: Session) -> None:
    api = api_as(team["viewer"])
    before = fingerprint(db)
    for method, path, body, writes in ENDPOINTS:
        response = api.call(method, path.format(**records), body)
        if writes or path in INTERNAL_READS:
            assert response.status_code == 403, (method, path)
            assert error_of(response)["code"] == "forbidden"
        else:
            assert response.status_code == 200, (method, path)
    for path, body in COLLECTION_WRITES:
        body = {**body, "client_id": team["client"].id} if "client_id" in body else body
        assert api.post(path, body).status_code == 403
    assert fingerprint(db) == before


def test_a_viewer_of_another_client_gets_404_for_everything(api_as: Any, team: dict[str, Any],
                                                            records: dict[str, int], db: Session) -> None:
    api = api_as(team["outsider"])
    before = fingerprint(db)
    for method, path, body, _writes in ENDPOINTS:
        response = api.call(method, path.format(**records), body)
        if path in INTERNAL_READS:  # refused to every client-viewer, whoever's the record
            assert response.status_code == 403, (method, path)
            continue
        assert response.status_code == 404, (method, path)
        assert error_of(response)["code"] == "not_found"
    for path, body in COLLECTION_WRITES:
        body = {**body, "client_id": team["client"].id} if "client_id" in body else body
        assert api.post(path, body).status_code == 403
    assert fingerprint(db) == before


def test_lists_show_a_client_viewer_only_its_clients_records(api_as: Any, team: dict[str, Any],
                                                             records: dict[str, int], make_prospect: Any) -> None:
    other = make_prospect(team["other_campaign"], "https://elsewhere.example/", email="al@elsewhere.example")
    viewer, outsider, staff = api_as(team["viewer"]), api_as(team["outsider"]), api_as(team["teammate"])

    def ids(api: Any, path: str, **query: Any) -> set[int]:
        response = api.get(path, **query)
        assert response.status_code == 200
        return {row["id"] for row in response.get_json()["data"]}

    assert ids(viewer, "/clients") == {team["client"].id}
    assert ids(outsider, "/clients") == {team["other_client"].id}
    assert ids(staff, "/clients") == {team["client"].id, team["other_client"].id}
    assert ids(viewer, "/campaigns") == {team["campaign"].id}
    assert ids(outsider, "/campaigns") == {team["other_campaign"].id}
    assert ids(viewer, "/prospects") == {records["prospect"]}
    assert ids(outsider, "/prospects") == {other.id}
    assert ids(outsider, "/prospects", campaign_id=team["campaign"].id) == set()
    assert ids(staff, "/prospects") == {records["prospect"], other.id}
    assert viewer.get("/contacts").status_code == 403
    assert outsider.get("/contacts", campaign_id=team["campaign"].id).status_code == 403
    assert ids(staff, "/contacts") == {records["contact"], other.contact_id}


#: endpoints only the team may use at all, reads included: email, the do-not-contact list, bulk adds, webhooks
STAFF_ONLY = ("api.mail.", "api.suppressions.", "api.bulk.", "api.webhooks.")


def _staff_only_calls(app: Any, records: dict[str, int]) -> list[tuple[str, str, str]]:
    """(endpoint, method, url) of every staff-only route, its ids filled from `records` (1 for the others)."""
    ids = {"campaign_id": records["campaign"], "prospect_id": records["prospect"]}
    calls = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith(STAFF_ONLY):
            continue
        url = rule.rule
        for name in rule.arguments:
            url = url.replace(f"<int:{name}>", str(ids.get(name, 1)))
        calls += [(rule.endpoint, method, url) for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return calls


@pytest.mark.parametrize("who", ["viewer", "outsider"])
def test_client_viewers_get_nothing_from_email_the_do_not_contact_list_or_webhooks(
        app: Any, api_as: Any, team: dict[str, Any], records: dict[str, int], db: Session, who: str) -> None:
    api = api_as(team[who])
    before = fingerprint(db)
    calls = _staff_only_calls(app, records)
    assert len(calls) >= 40
    answered = []
    for endpoint, method, url in calls:
        response = api.call(method, url, {} if method in ("POST", "PATCH") else None)
        answered.append((endpoint, method, response.status_code))
    # the viewer of the campaign's own client is refused (403); another client's viewer never learns it exists
    allowed = {"viewer": (403,), "outsider": (403, 404)}[who]
    assert [a for a in answered if a[2] not in allowed] == []
    assert fingerprint(db) == before


def test_members_cannot_manage_webhooks(app: Any, api_as: Any, team: dict[str, Any], records: dict[str, int]) -> None:
    api = api_as(team["teammate"])
    calls = [c for c in _staff_only_calls(app, records) if c[0].startswith("api.webhooks.")]
    assert len(calls) >= 8
    for _endpoint, method, url in calls:
        assert api.call(method, url, {} if method in ("POST", "PATCH") else None).status_code == 403, (method, url)
