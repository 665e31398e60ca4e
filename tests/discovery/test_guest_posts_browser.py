"""The Prospecting tab in headless Chromium: a run's live progress, its results, adding one as a prospect."""
from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from outreach.discovery.prospecting.jobs import run_prospecting, run_short
from outreach.jobs.ticks import JobContext
from tests.conftest import PASSWORD
from tests.discovery.guest_web import build
from tests.discovery.test_guest_posts_runs import site_dns  # noqa: F401 (a fixture)
from tests.lib.testweb import TestWeb, send


@pytest.fixture
def held_site() -> Iterator[tuple[TestWeb, threading.Event]]:
    """A site accepting guest posts whose about page answers only once released, so the run is seen running."""
    web = TestWeb("127.0.0.44")
    build(web)
    release = threading.Event()
    web.page("/", "<html><body><h1>Widget Weekly</h1><p>Widget tools and widget repair.</p>"
                  "<a href='/guidelines'>Write for us</a><a href='/about'>About</a></body></html>")

    def slow(req: Any) -> None:
        release.wait(20)
        send(req, 200, "<html><body><p>About widgets.</p></body></html>")
    web.routes["/about"] = slow
    yield web, release
    release.set()
    web.close()


def shot(page: Any, name: str) -> None:
    folder = os.environ.get("OUTREACH_SCREENSHOTS")
    if folder:
        page.screenshot(path=os.path.join(folder, name), full_page=True)


@pytest.mark.browser
@pytest.mark.usefixtures("site_dns")
def test_a_run_shows_live_progress_then_results_to_add_as_prospects(
        app: Flask, live_server: str, page: Any, team: dict[str, Any],
        held_site: tuple[TestWeb, threading.Event]) -> None:
    web, release = held_site
    campaign = team["campaign"]
    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", team["owner"].email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{live_server}/campaigns/{campaign.id}/prospecting")
    page.get_by_role("link", name="Prospecting").wait_for()
    shot(page, "prospecting-empty.png")
    page.fill("textarea[name=seeds]", web.url("/"))
    page.fill("input[name=max_pages]", "4")
    page.get_by_role("button", name="Start").click()
    page.locator("#run-progress[data-status=queued]").wait_for()

    state = app.extensions["outreach"]
    ctx = JobContext(settings=state.settings, sessionmaker=state.sessionmaker, secret_box=state.secret_box)
    worker = threading.Thread(target=run_prospecting, args=(ctx,), daemon=True)
    worker.start()
    try:
        page.locator("#run-progress[data-status=running]").wait_for()
        shot(page, "prospecting-running.png")
    finally:
        release.set()
        worker.join(timeout=30)
    page.get_by_text("1 site(s) accept guest posts").wait_for()  # the page reloads itself when the run ends
    shot(page, "prospecting-run.png")
    page.get_by_role("link", name="All results").click()
    page.get_by_label(f"select {web.url('/guidelines')}").check()
    page.get_by_role("button", name="Add selected as prospects").click()
    page.get_by_text("Added 1 prospect(s) to the board.").wait_for()
    shot(page, "prospecting-results.png")


@pytest.mark.browser
@pytest.mark.usefixtures("site_dns")
def test_finding_contacts_runs_in_the_background_then_shows_the_addresses(
        app: Flask, live_server: str, page: Any, team: dict[str, Any],
        held_site: tuple[TestWeb, threading.Event]) -> None:
    web, release = held_site
    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", team["owner"].email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{live_server}/campaigns/{team['campaign'].id}/prospecting")
    form = page.locator("#contacts form")
    form.locator("input[name=url]").fill(web.url("/about"))  # answers only once released
    form.get_by_role("button", name="Find contacts").click()
    page.locator("#run-progress[data-status=queued]").wait_for()  # the request read nothing

    state = app.extensions["outreach"]
    ctx = JobContext(settings=state.settings, sessionmaker=state.sessionmaker, secret_box=state.secret_box)
    worker = threading.Thread(target=run_short, args=(ctx,), daemon=True)
    worker.start()
    try:
        page.locator("#run-progress[data-status=running]").wait_for()
        page.get_by_text("reading the site's pages…").wait_for()
    finally:
        release.set()
        worker.join(timeout=30)
    page.get_by_test_id("contacts-found").wait_for()  # the page reloads itself when the run ends
    assert "editor@site.test" in page.get_by_test_id("contacts-found").inner_text()
    shot(page, "contacts-run.png")
