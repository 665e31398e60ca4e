"""/api/v1/campaigns/{id}/prospects/bulk: up to 1,000 prospects in one request and one transaction, refused
row by row with the same rules as adding one."""
from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from outreach.campaigns.contact_rules import add_suppression
from outreach.models import Activity, Contact, Prospect, Site
from tests.api.conftest import error_of


@pytest.fixture
def staff(api_as: Any, team: dict[str, Any]) -> Any:
    return api_as(team["owner"])


def prospects(db: Session, campaign_id: int) -> int:
    db.rollback()
    return db.scalar(select(func.count()).select_from(Prospect).where(Prospect.campaign_id == campaign_id)) or 0


def test_it_adds_a_thousand_prospects_in_one_request_and_one_transaction(app: Flask, db: Session, staff: Any,
                                                                         team: dict[str, Any]) -> None:
    campaign_id = team["campaign"].id
    rows = [{"url": f"https://site{i}.test/resources", "email": f"editor{i}@site{i}.test", "contact_name": f"Ed {i}",
             "metrics": {"domain_rating": i % 100}} for i in range(1000)]
    staff.get("/campaigns")  # the token's first use is recorded now, not inside the bulk request
    commits: list[int] = []
    engine = app.extensions["outreach"].engine
    listener = lambda conn: commits.append(1)  # noqa: E731
    event.listen(engine, "commit", listener)
    try:
        response = staff.post(f"/campaigns/{campaign_id}/prospects/bulk", {"prospects": rows})
    finally:
        event.remove(engine, "commit", listener)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["meta"] == {"received": 1000, "created": 1000, "refused": 0} and body["errors"] == []
    assert [c["index"] for c in body["created"]] == list(range(1000))
    assert len(commits) == 1
    assert prospects(db, campaign_id) == 1000
    assert db.scalar(select(func.count()).select_from(Contact)) == 1000
    last = db.get(Prospect, body["created"][-1]["id"])
    assert last is not None and last.site.domain == "site999.test" and last.site.domain_rating == 99
    assert last.contact is not None and (last.contact.email, last.contact.name) == ("editor999@site999.test", "Ed 999")
    created = db.scalar(select(Activity.text).where(Activity.prospect_id == last.id, Activity.kind == "created"))
    assert created == "Added site999.test (API bulk request, item 999)"
    too_many = staff.post(f"/campaigns/{campaign_id}/prospects/bulk", {"prospects": rows + rows[:1]})
    assert too_many.status_code == 422 and "at most 1,000 prospects" in error_of(too_many)["message"]


def test_each_refused_row_says_why_and_the_others_are_added(db: Session, staff: Any, team: dict[str, Any],
                                                            make_prospect: Any) -> None:
    campaign_id = team["campaign"].id
    make_prospect(team["campaign"], "https://already.test/")
    make_prospect(team["other_campaign"], "https://busy.test/")
    add_suppression(db, "blocked.test")
    db.commit()
    rows = [
        {"url": "https://good.test/a", "email": "ann@good.test"},
        {"url": "ftp://bad.test/"},
        {"url": "https://mail.test/", "email": "not-an-address"},
        {"url": "https://www.good.test/b"},
        {"url": "https://already.test/links"},
        {"url": "https://busy.test/links"},
        {"url": "https://busy.test/links", "override_reason": "client asked for it"},
        {"url": "https://blocked.test/"},
        {"url": "https://typed.test/", "metrics": {"domain_rating": "high"}},
        {"url": "https://owner.test/", "owner_id": team["viewer"].id},
        "https://not-an-object.test/",
        {"url": "https://fine.test/", "owner_id": team["teammate"].id},
    ]
    response = staff.post(f"/campaigns/{campaign_id}/prospects/bulk", {"prospects": rows})
    assert response.status_code == 201
    body = response.get_json()
    assert [c["index"] for c in body["created"]] == [0, 11]
    errors = {e["index"]: (e["field"], e["message"]) for e in body["errors"]}
    assert errors[1] == ("url", "'ftp://bad.test/' is not an http(s) URL")
    assert errors[2][0] == "email" and "not a valid address" in errors[2][1]
    assert errors[3] == ("url", "good.test is already item 0 of this request")
    assert errors[4] == ("url", "already.test is already in this campaign")
    assert errors[5][0] == "override_reason" and "busy.test is already in campaign “Other campaign”" in errors[5][1]
    assert errors[6] == ("url", "busy.test is already item 5 of this request")
    assert errors[7][0] == "override_reason" and "blocked.test is on the do-not-contact list" in errors[7][1]
    assert errors[8] == ("metrics.domain_rating", "domain_rating must be a number from 0 to 100")
    assert errors[9] == ("owner_id", "the owner must be an active team member (admin or member)")
    assert errors[10] == (None, "the request body must be a JSON object")
    [conflict] = next(e for e in body["errors"] if e["index"] == 5)["conflicts"]
    assert conflict["reason"] == "active_campaign" and conflict["campaign_id"] == team["other_campaign"].id
    assert body["meta"] == {"received": 12, "created": 2, "refused": 10}
    assert prospects(db, campaign_id) == 3
    fine = db.get(Prospect, body["created"][1]["id"])
    assert fine is not None and fine.owner_id == team["teammate"].id


def test_an_override_reason_lets_a_conflicted_row_in_and_is_kept(db: Session, staff: Any, team: dict[str, Any],
                                                                 make_prospect: Any) -> None:
    make_prospect(team["other_campaign"], "https://busy.test/")
    response = staff.post(f"/campaigns/{team['campaign'].id}/prospects/bulk", {"prospects": [
        {"url": "https://busy.test/links", "override_reason": "the client asked for both campaigns"}]})
    assert response.status_code == 201
    prospect = db.get(Prospect, response.get_json()["created"][0]["id"])
    assert prospect is not None and prospect.override_reason == "the client asked for both campaigns"
    assert prospect.overridden == [f"site:busy.test@{team['other_campaign'].id}"]


def test_all_or_none_creates_nothing_when_one_row_is_refused(db: Session, staff: Any, team: dict[str, Any]) -> None:
    path = f"/campaigns/{team['campaign'].id}/prospects/bulk"
    response = staff.post(path, {"all_or_none": True, "prospects": [{"url": "https://one.test/"},
                                                                    {"url": "https://two.test/", "email": "x@"}]})
    assert response.status_code == 422
    error = error_of(response)
    assert error["field"] == "prospects" and error["message"].startswith("no prospect was created: 1 of 2 refused")
    assert [(r["index"], r["field"]) for r in error["rows"]] == [(1, "email")]
    assert prospects(db, team["campaign"].id) == 0
    assert db.scalar(select(func.count()).select_from(Site)) == 0  # no site was written either
    every_row_bad = staff.post(path, {"prospects": [{"url": ""}]})
    assert every_row_bad.status_code == 422 and error_of(every_row_bad)["rows"][0]["field"] == "url"
    for body, message in [({"prospects": []}, "non-empty list"), ({"prospects": "x"}, "non-empty list"),
                          ({"rows": []}, "unknown field 'rows'"), ({"prospects": [{}], "all_or_none": "yes"},
                                                                   "all_or_none must be true or false")]:
        response = staff.post(path, body)
        assert response.status_code == 422 and message in error_of(response)["message"], body


def test_a_client_viewer_cannot_add_in_bulk(db: Session, api_as: Any, team: dict[str, Any]) -> None:
    body = {"prospects": [{"url": "https://one.test/"}]}
    assert api_as(team["viewer"]).post(f"/campaigns/{team['campaign'].id}/prospects/bulk", body).status_code == 403
    assert api_as(team["outsider"]).post(f"/campaigns/{team['campaign'].id}/prospects/bulk", body).status_code == 404
    assert prospects(db, team["campaign"].id) == 0
