"""In Chromium at 1280 px: long unbroken text never pushes a page sideways; the board's "Move to…" menu by keyboard."""
from __future__ import annotations

import os
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from outreach.backlinks.service import create_backlink
from outreach.campaigns import service
from outreach.crawler.service import start_crawl
from outreach.mail.sequences import save_template
from outreach.models.crawl import CrawlFinding
from outreach.runs.lifecycle import finish
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

LONG_URL = "https://very-long-hostname-for-a-resource-page.example/" + "a-path-segment-without-any-break-" * 12
LONG_WORD = "Supercalifragilistic" * 12
#: pages whose width is their content's (the board scrolls sideways by design)
WIDE_BY_DESIGN = {"campaigns.board"}
#: GET routes that are not pages (downloads, images, redirects to other sites) or end the session
NOT_PAGES = {"accounts.logout", "static", "prospecting.asset_image"}


def _shot(page: Page, name: str) -> None:
    """Save a screenshot when OUTREACH_SCREENSHOTS names a folder (to look at the page)."""
    if os.environ.get("OUTREACH_SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["OUTREACH_SCREENSHOTS"], name), full_page=True)


def _log_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Log in')")
    expect(page.locator(".usermenu")).to_be_visible()


@pytest.fixture
def long_texts(db: Session, team: dict[str, Any]) -> dict[str, int]:
    """Records full of long unbroken text: a note with a URL, long tags, a long dead URL and backlink."""
    campaign = team["campaign"]
    campaign.target_urls = LONG_URL
    prospect = service.add_prospect(db, campaign, LONG_URL, email=f"{'editor' * 10}@long-domain-name.example",
                                    contact_name=LONG_WORD)
    service.add_note(db, prospect, f"See {LONG_URL} and {LONG_WORD} before writing.", team["admin"])
    service.set_tags(db, prospect, [LONG_WORD[:60]], team["admin"])
    job = start_crawl(db, [LONG_URL], max_pages=10, campaign=campaign)
    db.add(CrawlFinding(crawl_job_id=job.id, url=LONG_URL + "dead", reason="http_404", http_status=404,
                        found_on=[{"page": LONG_URL, "anchor": LONG_WORD}], page_count=1))
    finish(db, job, "done")
    backlink = create_backlink(db, client_id=team["client"].id, campaign_id=campaign.id, page_url=LONG_URL,
                               target_url=LONG_URL + "target")
    template = save_template(db, "Long", f"About {LONG_WORD}", f"Hi, {LONG_URL} is gone.")
    db.commit()
    return {"campaign_id": campaign.id, "prospect_id": prospect.id, "client_id": team["client"].id,
            "user_id": team["owner"].id, "backlink_id": backlink.id, "job_id": job.id,
            "template_id": template.id}


def test_no_page_scrolls_sideways_at_1280_px(app: Any, page: Page, live_server: str, team: dict[str, Any],
                                            long_texts: dict[str, int]) -> None:
    page.set_viewport_size({"width": 1280, "height": 900})
    _log_in(page, live_server, team["admin"].email)
    checked, wide = [], []
    for rule in app.url_map.iter_rules():
        if ("GET" not in rule.methods or rule.rule.startswith(("/api/", "/r/", "/unsubscribe/"))
                or rule.endpoint in NOT_PAGES or rule.rule.endswith((".csv", ".pdf", "/progress"))
                or "<token>" in rule.rule or rule.rule in ("/login", "/setup")):
            continue
        url = rule.rule
        for name in rule.arguments:
            url = url.replace(f"<int:{name}>", str(long_texts.get(name, 1)))
        response = page.goto(live_server + url)
        if response is None or response.status != 200 or "text/html" not in response.headers.get("content-type", ""):
            continue
        checked.append(rule.endpoint)
        sizes = page.evaluate("[document.scrollingElement.scrollWidth, document.scrollingElement.clientWidth]")
        if sizes[0] > sizes[1] and rule.endpoint not in WIDE_BY_DESIGN:
            wide.append((url, sizes))
        if rule.endpoint in ("campaigns.prospect", "broken_links.page", "backlinks.detail", "lists.prospects"):
            _shot(page, f"layout-{rule.endpoint}.png")
    assert wide == [], wide
    assert {"campaigns.prospect", "lists.prospects", "lists.contacts", "reports.client_report",
            "broken_links.page", "backlinks.ledger", "backlinks.detail", "mail.template"} <= set(checked)


def test_the_move_menu_moves_focus_with_the_arrows_and_the_card_with_enter(
        page: Page, live_server: str, team: dict[str, Any], db: Session) -> None:
    campaign = team["campaign"]
    for name in ("alpha", "beta"):
        service.add_prospect(db, campaign, f"https://{name}.test/resources")
    db.commit()
    _log_in(page, live_server, team["owner"].email)
    page.goto(f"{live_server}/campaigns/{campaign.id}")
    card = page.locator(".pcard", has_text="alpha.test")
    card.locator("text=Move to…").focus()
    page.keyboard.press("Enter")
    items = card.get_by_role("menuitem")
    expect(items.first).to_be_focused()
    expect(items.first).to_have_text("Qualified")  # the card's own stage is not offered
    page.keyboard.press("ArrowDown")
    expect(items.nth(1)).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(items.nth(2)).to_be_focused()
    page.keyboard.press("ArrowUp")
    expect(items.nth(1)).to_be_focused()
    _shot(page, "board-move-menu.png")
    # nothing moved while the focus walked the menu
    expect(page.locator('.column[data-stage="new"]')).to_contain_text("alpha.test")
    expect(page.locator('[data-testid="count-new"]')).to_have_text("2")
    expect(items.nth(1)).to_have_text("Contacted")
    page.keyboard.press("Enter")
    expect(page.locator('[data-testid="board-status"]')).to_contain_text("alpha.test moved to Contacted")
    expect(page.locator('.column[data-stage="contacted"]')).to_contain_text("alpha.test")
    expect(card.locator("text=Move to…")).to_be_focused()
    # Escape closes the menu without moving, the focus back on the link
    page.locator(".pcard", has_text="beta.test").locator("text=Move to…").focus()
    page.keyboard.press("Enter")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Escape")
    expect(page.get_by_role("menu")).to_have_count(0)
    expect(page.locator(".pcard", has_text="beta.test").locator("text=Move to…")).to_be_focused()
    page.reload()
    expect(page.locator('.column[data-stage="contacted"]')).to_contain_text("alpha.test")
    expect(page.locator('.column[data-stage="new"]')).to_contain_text("beta.test")
