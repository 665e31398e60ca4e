"""A footprint search in headless Chromium: queued from the Prospecting tab, live progress, then its results."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from outreach.discovery.prospecting.jobs import run_short
from tests.conftest import PASSWORD, change_settings
from tests.discovery.test_guest_posts_browser import shot
from tests.discovery.test_search import fixture
from tests.lib.testweb import TestWeb, send
from tests.runs.test_lifecycle import ctx_for


@pytest.fixture
def held_provider(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """A search API whose second query answers only once released, so the search is seen half done."""
    web, release, calls = TestWeb("127.0.0.45"), threading.Event(), []

    def brave(req: Any) -> None:
        calls.append(req.path)
        if len(calls) == 2:
            release.wait(20)
        send(req, 200, fixture("brave-web-search.json"), content_type="application/json")

    web.routes["/brave"] = brave
    change_settings(app, monkeypatch, search={"provider": "brave", "api_key": "k", "endpoint": web.url("/brave")})
    yield release
    release.set()
    web.close()


@pytest.mark.browser
def test_a_footprint_search_shows_its_progress_then_its_results_as_seeds(
        app: Flask, live_server: str, page: Any, team: dict[str, Any], held_provider: threading.Event) -> None:
    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", team["owner"].email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{live_server}/campaigns/{team['campaign'].id}/prospecting")
    form = page.locator("#search form")
    form.locator("textarea[name=queries]").fill('"widgets" "write for us"\n"widgets" intitle:"guest post"')
    form.get_by_role("button", name="Search").click()
    page.locator("#run-progress[data-status=queued]").wait_for()
    page.get_by_text("0 of 2 query(ies)").wait_for()

    worker = threading.Thread(target=run_short, args=(ctx_for(app),), daemon=True)
    worker.start()
    try:
        page.locator("#run-progress[data-status=running]").wait_for()
        page.get_by_text("1 of 2 query(ies)").wait_for()  # the partial refreshes itself
        assert page.locator("#run-progress .progress").get_attribute("aria-valuenow") == "50"
        shot(page, "search-running.png")
    finally:
        held_provider.set()
        worker.join(timeout=30)
    page.locator("#search-results").get_by_role("heading", name="10 result(s)").wait_for()  # the page reloads itself
    assert page.locator("#run-progress").get_attribute("data-status") == "done"
    shot(page, "search-done.png")
    page.get_by_role("link", name="Use as seeds").click()
    seeds = page.locator("textarea[name=seeds]").input_value()
    assert seeds.startswith("https://www.toolreviews.test/best-widget-tools/\n")
