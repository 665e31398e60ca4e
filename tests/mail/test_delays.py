"""Follow-up delays in hours or days, business days only or every day, per step; and the mailbox page's warning
when unsubscribe links cannot be one-click (an http base_url)."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from outreach.mail.jobs import send_due
from outreach.mail.mailboxes import MailError, after_delay
from outreach.mail.sequences import StepInput, save_sequence, save_template
from outreach.models.mail import Mailbox, SequenceStep
from tests.mail.test_sending import enroll, messages

FRIDAY = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)


def paris() -> Mailbox:
    return Mailbox(timezone="Europe/Paris")


@pytest.mark.parametrize(("amount", "unit", "business", "expected"), [
    (3, "days", True, datetime(2026, 12, 2, 15, 0, tzinfo=UTC)),    # Friday + 3 business days: Wednesday
    (3, "days", False, datetime(2026, 11, 30, 15, 0, tzinfo=UTC)),  # every day: Monday
    (5, "hours", False, datetime(2026, 11, 27, 20, 0, tzinfo=UTC)),
    (12, "hours", True, datetime(2026, 11, 30, 3, 0, tzinfo=UTC)),  # ends on Saturday 04:00 Paris: Monday 04:00
    (12, "hours", False, datetime(2026, 11, 28, 3, 0, tzinfo=UTC)),
])
def test_a_delay_counts_hours_or_days_and_skips_weekends_only_when_asked(amount, unit, business, expected):
    assert after_delay(FRIDAY, amount, unit, business, paris()) == expected


def test_a_delay_in_days_keeps_the_time_of_day_across_a_clock_change():
    before = datetime(2027, 3, 26, 9, 0, tzinfo=UTC)  # 10:00 in Paris, the Friday before summer time
    assert after_delay(before, 3, "days", False, paris()) == datetime(2027, 3, 29, 8, 0, tzinfo=UTC)  # 10:00 CEST


def test_a_sequence_step_keeps_its_unit_and_business_choice_and_refuses_a_bad_delay(db):
    template = save_template(db, "T", "Hello", "Hi")
    sequence = save_sequence(db, "S", [StepInput(template.id), StepInput(template.id, 36, "hours", False),
                                       StepInput(template.id, 2, "days", True)])
    assert [(s.delay_amount, s.delay_unit, s.business_days_only) for s in sequence.steps] == [
        (0, "days", True), (36, "hours", False), (2, "days", True)]
    for step, message in ((StepInput(template.id, 0, "hours"), "1 to 1440 hours"),
                          (StepInput(template.id, 61, "days"), "1 to 60 days"),
                          (StepInput(template.id, 2, "weeks"), "hours or days, not 'weeks'")):
        with pytest.raises(MailError, match=message):
            save_sequence(db, "Bad", [StepInput(template.id), step])


def test_a_follow_up_in_hours_on_every_day_goes_out_on_a_saturday(app, db, smtp_sink, make_mailbox,
                                                                  outreach_campaign, job_context):
    template = save_template(db, "First", "Hello {{ contact.first_name }}", "Hi")
    nudge = save_template(db, "Nudge", "x", "Just checking")
    sequence = save_sequence(db, "Weekend", [StepInput(template.id), StepInput(nudge.id, 20, "hours", False)])
    db.commit()
    campaign, prospects = outreach_campaign(make_mailbox(smtp_sink), n=1, sequence=sequence)
    with time_machine.travel(FRIDAY, tick=False):
        enroll(db, app, campaign, prospects, now=FRIDAY)
        assert send_due(job_context) == 1
    (follow_up,) = messages(db, "scheduled")
    assert follow_up.send_at == FRIDAY + timedelta(hours=20)  # Saturday 11:00 UTC: the mailbox sends every day
    with time_machine.travel(FRIDAY + timedelta(hours=20, minutes=1), tick=False):
        assert send_due(job_context) == 1
    assert [(m.step, m.status) for m in messages(db)] == [(1, "sent"), (2, "sent")]


def test_the_sequence_form_saves_hours_and_the_business_days_choice(db, team, login):
    template = save_template(db, "T", "Hello", "Hi")
    db.commit()
    browser = login(team["owner"])
    response = browser.post("/mail/sequences/new", data={
        "name": "Quick", "template_1": str(template.id), "template_2": str(template.id), "delay_2": "6",
        "unit_2": "hours", "template_3": str(template.id), "delay_3": "2", "unit_3": "days", "business_3": "1"})
    assert response.status_code == 302, response.get_data(as_text=True)
    db.commit()
    steps = db.scalars(select(SequenceStep).order_by(SequenceStep.position)).all()
    assert [(s.delay_amount, s.delay_unit, s.business_days_only) for s in steps][1:] == [
        (6, "hours", False), (2, "days", True)]
    page = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert re.search(r'name="business_3" value="1"\s+checked', page)
    assert re.search(r'name="business_2" value="1"\s+aria-label', page)
    listing = browser.get("/mail").get_data(as_text=True)
    assert "+6 h, +2 d (business)" in listing


def test_the_mailbox_page_warns_when_unsubscribe_links_cannot_be_one_click(app, team, login, monkeypatch):
    browser = login(team["owner"])
    assert "Unsubscribe links are not https" in browser.get("/mail/mailboxes/new").get_data(as_text=True)
    state = app.extensions["outreach"]  # (change_settings cannot take the [app] table: its first argument is app)
    monkeypatch.setattr(state, "settings", state.settings.with_(app={"base_url": "https://outreach.agency.test"}))
    assert "Unsubscribe links are not https" not in browser.get("/mail/mailboxes/new").get_data(as_text=True)
