"""In headless Chromium: a personaliser finds the held first emails in the review queue, personalises one (a
placeholder is refused next to the field), approves it, bulk-approves the rest; the send engine then delivers the
personalised text to that prospect only."""
from __future__ import annotations

import email
from collections.abc import Callable

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from outreach.jobs.ticks import JobContext
from outreach.lib.clock import utcnow
from outreach.mail.jobs import send_due
from outreach.mail.mailboxes import MailboxInput, save_mailbox
from outreach.mail.sequences import (
    configure_campaign,
    enroll_prospects,
    save_sequence,
    save_template,
    set_review_required,
)
from outreach.mail.unsubscribe import signing_secret
from outreach.models import Campaign, Prospect, User
from tests.browser.test_inbox import shot
from tests.browser.test_link_builder import log_in
from tests.mail.conftest import Sink

pytestmark = pytest.mark.browser


def body_of(raw: bytes) -> str:
    message = email.message_from_bytes(raw)
    part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    return part.get_payload(decode=True).decode()


def test_a_personaliser_reviews_the_first_emails_and_the_edit_is_what_goes_out(
        page: Page, live_server: str, app: Flask, db: Session, smtp_sink: Sink, job_context: JobContext,
        make_user: Callable[..., User], make_campaign: Callable[..., Campaign],
        make_prospect: Callable[..., Prospect]) -> None:
    state = app.extensions["outreach"]
    make_user("pat@agency.test", role="personaliser", name="Pat Personaliser")
    campaign = make_campaign(name="Widget resources")
    prospects = [make_prospect(campaign, f"https://{site}/resources", email=f"{name.lower()}@{site}",
                               contact_name=f"{name} Lee")
                 for name, site in (("Ann", "widgets-weekly.test"), ("Bob", "tool-list.test"),
                                    ("Cy", "makers-hub.test"))]
    mailbox = save_mailbox(db, state.secret_box, MailboxInput(
        name="Olive at Agency", from_name="Olive Owner", from_email="olive@agency.test", smtp_host=smtp_sink.host,
        smtp_port=smtp_sink.port, smtp_security="none", smtp_username="", smtp_password="", daily_cap=0,
        min_spacing_seconds=0, jitter_seconds=0, window_days="1,2,3,4,5,6,7", window_start_hour=0,
        window_end_hour=24))
    template = save_template(db, "Pitch", "Your resources page, {{ contact.first_name }}",
                             "Hi {{ contact.first_name }},\n\nYour list of widget tools is great. Ours might fit: "
                             "https://acme.test/widget-guide\n\nOlive")
    configure_campaign(db, campaign, mailbox.id, save_sequence(db, "One step", [(template.id, 0)]).id)
    set_review_required(db, campaign, True)
    enroll_prospects(db, campaign, [p.id for p in prospects], state.settings, signing_secret(state.settings),
                     now=utcnow())
    db.commit()
    assert send_due(job_context) == 0  # held for review: nothing goes

    log_in(page, live_server, "pat@agency.test")
    expect(page.locator("h1")).to_have_text("Review first emails")  # where a personaliser lands
    expect(page.get_by_test_id("nav-count")).to_have_text("3")
    rows = page.get_by_test_id("review-row")
    expect(rows).to_have_count(3)
    expect(page.get_by_test_id("review-campaigns")).to_contain_text("Widget resources 3")
    shot(page, "review-queue.png")

    rows.filter(has_text="widgets-weekly.test").get_by_role("link", name="Review").click()
    expect(page.locator("h1")).to_have_text("First email to widgets-weekly.test")
    page.fill("#body_text", "Hi [FIRST NAME],\n\nA quick idea.")
    page.get_by_test_id("save-approve").click()
    error = page.locator(".field.has-error .error")
    expect(error).to_have_count(1)
    expect(error).to_contain_text("the plain-text body still holds the placeholder “[FIRST NAME]”")
    shot(page, "review-error.png")
    page.fill("#subject", "Your widget list, {{ contact.first_name }}")
    page.fill("#body_text", "Hi {{ contact.first_name }},\n\nI loved your note on bench vises. Our guide covers "
                            "twelve of them: https://acme.test/widget-guide\n\nOlive")
    page.get_by_test_id("save-approve").click()
    expect(page.locator(".flash-success")).to_contain_text("Approved the email to ann@widgets-weekly.test")
    expect(rows).to_have_count(2)
    expect(page.get_by_test_id("nav-count")).to_have_text("2")

    assert send_due(job_context) == 1  # the approved one only
    (sent,) = smtp_sink.received
    assert sent.rcpt_tos == ["ann@widgets-weekly.test"]
    assert sent.message["Subject"] == "Your widget list, Ann"
    assert "I loved your note on bench vises." in body_of(sent.data)

    page.locator("#bulk-form .select-all").check()
    expect(page.locator(".selected-count")).to_have_text("2 selected")
    page.get_by_test_id("approve-selected").click()
    expect(page.locator(".flash-success")).to_contain_text("Approved 2 email(s)")
    expect(page.get_by_test_id("review-empty")).to_contain_text("Nothing waits for review.")
    shot(page, "review-empty.png")
    assert send_due(job_context) == 2
    bodies = {r.rcpt_tos[0]: body_of(r.data) for r in smtp_sink.received}
    assert "Your list of widget tools is great" in bodies["bob@tool-list.test"]  # the others: the template's text
    assert "bench vises" not in bodies["bob@tool-list.test"] + bodies["cy@makers-hub.test"]

    response = page.goto(f"{live_server}/campaigns/{campaign.id}")
    assert response is not None and response.status == 403  # nothing else is theirs


def test_the_outreach_tab_turns_review_on_and_counts_what_waits(
        page: Page, live_server: str, app: Flask, db: Session, make_user: Callable[..., User],
        make_campaign: Callable[..., Campaign], make_prospect: Callable[..., Prospect]) -> None:
    state = app.extensions["outreach"]
    make_user("olive@agency.test", role="admin", name="Olive Owner")
    campaign = make_campaign(name="Widget resources")
    prospect = make_prospect(campaign, "https://widgets-weekly.test/resources", email="ann@widgets-weekly.test",
                             contact_name="Ann Lee")
    template = save_template(db, "Pitch", "Your resources page, {{ contact.first_name }}",
                             "Hi {{ contact.first_name }}")
    configure_campaign(db, campaign, None, save_sequence(db, "One step", [(template.id, 0)]).id)
    db.commit()

    log_in(page, live_server, "olive@agency.test")
    page.goto(f"{live_server}/campaigns/{campaign.id}/outreach")
    page.get_by_test_id("review-required").check()
    page.get_by_test_id("mail-settings").get_by_role("button", name="Save").click()
    expect(page.locator(".flash-success")).to_have_text("Sending settings saved.")
    enroll_prospects(db, campaign, [prospect.id], state.settings, signing_secret(state.settings), now=utcnow())
    db.commit()
    page.reload()
    expect(page.get_by_test_id("review-summary")).to_contain_text("1 first email waiting for review")
    expect(page.get_by_test_id("tab-review-count")).to_have_text("1")
    expect(page.get_by_test_id("awaiting-review")).to_have_count(1)
    expect(page.locator("nav.mainnav").get_by_test_id("nav-count")).to_have_text("1")
    page.set_viewport_size({"width": 1280, "height": 900})  # the Review entry fits an admin's top bar (the fullest)
    shot(page, "review-outreach-tab.png")
    sizes = page.evaluate("[document.scrollingElement.scrollWidth, document.scrollingElement.clientWidth]")
    assert sizes[0] <= sizes[1], sizes
    page.get_by_test_id("review-summary").get_by_role("link").click()
    expect(page.get_by_test_id("review-row")).to_have_count(1)
