"""Assets and a mention run in headless Chromium: upload the infographic, run, see the unlinked copy."""
from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from outreach.discovery.prospecting.jobs import run_prospecting
from outreach.jobs.ticks import JobContext
from tests.conftest import PASSWORD
from tests.discovery.images import chart, copies, encode
from tests.lib.testweb import TestWeb

ORIGINAL = chart(7)


@pytest.fixture
def blog() -> Iterator[TestWeb]:
    web = TestWeb("127.0.0.45")
    web.page("/img/resized.jpg", copies(ORIGINAL)["small.jpg"], content_type="image/jpeg")
    web.page("/", "<html><body><h1>Blog</h1><a href='/post'>A post</a></body></html>")
    web.page("/post", "<html><body><p>Great chart from Acme Widgets:</p><img src='/img/resized.jpg'></body></html>")
    yield web
    web.close()


@pytest.mark.browser
def test_upload_an_infographic_then_find_its_unlinked_copy(app: Flask, live_server: str, page: Any,
                                                          team: dict[str, Any], blog: TestWeb, tmp_path: Path) -> None:
    (tmp_path / "chart.png").write_bytes(encode(ORIGINAL))
    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", team["owner"].email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{live_server}/clients/{team['client'].id}")
    page.get_by_role("link", name="Assets: infographics and brand names").click()
    page.fill("input[name=image-name]", "Widget market chart")
    page.set_input_files("input[name=image-image]", str(tmp_path / "chart.png"))
    page.fill("input[name=image-target_url]", "https://acme.test/widget-market")
    page.get_by_role("button", name="Save infographic").click()
    page.get_by_text("Asset “Widget market chart” saved.").wait_for()
    page.fill("textarea[name=brand-brand_names]", "Acme Widgets")
    page.fill("input[name=brand-target_url]", "https://acme.test/")
    page.get_by_role("button", name="Save brand names").click()
    page.locator("[data-testid=assets] img").wait_for()
    if os.environ.get("OUTREACH_SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["OUTREACH_SCREENSHOTS"], "assets.png"), full_page=True)

    page.goto(f"{live_server}/campaigns/{team['campaign'].id}/prospecting")
    page.select_option("select[name=kind]", "mentions")
    page.fill("textarea[name=seeds]", blog.url("/"))
    page.locator("select[name=asset_ids]").select_option(label="Widget market chart (image)")
    page.get_by_role("button", name="Start").click()
    page.locator("#run-progress[data-status=queued]").wait_for()
    state = app.extensions["outreach"]
    ctx = JobContext(settings=state.settings, sessionmaker=state.sessionmaker, secret_box=state.secret_box)
    worker = threading.Thread(target=run_prospecting, args=(ctx,), daemon=True)
    worker.start()
    worker.join(timeout=30)
    page.get_by_text("1 mention(s)").wait_for()
    assert page.get_by_text(blog.url("/img/resized.jpg")).count() == 1
    page.get_by_role("link", name="All results").click()
    page.get_by_text("no link to the target").wait_for()
    if os.environ.get("OUTREACH_SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["OUTREACH_SCREENSHOTS"], "mentions.png"), full_page=True)
