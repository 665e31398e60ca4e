"""/api/v1 discovery: crawl jobs and findings, prospecting runs and results, assets, opportunities; role rules."""
from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outreach.campaigns.service import site_for
from outreach.contacts.validation import CACHE
from outreach.crawler.service import start_crawl
from outreach.discovery.prospecting.jobs import run_short
from outreach.discovery.prospecting.service import create_brand_asset, start_run
from outreach.jobs.ticks import JobContext
from outreach.models import Contact, Opportunity, Prospect
from outreach.models.crawl import CrawlFinding, CrawlJob
from outreach.models.prospecting import Asset, ProspectingRun
from tests.api.conftest import error_of
from tests.conftest import change_settings
from tests.contacts.dnsserver import DNSServer
from tests.discovery.guest_web import build
from tests.discovery.images import chart, encode
from tests.discovery.test_search import fixture
from tests.lib.testweb import TestWeb, send


@pytest.fixture
def found(db: Session, team: dict[str, Any]) -> dict[str, int]:
    """A finished crawl of Acme's campaign with two dead URLs, a finished guest-post run with one result,
    a brand asset and a mention opportunity."""
    campaign = team["campaign"]
    job = start_crawl(db, ["https://resources.example/"], max_pages=50, campaign=campaign, actor=team["owner"])
    job.status, job.pages_crawled, job.links_checked, job.broken_found = "done", 40, 300, 2
    popular = CrawlFinding(crawl_job_id=job.id, url="https://gone.example/tool", reason="http_404", http_status=404,
                           found_on=[{"page": "https://links.example/tools", "anchor": "Tool"},
                                     {"page": "https://list.example/best", "anchor": "the tool"}], page_count=2)
    rare = CrawlFinding(crawl_job_id=job.id, url="https://dead.example/", reason="dns", http_status=None,
                        found_on=[{"page": "https://taken.example/links", "anchor": "Dead"}], page_count=1)
    db.add_all([popular, rare])
    run = start_run(db, campaign, "guest_posts", ["https://writers.example/"], max_pages=5)
    run.status, run.sites_done, run.found = "done", 1, 1
    run.results = {"seeds": ["https://writers.example/"], "targets": [{"page": "https://writers.example/write"}]}
    guest = Opportunity(campaign_id=campaign.id, site_id=site_for(db, "https://writers.example/").id,
                        page_url="https://writers.example/write", kind="guest_post", score=0.8, status="new",
                        details={"run_id": run.id, "emails": ["ed@writers.example"]})
    asset = create_brand_asset(db, team["client"], name="Acme", brand_names="Acme Widgets",
                               target_url="https://acme.example/")
    mention = Opportunity(campaign_id=campaign.id, site_id=site_for(db, "https://press.example/").id,
                          page_url="https://press.example/story", kind="brand_mention", score=0.0, status="new",
                          details={"evidence": "Acme Widgets"})
    db.add_all([guest, mention])
    db.commit()
    return {"campaign": campaign.id, "client": team["client"].id, "job": job.id, "run": run.id,
            "popular": popular.id, "rare": rare.id, "guest": guest.id, "mention": mention.id, "asset": asset.id}


def ctx_for(app: Flask) -> JobContext:
    state = app.extensions["outreach"]
    return JobContext(settings=state.settings, sessionmaker=state.sessionmaker, secret_box=state.secret_box)


def fingerprint(db: Session) -> tuple[Any, ...]:
    db.rollback()
    return (tuple(db.execute(select(CrawlJob.id, CrawlJob.status).order_by(CrawlJob.id))),
            tuple(db.execute(select(ProspectingRun.id, ProspectingRun.status).order_by(ProspectingRun.id))),
            tuple(db.execute(select(Opportunity.id, Opportunity.status, Opportunity.prospect_id)
                             .order_by(Opportunity.id))),
            db.scalar(select(func.count()).select_from(Prospect)), db.scalar(select(func.count()).select_from(Asset)))


#: (method, path, body, whether it changes something)
ENDPOINTS: list[tuple[str, str, Any, bool]] = [
    ("GET", "/campaigns/{campaign}/crawl-jobs", None, False),
    ("POST", "/campaigns/{campaign}/crawl-jobs", {"seeds": ["https://more.example/"], "max_pages": 10}, True),
    ("GET", "/crawl-jobs/{job}", None, False),
    ("GET", "/crawl-jobs/{job}/findings", None, False),
    ("POST", "/crawl-jobs/{job}/prospects", {"finding_ids": ["{popular}"]}, True),
    ("GET", "/campaigns/{campaign}/prospecting-runs", None, False),
    ("POST", "/campaigns/{campaign}/prospecting-runs", {"kind": "guest_posts", "seeds": ["https://b.example/"]},
     True),
    ("GET", "/prospecting-runs/{run}", None, False),
    ("GET", "/prospecting-runs/{run}/results", None, False),
    ("GET", "/clients/{client}/assets", None, False),
    ("POST", "/clients/{client}/assets", {"kind": "brand", "brand_names": ["Widgetco"],
                                          "target_url": "https://acme.example/"}, True),
    ("GET", "/campaigns/{campaign}/opportunities", None, False),
    ("POST", "/campaigns/{campaign}/opportunities/prospects", {"opportunity_ids": ["{guest}"]}, True),
    ("POST", "/opportunities/{mention}/dismiss", None, True),
]


def _fill(body: Any, ids: dict[str, int]) -> Any:
    if isinstance(body, dict):
        return {k: _fill(v, ids) for k, v in body.items()}
    if isinstance(body, list):
        return [_fill(v, ids) for v in body]
    if isinstance(body, str) and body.startswith("{") and body.endswith("}"):
        return ids[body[1:-1]]
    return body


@pytest.mark.parametrize("who", ["admin", "owner", "teammate"])
def test_staff_use_every_discovery_endpoint(api_as: Any, team: dict[str, Any], found: dict[str, int],
                                            who: str) -> None:
    api = api_as(team[who])
    for method, path, body, _writes in ENDPOINTS:
        response = api.call(method, path.format(**found), _fill(body, found))
        assert response.status_code in (200, 201), (method, path, response.get_json())
    queued = api.get(f"/campaigns/{found['campaign']}/crawl-jobs").get_json()["data"][0]
    assert api.post(f"/crawl-jobs/{queued['id']}/cancel").get_json()["status"] == "cancelled"
    queued = api.get(f"/campaigns/{found['campaign']}/prospecting-runs").get_json()["data"][0]
    assert api.post(f"/prospecting-runs/{queued['id']}/cancel").get_json()["status"] == "cancelled"


def test_a_client_viewer_reads_discovery_but_changes_nothing(api_as: Any, team: dict[str, Any],
                                                             found: dict[str, int], db: Session) -> None:
    api = api_as(team["viewer"])
    before = fingerprint(db)
    for method, path, body, writes in ENDPOINTS:
        response = api.call(method, path.format(**found), _fill(body, found))
        assert response.status_code == (403 if writes else 200), (method, path)
    assert api.post(f"/crawl-jobs/{found['job']}/cancel").status_code == 403
    assert api.post(f"/prospecting-runs/{found['run']}/cancel").status_code == 403
    assert fingerprint(db) == before


def test_a_viewer_of_another_client_gets_404_for_everything(api_as: Any, team: dict[str, Any],
                                                            found: dict[str, int], db: Session) -> None:
    api = api_as(team["outsider"])
    before = fingerprint(db)
    for method, path, body, _writes in ENDPOINTS:
        response = api.call(method, path.format(**found), _fill(body, found))
        assert response.status_code == 404, (method, path)
        assert error_of(response)["code"] == "not_found"
    assert api.post(f"/crawl-jobs/{found['job']}/cancel").status_code == 404
    assert api.get(f"/campaigns/{team['other_campaign'].id}/crawl-jobs").get_json()["data"] == []
    assert fingerprint(db) == before


# --- crawl jobs ---------------------------------------------------------------------------------

def test_it_starts_a_crawl_and_reports_its_progress(api_as: Any, team: dict[str, Any], found: dict[str, int],
                                                    db: Session) -> None:
    api = api_as(team["owner"])
    response = api.post(f"/campaigns/{found['campaign']}/crawl-jobs",
                        {"seeds": ["https://resources.example/links"], "max_pages": 25})
    assert response.status_code == 201
    job = response.get_json()
    assert response.headers["Location"] == job["url"]
    assert (job["status"], job["max_pages"], job["seeds"]) == ("queued", 25, ["https://resources.example/links"])
    assert db.get(CrawlJob, job["id"]).created_by_id == team["owner"].id
    done = api.get(f"/crawl-jobs/{found['job']}").get_json()
    assert done["status"] == "done"
    assert {k: done["progress"][k] for k in ("pages_crawled", "links_checked", "broken_found")} == {
        "pages_crawled": 40, "links_checked": 300, "broken_found": 2}
    assert [j["id"] for j in api.get(f"/campaigns/{found['campaign']}/crawl-jobs").get_json()["data"]] == [
        job["id"], found["job"]]


def test_a_crawl_the_guard_refuses_reads_refused_with_the_setting(app: Flask, api_as: Any,
                                                                  team: dict[str, Any]) -> None:
    from outreach.crawler.jobs import run_crawl_jobs
    from outreach.jobs.ticks import JobContext

    api = api_as(team["owner"])
    job = api.post(f"/campaigns/{team['campaign'].id}/crawl-jobs", {"seeds": ["http://127.0.0.1:9/"]}).get_json()
    state = app.extensions["outreach"]
    guarded = state.settings.with_(crawl={"allow_private_addresses": False})
    assert run_crawl_jobs(JobContext(settings=guarded, sessionmaker=state.sessionmaker,
                                     secret_box=state.secret_box)) == 1
    refused = api.get(f"/crawl-jobs/{job['id']}").get_json()
    assert (refused["status"], refused["is_finished"]) == ("refused", True)
    assert "[crawl] allow_private_addresses" in refused["error"] and "http://127.0.0.1:9/" in refused["error"]
    assert api.get(f"/crawl-jobs/{job['id']}/findings").get_json()["data"] == []


@pytest.mark.parametrize(("body", "field"), [
    ({}, "seeds"),
    ({"seeds": []}, "seeds"),
    ({"seeds": ["ftp://files.example/"]}, "seeds"),
    ({"seeds": "https://a.example/"}, "seeds"),
    ({"seeds": ["https://a.example/"], "max_pages": 0}, "max_pages"),
    ({"seeds": ["https://a.example/"], "max_pages": "ten"}, "max_pages"),
    ({"seeds": ["https://a.example/"], "depth": 3}, "depth"),
])
def test_a_bad_crawl_request_names_the_field_and_starts_nothing(api_as: Any, team: dict[str, Any],
                                                                found: dict[str, int], db: Session,
                                                                body: dict[str, Any], field: str) -> None:
    before = fingerprint(db)
    response = api_as(team["owner"]).post(f"/campaigns/{found['campaign']}/crawl-jobs", body)
    assert response.status_code == 422
    assert error_of(response)["field"] == field
    assert "\n" not in error_of(response)["message"]
    assert fingerprint(db) == before


def test_cancelling_a_finished_crawl_is_a_conflict(api_as: Any, team: dict[str, Any], found: dict[str, int],
                                                   db: Session) -> None:
    response = api_as(team["owner"]).post(f"/crawl-jobs/{found['job']}/cancel")
    assert response.status_code == 409
    assert "already finished" in error_of(response)["message"]
    db.rollback()
    assert db.get(CrawlJob, found["job"]).status == "done"


def test_findings_are_grouped_by_dead_url_most_linked_first(api_as: Any, team: dict[str, Any],
                                                            found: dict[str, int]) -> None:
    body = api_as(team["viewer"]).get(f"/crawl-jobs/{found['job']}/findings").get_json()
    assert [(f["url"], f["page_count"]) for f in body["data"]] == [("https://gone.example/tool", 2),
                                                                   ("https://dead.example/", 1)]
    assert body["data"][0]["found_on"][1] == {"page": "https://list.example/best", "anchor": "the tool"}
    assert body["meta"]["total"] == 2


def test_findings_become_prospects_and_conflicts_need_an_override(api_as: Any, team: dict[str, Any],
                                                                  found: dict[str, int], make_prospect: Any,
                                                                  db: Session) -> None:
    make_prospect(team["other_campaign"], "https://taken.example/about")
    api = api_as(team["owner"])
    path = f"/crawl-jobs/{found['job']}/prospects"
    before = fingerprint(db)
    response = api.post(path, {"finding_ids": [found["popular"], found["rare"]]})
    assert response.status_code == 409
    error = error_of(response)
    assert (error["code"], error["field"]) == ("conflict", "override_reason")
    assert [r["site"] for r in error["refused"]] == ["taken.example"]
    assert fingerprint(db) == before

    response = api.post(path, {"finding_ids": [found["popular"]]})
    assert response.status_code == 200
    assert sorted(response.get_json()["added"]) == ["links.example", "list.example"]
    assert response.get_json()["opportunities"] == 2
    response = api.post(path, {"finding_ids": [found["rare"], found["popular"]], "override_reason": "they asked"})
    assert response.status_code == 200
    body = response.get_json()
    assert (body["added"], sorted(body["already_in_campaign"])) == (["taken.example"],
                                                                    ["links.example", "list.example"])
    db.rollback()
    domains = {p.site.domain: p.override_reason for p in db.scalars(
        select(Prospect).where(Prospect.campaign_id == found["campaign"]))}
    assert domains == {"links.example": "", "list.example": "", "taken.example": "they asked"}


def test_adding_findings_of_another_crawl_is_refused(api_as: Any, team: dict[str, Any], found: dict[str, int],
                                                    db: Session) -> None:
    before = fingerprint(db)
    for body in ({"finding_ids": [found["popular"] + 100]}, {"finding_ids": []}, {"finding_ids": ["1"]}):
        response = api_as(team["owner"]).post(f"/crawl-jobs/{found['job']}/prospects", body)
        assert response.status_code == 422
        assert error_of(response)["field"] == "finding_ids"
    assert fingerprint(db) == before


# --- prospecting runs and assets -----------------------------------------------------------------

def test_it_starts_runs_and_shows_their_results(api_as: Any, team: dict[str, Any], found: dict[str, int],
                                                db: Session) -> None:
    db.add(Opportunity(campaign_id=found["campaign"], site_id=site_for(db, "https://older.example/").id,
                       page_url="https://older.example/write", kind="guest_post", score=0.9, status="new",
                       details={"run_id": found["run"] + 1}))
    db.commit()
    api = api_as(team["owner"])
    response = api.post(f"/campaigns/{found['campaign']}/prospecting-runs", {
        "kind": "mentions", "seeds": "https://blog.example/\nhttps://news.example/a", "asset_ids": [found["asset"]],
        "max_pages": 10})
    assert response.status_code == 201, response.get_json()
    run = response.get_json()
    assert (run["kind"], run["status"], run["asset_ids"], run["max_pages"]) == ("mentions", "queued",
                                                                              [found["asset"]], 10)
    assert run["progress"] == {"sites": 2, "sites_done": 0, "pages_crawled": 0, "found": 0, "percent": 0}
    results = api.get(f"/prospecting-runs/{found['run']}/results").get_json()
    assert results["run"]["status"] == "done"
    assert results["results"]["targets"] == [{"page": "https://writers.example/write"}]
    assert [o["id"] for o in results["opportunities"]] == [found["guest"]]


@pytest.mark.parametrize(("body", "field"), [
    ({"seeds": ["https://a.example/"]}, "kind"),
    ({"kind": "backlinks", "seeds": ["https://a.example/"]}, "kind"),
    ({"kind": "guest_posts"}, "seeds"),
    ({"kind": "guest_posts", "seeds": ["not a url"]}, "seeds"),
    ({"kind": "guest_posts", "seeds": ["https://a.example/"], "max_pages": 501}, "max_pages"),
    ({"kind": "mentions", "seeds": ["https://a.example/"]}, "asset_ids"),
    ({"kind": "mentions", "seeds": ["https://a.example/"], "asset_ids": [999999]}, "asset_ids"),
])
def test_a_bad_run_request_names_the_field_and_starts_nothing(api_as: Any, team: dict[str, Any],
                                                              found: dict[str, int], db: Session,
                                                              body: dict[str, Any], field: str) -> None:
    before = fingerprint(db)
    response = api_as(team["owner"]).post(f"/campaigns/{found['campaign']}/prospecting-runs", body)
    assert response.status_code == 422
    assert error_of(response)["field"] == field
    assert fingerprint(db) == before


def test_it_creates_brand_and_image_assets(api_as: Any, team: dict[str, Any], found: dict[str, int],
                                           db: Session) -> None:
    api = api_as(team["owner"])
    path = f"/clients/{found['client']}/assets"
    response = api.post(path, {"kind": "brand", "name": "Brand", "brand_names": ["Acme", "Acme Widgets"],
                               "target_url": "https://acme.example/"})
    assert response.status_code == 201
    assert response.get_json()["brand_names"] == ["Acme", "Acme Widgets"]
    png = encode(chart(3, (200, 300)))
    response = api.post(path, {"kind": "image", "name": "Chart", "target_url": "https://acme.example/chart",
                               "image_base64": base64.b64encode(png).decode()})
    assert response.status_code == 201
    assert (response.get_json()["kind"], response.get_json()["image_type"]) == ("image", "image/png")
    assert [a["name"] for a in api_as(team["viewer"]).get(path).get_json()["data"]] == ["Chart", "Brand", "Acme"]
    before = fingerprint(db)
    for body, field in [({"kind": "brand", "brand_names": ["ab"], "target_url": "https://acme.example/"},
                         "brand_names"),
                        ({"kind": "brand", "brand_names": ["Acme"], "target_url": "acme dot com"}, "target_url"),
                        ({"kind": "image", "target_url": "https://acme.example/"}, "image_base64"),
                        ({"kind": "image", "target_url": "https://acme.example/", "image_base64": "%%%"},
                         "image_base64"),
                        ({"kind": "image", "target_url": "https://acme.example/",
                          "image_base64": base64.b64encode(b"not an image").decode()}, "image_base64"),
                        ({"kind": "video", "target_url": "https://acme.example/"}, "kind")]:
        response = api.post(path, body)
        assert response.status_code == 422, body
        assert error_of(response)["field"] == field, body
    assert fingerprint(db) == before


# --- opportunities -------------------------------------------------------------------------------

def test_it_lists_opportunities_by_kind_and_status_and_dismisses_one(api_as: Any, team: dict[str, Any],
                                                                     found: dict[str, int]) -> None:
    api = api_as(team["owner"])
    path = f"/campaigns/{found['campaign']}/opportunities"
    assert [o["id"] for o in api.get(path).get_json()["data"]] == [found["guest"], found["mention"]]
    assert [o["id"] for o in api.get(path, kind="brand_mention").get_json()["data"]] == [found["mention"]]
    assert api.get(path, status="dismissed").get_json()["data"] == []
    response = api.post(f"/opportunities/{found['mention']}/dismiss")
    assert response.get_json()["status"] == "dismissed"
    assert [o["id"] for o in api.get(path, status="dismissed").get_json()["data"]] == [found["mention"]]
    response = api.get(path, kind="backlink")
    assert response.status_code == 400
    assert error_of(response)["field"] == "kind"


def test_opportunities_become_prospects_and_conflicts_need_an_override(api_as: Any, team: dict[str, Any],
                                                                       found: dict[str, int], make_prospect: Any,
                                                                       db: Session) -> None:
    make_prospect(team["other_campaign"], "https://press.example/")
    api = api_as(team["owner"])
    path = f"/campaigns/{found['campaign']}/opportunities/prospects"
    before = fingerprint(db)
    response = api.post(path, {"opportunity_ids": [found["guest"], found["mention"]]})
    assert response.status_code == 409
    assert [r["opportunity_id"] for r in error_of(response)["refused"]] == [found["mention"]]
    assert fingerprint(db) == before
    response = api.post(path, {"opportunity_ids": [found["guest"], found["mention"]], "override_reason": "PR asked"})
    assert response.status_code == 200
    added = response.get_json()["added"]
    assert sorted(a["opportunity_id"] for a in added) == sorted([found["guest"], found["mention"]])
    db.rollback()
    guest = db.get(Opportunity, found["guest"])
    assert guest.status == "accepted"
    assert db.get(Prospect, guest.prospect_id).contact.email == "ed@writers.example"
    before = fingerprint(db)
    response = api.post(path, {"opportunity_ids": [found["guest"]]})
    assert response.status_code == 422
    assert "already a prospect" in error_of(response)["message"]
    response = api.post(f"/opportunities/{found['guest']}/dismiss")
    assert response.status_code == 409
    assert fingerprint(db) == before


def test_an_opportunity_on_a_site_already_on_the_board_joins_its_card(api_as: Any, team: dict[str, Any],
                                                                        found: dict[str, int], make_prospect: Any,
                                                                        db: Session) -> None:
    mention = db.get(Opportunity, found["mention"])
    card = make_prospect(team["campaign"], mention.page_url)
    response = api_as(team["owner"]).post(f"/campaigns/{found['campaign']}/opportunities/prospects",
                                          {"opportunity_ids": [found["mention"]]})
    assert response.status_code == 200
    assert response.get_json() == {"added": [], "refused": [],
                                   "attached": [{"opportunity_id": found["mention"], "prospect_id": card.id}]}


def test_an_image_asset_can_come_from_a_url(api_as: Any, team: dict[str, Any], found: dict[str, int],
                                            db: Session) -> None:
    web = TestWeb("127.0.0.41")
    try:
        web.page("/chart.png", encode(chart(5, (200, 300))), content_type="image/png")
        web.page("/gone.png", "missing", status=404)
        api = api_as(team["owner"])
        path = f"/clients/{found['client']}/assets"
        response = api.post(path, {"kind": "image", "target_url": "https://acme.example/",
                                   "image_url": web.url("/chart.png")})
        assert response.status_code == 201, response.get_json()
        assert (response.get_json()["image_url"], response.get_json()["image_type"]) == (web.url("/chart.png"),
                                                                                        "image/png")
        before = fingerprint(db)
        response = api.post(path, {"kind": "image", "target_url": "https://acme.example/",
                                   "image_url": web.url("/gone.png")})
        assert response.status_code == 422
        assert error_of(response)["field"] == "image_url"
        assert fingerprint(db) == before
    finally:
        web.close()


# --- contacts of a site --------------------------------------------------------------------------

@pytest.fixture
def dns(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The app's resolver is a DNS server on loopback that knows site.test."""
    CACHE.clear()
    with DNSServer({("site.test", "MX"): ["10 mx.site.test."]}) as server:
        change_settings(app, monkeypatch, dns=
                            {"nameservers": ["127.0.0.1"], "port": server.port, "timeout": 1.0, "cache_seconds": 0})
        yield
    CACHE.clear()


def test_it_finds_a_sites_contacts_and_gives_its_prospect_one(api_as: Any, team: dict[str, Any],
                                                               make_prospect: Any, db: Session, dns: None) -> None:
    web = TestWeb("127.0.0.42")
    try:
        build(web)
        prospect = make_prospect(team["campaign"], web.url("/"))
        api, viewer, outsider = api_as(team["owner"]), api_as(team["viewer"]), api_as(team["outsider"])
        response = api.post(f"/campaigns/{team['campaign'].id}/contacts/find", {"url": web.url("/")})
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert (body["error"], body["prospect_id"]) == (None, prospect.id)
        assert web.url("/contact") in body["pages_fetched"]
        found = {c["email"]: c["status"] for c in body["contacts"]}
        assert found["hello@site.test"] == "valid"
        db.rollback()
        chosen = db.scalar(select(Contact.email).join(Prospect, Prospect.contact_id == Contact.id)
                           .where(Prospect.id == prospect.id))
        assert chosen in found
        db.rollback()
        assert viewer.post(f"/campaigns/{team['campaign'].id}/contacts/find", {"url": web.url("/")}).status_code == 403
        assert outsider.post(f"/campaigns/{team['campaign'].id}/contacts/find",
                             {"url": web.url("/")}).status_code == 404
    finally:
        web.close()


def test_it_finds_a_prospects_contacts_on_its_site_with_their_names(api_as: Any, team: dict[str, Any],
                                                                     make_prospect: Any, db: Session,
                                                                     dns: None) -> None:
    from tests.contacts.conftest import build_linked_site

    web = TestWeb("127.0.0.48")
    try:
        build_linked_site(web)
        prospect = make_prospect(team["campaign"], web.url("/blog/post"))
        other = make_prospect(team["other_campaign"], "https://elsewhere.test/")
        api = api_as(team["owner"])
        response = api.post(f"/campaigns/{team['campaign'].id}/contacts/find", {"prospect_id": prospect.id})
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert (body["url"], body["prospect_id"], body["stopped_early"]) == (web.url("/blog/post"), prospect.id, False)
        assert body["pages_fetched"][:4] == [web.url(p) for p in ("/blog/post", "/", "/de/kontakt", "/de/redaktion")]
        assert {c["email"]: (c["name"], c["status"]) for c in body["contacts"]} == {
            "tom@site.test": ("Tom Baker", "valid"), "jane@site.test": ("Jane Doe", "valid")}
        refused = api.post(f"/campaigns/{team['campaign'].id}/contacts/find", {"prospect_id": other.id})
        assert refused.status_code == 422 and error_of(refused)["field"] == "prospect_id"
    finally:
        web.close()


def test_finding_contacts_refuses_a_bad_url(api_as: Any, team: dict[str, Any], db: Session) -> None:
    for body in ({}, {"url": "ftp://files.example/"}, {"url": 42}):
        response = api_as(team["owner"]).post(f"/campaigns/{team['campaign'].id}/contacts/find", body)
        assert response.status_code == 422
        assert error_of(response)["field"] == "url"
    assert db.scalar(select(func.count()).select_from(Contact)) == 0


def test_a_contacts_run_reads_the_site_in_the_background_and_saves_the_addresses(
        app: Flask, api_as: Any, team: dict[str, Any], db: Session, dns: None) -> None:
    web = TestWeb("127.0.0.46")
    try:
        build(web)
        api, viewer = api_as(team["owner"]), api_as(team["viewer"])
        path = f"/campaigns/{team['campaign'].id}/contacts/find-runs"
        for bad in ({}, {"url": "ftp://files.example/"}, {"url": 42}):
            response = api.post(path, bad)
            assert response.status_code == 422 and error_of(response)["field"] == "url"
        assert viewer.post(path, {"url": web.url("/")}).status_code == 403
        response = api.post(path, {"url": web.url("/")})
        assert response.status_code == 201, response.get_json()
        run = response.get_json()
        assert (run["kind"], run["status"], run["seeds"]) == ("contacts", "queued", [web.url("/")])
        assert not web.hits  # nothing is fetched in the request
        assert run_short(ctx_for(app)) == 1
        run = api.get(f"/prospecting-runs/{run['id']}").get_json()
        assert (run["status"], run["progress"]["percent"], run["progress"]["found"]) == ("done", 100, 2)
        results = api.get(f"/prospecting-runs/{run['id']}/results").get_json()["results"]
        assert {c["email"] for c in results["contacts"]} == {"hello@site.test", "editor@site.test"}
        assert viewer.get(f"/prospecting-runs/{run['id']}/results").get_json()["results"]["contacts"] == []
        db.rollback()
        assert {c.email for c in db.scalars(select(Contact))} == {"hello@site.test", "editor@site.test"}
    finally:
        web.close()


# --- footprint search ----------------------------------------------------------------------------

def test_footprint_search_runs_the_campaigns_footprints_through_the_provider(
        app: Flask, api_as: Any, team: dict[str, Any], db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    web = TestWeb("127.0.0.44")
    try:
        web.routes["/brave"] = lambda req: send(req, 200, fixture("brave-web-search.json"),
                                                content_type="application/json")
        team["campaign"].keywords = "widgets"
        db.commit()
        api, viewer, outsider = api_as(team["owner"]), api_as(team["viewer"]), api_as(team["outsider"])
        path = f"/campaigns/{team['campaign'].id}/search"
        response = api.post(path, {})
        assert response.status_code == 409
        assert "No search provider is configured" in error_of(response)["message"]
        assert db.scalars(select(ProspectingRun)).all() == []
        change_settings(app, monkeypatch, search={"provider": "brave", "api_key": "k", "endpoint": web.url("/brave")})
        response = api.post(path, {"per_query": 10})
        assert response.status_code == 201, response.get_json()
        run = response.get_json()
        assert (run["kind"], run["status"], run["progress"]["queries_done"]) == ("search", "queued", 0)
        assert run["queries"][0] == '"widgets" "write for us"' and run["progress"]["queries"] == len(run["queries"])
        assert response.headers["Location"] == run["url"]
        assert web.hits["/brave"] == 0  # nothing is fetched in the request
        assert run_short(ctx_for(app)) == 1
        run = api.get(f"/prospecting-runs/{run['id']}").get_json()
        assert (run["status"], run["progress"]["percent"]) == ("done", 100)
        assert run["progress"]["queries_done"] == len(run["queries"]) and run["progress"]["found"] == 10
        body = api.get(f"/prospecting-runs/{run['id']}/results").get_json()
        assert body["results"]["provider"] == "brave" and body["results"]["errors"] == []
        assert "https://www.toolreviews.test/best-widget-tools/" in [r["url"] for r in body["results"]["results"]]
        assert body["opportunities"] == []
        response = api.post(path, {"queries": ['"widgets" intitle:resources'], "per_query": 5})
        assert response.get_json()["queries"] == ['"widgets" intitle:resources']
        for bad, field in [({"kind": "links"}, "kind"), ({"per_query": 21}, "per_query"),
                           ({"queries": "widgets"}, "queries"), ({"queries": ["  "]}, "queries")]:
            response = api.post(path, bad)
            assert response.status_code == 422, bad
            assert error_of(response)["field"] == field
        assert viewer.post(path, {}).status_code == 403
        assert outsider.post(path, {}).status_code == 404
        db.rollback()
        assert len(db.scalars(select(ProspectingRun)).all()) == 2  # refused input queued nothing
    finally:
        web.close()


def test_a_search_run_shows_its_progress_query_by_query_and_can_be_cancelled(
        app: Flask, api_as: Any, team: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    web, second = TestWeb("127.0.0.44"), threading.Event()
    calls: list[str] = []

    def brave(req: Any) -> None:
        calls.append(req.path)
        if len(calls) == 2:  # the second query waits until the test has seen the first one counted
            second.wait(timeout=20)
        send(req, 200, fixture("brave-web-search.json"), content_type="application/json")

    web.routes["/brave"] = brave
    change_settings(app, monkeypatch, search={"provider": "brave", "api_key": "k", "endpoint": web.url("/brave")})
    api = api_as(team["owner"])
    worker = None
    try:
        run = api.post(f"/campaigns/{team['campaign'].id}/search", {"queries": ["a", "b", "c"]}).get_json()
        worker = threading.Thread(target=run_short, args=(ctx_for(app),))
        worker.start()
        deadline = time.monotonic() + 20
        while (got := api.get(f"/prospecting-runs/{run['id']}").get_json())["progress"]["queries_done"] < 1:
            assert time.monotonic() < deadline, got
            time.sleep(0.05)
        assert (got["status"], got["progress"]["queries"], got["progress"]["percent"]) == ("running", 3, 33)
        cancelled = api.post(f"/prospecting-runs/{run['id']}/cancel", {})
        assert cancelled.status_code == 200 and cancelled.get_json()["is_cancel_requested"] is True
        second.set()
        worker.join(timeout=30)
        got = api.get(f"/prospecting-runs/{run['id']}").get_json()
        assert (got["status"], got["progress"]["queries_done"], len(calls)) == ("cancelled", 2, 2)
        assert api.get(f"/prospecting-runs/{run['id']}/results").get_json()["results"]["results"]  # kept
    finally:
        second.set()
        if worker is not None:
            worker.join(timeout=30)
        web.close()
