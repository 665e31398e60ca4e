"""The "Broken links" tab: start a crawl job, its progress, results, cancel, add as prospects."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.crawler.jobs import run_crawl_jobs, run_one
from outreach.jobs.ticks import JobContext
from outreach.lib.clock import utcnow
from outreach.models import Opportunity, Prospect
from outreach.models.crawl import CrawlFinding, CrawlJob
from outreach.runs.lifecycle import worker_name
from tests.lib.testweb import TestWeb


@pytest.fixture
def resource_site() -> Iterator[tuple[TestWeb, TestWeb]]:
    """A resource page on 127.0.0.30 whose links to 127.0.0.31 are partly dead."""
    web, other = TestWeb("127.0.0.30"), TestWeb("127.0.0.31")
    o = other.url
    web.page("/", f'<h1>Resources</h1><a href="{o("/dead-guide")}">Old guide</a><a href="{o("/ok")}">Fine</a>'
                  f'<a href="/more">More resources</a><a href="{o("/gone-tool")}">A tool</a>')
    web.page("/more", f'<a href="{o("/dead-guide")}">The guide</a>')
    other.page("/ok", "fine")
    yield web, other
    web.close()
    other.close()


def fresh(db: Session) -> None:
    """See what other sessions committed: end the read snapshot and forget loaded rows."""
    db.commit()
    db.expire_all()


def ctx_for(app: Flask) -> JobContext:
    state = app.extensions["outreach"]
    return JobContext(settings=state.settings, sessionmaker=state.sessionmaker, secret_box=state.secret_box)


def start(client: FlaskClient, campaign_id: int, seeds: str, max_pages: str = "20") -> Any:
    return client.post(f"/campaigns/{campaign_id}/broken-links", data={"seeds": seeds, "max_pages": max_pages})


def test_it_starts_a_crawl_job_that_the_tick_runs(app: Flask, db: Session, login: Any, team: dict[str, Any],
                                                  resource_site: tuple[TestWeb, TestWeb]) -> None:
    web, other = resource_site
    client = login(team["owner"])
    campaign = team["campaign"]
    response = start(client, campaign.id, web.url("/"))
    assert response.status_code == 302
    job = db.scalar(select(CrawlJob))
    assert job is not None and (job.status, job.seeds, job.max_pages) == ("queued", [web.url("/")], 20)
    assert job.created_by_id == team["owner"].id
    page = client.get(f"/campaigns/{campaign.id}/broken-links").get_data(as_text=True)
    assert 'hx-trigger="every 1s"' in page and "queued" in page

    assert run_crawl_jobs(ctx_for(app)) == 1
    fresh(db)
    job = db.get(CrawlJob, job.id)
    assert job.status == "done" and job.pages_crawled == 2 and job.broken_found == 2
    assert job.finished_at is not None and job.started_at is not None
    findings = db.scalars(select(CrawlFinding).order_by(CrawlFinding.page_count.desc())).all()
    assert [(f.url, f.reason, f.http_status, f.page_count) for f in findings] == [
        (other.url("/dead-guide"), "not_found", 404, 2), (other.url("/gone-tool"), "not_found", 404, 1)]
    assert {s["anchor"] for s in findings[0].found_on} == {"Old guide", "The guide"}

    page = client.get(f"/campaigns/{campaign.id}/broken-links").get_data(as_text=True)
    assert 'hx-trigger="every 1s"' not in page
    assert page.index(other.url("/dead-guide")) < page.index(other.url("/gone-tool"))


def test_the_form_keeps_the_shown_crawls_seeds_and_page_limit_to_run_it_again(
        app: Flask, db: Session, login: Any, team: dict[str, Any], resource_site: tuple[TestWeb, TestWeb]) -> None:
    client = login(team["owner"])
    campaign = team["campaign"]
    start(client, campaign.id, resource_site[0].url("/"), max_pages="37")
    run_crawl_jobs(ctx_for(app))
    page = client.get(f"/campaigns/{campaign.id}/broken-links").get_data(as_text=True)
    form = page[page.index('name="seeds"'):]
    assert form.index(resource_site[0].url("/")) < form.index("</textarea>")
    assert 'value="37"' in page


def test_the_progress_fragment_asks_for_a_reload_when_the_crawl_is_over(
        app: Flask, db: Session, login: Any, team: dict[str, Any], resource_site: tuple[TestWeb, TestWeb]) -> None:
    client = login(team["owner"])
    campaign = team["campaign"]
    start(client, campaign.id, resource_site[0].url("/"))
    fresh(db)
    job = db.scalar(select(CrawlJob))
    url = f"/campaigns/{campaign.id}/broken-links/{job.id}/progress?poll=1"
    running = client.get(url, headers={"HX-Request": "true"})
    assert running.status_code == 200 and "HX-Refresh" not in running.headers
    run_crawl_jobs(ctx_for(app))
    done = client.get(url, headers={"HX-Request": "true"})
    assert done.headers["HX-Refresh"] == "true"
    assert 'data-status="done"' in done.get_data(as_text=True)


def test_selected_dead_urls_become_prospects_with_opportunities(
        app: Flask, db: Session, login: Any, team: dict[str, Any], resource_site: tuple[TestWeb, TestWeb]) -> None:
    web, other = resource_site
    client = login(team["owner"])
    campaign = team["campaign"]
    start(client, campaign.id, web.url("/"))
    run_crawl_jobs(ctx_for(app))
    fresh(db)
    job = db.scalar(select(CrawlJob))
    dead = db.scalar(select(CrawlFinding).where(CrawlFinding.url == other.url("/dead-guide")))
    response = client.post(f"/campaigns/{campaign.id}/broken-links/{job.id}/prospects", data={"finding": [dead.id]},
                           follow_redirects=True)
    assert "Added 1 prospect(s): 127.0.0.30" in response.get_data(as_text=True)
    fresh(db)
    prospect = db.scalar(select(Prospect).where(Prospect.campaign_id == campaign.id))
    assert prospect is not None and prospect.page_url in (web.url("/"), web.url("/more"))
    opportunities = db.scalars(select(Opportunity).order_by(Opportunity.page_url)).all()
    assert [(o.page_url, o.kind, o.prospect_id, o.status) for o in opportunities] == [
        (web.url("/"), "broken_link", prospect.id, "accepted"), (web.url("/more"), "broken_link", prospect.id,
                                                                 "accepted")]
    assert opportunities[0].details["dead_url"] == other.url("/dead-guide")
    assert opportunities[0].details["anchors"] == ["Old guide"]
    assert opportunities[0].crawl_job_id == job.id

    again = client.post(f"/campaigns/{campaign.id}/broken-links/{job.id}/prospects", data={"finding": [dead.id]},
                        follow_redirects=True)
    assert "Already on the board" in again.get_data(as_text=True)
    fresh(db)
    assert len(db.scalars(select(Opportunity)).all()) == 2


def test_a_site_in_another_active_campaign_is_refused_unless_overridden(
        app: Flask, db: Session, login: Any, team: dict[str, Any], make_prospect: Any,
        resource_site: tuple[TestWeb, TestWeb]) -> None:
    web, _ = resource_site
    make_prospect(team["other_campaign"], url=web.url("/"))
    client = login(team["owner"])
    campaign = team["campaign"]
    start(client, campaign.id, web.url("/"))
    run_crawl_jobs(ctx_for(app))
    fresh(db)
    job = db.scalar(select(CrawlJob))
    ids = [f.id for f in db.scalars(select(CrawlFinding))]
    refused = client.post(f"/campaigns/{campaign.id}/broken-links/{job.id}/prospects", data={"finding": ids},
                          follow_redirects=True).get_data(as_text=True)
    assert "Not added — 127.0.0.30" in refused
    fresh(db)
    assert db.scalar(select(Prospect).where(Prospect.campaign_id == campaign.id)) is None
    assert db.scalars(select(Opportunity)).all() == []
    client.post(f"/campaigns/{campaign.id}/broken-links/{job.id}/prospects",
                data={"finding": ids, "override_reason": "Different contact, agreed with the other team"})
    fresh(db)
    prospect = db.scalar(select(Prospect).where(Prospect.campaign_id == campaign.id))
    assert prospect is not None and prospect.override_reason.startswith("Different contact")


def test_bad_seeds_and_limits_are_refused_next_to_the_field(db: Session, login: Any, team: dict[str, Any]) -> None:
    client = login(team["owner"])
    campaign = team["campaign"]
    response = start(client, campaign.id, "ftp://example.com/files")
    assert response.status_code == 400 and "is not an http(s) URL" in response.get_data(as_text=True)
    response = start(client, campaign.id, "https://example.com/", max_pages="0")
    assert response.status_code == 400 and "Between 1 and 100000" in response.get_data(as_text=True)
    fresh(db)
    assert db.scalars(select(CrawlJob)).all() == []


def test_a_queued_crawl_can_be_cancelled(db: Session, login: Any, team: dict[str, Any]) -> None:
    client = login(team["owner"])
    campaign = team["campaign"]
    start(client, campaign.id, "https://example.com/")
    fresh(db)
    job = db.scalar(select(CrawlJob))
    client.post(f"/campaigns/{campaign.id}/broken-links/{job.id}/cancel")
    fresh(db)
    assert db.get(CrawlJob, job.id).status == "cancelled"
    again = client.post(f"/campaigns/{campaign.id}/broken-links/{job.id}/cancel", follow_redirects=True)
    assert "has already finished" in again.get_data(as_text=True)


def test_a_running_crawl_stops_at_its_next_progress_update_when_cancelled(
        app: Flask, db: Session, login: Any, team: dict[str, Any]) -> None:
    slow = TestWeb("127.0.0.32")
    release = threading.Event()
    slow.page("/", "".join(f'<a href="/p{i}">p{i}</a>' for i in range(50)))

    def held(req: Any) -> None:
        release.wait(10)
        from tests.lib.testweb import send
        send(req, 200, "<p>page</p>")
    slow.fallback = held
    client = login(team["owner"])
    campaign = team["campaign"]
    start(client, campaign.id, slow.url("/"), max_pages="100")
    fresh(db)
    job = db.scalar(select(CrawlJob))
    worker = threading.Thread(target=run_crawl_jobs, args=(ctx_for(app),))
    worker.start()
    try:
        for _ in range(200):
            fresh(db)
            if db.get(CrawlJob, job.id).status == "running":
                break
            threading.Event().wait(0.05)
        client.post(f"/campaigns/{campaign.id}/broken-links/{job.id}/cancel")
        fresh(db)
        seen = db.get(CrawlJob, job.id).heartbeat_at
        for _ in range(200):  # the next progress update reads the cancel flag
            fresh(db)
            if db.get(CrawlJob, job.id).heartbeat_at != seen:
                break
            threading.Event().wait(0.05)
    finally:
        release.set()
        worker.join(30)
        slow.close()
    fresh(db)
    assert db.get(CrawlJob, job.id).status == "cancelled"


def test_a_running_job_of_a_dead_process_is_taken_over(app: Flask, db: Session, team: dict[str, Any]) -> None:
    job = CrawlJob(seeds=["http://gone.invalid/"], max_pages=5, campaign_id=team["campaign"].id, status="running",
                   started_at=utcnow(), heartbeat_at=utcnow(), worker="gone-host:1")
    db.add(job)
    db.commit()
    run_crawl_jobs(ctx_for(app))
    fresh(db)
    assert db.get(CrawlJob, job.id).status == "running"  # its heartbeat is fresh
    with time_machine.travel(utcnow() + timedelta(minutes=5)):
        run_crawl_jobs(ctx_for(app))
    fresh(db)
    job = db.get(CrawlJob, job.id)
    assert (job.status, job.worker) == ("failed", worker_name())  # run to its end by this process
    assert job.error == "no page could be fetched (http://gone.invalid/: dns)"


def test_a_running_crawl_shows_the_dead_links_it_has_saved_so_far(app: Flask, db: Session, login: Any,
                                                                   team: dict[str, Any]) -> None:
    from outreach.crawler.checker import Outcome
    from outreach.crawler.state import CrawlStore

    client = login(team["owner"])
    start(client, team["campaign"].id, "http://site.test/")
    job = db.scalar(select(CrawlJob))
    job.status = "running"
    db.commit()
    # what the crawl's store writes as a visit ends: the page's links, then the dead one's outcome
    store = CrawlStore(app.extensions["outreach"].sessionmaker.kw["bind"], job.id, keep_findings=True)
    store.open(["http://site.test/"], job.max_pages)
    home = store.write([], [], claim=1)[0]
    store.write([("http://site.test/gone", home.url, "Old guide")],
                [(home.id, Outcome(home.url, True, None, 200, home.url), True)], claim=0)
    gone = store.write([], [], claim=1)[0]
    store.write([], [(gone.id, Outcome(gone.url, False, "not_found", 404, gone.url), False)], claim=0)
    text = client.get(f"/campaigns/{team['campaign'].id}/broken-links").get_data(as_text=True)
    assert f"Dead links found so far by crawl {job.id}" in text
    assert "http://site.test/gone" in text and "Old guide" in text


def test_client_viewers_see_results_read_only_and_outsiders_nothing(
        app: Flask, db: Session, client: FlaskClient, login: Any, team: dict[str, Any],
        resource_site: tuple[TestWeb, TestWeb]) -> None:
    campaign = team["campaign"]
    owner = login(team["owner"])
    start(owner, campaign.id, resource_site[0].url("/"))
    run_crawl_jobs(ctx_for(app))
    fresh(db)
    job = db.scalar(select(CrawlJob))
    finding = db.scalar(select(CrawlFinding))
    owner.post("/logout")
    viewer = login(team["viewer"])
    page = viewer.get(f"/campaigns/{campaign.id}/broken-links")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "dead-guide" in text
    assert "Start crawl" not in text and "Add as prospects" not in text
    assert start(viewer, campaign.id, "https://example.com/").status_code == 403
    assert viewer.post(f"/campaigns/{campaign.id}/broken-links/{job.id}/prospects",
                       data={"finding": [finding.id]}).status_code == 403
    assert viewer.post(f"/campaigns/{campaign.id}/broken-links/{job.id}/cancel").status_code == 403
    viewer.post("/logout")
    outsider = login(team["outsider"])
    assert outsider.get(f"/campaigns/{campaign.id}/broken-links").status_code == 404
    assert outsider.get(f"/campaigns/{campaign.id}/broken-links/{job.id}/progress").status_code == 404
    other = team["other_campaign"]
    outsider.post("/logout")
    owner = login(team["owner"])
    assert owner.get(f"/campaigns/{other.id}/broken-links/{job.id}/progress").status_code == 404


def test_the_empty_state_says_what_to_do(login: Any, team: dict[str, Any]) -> None:
    text = login(team["owner"]).get(f"/campaigns/{team['campaign'].id}/broken-links").get_data(as_text=True)
    assert "No crawl yet." in text and "start a crawl" in text



def test_a_clean_shutdown_puts_the_running_crawl_back_in_the_queue(
        app: Flask, db: Session, login: Any, team: dict[str, Any], resource_site: tuple[TestWeb, TestWeb]) -> None:
    client = login(team["owner"])
    start(client, team["campaign"].id, resource_site[0].url("/"))
    ctx = ctx_for(app)
    ctx.stopping = lambda: True  # SIGTERM arrived: the crawl stops at its first progress update
    assert run_one(ctx, progress_every=0.001) is True
    fresh(db)
    job = db.scalar(select(CrawlJob))
    assert job.status == "queued" and job.started_at is None and "restarted" in job.error
    ctx.stopping = lambda: False
    assert run_crawl_jobs(ctx) == 1  # it resumes; what it had found is not found twice
    fresh(db)
    job = db.get(CrawlJob, job.id)
    assert job.status == "done"
    assert sorted(f.url for f in db.scalars(select(CrawlFinding))) == sorted(
        [resource_site[1].url("/dead-guide"), resource_site[1].url("/gone-tool")])
    assert job.broken_found == 2


def test_a_seed_that_cannot_be_fetched_is_explained(app: Flask, db: Session, login: Any,
                                                    team: dict[str, Any]) -> None:
    client = login(team["owner"])
    start(client, team["campaign"].id, "http://no-such-host.invalid/")
    run_crawl_jobs(ctx_for(app))
    fresh(db)
    job = db.scalar(select(CrawlJob))
    assert job.status == "failed" and job.pages_crawled == 0
    assert job.error == "no page could be fetched (http://no-such-host.invalid/: dns)"
    page = client.get(f"/campaigns/{team['campaign'].id}/broken-links").get_data(as_text=True)
    assert "no page could be fetched" in page and "No broken links" not in page


def test_a_crawl_of_a_private_address_is_refused_and_names_the_setting(
        app: Flask, db: Session, login: Any, team: dict[str, Any], resource_site: tuple[TestWeb, TestWeb]) -> None:
    web, _other = resource_site
    client = login(team["owner"])
    start(client, team["campaign"].id, web.url("/"))
    ctx = ctx_for(app)
    ctx.settings = ctx.settings.with_(crawl={"allow_private_addresses": False})
    assert run_crawl_jobs(ctx) == 1
    fresh(db)
    job = db.scalar(select(CrawlJob))
    assert (job.status, job.pages_crawled, job.is_finished) == ("refused", 0, True)
    assert job.error == (f"{web.url('/')} is on a private, loopback or link-local address, which the crawler refuses "
                         "(set [crawl] allow_private_addresses = true, or list its host:port in "
                         "[crawl] allow_private_hosts)")
    assert web.hits["/"] == 0 and web.hits["/robots.txt"] == 0
    page = client.get(f"/campaigns/{team['campaign'].id}/broken-links").get_data(as_text=True)
    assert 'data-testid="crawl-status">refused<' in page and "[crawl] allow_private_addresses" in page
    assert "No broken links" not in page and 'data-testid="findings"' not in page
