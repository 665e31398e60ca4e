"""In Chromium: the dashboard's summary and pipeline bars, and adding a prospect's backlink from its page."""
from __future__ import annotations

import os
import uuid
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from outreach.backlinks.service import create_backlink
from outreach.campaigns import service
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def _shot(page: Page, name: str) -> None:
    """Save a screenshot when OUTREACH_SCREENSHOTS names a folder (to look at the page)."""
    if os.environ.get("OUTREACH_SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["OUTREACH_SCREENSHOTS"], name), full_page=True)


def test_a_link_builder_reads_the_dashboard_and_files_a_prospects_backlink(
        page: Page, live_server: str, team: dict[str, Any], db: Session, make_campaign: Any) -> None:
    campaign = team["campaign"]
    campaign.target_urls = "https://acme.test/widgets"
    second = make_campaign(team["client"], "Guest posts Q4", kind="guest_posts")
    broken = make_campaign(team["client"], "Broken links: tools pages", kind="broken_links")
    stages = {"new": 6, "qualified": 3, "contacted": 5, "replied": 2, "negotiating": 2, "live": 2, "lost": 1,
              "declined": 1}
    negotiating = None
    for target, factor in ((campaign, 1), (second, 2)):
        for stage, n in stages.items():
            for _ in range(n * factor):
                p = service.add_prospect(db, target, f"https://{uuid.uuid4().hex[:6]}.test/resources",
                                         email=f"ed@{uuid.uuid4().hex[:6]}.test", contact_name="Ed Ito")
                p.stage = stage
                if stage == "negotiating" and target is campaign:
                    negotiating = p
    live = create_backlink(db, client_id=team["client"].id, campaign_id=second.id,
                           page_url="https://pub.test/2026/post", target_url="https://acme.test/")
    live.status = "live"
    db.commit()
    assert negotiating is not None
    base = live_server

    page.goto(f"{base}/login")
    page.fill("#email", team["owner"].email)
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Log in')")
    expect(page.get_by_test_id("sum-in-progress")).to_have_text("54")  # (6+3+5+2+2) × 3
    expect(page.get_by_test_id("sum-live")).to_have_text("1")
    expect(page.locator('[data-testid="funnel"] svg')).to_have_count(4)
    expect(page.locator(f'tr[data-campaign="{second.id}"] svg title', has_text="Contacted: 10")).to_have_count(1)
    _shot(page, "dashboard.png")

    # an empty broken-links board points at its discovery tab
    page.click("text=Broken links: tools pages")
    expect(page.get_by_test_id("discover")).to_have_text("Find broken links")
    _shot(page, "empty-board.png")
    page.get_by_test_id("discover").click()
    expect(page).to_have_url(f"{base}/campaigns/{broken.id}/broken-links")

    # the negotiating prospect's page: no link yet, the shortcut opens a prefilled form
    page.goto(f"{base}/prospects/{negotiating.id}")
    expect(page.get_by_test_id("prospect-links")).to_contain_text("No link in the ledger for this prospect yet")
    page.get_by_test_id("add-backlink").click()
    expect(page.locator("#target_url")).to_have_value("https://acme.test/widgets")
    expect(page.locator("#campaign_id")).to_have_value(str(campaign.id))
    page.fill("#page_url", "https://pub.test/2026/acme-review")
    page.fill("#agreed_anchor", "Acme widgets")
    page.click("button:has-text('Add link')")
    expect(page.locator(".flash-success")).to_contain_text("Link added to the ledger")
    page.goto(f"{base}/prospects/{negotiating.id}")
    links = page.get_by_test_id("prospect-links")
    expect(links.locator("a.url")).to_have_text("https://pub.test/2026/acme-review")
    expect(links.locator(".badge")).to_have_text("Pending")
    _shot(page, "prospect-links.png")
