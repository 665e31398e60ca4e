"""The Prospecting tab: roles, starting runs (typed, CSV), progress, footprint search, contacts, adding prospects."""
from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.campaigns.service import add_prospect
from outreach.discovery.prospecting import service as prospecting
from outreach.discovery.prospecting.jobs import run_short
from outreach.models import Contact, Opportunity, Prospect
from outreach.models.prospecting import ProspectingRun
from tests.conftest import change_settings
from tests.discovery.guest_web import build
from tests.discovery.test_guest_posts_runs import run_queued
from tests.lib.testweb import TestWeb, send
from tests.runs.test_lifecycle import ctx_for


@pytest.fixture
def web() -> Iterator[TestWeb]:
    server = TestWeb("127.0.0.43")
    yield server
    server.close()


def url(team: dict[str, Any], path: str = "") -> str:
    return f"/campaigns/{team['campaign'].id}/prospecting{path}"


def test_roles_on_the_tab(client: FlaskClient, login: Callable[..., FlaskClient], team: dict[str, Any]) -> None:
    login(team["viewer"])
    page = client.get(url(team))
    assert page.status_code == 200 and "Find prospects" not in page.get_data(as_text=True)
    assert client.post(url(team, "/runs"), data={"kind": "guest_posts", "seeds": "https://a.test/"}).status_code == 403
    client.post("/logout")
    login(team["outsider"])
    assert client.get(url(team)).status_code == 404
    client.post("/logout")
    login(team["teammate"])
    body = client.get(url(team)).get_data(as_text=True)
    assert "Find prospects" in body and "No runs yet." in body and "No search provider is configured" in body


def test_a_typed_run_is_queued_shows_progress_and_its_results(
        app: Flask, client: FlaskClient, db: Session, login: Callable[..., FlaskClient], team: dict[str, Any],
        web: TestWeb, dns: None) -> None:
    build(web)
    login(team["owner"])
    response = client.post(url(team, "/runs"), data={"kind": "guest_posts", "seeds": web.url("/"), "max_pages": 5,
                                                      "keywords": "widget tools"})
    assert response.status_code == 302
    run = db.scalar(select(ProspectingRun))
    assert run.status == "queued" and run.options["keywords"] == ["widget tools"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "waiting for the worker" in page and 'hx-trigger="every 2s"' in page
    assert run_queued(app)
    fragment = client.get(url(team, f"/runs/{run.id}/progress"), headers={"HX-Request": "true"})
    assert fragment.status_code == 204 and fragment.headers["HX-Refresh"] == "true"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "1 site(s) accept guest posts" in page and web.url("/guidelines") in page
    tab = client.get(url(team)).get_data(as_text=True)
    assert web.url("/guidelines") in tab and "editor@site.test" in tab and "relevance" in tab


def test_bad_seeds_are_shown_next_to_the_field_and_nothing_is_queued(
        client: FlaskClient, db: Session, login: Callable[..., FlaskClient], team: dict[str, Any]) -> None:
    login(team["owner"])
    page = client.post(url(team, "/runs"), data={"kind": "guest_posts", "seeds": "https://ok.test/\nftp://bad/",
                                                  "max_pages": 5}).get_data(as_text=True)
    assert "row 2: &#39;ftp://bad/&#39; is not an http(s) URL" in page
    page = client.post(url(team, "/runs"), data={"kind": "mentions", "seeds": "https://ok.test/",
                                                  "max_pages": 5}).get_data(as_text=True)
    assert "choose at least one of this client" in page
    assert db.scalars(select(ProspectingRun)).all() == []


def test_a_csv_export_of_search_results_becomes_the_seeds(
        client: FlaskClient, db: Session, login: Callable[..., FlaskClient], team: dict[str, Any]) -> None:
    login(team["owner"])
    csv_file = (io.BytesIO(b"position,title,link\n1,A,https://a.test/x\n2,B,https://b.test/y\n3,C,https://a.test/z\n"),
                "results.csv")
    response = client.post(url(team, "/runs"), data={"kind": "guest_posts", "seeds": "", "max_pages": 5,
                                                      "url_file": csv_file}, content_type="multipart/form-data")
    assert response.status_code == 302
    run = db.scalar(select(ProspectingRun))
    assert run.seeds == ["https://a.test/x", "https://b.test/y"] and run.options["pages"] == {
        "https://a.test/x": ["https://a.test/z"]}


def test_cancel_a_queued_run(client: FlaskClient, db: Session, login: Callable[..., FlaskClient],
                             team: dict[str, Any]) -> None:
    run = prospecting.start_run(db, team["campaign"], "guest_posts", ["https://a.test/"], max_pages=3)
    db.commit()
    login(team["owner"])
    client.post(url(team, f"/runs/{run.id}/cancel"))
    db.expire_all()
    assert db.get(ProspectingRun, run.id).status == "cancelled"


def test_footprint_search_through_the_configured_provider(
        app: Flask, client: FlaskClient, login: Callable[..., FlaskClient], team: dict[str, Any], web: TestWeb,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.discovery.test_search import fixture

    web.routes["/brave"] = lambda req: send(req, 200, fixture("brave-web-search.json"),
                                            content_type="application/json")
    change_settings(app, monkeypatch, search=
                        {"provider": "brave", "api_key": "k", "endpoint": web.url("/brave")})
    login(team["owner"])
    response = client.post(url(team, "/search"), data={"kind": "guest_posts", "queries": '"widgets" "write for us"',
                                                        "per_query": 10})
    assert response.status_code == 302 and web.hits["/brave"] == 0  # queued: nothing fetched in the request
    run_page = response.headers["Location"]
    page = client.get(run_page).get_data(as_text=True)
    assert 'data-status="queued"' in page and "0 of 1 query(ies)" in page
    assert run_short(ctx_for(app)) == 1
    page = client.get(run_page).get_data(as_text=True)
    assert 'data-status="done"' in page and "10 result(s)" in page and "best-widget-tools" in page
    run_id = run_page.rstrip("/").rsplit("/", 1)[-1]
    page = client.get(url(team, f"?seeds_from={run_id}")).get_data(as_text=True)  # "Use as seeds"
    assert "https://www.toolreviews.test/best-widget-tools/\nhttps://gardenblog" in page  # in the seed list
    page = client.post(url(team, "/search"), data={"kind": "guest_posts", "queries": "x\n" * 11,
                                                    "per_query": 10}).get_data(as_text=True)
    assert "at most 10 queries per search, got 11" in page


@pytest.fixture
def dns(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The app's resolver is a DNS server on loopback that knows site.test."""
    from outreach.contacts.validation import CACHE
    from tests.contacts.dnsserver import DNSServer

    CACHE.clear()
    with DNSServer({("site.test", "MX"): ["10 mx.site.test."]}) as server:
        change_settings(app, monkeypatch, dns=
                            {"nameservers": ["127.0.0.1"], "port": server.port, "timeout": 1.0, "cache_seconds": 0})
        yield


def test_finding_contacts_stores_them_on_the_sites_prospect(
        app: Flask, client: FlaskClient, db: Session, login: Callable[..., FlaskClient], team: dict[str, Any],
        web: TestWeb, dns: None) -> None:
    build(web)
    prospect = add_prospect(db, team["campaign"], web.url("/"))
    db.commit()
    login(team["owner"])
    response = client.post(url(team, "/contacts"), data={"url": web.url("/")})
    assert response.status_code == 302 and not web.hits  # queued: nothing fetched in the request
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'data-status="queued"' in page and "reading the site" in page
    assert run_short(ctx_for(app)) == 1
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'data-status="done"' in page and "hello@site.test" in page and "saved on the campaign" in page
    client.post("/logout")
    login(team["viewer"])
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "2 address(es) found" in page and "@site.test" not in page  # a client viewer sees no address
    db.expire_all()
    assert db.get(Prospect, prospect.id).contact.email in {"hello@site.test", "editor@site.test"}
    assert {c.email for c in db.scalars(select(Contact))} >= {"hello@site.test", "editor@site.test"}
    assert {c.status for c in db.scalars(select(Contact))} == {"valid"}


def test_adding_results_as_prospects_shows_conflicts(
        client: FlaskClient, db: Session, login: Callable[..., FlaskClient], team: dict[str, Any]) -> None:
    from outreach.discovery.guest_posts.service import GuestPostTarget, GuidelinesVerdict

    targets = [GuestPostTarget(site=f"https://{name}.test", page=f"https://{name}.test/write-for-us",
                               verdict=GuidelinesVerdict(True, True), emails=[f"editor@{name}.test"], score=10.0)
               for name in ("free", "taken")]
    made = prospecting.add_guest_post_opportunities(db, team["campaign"], targets)
    add_prospect(db, team["other_campaign"], "https://taken.test/")
    db.commit()
    login(team["owner"])
    page = client.post(url(team, "/add"), data={"opportunity": [str(o.id) for o in made]}).get_data(as_text=True)
    assert "Added 1 prospect(s)" in page
    assert "taken.test is already in campaign “Other campaign”" in page
    db.expire_all()
    assert db.get(Opportunity, made[0].id).status == "accepted"
    assert db.get(Opportunity, made[1].id).prospect_id is None


def test_a_result_on_a_site_already_on_the_board_joins_its_card(
        client: FlaskClient, db: Session, login: Callable[..., FlaskClient], team: dict[str, Any]) -> None:
    from outreach.discovery.guest_posts.service import GuestPostTarget, GuidelinesVerdict

    target = GuestPostTarget(site="https://known.test", page="https://known.test/write-for-us",
                             verdict=GuidelinesVerdict(True, True), emails=[], score=10.0)
    (made,) = prospecting.add_guest_post_opportunities(db, team["campaign"], [target])
    card = add_prospect(db, team["campaign"], "https://known.test/")
    db.commit()
    login(team["owner"])
    page = client.post(url(team, "/add"), data={"opportunity": [str(made.id)]}, follow_redirects=True)
    assert "Already on the board, the opportunity joined their card: known.test." in page.get_data(as_text=True)
    db.expire_all()
    assert db.get(Opportunity, made.id).prospect_id == card.id
