"""Find contacts from the prospect page in headless Chromium: one click, progress while it reads, then the names."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.campaigns.test_find_contacts import site_dns  # noqa: F401 (a fixture)
from tests.conftest import PASSWORD
from tests.contacts.conftest import build_linked_site
from tests.discovery.test_guest_posts_browser import shot
from tests.lib.testweb import TestWeb

pytestmark = pytest.mark.browser


@pytest.fixture
def held_site() -> Iterator[tuple[TestWeb, threading.Event]]:
    """The linked test site, whose contact page answers only once released, so the wait is seen."""
    web = TestWeb("127.0.0.49")
    build_linked_site(web)
    release = threading.Event()
    contact_page = web.routes["/de/kontakt"]

    def held(req: Any) -> None:
        release.wait(20)
        contact_page(req)
    web.routes["/de/kontakt"] = held
    yield web, release
    release.set()
    web.close()


@pytest.mark.usefixtures("site_dns")
def test_one_click_on_the_prospect_page_finds_the_sites_contacts_with_their_names(
        page: Page, live_server: str, team: dict[str, Any], make_prospect: Any, db: Any,
        held_site: tuple[TestWeb, threading.Event]) -> None:
    web, release = held_site
    prospect = make_prospect(team["campaign"], web.url("/blog/post"))
    db.commit()
    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", team["owner"].email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{live_server}/prospects/{prospect.id}")
    card = page.locator("#contact")
    expect(card).to_contain_text(f"No addresses are known for {prospect.site.domain} yet")

    # one click; Playwright's locators wait for the answer's page, so read the waiting page with evaluate
    state = page.evaluate("""() => new Promise(resolve => {
        const button = document.querySelector('[data-testid="find-contacts"]');
        button.click();
        setTimeout(() => resolve([button.textContent, button.disabled]), 300);
    })""")
    assert state == [f"Reading {prospect.site.domain}'s pages…", True]  # while the site is read
    release.set()

    found = page.get_by_test_id("contacts-found")
    expect(found).to_contain_text("Read 4 page(s)")
    expect(found.locator("li", has_text="jane@site.test")).to_contain_text("Jane Doe")
    expect(found.locator("li", has_text="jane@site.test")).to_contain_text("valid")
    expect(found.locator("li", has_text="jane@site.test")).to_contain_text("found on /de/redaktion")
    expect(found.locator("li", has_text="tom@site.test")).to_contain_text("Tom Baker")
    known = page.get_by_test_id("site-contacts")
    expect(known).to_contain_text("Jane Doe")
    expect(known.locator("tr", has_text="tom@site.test")).to_contain_text("current")
    expect(page.locator(".dl")).to_contain_text("Tom Baker <tom@site.test>")
    shot(page, "prospect-find-contacts.png")
