from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outreach.campaigns.contact_rules import add_suppression
from outreach.campaigns.service import move_prospect, set_tags
from outreach.models import Activity, Prospect, Site
from tests.api.conftest import error_of


@pytest.fixture
def staff(api_as: Any, team: dict[str, Any]) -> Any:
    return api_as(team["owner"])


def prospect_count(db: Session) -> int:
    db.rollback()
    return db.scalar(select(func.count()).select_from(Prospect)) or 0


def test_it_adds_a_prospect_with_contact_metrics_tags_and_owner(staff: Any, team: dict[str, Any],
                                                                db: Session) -> None:
    response = staff.post(f"/campaigns/{team['campaign'].id}/prospects", {
        "url": "https://www.Blog.example/resources", "email": "Ed@Blog.example", "contact_name": "Ed",
        "metrics": {"domain_rating": 54, "organic_traffic": 1200}, "owner_id": team["teammate"].id,
        "tags": ["VIP", "resource page"]})
    assert response.status_code == 201
    body = response.get_json()
    assert response.headers["Location"] == body["url"]
    assert body["site"]["domain"] == "blog.example"
    assert body["site"]["domain_rating"] == 54.0 and body["site"]["organic_traffic"] == 1200
    assert body["contact"]["email"] == "ed@blog.example" and body["contact"]["name"] == "Ed"
    assert body["stage"] == "new"
    assert body["owner"] == {"id": team["teammate"].id, "name": team["teammate"].display_name}
    assert body["tags"] == ["resource page", "vip"]
    timeline = staff.get(f"/prospects/{body['id']}/timeline").get_json()["data"]
    assert {entry["kind"] for entry in timeline} == {"created", "tags"}
    assert all(entry["user"]["id"] == team["owner"].id for entry in timeline)


def test_a_site_in_another_active_campaign_is_a_409_until_overridden(staff: Any, team: dict[str, Any],
                                                                     make_prospect: Any, db: Session) -> None:
    make_prospect(team["other_campaign"], "https://blog.example/")
    path = f"/campaigns/{team['campaign'].id}/prospects"
    response = staff.post(path, {"url": "https://blog.example/links"})
    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "conflict" and error["field"] == "override_reason"
    assert error["conflicts"] == [{"reason": "active_campaign", "campaign_id": team["other_campaign"].id,
                                   "message": "blog.example is already in campaign “Other campaign” (stage new)"}]
    assert prospect_count(db) == 1

    response = staff.post(path, {"url": "https://blog.example/links", "override_reason": "   "})
    assert response.status_code == 409
    response = staff.post(path, {"url": "https://blog.example/links", "override_reason": "client asked"})
    assert response.status_code == 201
    assert response.get_json()["override_reason"] == "client asked"
    overrides = staff.get(f"/prospects/{response.get_json()['id']}/timeline", kind="override").get_json()
    assert overrides["meta"]["total"] == 1
    assert "client asked" in overrides["data"][0]["text"]


def test_a_do_not_contact_address_is_a_409(staff: Any, team: dict[str, Any], db: Session) -> None:
    add_suppression(db, "ed@blog.example", reason="unsubscribed")
    db.commit()
    response = staff.post(f"/campaigns/{team['campaign'].id}/prospects",
                          {"url": "https://blog.example/", "email": "ed@blog.example"})
    assert response.status_code == 409
    assert error_of(response)["conflicts"][0]["reason"] == "do_not_contact"
    assert prospect_count(db) == 0


@pytest.mark.parametrize(("body", "status", "field", "words"), [
    ({}, 422, "url", "url is required"),
    ({"url": ""}, 422, "url", "must not be empty"),
    ({"url": 42}, 422, "url", "must be a string"),
    ({"url": "ftp://files.example/"}, 422, "url", "http"),
    ({"url": "https://blog.example/", "email": "not an address"}, 422, "email", ""),
    ({"url": "https://blog.example/", "metrics": {"dr": 5}}, 422, "metrics.dr", "unknown metric"),
    ({"url": "https://blog.example/", "metrics": {"domain_rating": "high"}}, 422, "metrics.domain_rating",
     "number"),
    ({"url": "https://blog.example/", "metrics": [1]}, 422, "metrics", "object"),
    ({"url": "https://blog.example/", "owner_id": 999999}, 422, "owner_id", "team member"),
    ({"url": "https://blog.example/", "owner_id": "3"}, 422, "owner_id", "integer"),
    ({"url": "https://blog.example/", "tags": "vip"}, 422, "tags", "list of strings"),
    ({"url": "https://blog.example/", "colour": "red"}, 422, "colour", "unknown field"),
    ({"url": "https://blog.example/", "override_reason": 5}, 422, "override_reason", "string"),
    (["https://blog.example/"], 400, None, "JSON object"),
])
def test_bad_input_is_refused_naming_the_field_and_changes_nothing(staff: Any, team: dict[str, Any],
                                                                   db: Session, body: Any, status: int,
                                                                   field: str | None, words: str) -> None:
    response = staff.post(f"/campaigns/{team['campaign'].id}/prospects", body)
    assert response.status_code == status
    error = error_of(response)
    assert error["field"] == field
    assert words in error["message"]
    assert prospect_count(db) == 0
    db.rollback()
    assert db.scalar(select(func.count()).select_from(Site)) == 0


def test_a_body_that_is_not_json_is_a_400(staff: Any, team: dict[str, Any]) -> None:
    response = staff.call("POST", f"/campaigns/{team['campaign'].id}/prospects", data="url=https://x.example",
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_json"


def test_a_viewer_cannot_be_made_owner(staff: Any, team: dict[str, Any], make_prospect: Any) -> None:
    prospect = make_prospect(team["campaign"])
    response = staff.patch(f"/prospects/{prospect.id}", {"owner_id": team["viewer"].id})
    assert response.status_code == 422 and error_of(response)["field"] == "owner_id"


def test_the_same_site_twice_in_one_campaign_is_refused(staff: Any, team: dict[str, Any],
                                                        make_prospect: Any, db: Session) -> None:
    make_prospect(team["campaign"], "https://blog.example/a")
    response = staff.post(f"/campaigns/{team['campaign'].id}/prospects", {"url": "https://blog.example/b"})
    assert response.status_code == 422
    assert error_of(response) == {"code": "invalid", "field": "url",
                                  "message": "blog.example is already in this campaign"}
    assert prospect_count(db) == 1


def test_it_moves_a_prospect_and_lists_its_stage_changes(staff: Any, team: dict[str, Any],
                                                         make_prospect: Any) -> None:
    prospect = make_prospect(team["campaign"])
    path = f"/prospects/{prospect.id}/stage-changes"
    response = staff.post(path, {"stage": "contacted", "reason": "sent the pitch"})
    assert response.status_code == 200
    assert response.get_json()["changed"] is True
    assert response.get_json()["prospect"]["stage"] == "contacted"
    again = staff.post(path, {"stage": "contacted"})
    assert again.get_json()["changed"] is False
    staff.post(path, {"stage": "replied", "position": 2.5})
    changes = staff.get(path).get_json()
    assert changes["meta"]["total"] == 2
    assert [(c["from"], c["to"]) for c in changes["data"]] == [("contacted", "replied"), ("new", "contacted")]
    assert changes["data"][1]["text"] == "Stage new → contacted: sent the pitch"
    assert changes["data"][0]["user"]["id"] == team["owner"].id
    assert staff.get(f"/prospects/{prospect.id}").get_json()["position"] == 2.5


@pytest.mark.parametrize(("body", "field"), [
    ({"stage": "won"}, "stage"), ({}, "stage"), ({"stage": "live", "position": "top"}, "position"),
    ({"stage": "live", "reason": ["x"]}, "reason"),
])
def test_a_bad_stage_change_is_refused(staff: Any, team: dict[str, Any], make_prospect: Any, db: Session,
                                       body: dict[str, Any], field: str) -> None:
    prospect = make_prospect(team["campaign"])
    response = staff.post(f"/prospects/{prospect.id}/stage-changes", body)
    assert response.status_code == 422
    assert error_of(response)["field"] == field
    db.rollback()
    assert db.get(Prospect, prospect.id).stage == "new"


def test_it_adds_notes_and_lists_the_timeline_newest_first(staff: Any, team: dict[str, Any],
                                                           make_prospect: Any) -> None:
    prospect = make_prospect(team["campaign"])
    response = staff.post(f"/prospects/{prospect.id}/notes", {"text": "  Left a voicemail  "})
    assert response.status_code == 201
    assert response.get_json()["text"] == "Left a voicemail"
    assert response.get_json()["kind"] == "note"
    empty = staff.post(f"/prospects/{prospect.id}/notes", {"text": "   "})
    assert empty.status_code == 422 and error_of(empty)["field"] == "text"
    timeline = staff.get(f"/prospects/{prospect.id}/timeline").get_json()
    assert [e["kind"] for e in timeline["data"]] == ["note", "created"]
    assert staff.get(f"/prospects/{prospect.id}/timeline", kind="note").get_json()["meta"]["total"] == 1


def test_it_changes_tags_and_owner(staff: Any, team: dict[str, Any], make_prospect: Any) -> None:
    prospect = make_prospect(team["campaign"])
    response = staff.patch(f"/prospects/{prospect.id}", {"tags": ["b", "a"], "owner_id": team["teammate"].id})
    assert response.status_code == 200
    assert response.get_json()["tags"] == ["a", "b"]
    assert response.get_json()["owner"]["id"] == team["teammate"].id
    response = staff.patch(f"/prospects/{prospect.id}", {"owner_id": None, "tags": []})
    assert response.get_json()["owner"] is None and response.get_json()["tags"] == []


def test_it_changes_the_contact_and_conflicts_need_an_override(staff: Any, team: dict[str, Any], db: Session,
                                                                make_prospect: Any) -> None:
    prospect = make_prospect(team["campaign"], "https://widgets.example/links")
    add_suppression(db, "gone@widgets.example", reason="bounced")
    db.commit()
    response = staff.patch(f"/prospects/{prospect.id}", {"contact_email": "Ed@Widgets.example", "contact_name": "Ed"})
    assert response.status_code == 200 and response.get_json()["contact"]["email"] == "ed@widgets.example"
    response = staff.patch(f"/prospects/{prospect.id}", {"contact_email": "gone@widgets.example", "tags": ["x"]})
    assert response.status_code == 409
    assert [c["reason"] for c in error_of(response)["conflicts"]] == ["do_not_contact"]
    db.rollback()
    db.expire_all()
    assert db.get(Prospect, prospect.id).contact.email == "ed@widgets.example"
    assert [t.name for t in db.get(Prospect, prospect.id).tags] == []  # nothing changed
    response = staff.patch(f"/prospects/{prospect.id}", {"contact_email": "gone@widgets.example",
                                                         "override_reason": "they asked to be added back"})
    assert response.status_code == 200 and response.get_json()["contact"]["email"] == "gone@widgets.example"
    response = staff.patch(f"/prospects/{prospect.id}", {"contact_email": "not an address"})
    assert response.status_code == 422 and error_of(response)["field"] == "contact_email"


def test_it_names_the_current_contact_or_says_there_is_none(staff: Any, team: dict[str, Any], db: Session,
                                                              make_prospect: Any) -> None:
    prospect = make_prospect(team["campaign"], "https://widgets.example/links")
    response = staff.patch(f"/prospects/{prospect.id}", {"contact_name": "Jane Doe", "tags": ["x"]})
    assert response.status_code == 422
    assert error_of(response)["field"] == "contact_name"
    assert error_of(response)["message"] == "this prospect has no contact to name: set contact_email first"
    db.rollback()
    db.expire_all()
    assert [t.name for t in db.get(Prospect, prospect.id).tags] == []  # nothing changed
    staff.patch(f"/prospects/{prospect.id}", {"contact_email": "jane@widgets.example"})
    response = staff.patch(f"/prospects/{prospect.id}", {"contact_name": " Jane  Doe "})
    assert response.status_code == 200 and response.get_json()["contact"]["name"] == "Jane Doe"
    # the same address again with another name: the name changes (it was ignored before)
    response = staff.patch(f"/prospects/{prospect.id}", {"contact_email": "Jane@widgets.example",
                                                         "contact_name": "Jane Q. Doe"})
    assert response.status_code == 200 and response.get_json()["contact"]["name"] == "Jane Q. Doe"
    response = staff.patch(f"/prospects/{prospect.id}", {"contact_name": None})
    assert response.status_code == 200 and response.get_json()["contact"]["name"] == ""
    db.rollback()
    texts = list(db.scalars(select(Activity.text).where(Activity.prospect_id == prospect.id, Activity.kind == "contact")
                            .order_by(Activity.id)))
    assert texts[1:] == ["Contact jane@widgets.example named Jane Doe",
                         "Contact jane@widgets.example named Jane Q. Doe (was Jane Doe)",
                         "Contact jane@widgets.example: name removed (was Jane Q. Doe)"]


def test_it_deletes_a_prospect_and_its_timeline(staff: Any, team: dict[str, Any], make_prospect: Any,
                                                db: Session) -> None:
    prospect = make_prospect(team["campaign"])
    response = staff.delete(f"/prospects/{prospect.id}")
    assert response.status_code == 204
    assert prospect_count(db) == 0
    assert db.scalar(select(func.count()).select_from(Activity)) == 0
    assert staff.get(f"/prospects/{prospect.id}").status_code == 404


# --- listing: filters, sorting, pagination -----------------------------------------------------

@pytest.fixture
def board(team: dict[str, Any], make_prospect: Any, db: Session) -> dict[str, Prospect]:
    campaign = team["campaign"]
    made = {
        "alpha": make_prospect(campaign, "https://alpha.example/", email="ann@alpha.example",
                               contact_name="Ann Lee", metrics={"domain_rating": 70}),
        "beta": make_prospect(campaign, "https://beta.example/", metrics={"domain_rating": 20},
                              owner_id=team["teammate"].id),
        "gamma": make_prospect(campaign, "https://gamma.example/guest-post", owner_id=team["owner"].id),
        "other": make_prospect(team["other_campaign"], "https://delta.example/", metrics={"domain_rating": 90}),
    }
    move_prospect(db, made["beta"], "contacted")
    move_prospect(db, made["gamma"], "live")
    set_tags(db, made["alpha"], ["vip"], None)
    set_tags(db, made["gamma"], ["vip", "edu"], None)
    db.commit()
    return made


def domains(response: Any) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [row["site"]["domain"] for row in response.get_json()["data"]]


@pytest.mark.parametrize(("query", "expected"), [
    ({"stage": "new"}, {"alpha.example", "delta.example"}),
    ({"stage": "contacted,live"}, {"beta.example", "gamma.example"}),
    ({"tag": "VIP"}, {"alpha.example", "gamma.example"}),
    ({"tag": "edu"}, {"gamma.example"}),
    ({"owner": "none"}, {"alpha.example", "delta.example"}),
    ({"owner": "me"}, {"gamma.example"}),
    ({"search": "ann lee"}, {"alpha.example"}),
    ({"search": "GUEST-post"}, {"gamma.example"}),
    ({"search": "%"}, set()),
    ({"min_domain_rating": "50"}, {"alpha.example", "delta.example"}),
    ({"min_domain_rating": "10", "max_domain_rating": "75"}, {"alpha.example", "beta.example"}),
    ({"client_id": "other"}, {"delta.example"}),
    ({"campaign_id": "acme", "stage": "new"}, {"alpha.example"}),
])
def test_it_filters_prospects(staff: Any, team: dict[str, Any], board: dict[str, Prospect],
                              query: dict[str, str], expected: set[str]) -> None:
    ids = {"other": str(team["other_client"].id), "acme": str(team["campaign"].id)}
    query = {k: ids.get(v, v) for k, v in query.items()}
    assert set(domains(staff.get("/prospects", **query))) == expected


def test_it_filters_by_owner_id(staff: Any, team: dict[str, Any], board: dict[str, Prospect]) -> None:
    assert domains(staff.get("/prospects", owner=team["teammate"].id)) == ["beta.example"]


def test_a_campaigns_prospects_are_filtered_and_sorted(staff: Any, team: dict[str, Any],
                                                       board: dict[str, Prospect]) -> None:
    path = f"/campaigns/{team['campaign'].id}/prospects"
    assert domains(staff.get(path, sort="domain")) == ["alpha.example", "beta.example", "gamma.example"]
    assert domains(staff.get(path, sort="-domain_rating")) == ["alpha.example", "beta.example", "gamma.example"]
    assert domains(staff.get(path, sort="domain_rating")) == ["beta.example", "alpha.example", "gamma.example"]
    assert domains(staff.get(path, tag="vip", sort="-domain")) == ["gamma.example", "alpha.example"]


@pytest.mark.parametrize(("query", "field"), [
    ({"stage": "new,won"}, "stage"), ({"page": "0"}, "page"), ({"page": "two"}, "page"),
    ({"per_page": "201"}, "per_page"), ({"per_page": "-1"}, "per_page"), ({"owner": "someone"}, "owner"),
    ({"min_domain_rating": "high"}, "min_domain_rating"), ({"max_organic_traffic": "nan"}, "max_organic_traffic"),
    ({"sort": "random"}, "sort"), ({"campaign_id": "x"}, "campaign_id"), ({"search": "x" * 201}, "search"),
])
def test_bad_list_parameters_are_a_400_naming_the_parameter(staff: Any, board: dict[str, Prospect],
                                                            query: dict[str, str], field: str) -> None:
    response = staff.get("/prospects", **query)
    assert response.status_code == 400
    assert error_of(response)["field"] == field
    assert error_of(response)["code"] == "bad_parameter"


def test_it_paginates_with_totals_and_next_links(staff: Any, team: dict[str, Any], make_prospect: Any) -> None:
    for n in range(7):
        make_prospect(team["campaign"], f"https://site{n}.example/")
    seen: list[int] = []
    url: str | None = f"/api/v1/campaigns/{team['campaign'].id}/prospects?per_page=3&sort=domain"
    pages = 0
    while url:
        response = staff.get(url.replace("http://localhost", ""))
        body = response.get_json()
        assert body["meta"]["total"] == 7 and body["meta"]["pages"] == 3 and body["meta"]["per_page"] == 3
        seen += [row["id"] for row in body["data"]]
        assert "sort=domain" in body["links"]["self"]
        url = body["links"]["next"]
        pages += 1
    assert pages == 3 and len(seen) == len(set(seen)) == 7
    last = staff.get(f"/campaigns/{team['campaign'].id}/prospects", page=3, per_page=3).get_json()
    assert len(last["data"]) == 1 and last["links"]["next"] is None and "page=2&per_page=3" in last["links"]["prev"]
    beyond = staff.get(f"/campaigns/{team['campaign'].id}/prospects", page=9, per_page=3).get_json()
    assert beyond["data"] == [] and beyond["meta"]["total"] == 7


def test_the_list_runs_the_same_number_of_queries_for_more_rows(app: Any, staff: Any, team: dict[str, Any],
                                                                 make_prospect: Any, db: Session) -> None:
    from sqlalchemy import event

    engine = app.extensions["outreach"].engine
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    def queries_for_list() -> int:
        statements.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            assert staff.get("/prospects", per_page=50).status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(statements)

    def add(n: int, start: int) -> None:
        for i in range(start, start + n):
            prospect = make_prospect(team["campaign"], f"https://s{i}.example/", email=f"a@s{i}.example",
                                     owner_id=team["teammate"].id)
            set_tags(db, prospect, [f"t{i % 3}"], None)
        db.commit()

    staff.get("/clients")  # the token's first use writes its last_used_at
    add(2, 0)
    few = queries_for_list()
    add(12, 2)
    assert queries_for_list() == few


def test_a_nul_character_is_refused_in_bodies_and_parameters(staff: Any, team: dict[str, Any],
                                                             db: Session) -> None:
    response = staff.post(f"/campaigns/{team['campaign'].id}/prospects",
                          {"url": "https://blog.example/", "contact_name": "Ed\u0000"})
    assert response.status_code == 422 and error_of(response)["field"] == "contact_name"
    response = staff.post(f"/campaigns/{team['campaign'].id}/prospects",
                          {"url": "https://blog.example/", "tags": ["a\u0000"]})
    assert response.status_code == 422 and error_of(response)["field"] == "tags"
    response = staff.get("/prospects", search="ed\u0000")
    assert response.status_code == 400 and error_of(response)["field"] == "search"
    assert prospect_count(db) == 0


def test_a_prospect_taken_through_promised_and_live_can_be_deleted(staff: Any, team: dict[str, Any],
                                                                   make_prospect: Any, db: Session) -> None:
    prospect = make_prospect(team["campaign"], email="ed@blog.example")
    for stage in ("contacted", "replied", "promised", "live", "lost"):
        response = staff.post(f"/prospects/{prospect.id}/stage-changes", {"stage": stage})
        assert response.status_code == 200 and response.get_json()["prospect"]["stage"] == stage
    assert staff.delete(f"/prospects/{prospect.id}").status_code == 204
    assert prospect_count(db) == 0
