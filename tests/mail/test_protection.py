"""Protecting a mailbox: the warm-up ramp the sender honours, and the automatic pause on a bounce rate or a
5.7.x block, through a real SMTP server on loopback; only a person resumes, and then each held email goes once."""
from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
import time_machine
from sqlalchemy import select

from outreach.mail.jobs import send_due
from outreach.mail.mailboxes import MailboxInput, MailError, save_mailbox
from outreach.mail.protection import bounce_rate, check_bounce_rate
from outreach.mail.stops import hard_bounce
from outreach.models import Activity, AuditLog, Notification, Suppression
from outreach.models.mail import Mailbox, Message
from tests.mail.test_sending import MONDAY, enroll, fresh, messages

ONE_STEP = [("Hello {{ contact.first_name }}", "Hi {{ contact.first_name }}, I like {{ site.domain }}.", 0)]


def one_step(make_sequence):  # type: ignore[no-untyped-def]
    return make_sequence(ONE_STEP)


# --- warm-up -----------------------------------------------------------------------------------------

def test_a_warming_up_mailbox_sends_its_ramp_day_by_day_up_to_its_cap(
        app, db, login, team, smtp_sink, make_mailbox, make_sequence, outreach_campaign, job_context):
    with time_machine.travel(MONDAY, tick=False):
        mailbox = make_mailbox(smtp_sink, daily_cap=5, warmup_start=2, warmup_increment=1)
        campaign, prospects = outreach_campaign(mailbox, n=16, sequence=one_step(make_sequence))
        enroll(db, app, campaign, prospects)
        browser = login(team["owner"])
        page = browser.get(f"/mail/mailboxes/{mailbox.id}").get_data(as_text=True)
        assert "Warming up: day 1, 2/day today, cap reached on 2026-11-26." in page
        assert send_due(job_context) == 2
        assert send_due(job_context) == 0  # today's step of the ramp is used up
    sent_per_day = []
    for day in range(1, 5):
        with time_machine.travel(MONDAY + timedelta(days=day), tick=False):
            sent_per_day.append(send_due(job_context))
    assert sent_per_day == [3, 4, 5, 2]  # then the daily cap of 5 (only 2 were left)
    assert sorted(set(smtp_sink.ids().values())) == [1] and len(smtp_sink.received) == 16
    with time_machine.travel(MONDAY + timedelta(days=4), tick=False):
        page = browser.get(f"/mail/mailboxes/{mailbox.id}").get_data(as_text=True)
        assert "Warmed up: the daily cap of 5 applies since 2026-11-26." in page


def test_the_outreach_tab_counts_todays_step_of_the_ramp(app, db, login, team, smtp_sink, make_mailbox,
                                                         make_sequence, outreach_campaign, job_context):
    with time_machine.travel(MONDAY, tick=False):
        mailbox = make_mailbox(smtp_sink, daily_cap=40, warmup_start=10, warmup_increment=5)
        campaign, prospects = outreach_campaign(mailbox, n=1, sequence=one_step(make_sequence))
        enroll(db, app, campaign, prospects)
        browser = login(team["owner"])
        usage = browser.get(f"/campaigns/{campaign.id}/outreach").get_data(as_text=True)
        assert re.search(r">0 / 10<", usage)
        index = browser.get("/mail").get_data(as_text=True)
        assert "0 / 10" in index and "warming up" in index


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"daily_cap": 0}, "daily_cap", "a warm-up ramps up to the daily cap"),
    ({"warmup_start": 50}, "warmup_start", "the warm-up starts below the daily cap (50)"),
    ({"warmup_increment": 0}, "warmup_increment", "add at least 1 a day"),
    ({"bounce_pause_percent": 101}, "bounce_pause_percent", "a percentage from 0"),
])
def test_a_warm_up_that_cannot_ramp_is_refused_in_one_line(app, db, changes, field, message):  # type: ignore[no-untyped-def]
    values = dict(name="Box", from_name="", from_email="sam@agency.test", smtp_host="127.0.0.1", smtp_port=2525,
                  smtp_security="none", smtp_username="", smtp_password="", daily_cap=50, warmup_start=5,
                  warmup_increment=5)
    with pytest.raises(MailError) as refused:
        save_mailbox(db, app.extensions["outreach"].secret_box, MailboxInput(**{**values, **changes}))
    assert (refused.value.field, str(refused.value).startswith(message)) == (field, True), str(refused.value)
    db.rollback()
    assert db.scalar(select(Mailbox.id)) is None


def test_the_mailbox_form_saves_a_warm_up_and_refuses_one_that_cannot_ramp_next_to_its_field(
        db, team, login):  # type: ignore[no-untyped-def]
    from tests.mail.test_views import mailbox_form

    with time_machine.travel(MONDAY, tick=False):
        browser = login(team["owner"])
        refused = browser.post("/mail/mailboxes/new", data=mailbox_form(warmup_start="40", warmup_increment="5"))
        assert refused.status_code == 200
        html = refused.get_data(as_text=True)
        assert re.search(r'id="warmup_start".{0,400}the warm-up starts below the daily cap \(40\)', html, re.S)
        assert db.scalar(select(Mailbox.id)) is None
        saved = browser.post("/mail/mailboxes/new", data=mailbox_form(warmup_start="5", warmup_increment="5",
                                                                      bounce_pause_percent="3"))
        assert saved.status_code == 302
        page = browser.get(saved.headers["Location"]).get_data(as_text=True)
    assert "Warming up: day 1, 5/day today, cap reached on 2026-11-30." in page
    db.rollback()  # the snapshot of the refused attempt's check
    stored = db.scalar(select(Mailbox))
    assert (stored.warmup_start, stored.warmup_increment, stored.bounce_pause_percent) == (5, 5, 3)


def test_turning_the_warm_up_on_makes_today_day_one_and_off_forgets_it(app, db, make_mailbox):  # type: ignore[no-untyped-def]
    with time_machine.travel(MONDAY, tick=False):
        mailbox = make_mailbox(daily_cap=30)
        assert mailbox.warmup_started_on is None
    box = app.extensions["outreach"].secret_box
    fields = MailboxInput.__dataclass_fields__
    data = MailboxInput(**{k: getattr(mailbox, k) for k in fields if hasattr(mailbox, k)
                           and not k.endswith(("_password", "_private_key"))}, smtp_password="")
    with time_machine.travel(MONDAY + timedelta(days=2), tick=False):
        data.warmup_start, data.warmup_increment = 5, 5
        save_mailbox(db, box, data, mailbox)
        assert mailbox.warmup_started_on == date(2026, 11, 25)
    with time_machine.travel(MONDAY + timedelta(days=3), tick=False):
        data.warmup_increment = 3  # a change of pace keeps the ramp's first day
        save_mailbox(db, box, data, mailbox)
        assert mailbox.warmup_started_on == date(2026, 11, 25)
        data.warmup_start = 0
        save_mailbox(db, box, data, mailbox)
        assert mailbox.warmup_started_on is None


# --- the pause on a block ------------------------------------------------------------------------------

@pytest.mark.parametrize("where", ["end of DATA", "RCPT TO"])
def test_a_block_pauses_the_mailbox_holds_its_queue_and_resuming_sends_each_email_once(
        app, db, login, team, smtp_sink, make_mailbox, make_sequence, outreach_campaign, job_context, where):
    mailbox = make_mailbox(smtp_sink)
    campaign, prospects = outreach_campaign(mailbox, n=3, sequence=one_step(make_sequence))
    first = prospects[0].contact.email
    if where == "RCPT TO":
        smtp_sink.rcpt_replies[first] = "550 5.7.1 Client host rejected: blocked using a blocklist"
    else:
        smtp_sink.data_faults.append("block")
    with time_machine.travel(MONDAY, tick=False):
        enroll(db, app, campaign, prospects)
        assert send_due(job_context) == 0
        assert send_due(job_context) == 0
    with time_machine.travel(MONDAY + timedelta(hours=3), tick=False):
        assert send_due(job_context) == 0  # still paused hours later: nothing resumes by itself
    assert smtp_sink.received == []
    held = messages(db)
    assert [m.status for m in held] == ["scheduled"] * 3  # held, not failed
    assert "5.7.1" in held[0].last_error and held[0].attempts == 1 and held[1].attempts == held[2].attempts == 0
    paused = db.get(Mailbox, mailbox.id)
    assert paused.paused_at == MONDAY and where in paused.pause_reason and "5.7.1" in paused.pause_reason
    assert db.scalar(select(Suppression.id)) is None  # a block is about the sender, not the address
    assert db.scalar(select(Activity.kind).where(Activity.prospect_id == prospects[0].id,
                                                 Activity.kind == "email_held")) == "email_held"
    # the alert, and the reason with its time on the mailbox page
    alerts = db.scalars(select(Notification).where(Notification.kind == "mailbox_paused")).all()
    assert {n.user_id for n in alerts} >= {team["owner"].id, team["admin"].id}
    assert alerts[0].link == f"/mail/mailboxes/{mailbox.id}"
    with time_machine.travel(MONDAY + timedelta(hours=3), tick=False):
        browser = login(team["owner"])
        page = browser.get(f"/mail/mailboxes/{mailbox.id}").get_data(as_text=True)
        assert "Paused 2026-11-23 10:00 UTC:" in page and "5.7.1" in page and 'data-testid="resume"' in page
        assert 'class="badge bad" title="' in browser.get("/mail").get_data(as_text=True)

    smtp_sink.rcpt_replies.clear()
    db.close()
    with time_machine.travel(MONDAY + timedelta(hours=4), tick=False):
        answer = browser.post(f"/mail/mailboxes/{mailbox.id}/resume")
        assert answer.status_code == 302
        assert send_due(job_context) == 3
        assert send_due(job_context) == 0
    assert smtp_sink.ids() == {m.message_id: 1 for m in held}
    assert [m.status for m in messages(db)] == ["sent"] * 3
    actions = db.scalars(select(AuditLog.action).where(AuditLog.object_type == "mailbox").order_by(AuditLog.id))
    assert list(actions) == ["mailbox_paused", "mailbox_resumed"]
    assert db.scalar(select(AuditLog.user_id).where(AuditLog.action == "mailbox_resumed")) == team["owner"].id


def test_a_second_sender_that_claimed_before_the_pause_puts_the_email_back_before_data(
        app, db, smtp_sink, make_mailbox, make_sequence, outreach_campaign, job_context):
    """The last look before DATA sees a pause another worker committed after this one's claim."""
    from outreach.mail.outbox import claim, mark_data_started
    from outreach.mail.protection import pause_mailbox

    mailbox = make_mailbox(smtp_sink)
    campaign, prospects = outreach_campaign(mailbox, n=1, sequence=one_step(make_sequence))
    with time_machine.travel(MONDAY, tick=False):
        enroll(db, app, campaign, prospects)
        (queued,) = messages(db)
        message = claim(db, queued.id, MONDAY, db.get(Mailbox, mailbox.id))
        assert isinstance(message, Message)
        other = app.extensions["outreach"].sessionmaker()
        pause_mailbox(other, other.get(Mailbox, mailbox.id), "another worker saw a block")
        other.commit()
        other.close()
        assert mark_data_started(db, message) is False
    (back,) = messages(db)
    assert (back.status, back.attempts, back.data_started_at) == ("scheduled", 0, None)


# --- the pause on a bounce rate ------------------------------------------------------------------------

def test_the_bounce_that_tips_the_rate_pauses_the_mailbox_and_what_is_left_waits(
        app, db, login, team, smtp_sink, make_mailbox, make_sequence, outreach_campaign, job_context):
    mailbox = make_mailbox(smtp_sink)  # 5 % by default, over at least 20 sends
    campaign, prospects = outreach_campaign(mailbox, n=20, sequence=one_step(make_sequence))
    for i in (3, 7):
        smtp_sink.rcpt_replies[prospects[i].contact.email] = "550 5.1.1 <nobody>: Recipient address rejected"
    with time_machine.travel(MONDAY, tick=False):
        enroll(db, app, campaign, prospects)
        assert send_due(job_context) == 6  # 0-2, 4-6 sent; 3 bounced (1 in 20: 5 %, not over); 7 tipped it
        assert send_due(job_context) == 0
    fresh(db)
    paused = db.get(Mailbox, mailbox.id)
    assert paused.pause_reason.startswith("2 of its last 8 emails bounced, over the 5% it allows")
    assert [m.status for m in messages(db)].count("scheduled") == 12
    assert len(smtp_sink.received) == 6
    with time_machine.travel(MONDAY + timedelta(minutes=5), tick=False):
        browser = login(team["admin"])
        page = browser.get(f"/mail/mailboxes/{mailbox.id}").get_data(as_text=True)
    assert "Bounced: 2 of its last 8 emails." in page and "2 of its last 8 emails bounced, over the 5%" in page
    with time_machine.travel(MONDAY + timedelta(minutes=5), tick=False):
        response = browser.post(f"/mail/mailboxes/{mailbox.id}/resume")
        assert response.status_code == 302
        assert send_due(job_context) == 12
        assert send_due(job_context) == 0
    assert len(smtp_sink.received) == 18 and set(smtp_sink.ids().values()) == {1}


def test_the_rate_counts_recorded_bounces_over_the_last_100_sends_against_the_mailboxs_threshold(
        app, db, make_mailbox, make_sequence, outreach_campaign):
    mailbox = make_mailbox(bounce_pause_percent=10)
    campaign, prospects = outreach_campaign(mailbox, n=1, sequence=one_step(make_sequence))
    enroll(db, app, campaign, prospects)
    (first,) = messages(db)
    # 130 sends from the mailbox, oldest first: the first 30 fall out of the window of 100
    rows = []
    for i in range(130):
        rows.append(Message(enrollment_id=first.enrollment_id, campaign_id=first.campaign_id,
                            prospect_id=first.prospect_id, contact_id=first.contact_id, mailbox_id=mailbox.id,
                            step=200 + i, message_id=f"m{i}@agency.test", from_email="sam@agency.test",
                            to_email=first.to_email, subject="Hi", body_text="Hi", status="sent",
                            send_at=MONDAY, claimed_at=MONDAY + timedelta(minutes=i), sent_at=MONDAY))
    db.add_all(rows)
    db.commit()
    for old in rows[:20]:  # 20 bounces long ago: outside the window, they do not count
        old.status = "bounced"
    db.commit()
    assert bounce_rate(db, mailbox.id) == (0, 100)
    with time_machine.travel(MONDAY + timedelta(days=1), tick=False):
        for recent in rows[-10:]:  # 10 of the last 100: 10 %, not over the mailbox's 10 %
            hard_bounce(db, recent, "550 5.1.1 no such user")
        db.commit()
        assert db.get(Mailbox, mailbox.id).paused_at is None
        assert bounce_rate(db, mailbox.id) == (10, 100)
        hard_bounce(db, rows[-11], "550 5.1.1 no such user")  # the 11th: over it
        db.commit()
    paused = db.get(Mailbox, mailbox.id)
    assert paused.paused_at == MONDAY + timedelta(days=1)
    assert paused.pause_reason.startswith("11 of its last 100 emails bounced, over the 10% it allows")
    assert check_bounce_rate(db, mailbox.id) is False  # already paused: one alert
    assert len(db.scalars(select(AuditLog).where(AuditLog.action == "mailbox_paused")).all()) == 1


def test_a_threshold_of_zero_never_pauses(app, db, make_mailbox, make_sequence, outreach_campaign):  # type: ignore[no-untyped-def]
    mailbox = make_mailbox(bounce_pause_percent=0)
    campaign, prospects = outreach_campaign(mailbox, n=1, sequence=one_step(make_sequence))
    enroll(db, app, campaign, prospects)
    (message,) = messages(db)
    message.status, message.claimed_at = "sent", MONDAY
    hard_bounce(db, message, "550 5.1.1 no such user")
    db.commit()
    assert db.get(Mailbox, mailbox.id).paused_at is None


def test_a_pause_reaches_the_webhooks_that_subscribe_to_it(app, db, make_mailbox):  # type: ignore[no-untyped-def]
    import json

    from outreach.lib.http import FetchSettings
    from outreach.mail.protection import pause_mailbox
    from outreach.models import WebhookDelivery
    from outreach.webhooks.service import create_webhook

    state = app.extensions["outreach"]
    create_webhook(db, state.secret_box, FetchSettings.from_settings(state.settings),
                   url="https://hooks.example/outreach", events=["mailbox_paused"])
    mailbox = make_mailbox()
    with time_machine.travel(MONDAY, tick=False):
        assert pause_mailbox(db, mailbox, "the mail server answered with a block: 550 5.7.1") is True
        assert pause_mailbox(db, mailbox, "again") is False  # one alert per pause
    db.commit()
    (delivery,) = db.scalars(select(WebhookDelivery)).all()
    body = json.loads(delivery.body)
    assert (body["event"], body["data"]["detail"]) == ("mailbox_paused", "the mail server answered with a block: "
                                                                         "550 5.7.1")
    assert body["data"]["mailbox"] == {"id": mailbox.id, "name": mailbox.name, "from_email": "sam@agency.test",
                                       "paused_at": MONDAY.isoformat(), "pause_reason": body["data"]["detail"],
                                       "link": f"/mail/mailboxes/{mailbox.id}"}
