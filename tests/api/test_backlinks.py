"""/api/v1 backlinks: the ledger, check evidence and history, check now, the client report; role rules."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outreach.backlinks.service import create_backlink
from outreach.campaigns.service import move_prospect
from outreach.config import BacklinksSettings
from outreach.models import AuditLog, Backlink, BacklinkCheck, BacklinkEvent
from outreach.reports.service import build_report
from tests.api.conftest import error_of

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def links(db: Session, team: dict[str, Any]) -> dict[str, int]:
    """A live link of Acme's campaign with two checks and an event, and a pending link of the other client."""
    with time_machine.travel(NOW - timedelta(days=10), tick=False):
        live = create_backlink(db, client_id=team["client"].id, campaign_id=team["campaign"].id,
                               page_url="https://blog.example/best-widgets", target_url="https://acme.example/",
                               agreed_anchor="Acme widgets")
        db.add(BacklinkCheck(backlink_id=live.id, page_url=live.page_url, status="missing", http_status=200,
                             checked_at=NOW - timedelta(days=10), problems=[], evidence={"links": []}))
    seen = NOW - timedelta(days=5)
    check = BacklinkCheck(backlink_id=live.id, page_url=live.page_url, final_url=live.page_url, status="live",
                          http_status=200, follow=True, indexable=True, found_in="static", checked_at=seen,
                          problems=[], evidence={"links": [{"href": "https://acme.example/", "anchor": "Acme widgets",
                                                            "rel": []}]})
    db.add(check)
    db.flush()
    db.add(BacklinkEvent(backlink_id=live.id, check_id=check.id, kind="went_live", text="Went live", created_at=seen))
    live.status, live.first_live_at, live.live_since, live.last_checked_at = "live", seen, seen, seen
    live.seen_anchor, live.is_follow, live.is_indexable = "Acme widgets", True, True
    other = create_backlink(db, client_id=team["other_client"].id, site_url="https://news.example/",
                            target_url="https://other.example/")
    db.commit()
    return {"backlink": live.id, "other": other.id, "client": team["client"].id, "campaign": team["campaign"].id}


def fingerprint(db: Session) -> tuple[Any, ...]:
    db.rollback()
    return tuple(db.execute(select(Backlink.id, Backlink.page_url, Backlink.target_url, Backlink.agreed_anchor,
                                   Backlink.deadline_at, Backlink.next_check_at).order_by(Backlink.id)))


ENDPOINTS: list[tuple[str, str, Any, bool]] = [
    ("GET", "/backlinks/{backlink}", None, False),
    ("PATCH", "/backlinks/{backlink}", {"agreed_anchor": "Widgets"}, True),
    ("POST", "/backlinks/{backlink}/check", None, True),
    ("GET", "/clients/{client}/report", None, False),
    ("DELETE", "/backlinks/{backlink}", None, True),
]
CREATE = {"target_url": "https://acme.example/pricing", "site_url": "https://reviews.example/"}


@pytest.mark.parametrize("who", ["admin", "owner", "teammate"])
def test_staff_read_and_change_every_backlink(api_as: Any, team: dict[str, Any], links: dict[str, int],
                                              who: str) -> None:
    api = api_as(team[who])
    for method, path, body, _writes in ENDPOINTS:
        response = api.call(method, path.format(**links), body)
        assert response.status_code in (200, 201, 202, 204), (method, path, response.get_json())
    response = api.post("/backlinks", {**CREATE, "campaign_id": links["campaign"]})
    assert response.status_code == 201
    assert response.get_json()["client_id"] == links["client"]


def test_a_client_viewer_reads_its_clients_links_but_changes_nothing(api_as: Any, team: dict[str, Any],
                                                                     links: dict[str, int], db: Session) -> None:
    api = api_as(team["viewer"])
    before = fingerprint(db)
    for method, path, body, writes in ENDPOINTS:
        response = api.call(method, path.format(**links), body)
        assert response.status_code == (403 if writes else 200), (method, path)
    assert api.post("/backlinks", {**CREATE, "client_id": links["client"]}).status_code == 403
    assert {b["id"] for b in api.get("/backlinks").get_json()["data"]} == {links["backlink"]}
    assert api.get(f"/backlinks/{links['other']}").status_code == 404
    assert fingerprint(db) == before


def test_a_viewer_of_another_client_gets_404(api_as: Any, team: dict[str, Any], links: dict[str, int],
                                             db: Session) -> None:
    api = api_as(team["outsider"])
    before = fingerprint(db)
    for method, path, body, _writes in ENDPOINTS:
        response = api.call(method, path.format(**links), body)
        assert response.status_code == 404, (method, path)
        assert error_of(response)["code"] == "not_found"
    assert {b["id"] for b in api.get("/backlinks").get_json()["data"]} == {links["other"]}
    assert api.get("/backlinks", client_id=links["client"]).get_json()["data"] == []
    assert fingerprint(db) == before


def test_it_lists_backlinks_by_client_campaign_and_status(api_as: Any, team: dict[str, Any],
                                                         links: dict[str, int]) -> None:
    api = api_as(team["owner"])

    def ids(**query: Any) -> set[int]:
        response = api.get("/backlinks", **query)
        assert response.status_code == 200
        return {b["id"] for b in response.get_json()["data"]}

    assert ids() == {links["backlink"], links["other"]}
    assert ids(client_id=links["client"]) == {links["backlink"]}
    assert ids(campaign_id=links["campaign"]) == {links["backlink"]}
    assert ids(status="pending") == {links["other"]}
    assert ids(search="BLOG.example") == {links["backlink"]}
    response = api.get("/backlinks", status="gone")
    assert response.status_code == 400
    assert error_of(response)["field"] == "status"


def test_it_shows_the_latest_checks_evidence_and_the_history(api_as: Any, team: dict[str, Any],
                                                            links: dict[str, int]) -> None:
    body = api_as(team["viewer"]).get(f"/backlinks/{links['backlink']}").get_json()
    assert body["status"] == "live"
    assert body["latest_check"]["status"] == "live"
    assert body["latest_check"]["evidence"]["links"][0]["anchor"] == "Acme widgets"
    assert [c["status"] for c in body["checks"]] == ["live", "missing"]
    assert [e["kind"] for e in body["events"]] == ["went_live"]


def test_it_creates_a_backlink_without_a_page_and_with_a_deadline(api_as: Any, team: dict[str, Any],
                                                                  links: dict[str, int], db: Session) -> None:
    with time_machine.travel(NOW, tick=False):
        response = api_as(team["owner"]).post("/backlinks", {
            "client_id": links["client"], "target_url": "https://acme.example/guide", "site_url": "reviews.example",
            "agreed_anchor": "widget guide", "agreed_rel": "nofollow", "deadline_at": "2026-12-31", "price": 120})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert response.headers["Location"] == body["url"]
    assert (body["page_url"], body["site_url"]) == ("", "https://reviews.example")
    assert body["deadline_at"].startswith("2026-12-31T23:59:59")
    assert body["next_check_at"] == NOW.isoformat()
    assert (body["agreed_rel"], body["price"], body["latest_check"], body["checks"]) == ("nofollow", 120.0, None, [])
    assert db.get(Backlink, body["id"]).created_by_id == team["owner"].id


@pytest.mark.parametrize(("body", "field"), [
    ({"site_url": "https://reviews.example/"}, "target_url"),
    ({"target_url": "ftp://acme.example/"}, "target_url"),
    ({"target_url": "https://acme.example/"}, "page_url"),
    ({"target_url": "https://acme.example/", "page_url": "https://x.example/", "agreed_rel": "dofollow"},
     "agreed_rel"),
    ({"target_url": "https://acme.example/", "page_url": "https://x.example/", "deadline_at": "next week"},
     "deadline_at"),
    ({"target_url": "https://acme.example/", "page_url": "https://x.example/", "price": -5}, "price"),
    ({"target_url": "https://acme.example/", "page_url": "https://x.example/",
      "deadline_at": "0001-01-01T00:00:00+05:00"}, "deadline_at"),
    ({"target_url": "https://acme.example/", "page_url": "https://x.example/", "render_js": "yes"}, "render_js"),
    ({"target_url": "https://acme.example/", "page_url": "https://x.example/", "colour": "red"}, "colour"),
])
def test_bad_input_names_the_field_and_creates_nothing(api_as: Any, team: dict[str, Any], links: dict[str, int],
                                                       db: Session, body: dict[str, Any], field: str) -> None:
    before = fingerprint(db)
    response = api_as(team["owner"]).post("/backlinks", {"client_id": links["client"], **body})
    assert response.status_code == 422
    error = error_of(response)
    assert error["field"] == field
    assert "\n" not in error["message"]
    assert fingerprint(db) == before


def test_a_campaign_of_another_client_is_refused(api_as: Any, team: dict[str, Any], links: dict[str, int],
                                                 db: Session) -> None:
    response = api_as(team["owner"]).post("/backlinks", {**CREATE, "client_id": links["client"],
                                                         "campaign_id": team["other_campaign"].id})
    assert response.status_code == 422
    assert error_of(response)["field"] == "campaign_id"
    assert db.scalar(select(func.count()).select_from(Backlink)) == 2


def test_it_updates_a_backlink_and_refuses_a_bad_url_without_changing_it(api_as: Any, team: dict[str, Any],
                                                                        links: dict[str, int], db: Session) -> None:
    api = api_as(team["teammate"])
    path = f"/backlinks/{links['backlink']}"
    response = api.patch(path, {"agreed_anchor": "Best widgets", "deadline_at": None, "notes": "paid"})
    assert response.status_code == 200
    body = response.get_json()
    assert (body["agreed_anchor"], body["notes"], body["target_url"]) == ("Best widgets", "paid",
                                                                         "https://acme.example/")
    before = fingerprint(db)
    response = api.patch(path, {"page_url": "javascript:alert(1)", "agreed_anchor": "changed"})
    assert response.status_code == 422
    assert error_of(response)["field"] == "page_url"
    assert fingerprint(db) == before


def test_check_now_makes_the_link_due_at_once(api_as: Any, team: dict[str, Any], links: dict[str, int],
                                              db: Session) -> None:
    db.get(Backlink, links["backlink"]).next_check_at = NOW + timedelta(days=7)
    db.commit()
    with time_machine.travel(NOW, tick=False):
        response = api_as(team["owner"]).post(f"/backlinks/{links['backlink']}/check")
    assert response.status_code == 202
    assert response.get_json()["next_check_at"] == NOW.isoformat()
    db.rollback()
    assert db.get(Backlink, links["backlink"]).next_check_at == NOW


def test_the_report_has_the_web_reports_figures(api_as: Any, team: dict[str, Any], links: dict[str, int],
                                                db: Session) -> None:
    with time_machine.travel(NOW, tick=False):
        response = api_as(team["viewer"]).get(f"/clients/{links['client']}/report", **{"from": "2026-11-01",
                                                                                          "to": "2026-11-20"})
    assert response.status_code == 200
    body = response.get_json()
    expected = build_report(db, team["client"], date_from=date(2026, 11, 1), date_to=date(2026, 11, 20))
    assert (body["won"], body["live"], body["lost"], body["pending"]) == (
        expected.won, expected.live, expected.lost, expected.pending) == (1, 1, 0, 0)
    assert [(p["date"], p["live"]) for p in body["series"]] == [(d.isoformat(), n) for d, n in expected.series]
    assert [(r["rel"], r["count"]) for r in body["rel_split"]] == expected.rel_split
    assert [(a["anchor"], a["count"]) for a in body["anchors"]] == [("Acme widgets", 1)]
    assert [(d["domain"], d["links"], d["live"]) for d in body["domains"]] == [("blog.example", 1, 1)]
    assert [row["backlink_id"] for row in body["links"]] == [links["backlink"]]


@pytest.mark.parametrize(("query", "field"), [
    ({"from": "01/11/2026"}, "from"),
    ({"from": "2026-11-20", "to": "2026-11-01"}, "from"),
    ({"to": "tomorrow"}, "to"),
])
def test_a_bad_report_range_is_a_one_line_error(api_as: Any, team: dict[str, Any], links: dict[str, int],
                                                query: dict[str, str], field: str) -> None:
    response = api_as(team["owner"]).get(f"/clients/{links['client']}/report", **query)
    assert response.status_code == 400
    assert error_of(response)["field"] == field


def test_the_report_refuses_a_campaign_of_another_client(api_as: Any, team: dict[str, Any],
                                                         links: dict[str, int]) -> None:
    response = api_as(team["owner"]).get(f"/clients/{links['client']}/report", campaign_id=team["other_campaign"].id)
    assert response.status_code == 400
    assert error_of(response)["field"] == "campaign_id"


def test_it_pauses_and_resumes_a_link(api_as: Any, team: dict[str, Any], links: dict[str, int]) -> None:
    api = api_as(team["owner"])
    path = f"/backlinks/{links['backlink']}"
    body = api.patch(path, {"paused": True}).get_json()
    assert (body["status"], body["next_check_at"]) == ("paused", None)
    assert api.patch(path, {"paused": False}).get_json()["status"] == "live"
    response = api.patch(path, {"paused": "no"})
    assert response.status_code == 422
    assert error_of(response)["field"] == "paused"


def test_deleting_a_link_removes_its_checks_and_events_and_is_audited(api_as: Any, team: dict[str, Any],
                                                                      links: dict[str, int], db: Session) -> None:
    response = api_as(team["owner"]).delete(f"/backlinks/{links['backlink']}")
    assert response.status_code == 204
    db.rollback()
    assert db.get(Backlink, links["backlink"]) is None
    assert db.scalar(select(func.count()).select_from(BacklinkCheck)) == 0
    assert db.scalar(select(func.count()).select_from(BacklinkEvent)) == 0
    assert db.scalar(select(AuditLog.user_id).where(AuditLog.action == "backlink.delete")) == team["owner"].id
    assert api_as(team["owner"]).get(f"/backlinks/{links['backlink']}").status_code == 404


def test_the_link_of_a_promised_prospect_is_not_deleted(api_as: Any, team: dict[str, Any], make_prospect: Any,
                                                        db: Session) -> None:
    team["campaign"].target_urls = "https://acme.example/"
    prospect = make_prospect(team["campaign"], "https://blog.example/post")
    move_prospect(db, prospect, "promised", actor=team["owner"])
    db.commit()
    backlink = db.scalar(select(Backlink).where(Backlink.prospect_id == prospect.id))
    assert backlink is not None
    response = api_as(team["owner"]).delete(f"/backlinks/{backlink.id}")
    assert response.status_code == 409
    assert "promised" in error_of(response)["message"]
    db.rollback()
    assert db.get(Backlink, backlink.id) is not None


def test_it_imports_backlinks_from_csv_and_refuses_a_file_with_a_bad_row(api_as: Any, team: dict[str, Any],
                                                                        links: dict[str, int], db: Session) -> None:
    # tokens first: a token made while fingerprint() holds its read snapshot would be refused by SQLite
    api, viewer = api_as(team["owner"]), api_as(team["viewer"])
    good = ("page_url,target_url,agreed_anchor,deadline\n"
            "https://one.example/post,https://acme.example/,Acme,2026-12-31\n"
            ",https://acme.example/b,\n")
    before = fingerprint(db)
    response = api.post("/backlinks/import", {"campaign_id": links["campaign"],
                                              "csv": good + "ftp://x.example/,https://acme.example/,\n"})
    assert response.status_code == 422
    error = error_of(response)
    assert error["field"] == "csv"
    assert error["message"].startswith("line 3: ")
    assert [r["line"] for r in error["refused"]] == [3, 4]
    assert fingerprint(db) == before
    response = api.post("/backlinks/import", {"campaign_id": links["campaign"],
                                              "csv": good.replace(",https://acme.example/b", "https://two.example/,"
                                                                                             "https://acme.example/b")})
    assert response.status_code == 201, response.get_json()
    created = response.get_json()["created"]
    assert [(b["page_url"], b["client_id"], b["campaign_id"]) for b in created] == [
        ("https://one.example/post", links["client"], links["campaign"]),
        ("https://two.example/", links["client"], links["campaign"])]
    assert viewer.post("/backlinks/import", {"client_id": links["client"], "csv": good}).status_code == 403


def test_a_link_off_its_agreed_terms_reads_so_and_is_counted_apart_from_live(
        api_as: Any, team: dict[str, Any], links: dict[str, int], db: Session) -> None:
    from outreach.backlinks import service
    from outreach.backlinks.evidence import CheckResult, FoundLink

    backlink = db.get(Backlink, links["backlink"])
    found = CheckResult(page=backlink.page_url, final_url=backlink.page_url, http_status=200, status="live",
                        links=[FoundLink(href="https://acme.example/", anchor="Acme widgets", rel=["nofollow"])],
                        follow=False, indexable=True, found_in="static", problems=["nofollow"])
    with time_machine.travel(NOW, tick=False):
        service.apply_check(db, backlink, found, BacklinksSettings(pending_check_hours=24, live_check_days=7,
                                                                   lost_after_failures=3, lost_after_hours=48))
    db.commit()
    api = api_as(team["viewer"])
    body = api.get(f"/backlinks/{links['backlink']}").get_json()
    assert body["status"] == "terms_not_met" and body["status_label"] == "Live – terms not met: nofollow"
    assert body["unmet_terms"] == [{"term": "rel", "found": "nofollow", "agreed": "follow",
                                    "text": "rel is nofollow, agreed follow"}]
    assert body["failing"] == "" and body["failing_since"] is None
    assert [e["kind"] for e in body["events"]] == ["terms_not_met", "went_live"]
    schema = api_as(None).get("/openapi.json").get_json()["components"]["schemas"]["Backlink"]
    assert "terms_not_met" in schema["properties"]["status"]["enum"]
    assert set(body) - {"latest_check", "checks", "events", "reasons", "value", "referral_months"} == set(
        schema["properties"])
    assert set(body["unmet_terms"][0]) == set(schema["properties"]["unmet_terms"]["items"]["properties"])
    assert {b["id"] for b in api.get("/backlinks", status="terms_not_met").get_json()["data"]} == {links["backlink"]}
    with time_machine.travel(NOW, tick=False):
        report = api.get(f"/clients/{links['client']}/report", **{"from": "2026-11-01", "to": "2026-11-20"})
    figures = report.get_json()
    assert (figures["live"], figures["terms_not_met"]) == (0, 1)
    assert figures["links"][0]["status_label"] == "Live – terms not met: nofollow"

    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        patched = api_as(team["owner"]).patch(f"/backlinks/{links['backlink']}", {"agreed_rel": "nofollow"})
    assert patched.status_code == 200
    assert patched.get_json()["next_check_at"] == (NOW + timedelta(hours=1)).isoformat()  # judged again at once
