"""/api/v1/review: list, get, edit and approve first emails held for review; a personaliser's token reaches nothing
else. Every answer is checked against the OpenAPI document (tests/api/conftest.py)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from outreach.mail.sequences import configure_campaign, set_review_required
from outreach.models.mail import Message
from tests.api.conftest import error_of
from tests.mail.test_sending import enroll, fresh


@pytest.fixture
def held(app, db, team, make_prospect, make_sequence, make_user):  # type: ignore[no-untyped-def]
    """Two first emails of the team's campaign held for review, and a personaliser."""
    campaign = team["campaign"]
    prospects = [make_prospect(campaign, f"https://site{i}.test/links", email=f"ann{i}@site{i}.test",
                               contact_name=f"Ann{i} Lee") for i in range(2)]
    configure_campaign(db, campaign, None, make_sequence().id)
    set_review_required(db, campaign, True)
    db.commit()
    enroll(db, app, campaign, prospects)
    messages = [db.scalar(select(Message).where(Message.prospect_id == p.id)) for p in prospects]
    return {"campaign": campaign, "ids": [m.id for m in messages],
            "pat": make_user("pat@agency.test", role="personaliser", name="Pat")}


def test_a_personaliser_lists_edits_and_approves_first_emails(db, api_as, held):
    api = api_as(held["pat"])
    first, second = held["ids"]
    listing = api.get("/review", campaign_id=held["campaign"].id).get_json()
    assert [row["id"] for row in listing["data"]] == [first, second]
    assert listing["data"][0]["is_awaiting_review"] is True and listing["data"][0]["subject"] == "Hello Ann0"
    refused = api.patch(f"/review/{first}", {"body_text": "Hi [FIRST NAME]"})
    assert refused.status_code == 422
    assert error_of(refused)["field"] == "body_text" and "[FIRST NAME]" in error_of(refused)["message"]
    edited = api.patch(f"/review/{first}", {"subject": "For {{ site.domain }}", "body_text": "Hi Ann, personal."})
    assert edited.status_code == 200
    assert edited.get_json()["subject"] == "For site0.test" and edited.get_json()["edited_at"] is not None
    approved = api.post(f"/review/{first}/approve")
    assert approved.status_code == 200 and approved.get_json()["approved_by"] == "Pat"
    again = api.post(f"/review/{first}/approve")
    assert again.status_code == 409 and "Pat approved this email" in error_of(again)["message"]
    assert api.patch(f"/review/{first}", {"subject": "Too late"}).status_code == 409
    assert [row["id"] for row in api.get("/review").get_json()["data"]] == [second]
    fresh(db)
    assert db.get(Message, first).body_text == "Hi Ann, personal."


def test_bulk_approval_answers_what_it_approved_and_why_not_the_rest(api_as, held, team):
    first, second = held["ids"]
    api = api_as(team["teammate"])
    assert api.post(f"/review/{first}/approve").status_code == 200
    result = api.post("/review/approve", {"ids": [first, second, 999]}).get_json()
    assert result["approved"] == [second]
    assert [r["id"] for r in result["refused"]] == [first, 999]
    assert api.post("/review/approve", {"ids": []}).status_code == 422


def test_only_first_emails_of_reviewed_campaigns_are_found(api_as, held):
    api = api_as(held["pat"])
    assert api.get("/review/999999").status_code == 404
    assert api.get(f"/review/{held['ids'][0]}").status_code == 200


def test_mail_settings_turn_review_on_and_off(api_as, held, team):
    api = api_as(team["owner"])
    path = f"/campaigns/{held['campaign'].id}/mail-settings"
    current = api.get(path).get_json()
    assert (current["is_review_required"], current["awaiting_review"]) == (True, 2)
    off = api.patch(path, {"is_review_required": False}).get_json()
    assert (off["is_review_required"], off["awaiting_review"]) == (False, 0)
    assert api.get("/review").get_json()["data"] == []
    assert api_as(held["pat"]).patch(path, {"is_review_required": True}).status_code == 403


def test_a_personalisers_token_gets_403_from_every_other_endpoint(app, db, api_as, held, team):
    api = api_as(held["pat"])
    ids = {"campaign_id": held["campaign"].id, "client_id": team["client"].id}
    fresh(db)
    before = tuple(db.execute(select(Message.id, Message.subject, Message.approved_at)))
    answered = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint.startswith("api.review.") or \
                rule.endpoint in ("api.openapi", "api.unknown"):
            continue
        url = rule.rule
        for name in rule.arguments:
            url = url.replace(f"<int:{name}>", str(ids.get(name, 1))).replace(f"<{name}>", "x")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = api.call(method, url, {} if method in ("POST", "PATCH", "PUT") else None)
            answered.append((method, url, response.status_code))
    assert len(answered) > 80
    assert [a for a in answered if a[2] != 403] == []
    fresh(db)
    assert tuple(db.execute(select(Message.id, Message.subject, Message.approved_at))) == before


@pytest.mark.parametrize("who", ["viewer", "outsider"])
def test_client_viewers_cannot_review(api_as, held, team, who):
    api = api_as(team[who])
    first = held["ids"][0]
    for method, path, body in (("GET", "/review", None), ("GET", f"/review/{first}", None),
                               ("PATCH", f"/review/{first}", {"subject": "x"}),
                               ("POST", f"/review/{first}/approve", None),
                               ("POST", "/review/approve", {"ids": [first]})):
        response = api.call(method, path, body)
        assert response.status_code == 403, (method, path)
