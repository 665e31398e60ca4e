"""End to end in headless Chromium: what a link builder does on a fresh install (issue 2, steps 1–7)."""
from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

NEW_PASSWORD = "a much longer passphrase"


def log_in(page: Page, base: str, email: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("button:has-text('Log in')")
    expect(page.locator(".usermenu")).to_be_visible()


def import_csv() -> bytes:
    """A Semrush-style list: 30 good rows, then a bad URL, a bad email (its site is kept) and a duplicate."""
    rows = ["Source url,Reach,Contact name,Authority Score,Organic Traffic"]
    rows += [f"https://www.site{i:02d}.test/resources,editor@site{i:02d}.test,Ed {i},{10 + i},\"{i},000\""
             for i in range(30)]
    rows += ["ftp://files.test/x,,,,", "https://mail.test/,not-an-address,,,", "https://site00.test/again,,,,"]
    return ("\n".join(rows) + "\n").encode()


def column(page: Page, stage: str) -> Any:
    return page.locator(f'.column[data-stage="{stage}"]')


def test_a_new_install_to_a_running_campaign(page: Page, live_server: str) -> None:
    base = live_server
    # 1. the first visit shows the setup page, which creates the admin and then disappears
    page.goto(base + "/")
    expect(page).to_have_url(re.compile(r"/setup$"))
    page.fill("#name", "Ann Admin")
    page.fill("#email", "ann@agency.test")
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    page.click("button:has-text('Create admin account')")
    expect(page.locator(".flash-success")).to_contain_text("Your admin account is ready")
    assert page.goto(base + "/setup").status == 404

    # 3. a client and a campaign for it
    page.goto(base + "/")
    page.click("text=Add your first client")
    page.fill("#name", "Acme Widgets")
    page.fill("#website", "https://acme-widgets.example")
    page.click("button:has-text('Create client')")
    expect(page.locator(".flash-success")).to_contain_text("Now create its first campaign")
    page.fill("#name", "Resource pages Q1")
    page.select_option("#kind", "broken_links")
    page.fill("#target_urls", "https://acme-widgets.example/guides/")
    page.fill("#keywords", "widget maintenance")
    page.click("button:has-text('Create campaign')")
    expect(page.locator("h1")).to_contain_text("Resource pages Q1")
    expect(page.locator(".empty")).to_contain_text("This board is empty.")

    # 2. users: a member and a client viewer bound to the client; then change our own password
    page.goto(base + "/users")
    page.fill("#name", "Mia Member")
    page.fill("#email", "mia@agency.test")
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Add user')")
    expect(page.locator(".flash-success")).to_contain_text("mia@agency.test can now log in")
    page.fill("#email", "cleo@acme.test")
    page.fill("#password", PASSWORD)
    page.select_option("#role", "client_viewer")
    page.select_option("#client_id", label="Acme Widgets")
    page.click("button:has-text('Add user')")
    expect(page.locator(".flash-success")).to_contain_text("cleo@acme.test can now log in")
    page.goto(base + "/account")
    page.fill("#pw-current_password", PASSWORD)
    page.fill("#pw-new_password", NEW_PASSWORD)
    page.fill("#pw-confirm", NEW_PASSWORD)
    page.click("button:has-text('Change password')")
    expect(page.locator(".flash-success")).to_contain_text("Your password is changed")
    page.click("button:has-text('Log out')")
    log_in(page, base, "ann@agency.test", NEW_PASSWORD)

    # 4. import a CSV: preview, fix the mapping, see every bad row with its line, import
    page.click("text=Resource pages Q1")
    page.click(".tabs >> text=Import")
    page.set_input_files("#file", files=[{"name": "semrush.csv", "mimeType": "text/csv", "buffer": import_csv()}])
    page.click("button:has-text('Upload and preview')")
    expect(page.locator("h2")).to_contain_text("Preview: semrush.csv")
    expect(page.locator('select[name="col-0"]')).to_have_value("url")
    expect(page.locator('select[name="col-3"]')).to_have_value("authority_score")
    expect(page.locator('select[name="col-1"]')).to_have_value("")  # "Reach" is not a known column name
    page.select_option('select[name="col-1"]', "email")
    page.click("button:has-text('Check again with this mapping')")
    errors = page.locator('[data-testid="row-errors"]')
    expect(errors).to_contain_text("bad URL")
    expect(errors.locator("tr", has_text="duplicate in file")).to_contain_text("34")
    expect(page.locator('[data-testid="row-warnings"]').locator("tr", has_text="not-an-address")).to_contain_text(
        "33")  # imported without a contact
    page.click("button:has-text('Import 31 rows')")
    expect(page.locator('[data-testid="import-result"]')).to_contain_text("Imported 31 prospects")
    expect(page.locator('[data-testid="row-errors"] tbody tr')).to_have_count(2)

    # 5. the board: drag a card to another stage, no reload, and it stays there after a reload
    page.click("text=Open the board")
    expect(column(page, "new").locator(".count")).to_have_text("31")
    card = page.locator(".pcard", has_text="site05.test")
    page.evaluate("window.__no_reload = true")
    card.drag_to(column(page, "qualified").locator(".cards"))
    expect(page.locator('[data-testid="board-status"]')).to_contain_text("site05.test moved to Qualified")
    expect(column(page, "qualified").locator(".count")).to_have_text("1")
    expect(column(page, "new").locator(".count")).to_have_text("30")
    assert page.evaluate("window.__no_reload") is True  # the page was not reloaded
    # the keyboard fallback: "Move to…" on a card
    other_card = page.locator(".pcard", has_text="site06.test")
    other_card.locator("text=Move to…").focus()
    page.keyboard.press("Enter")
    expect(other_card.get_by_role("menuitem").first).to_be_focused()
    other_card.get_by_role("menuitem", name="Contacted").click()
    expect(page.locator('[data-testid="board-status"]')).to_contain_text("site06.test moved to Contacted")
    page.reload()
    expect(column(page, "qualified")).to_contain_text("site05.test")
    expect(column(page, "contacted")).to_contain_text("site06.test")
    expect(column(page, "new")).not_to_contain_text("site05.test")

    # open the prospect: its timeline, a note, tags and an owner
    column(page, "qualified").locator("a.domain", has_text="site05.test").click()
    timeline = page.locator('[data-testid="timeline"]')
    expect(timeline.locator("li").first).to_contain_text("Ann Admin")
    expect(timeline.locator("li").first).to_contain_text("Moved from New to Qualified")
    expect(timeline).to_contain_text("Added site05.test (import of semrush.csv, line 7)")
    page.fill("#text", "Emailed the editor about the dead link on their resources page.")
    page.click("button:has-text('Add note')")
    expect(timeline.locator("li").first).to_contain_text("Emailed the editor")
    page.fill("#tags", "resource-page, vip")
    page.select_option("#owner_id", label="Mia Member")
    page.click("button:has-text('Save tags and owner')")
    expect(page.locator('[data-testid="tags"]')).to_contain_text("resource-page")
    expect(page.locator('[data-testid="owner"]')).to_have_text("Mia Member")
    expect(timeline).to_contain_text("Owner: Mia Member")
    expect(timeline).to_contain_text("Tags: resource-page, vip")


def test_lists_bulk_actions_export_overrides_and_the_do_not_contact_list(
        page: Page, live_server: str, db: Any, make_user: Any, make_client: Any, make_campaign: Any) -> None:
    from outreach.campaigns import service

    base = live_server
    admin = make_user("ann@agency.test", role="admin", name="Ann Admin")
    acme, other = make_client("Acme Widgets"), make_client("Other Co")
    make_user("cleo@acme.test", role="client_viewer", client=acme)
    campaign = make_campaign(acme, "Resource pages", owner_id=admin.id)
    other_campaign = make_campaign(other, "Other campaign")
    for i in range(30):
        service.add_prospect(db, campaign, f"https://site{i:02d}.test/", email=f"ed@site{i:02d}.test",
                             metrics={"domain_rating": i * 3})
    service.add_prospect(db, other_campaign, "https://secret-other.test/")
    db.commit()
    log_in(page, base, "ann@agency.test")

    # 6. list: filter by a metric range, sort by a column, paginate
    page.goto(f"{base}/campaigns/{campaign.id}/prospects")
    page.select_option("#per_page", "25")
    page.click("button:has-text('Filter')")
    pagination = page.locator('[data-testid="pagination"]')
    expect(pagination).to_contain_text("1–25 of 30")
    page.click("th >> text=DR")
    rows = page.locator('[data-testid="prospects"] tbody tr')
    expect(rows.first).to_contain_text("site29.test")
    page.click("a[rel=next]")
    expect(pagination).to_contain_text("26–30 of 30")
    expect(rows.first).to_contain_text("site04.test")
    page.fill("#dr_min", "30")
    page.fill("#dr_max", "45")
    page.click("button:has-text('Filter')")
    expect(pagination).to_contain_text("1–6 of 6")
    expect(rows.first).to_contain_text("site15.test")

    # bulk: change the stage of two selected rows
    rows.nth(0).locator('input[name="ids"]').check()
    rows.nth(1).locator('input[name="ids"]').check()
    expect(page.locator(".selected-count")).to_have_text("2 selected")
    page.select_option('select[name="stage"][aria-label="New stage"]', "qualified")
    page.click("button[value=stage]")
    expect(page.locator(".flash-success")).to_contain_text("2 of 2 selected prospects moved to qualified")
    expect(rows.first.locator(".badge")).to_have_text("Qualified")

    # export the filtered list as CSV
    with page.expect_download() as download_info:
        page.click('[data-testid="export"]')
    download = download_info.value
    with open(download.path(), encoding="utf-8-sig") as handle:
        exported = list(csv.DictReader(io.StringIO(handle.read())))
    assert [r["domain"] for r in exported] == [f"site{i}.test" for i in (15, 14, 13, 12, 11, 10)]
    assert exported[0]["stage"] == "qualified" and exported[0]["contact_email"] == "ed@site15.test"

    # 7. a site already in another active campaign needs an override, recorded on the timeline
    page.goto(f"{base}/campaigns/{other_campaign.id}/prospects/new")
    page.fill("#url", "https://site01.test/another-page")
    page.click("button:has-text('Add prospect')")
    expect(page.locator('[data-testid="conflicts"]')).to_contain_text(
        "site01.test is already in campaign “Resource pages” (stage new)")
    page.fill("#override_reason", "client asked for both brands")
    page.click("button:has-text('Add anyway')")
    expect(page.locator(".flash-success")).to_contain_text("site01.test added to the board")
    page.locator("a.domain", has_text="site01.test").click()
    expect(page.locator('[data-testid="timeline"]')).to_contain_text("Reason: client asked for both brands")

    # the do-not-contact list: add a domain, then adding it to a campaign shows why it is blocked
    page.click("nav.mainnav >> text=Do not contact")
    expect(page.locator(".empty")).to_contain_text("The do-not-contact list is empty.")
    page.fill("#value", "https://www.blocked.test/contact")
    page.fill("#note", "asked us to stop")
    page.click("button:has-text('Add')")
    expect(page.locator('[data-testid="dnc"]')).to_contain_text("blocked.test")
    page.fill("#value", "blocked.test")
    page.click("button:has-text('Add')")
    expect(page.locator(".field .error")).to_contain_text("blocked.test is already on the do-not-contact list")
    page.goto(f"{base}/campaigns/{campaign.id}/prospects/new")
    page.fill("#url", "https://blocked.test/")
    page.click("button:has-text('Add prospect')")
    expect(page.locator('[data-testid="conflicts"]')).to_contain_text(
        "blocked.test is on the do-not-contact list (asked us to stop)")

    # a client viewer sees only their client, read-only
    page.click("button:has-text('Log out')")
    log_in(page, base, "cleo@acme.test")
    page.click("nav.mainnav >> text=Prospects")
    expect(page.locator('[data-testid="prospects"]')).to_contain_text("site00.test")
    expect(page.locator('[data-testid="prospects"]')).not_to_contain_text("secret-other.test")
    expect(page.locator('input[name="ids"]')).to_have_count(0)
    expect(page.locator("nav.mainnav")).not_to_contain_text("Do not contact")
    assert page.goto(f"{base}/campaigns/{other_campaign.id}").status == 404
    page.context.close()  # let the live server stop at once: no keep-alive connection left open
