"""The Broken links tab in headless Chromium: the live progress bar, then the results and prospects."""
from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from outreach.crawler.jobs import run_crawl_jobs
from outreach.jobs.ticks import JobContext
from tests.conftest import PASSWORD
from tests.lib.testweb import TestWeb, send


@pytest.fixture
def held_site() -> Iterator[tuple[TestWeb, threading.Event]]:
    """A resource page whose dead link answers only once released, so the crawl is seen running."""
    web = TestWeb("127.0.0.33")
    release = threading.Event()
    web.page("/", '<h1>Resources</h1><a href="/dead-guide">Old guide</a><a href="/slow">Slow but fine</a>')

    def slow(req: Any) -> None:
        release.wait(20)
        send(req, 200, "<p>fine</p>")
    web.routes["/slow"] = slow
    yield web, release
    release.set()
    web.close()


@pytest.mark.browser
def test_a_crawl_shows_live_progress_then_results_to_add_as_prospects(
        app: Flask, live_server: str, page: Any, team: dict[str, Any],
        held_site: tuple[TestWeb, threading.Event]) -> None:
    web, release = held_site
    campaign = team["campaign"]
    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", team["owner"].email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{live_server}/campaigns/{campaign.id}/broken-links")
    page.get_by_role("link", name="Broken links").wait_for()
    page.fill("textarea[name=seeds]", web.url("/"))
    page.fill("input[name=max_pages]", "10")
    page.get_by_role("button", name="Start crawl").click()
    page.locator("[data-testid=crawl-status]", has_text="queued").wait_for()

    state = app.extensions["outreach"]
    ctx = JobContext(settings=state.settings, sessionmaker=state.sessionmaker, secret_box=state.secret_box)
    worker = threading.Thread(target=run_crawl_jobs, args=(ctx,), daemon=True)
    worker.start()
    try:
        page.locator("[data-testid=crawl-status]", has_text="running").wait_for()
        page.locator("[data-testid=broken-found]", has_text="1").wait_for()  # the bar updates while running
        page.reload()  # progress keeps working across reloads
        page.locator("[data-testid=crawl-status]", has_text="running").wait_for()
        if os.environ.get("OUTREACH_SCREENSHOTS"):
            page.screenshot(path=os.path.join(os.environ["OUTREACH_SCREENSHOTS"], "broken-links-running.png"),
                            full_page=True)
    finally:
        release.set()
        worker.join(30)
    # the page reloads itself when the crawl ends (the findings saved so far were shown while it ran)
    page.locator("[data-testid=crawl-status]", has_text="done").wait_for()
    page.locator("[data-testid=findings-table]").wait_for()
    assert page.locator("[data-testid=finding]").count() == 1
    if os.environ.get("OUTREACH_SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["OUTREACH_SCREENSHOTS"], "broken-links-done.png"),
                        full_page=True)
    page.check("input[name=finding]")
    page.get_by_role("button", name="Add as prospects").click()
    page.get_by_text("Added 1 prospect(s): 127.0.0.33").wait_for()
