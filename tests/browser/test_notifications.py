"""In headless Chromium: a link goes live through the real check tick; its owner sees the badge and opens it."""
from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.backlinks.jobs import check_due
from outreach.campaigns.service import move_prospect
from outreach.jobs.ticks import JobContext
from outreach.models import Backlink, Campaign, Prospect, User
from tests.browser.test_link_builder import log_in
from tests.lib.testweb import TestWeb

pytestmark = pytest.mark.browser

TARGET = "https://client.example/product"


@pytest.fixture
def web() -> Iterator[TestWeb]:
    server = TestWeb("127.0.0.61")
    server.page("/robots.txt", "User-agent: *\nAllow: /\n", content_type="text/plain")
    server.page("/article", f'<html><body><p>Our picks</p><a href="{TARGET}">Acme widgets</a></body></html>')
    yield server
    server.close()


def test_the_owner_sees_the_badge_and_opens_the_notification(
        page: Page, live_server: str, app: Flask, db: Session, web: TestWeb, make_user: Callable[..., User],
        make_campaign: Callable[..., Campaign], make_prospect: Callable[..., Prospect]) -> None:
    owner = make_user("olive@agency.test", name="Olive Owner")
    make_user("ted@agency.test", name="Ted Teammate")
    campaign = make_campaign(name="Widgets", target_urls=TARGET)
    prospect = make_prospect(campaign, url=web.url("/article"), owner_id=owner.id)
    move_prospect(db, prospect, "promised", actor=owner)
    db.commit()
    state = app.extensions["outreach"]
    assert check_due(JobContext(copy.deepcopy(state.settings), state.sessionmaker, state.secret_box)) == 1
    backlink = db.scalar(select(Backlink).where(Backlink.prospect_id == prospect.id))
    assert backlink is not None

    log_in(page, live_server, "olive@agency.test")
    badge = page.get_by_test_id("notifications-badge")
    expect(badge).to_have_text("1")
    page.get_by_test_id("notifications-link").click()
    expect(page.locator("h1")).to_have_text("Notifications")
    item = page.get_by_test_id("notification")
    expect(item).to_have_count(1)
    expect(item).to_contain_text("Link is live: " + web.url("/article"))
    expect(item).to_contain_text("Acme widgets")
    item.get_by_role("button", name=re.compile("^Link is live")).click()
    expect(page).to_have_url(f"{live_server}/backlinks/{backlink.id}")
    expect(page.get_by_test_id("notifications-badge")).to_have_count(0)
    page.get_by_test_id("notifications-link").click()
    expect(page.get_by_test_id("notification")).to_have_count(1)
    expect(page.get_by_role("button", name="Mark read")).to_have_count(0)

    # the teammate was not told: an empty page that says what will appear there
    page.context.clear_cookies()
    log_in(page, live_server, "ted@agency.test")
    expect(page.get_by_test_id("notifications-badge")).to_have_count(0)
    page.get_by_test_id("notifications-link").click()
    expect(page.get_by_test_id("notifications-empty")).to_contain_text("No notifications yet.")
