"""In headless Chromium: the Outreach tab's Template test card after real sends, replies, bounces and an unsubscribe."""
from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from outreach.models.mail import CampaignMail
from tests.conftest import PASSWORD
from tests.mail.test_browser import shot
from tests.mail.test_variants import run_a_test


@pytest.mark.browser
def test_the_outreach_tab_shows_each_variants_results_and_the_sequence_form_its_variants(
        app: Flask, db: Any, client: Any, live_server: str, page: Any, team: dict[str, Any], smtp_sink: Any,
        imap_server: Any, make_mailbox: Any, outreach_campaign: Any, job_context: Any) -> None:
    scenario = run_a_test(app, db, client, smtp_sink, imap_server, make_mailbox, outreach_campaign, job_context)
    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", team["owner"].email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{live_server}/campaigns/{scenario.campaign.id}/outreach")
    card = page.get_by_test_id("template-test")
    assert card.get_by_test_id("variant-A").inner_text().split() == ["A", "4", "3", "1", "1", "1", "33%"]
    assert card.get_by_test_id("variant-B").inner_text().split() == ["B", "4", "4", "2", "1", "0", "50%"]
    assert card.get_by_test_id("test-note").inner_text().startswith("Too few emails sent to tell the variants apart")
    card.scroll_into_view_if_needed()
    shot(page, "template-test-outreach-tab.png")
    page.goto(f"{live_server}/mail")
    page.get_by_role("link", name=db.get(CampaignMail, scenario.campaign.id).sequence.name).first.click()
    assert page.get_by_label("Variant B for step 1").input_value() != ""
    shot(page, "template-test-sequence.png")

