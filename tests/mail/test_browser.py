"""The main mail flow in headless Chromium: mailbox, template, sequence, enrol, see the queue, send."""
from __future__ import annotations

import os
from typing import Any

import pytest
from flask import Flask

from outreach.mail.jobs import send_due
from tests.conftest import PASSWORD


def shot(page: Any, name: str) -> None:
    folder = os.environ.get("OUTREACH_SCREENSHOTS")
    if folder:
        page.screenshot(path=os.path.join(folder, name), full_page=True)


@pytest.mark.browser
def test_create_mailbox_template_sequence_enrol_and_see_the_queue(
        app: Flask, live_server: str, page: Any, team: dict[str, Any], make_prospect: Any, smtp_sink: Any,
        job_context: Any) -> None:
    campaign = team["campaign"]
    make_prospect(campaign, "https://resources.site.test/links", email="jo@site.test", contact_name="Jo Bloggs")
    make_prospect(campaign, "https://nocontact.test/links")
    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", team["owner"].email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")

    page.locator("nav.mainnav").get_by_role("link", name="Mail", exact=True).click()
    page.get_by_text("No mailbox yet.").wait_for()
    shot(page, "mail-empty.png")
    page.get_by_role("link", name="Add mailbox").click()
    for name, value in {"name": "Sam at Agency", "from_name": "Sam Sender", "from_email": "sam@agency.test",
                        "smtp_host": smtp_sink.host, "smtp_port": str(smtp_sink.port), "daily_cap": "40",
                        "min_spacing_seconds": "0", "jitter_seconds": "0", "window_days": "1,2,3,4,5,6,7",
                        "window_start_hour": "0", "window_end_hour": "24"}.items():
        page.fill(f"[name={name}]", value)
    page.select_option("[name=smtp_security]", "none")
    page.get_by_role("button", name="Save mailbox").click()
    page.get_by_text("Mailbox Sam at Agency saved").wait_for()
    page.get_by_role("button", name="Test connection").click()
    page.get_by_text("accepted the login").wait_for()
    shot(page, "mail-mailbox.png")

    page.goto(f"{live_server}/mail/templates/new")
    page.fill("[name=name]", "Broken link pitch")
    page.fill("[name=subject]", "Your resources page, {{ contact.first_name }}")
    page.fill("[name=body_text]", "Hi {{ contact.first_name }},\n\nI enjoyed {{ site.domain }}.\n\n{{ sender.name }}")
    page.get_by_role("button", name="Save template").click()
    page.get_by_text("Template Broken link pitch saved").wait_for()
    page.get_by_role("button", name="Preview").click()
    # the campaign has no mailbox yet, so the sender's name is empty: caught and named before anything is sent
    page.get_by_test_id("preview-error").get_by_text("sender.name is empty").wait_for()
    shot(page, "mail-template.png")

    page.goto(f"{live_server}/mail/sequences/new")
    page.fill("[name=name]", "Two-step")
    page.select_option("[name=template_1]", label="Broken link pitch")
    page.select_option("[name=template_2]", label="Broken link pitch")
    page.fill("[name=delay_2]", "3")
    page.get_by_role("button", name="Save sequence").click()
    page.get_by_text("Sequence Two-step saved").wait_for()

    page.goto(f"{live_server}/campaigns/{campaign.id}")
    page.locator("nav.tabs").get_by_role("link", name="Outreach").click()
    page.select_option("[name=mailbox_id]", label="Sam at Agency <sam@agency.test>")
    page.select_option("[name=sequence_id]", label="Two-step")
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_text("Sending settings saved.").wait_for()
    page.get_by_text("no contact address yet").wait_for()
    page.get_by_label("Enrol site.test").check()
    page.get_by_role("button", name="Enrol selected").click()
    page.get_by_text("Enrolled 1 prospect(s)").wait_for()
    queue = page.get_by_test_id("queue")
    queue.get_by_text("jo@site.test").wait_for()
    queue.get_by_text("Sam at Agency").wait_for()
    shot(page, "mail-campaign-queue.png")

    assert send_due(job_context) == 1
    page.reload()
    page.get_by_test_id("usage").get_by_text("1 / 40").wait_for()
    page.get_by_test_id("recent").get_by_text("sent").wait_for()
    shot(page, "mail-campaign-sent.png")
    assert len(smtp_sink.received) == 1
