"""In headless Chromium: a reply read from the mailbox waits in Mail → Inbox; the link builder reads the thread,
answers it, and the answer goes out in the same thread through the send engine."""
from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.jobs.ticks import JobContext
from outreach.lib.clock import utcnow
from outreach.mail.jobs import poll_mailboxes, send_due
from outreach.mail.mailboxes import MailboxInput, save_mailbox
from outreach.mail.sequences import configure_campaign, enroll_prospects, save_sequence, save_template
from outreach.mail.unsubscribe import signing_secret
from outreach.models import Campaign, Prospect, User
from outreach.models.mail import Message
from tests.browser.test_link_builder import log_in
from tests.mail.conftest import IMAP_PASSWORD, IMAP_USER, Dovecot, Sink

pytestmark = pytest.mark.browser


def shot(page: Page, name: str) -> None:
    """Save a screenshot when OUTREACH_SCREENSHOTS names a folder (to look at the page)."""
    if os.environ.get("OUTREACH_SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["OUTREACH_SCREENSHOTS"], name), full_page=True)


def test_a_link_builder_reads_a_reply_and_answers_it_in_the_thread(
        page: Page, live_server: str, app: Flask, db: Session, smtp_sink: Sink, imap_server: Dovecot,
        job_context: JobContext, make_user: Callable[..., User], make_campaign: Callable[..., Campaign],
        make_prospect: Callable[..., Prospect]) -> None:
    state = app.extensions["outreach"]
    olive = make_user("olive@agency.test", name="Olive Owner")
    campaign = make_campaign(name="Widget resources")
    prospect = make_prospect(campaign, "https://widgets-weekly.test/resources", email="ann@widgets-weekly.test",
                             contact_name="Ann Lee", owner_id=olive.id)
    mailbox = save_mailbox(db, state.secret_box, MailboxInput(
        name="Olive at Agency", from_name="Olive Owner", from_email="olive@agency.test", smtp_host=smtp_sink.host,
        smtp_port=smtp_sink.port, smtp_security="none", smtp_username="", smtp_password="",
        imap_host=imap_server.host, imap_port=imap_server.port, imap_security="none", imap_username=IMAP_USER,
        imap_password=IMAP_PASSWORD, sent_copy="never", daily_cap=0, min_spacing_seconds=0, jitter_seconds=0,
        window_days="1,2,3,4,5,6,7", window_start_hour=0, window_end_hour=24))
    template = save_template(db, "Pitch", "Your resources page, {{ contact.first_name }}",
                             "Hi {{ contact.first_name }},\n\nYour list of widget tools is great. Ours might fit: "
                             "https://acme.test/widget-guide\n\nOlive")
    configure_campaign(db, campaign, mailbox.id, save_sequence(db, "One step", [(template.id, 0)]).id)
    enroll_prospects(db, campaign, [prospect.id], state.settings, signing_secret(state.settings), now=utcnow())
    db.commit()
    assert send_due(job_context) == 1
    sent = db.scalar(select(Message).where(Message.status == "sent"))
    imap_server.append("INBOX", (
        f"From: Ann Lee <ann@widgets-weekly.test>\r\nTo: olive@agency.test\r\nSubject: Re: {sent.subject}\r\n"
        f"Message-ID: <ann-1@widgets-weekly.test>\r\nIn-Reply-To: <{sent.message_id}>\r\n"
        f"References: <{sent.message_id}>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "Hi Olive,\r\n\r\nThanks, the guide looks useful. Can you send me a short description for the list?\r\n\r\n"
        "Ann\r\n\r\nOn Mon, Olive Owner wrote:\r\n> Hi Ann,\r\n> Your list of widget tools is great.\r\n").encode())
    assert poll_mailboxes(job_context) == 1

    log_in(page, live_server, "olive@agency.test")
    page.locator("nav.mainnav").get_by_role("link", name="Mail", exact=True).click()
    page.get_by_test_id("inbox-link").click()
    expect(page.locator("h1")).to_have_text("Inbox")
    item = page.get_by_test_id("inbox-item")
    expect(item).to_have_count(1)
    expect(item).to_contain_text("ann@widgets-weekly.test")
    expect(item).to_contain_text("Olive Owner")
    expect(page.get_by_test_id("inbox-unread")).to_have_text("Unread (1)")
    shot(page, "inbox.png")
    item.get_by_role("link", name=f"Re: {sent.subject}").click()

    expect(page.locator("h1")).to_have_text(f"Re: {sent.subject}")
    expect(page.get_by_test_id("conversation-ours")).to_contain_text(sent.subject)
    expect(page.get_by_test_id("conversation-body")).to_contain_text("Can you send me a short description")
    page.fill("#body", "Hi Ann,\n\nHere it is: a 40-page guide to choosing widget tools, with a checklist.\n\nOlive")
    shot(page, "inbox-thread.png")
    page.get_by_role("button", name="Send answer").click()
    expect(page.locator(".flash-success")).to_contain_text("Your answer to ann@widgets-weekly.test is in the queue")
    expect(page.get_by_test_id("conversation-ours")).to_have_count(2)

    assert send_due(job_context) == 1
    answer = smtp_sink.received[-1].message
    assert answer["In-Reply-To"] == "<ann-1@widgets-weekly.test>"
    assert answer["References"] == f"<{sent.message_id}> <ann-1@widgets-weekly.test>"
    assert answer["Subject"] == f"Re: {sent.subject}"
    page.reload()
    mine = page.get_by_test_id("conversation-ours").nth(1)
    expect(mine).to_contain_text("written in Outreach")
    expect(mine).not_to_contain_text("scheduled")
    page.goto(f"{live_server}/prospects/{prospect.id}")
    expect(page.get_by_test_id("prospect-conversation")).to_contain_text("Can you send me a short description")
    expect(page.get_by_test_id("timeline")).to_contain_text("Olive Owner answered")
    shot(page, "inbox-prospect.png")
    page.goto(f"{live_server}/mail/inbox")
    expect(page.get_by_test_id("inbox-empty")).to_contain_text("Nothing unread.")
