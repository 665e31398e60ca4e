"""In headless Chromium, CSRF on: enrol a board column, then reclaim a lost link from its page."""
from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from outreach.campaigns.service import move_prospect
from outreach.mail.jobs import send_due
from outreach.mail.sequences import configure_campaign, save_template
from outreach.models import Backlink, Prospect, Suppression
from outreach.models.mail import Message
from tests.conftest import PASSWORD
from tests.mail.test_browser import shot
from tests.mail.test_sending import fresh


@pytest.mark.browser
def test_enrol_a_column_from_the_board_then_reclaim_the_lost_link(
        app: Flask, db: Any, live_server: str, page: Any, team: dict[str, Any], make_prospect: Any,
        make_sequence: Any, job_context: Any) -> None:
    campaign = team["campaign"]
    jo = make_prospect(campaign, "https://good.test/links", email="jo@good.test", contact_name="Jo Good")
    make_prospect(campaign, "https://blocked.test/links", email="al@blocked.test", contact_name="Al Block")
    db.add(Suppression(kind="domain", value="blocked.test", reason="manual", note="asked us to stop"))
    configure_campaign(db, campaign, None, make_sequence([("Hello {{ contact.first_name }}", "Hi!", 0)]).id)
    save_template(db, "Reclaim", "-", "Hi {{ contact.first_name }}, the link on {{ backlink.page_url }} is gone.")
    db.commit()

    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", team["owner"].email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{live_server}/campaigns/{campaign.id}")
    page.get_by_label("Select every card in New").check()
    page.get_by_text("2 cards selected").wait_for()
    page.get_by_role("button", name="Enrol selected in").click()
    page.get_by_text("Enrolled 1 prospect(s)").wait_for()
    page.get_by_text("Not enrolled: blocked.test: blocked.test is on the do-not-contact list (asked us to stop)"
                     ).wait_for()
    shot(page, "enrol-board.png")
    page.get_by_role("link", name="Prospects").last.click()
    page.get_by_test_id("enrol").wait_for()
    shot(page, "enrol-list.png")
    page.get_by_role("link", name="good.test").click()
    page.get_by_test_id("outreach").get_by_text("active").wait_for()
    shot(page, "enrol-prospect.png")

    assert send_due(job_context) == 1
    fresh(db)
    move_prospect(db, db.get(Prospect, jo.id), "lost")
    backlink = Backlink(client_id=campaign.client_id, campaign_id=campaign.id, prospect_id=jo.id,
                        page_url="https://good.test/links", target_url="https://acme.test/guide", status="lost")
    db.add(backlink)
    db.commit()
    page.goto(f"{live_server}/backlinks/{backlink.id}")
    page.select_option("#reclaim_template", label="Reclaim")
    page.get_by_role("button", name="Preview").click()
    page.get_by_test_id("reclaim-preview").get_by_text("Re: Hello Jo").wait_for()
    shot(page, "reclaim-preview.png")
    page.get_by_role("button", name="Send reclaim email").click()
    page.get_by_text("Reclaim email to jo@good.test scheduled").wait_for()
    shot(page, "reclaim-scheduled.png")
    assert send_due(job_context) == 1
    fresh(db)
    reclaim = db.scalar(select(Message).where(Message.step >= 100))
    assert reclaim.status == "sent" and reclaim.subject == "Re: Hello Jo"
