"""The mail pages: roles, forms with one-line errors, enrolment with reasons, unsubscribe."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import select

from outreach.campaigns.service import add_prospect
from outreach.mail.jobs import send_due
from outreach.mail.sequences import configure_campaign
from outreach.mail.unsubscribe import make_token, signing_secret
from outreach.models import Prospect, Suppression
from outreach.models.mail import CampaignMail, Enrollment, Mailbox, Message, Template
from tests.mail.test_sending import fresh


def mailbox_form(**overrides):  # type: ignore[no-untyped-def]
    data = dict(name="Sam", from_name="Sam Sender", from_email="sam@agency.test", smtp_host="127.0.0.1",
                smtp_port="2525", smtp_security="none", smtp_username="sam", smtp_password="s3cret-pass",
                imap_host="", imap_port="993", imap_security="ssl", imap_username="", imap_password="",
                imap_sent_folder="Sent", daily_cap="40", min_spacing_seconds="120", jitter_seconds="60",
                window_days="1,2,3,4,5", window_start_hour="9", window_end_hour="17", timezone="Europe/Paris",
                is_active="y")
    data.update(overrides)
    return data


@pytest.mark.parametrize("path", ["/mail", "/mail/mailboxes/new", "/mail/templates/new", "/mail/sequences/new",
                                  "/mail/outbox"])
def test_client_viewers_cannot_open_the_mail_setup_pages(team, login, path):
    assert login(team["viewer"]).get(path).status_code == 403


def test_the_outreach_tab_is_closed_to_client_viewers(team, login, client):
    """It lists recipients, subjects and the message history: internal to the agency."""
    campaign = team["campaign"]
    login(team["viewer"])
    assert client.get(f"/campaigns/{campaign.id}/outreach").status_code == 403
    assert b"/outreach" not in client.get(f"/campaigns/{campaign.id}").data  # no tab either
    assert client.post(f"/campaigns/{campaign.id}/outreach/pause", data={"paused": "1"}).status_code == 403
    client.post("/logout")
    login(team["outsider"])
    assert client.get(f"/campaigns/{campaign.id}/outreach").status_code in (403, 404)


def test_it_saves_a_mailbox_with_its_password_encrypted(app, db, team, login):
    client = login(team["owner"])
    response = client.post("/mail/mailboxes/new", data=mailbox_form())
    assert response.status_code == 302
    mailbox = db.scalar(select(Mailbox))
    assert mailbox.smtp_password and "s3cret-pass" not in mailbox.smtp_password
    assert app.extensions["outreach"].secret_box.decrypt(mailbox.smtp_password) == "s3cret-pass"
    # an edit with an empty password keeps the stored one
    client.post(f"/mail/mailboxes/{mailbox.id}", data=mailbox_form(smtp_password="", daily_cap="30"))
    fresh(db)
    again = db.get(Mailbox, mailbox.id)
    assert again.daily_cap == 30
    assert app.extensions["outreach"].secret_box.decrypt(again.smtp_password) == "s3cret-pass"


@pytest.mark.parametrize(("field", "value", "message"), [
    ("from_email", "not an address", "not a valid address"),
    ("timezone", "Mars/Olympus", "unknown time zone"),
    ("window_days", "1,9", "ISO weekday"),
    ("from_name", "Sam\r\nBcc: x@y.test", "carriage return (CR)"),
])
def test_a_bad_mailbox_field_gets_an_error_next_to_it_and_saves_nothing(db, team, login, field, value, message):
    response = login(team["owner"]).post("/mail/mailboxes/new", data=mailbox_form(**{field: value}))
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert db.scalar(select(Mailbox)) is None


def test_test_connection_reports_success_and_failure_in_one_line(db, team, login, smtp_sink, make_mailbox):
    client = login(team["owner"])
    good = make_mailbox(smtp_sink)
    page = client.post(f"/mail/mailboxes/{good.id}/test", follow_redirects=True).get_data(as_text=True)
    assert "accepted the login" in page
    bad = make_mailbox(None, smtp_port=1)
    page = client.post(f"/mail/mailboxes/{bad.id}/test", follow_redirects=True).get_data(as_text=True)
    assert "SMTP failed: cannot connect" in page


def test_test_connection_checks_imap_and_the_sent_folder(db, team, login, smtp_sink, imap_server, make_mailbox):
    box = make_mailbox(smtp_sink, imap_server)
    page = login(team["owner"]).post(f"/mail/mailboxes/{box.id}/test", follow_redirects=True).get_data(as_text=True)
    assert "IMAP login worked" in page


def test_a_template_that_does_not_compile_is_refused(db, team, login):
    response = login(team["owner"]).post("/mail/templates/new", data={
        "name": "Broken", "subject": "Hi {{ contact.first_name", "body_text": "x"})
    assert "syntax error" in response.get_data(as_text=True)
    assert db.scalar(select(Template)) is None


def test_a_template_with_a_misspelled_variable_is_refused_with_its_line_and_a_suggestion(db, team, login):
    client = login(team["owner"])
    response = client.post("/mail/templates/new", data={
        "name": "Typo", "subject": "Hello", "body_text": "Hi there,\nHi {{ contact.firstname }}"})
    page = response.get_data(as_text=True)
    assert "line 2 of the plain-text body: contact.firstname is not a known variable " \
           "(did you mean contact.first_name?)" in page
    assert 'id="body_text-error"' in page or "has-error" in page
    response = client.post("/mail/templates/new", data={
        "name": "Loop", "subject": "Hello", "body_text": "{% for link in opportunity.broken_links %}{{ link.urll }}"
                                                        "{% endfor %}"})
    assert "link.urll is not a known variable (did you mean link.url?)" in response.get_data(as_text=True)
    assert db.scalar(select(Template)) is None
    db.rollback()
    client.post("/mail/templates/new", data={
        "name": "Fine", "subject": "About {{ opportunity.broken_url }}",
        "body_text": "{% for link in opportunity.broken_links %}{{ link.url }} {{ link.anchor }}{% endfor %}"})
    assert db.scalar(select(Template.name)) == "Fine"


def test_the_preview_renders_against_a_real_prospect_and_names_a_missing_variable(db, team, login, make_prospect):
    client = login(team["owner"])
    prospect = make_prospect(team["campaign"], "https://blog.site.test/links", email="jo@site.test",
                             contact_name="Jo Bloggs")
    client.post("/mail/templates/new", data={"name": "Hello", "subject": "Hi {{ contact.first_name }}",
                                              "body_text": "About {{ site.domain }} {{ opportunity.broken_url }}"})
    template = db.scalar(select(Template))
    page = client.get(f"/mail/templates/{template.id}?prospect_id={prospect.id}").get_data(as_text=True)
    assert "site.test" in page and "opportunity.broken_url is empty" in page
    client.post(f"/mail/templates/{template.id}", data={"name": "Hello", "subject": "Hi {{ contact.first_name }}",
                                                         "body_text": "About {{ site.domain }}"})
    page = client.get(f"/mail/templates/{template.id}?prospect_id={prospect.id}").get_data(as_text=True)
    assert "Hi Jo" in page


def test_enrolment_from_the_list_refuses_each_prospect_with_its_reason(app, db, team, login, make_prospect,
                                                                        make_sequence):
    campaign = team["campaign"]
    ok = make_prospect(campaign, "https://good.test/a", email="ok@good.test", contact_name="Ok Person")
    no_contact = make_prospect(campaign, "https://nocontact.test/a")
    suppressed = make_prospect(campaign, "https://gone.test/a", email="gone@gone.test", contact_name="Gone")
    db.add(Suppression(kind="email", value="gone@gone.test", reason="unsubscribed"))
    # the same address, already in another active campaign, added here on purpose with an override
    add_prospect(db, team["other_campaign"], "https://busy.test/a", email="busy@busy.test", contact_name="Busy")
    twice = add_prospect(db, campaign, "https://busy-too.test/b", email="busy@busy.test", contact_name="Busy",
                         override_reason="same person, new site")
    configure_campaign(db, campaign, None, make_sequence().id)
    db.commit()
    client = login(team["owner"])
    response = client.post(f"/campaigns/{campaign.id}/outreach/enroll",
                           data={"prospect_ids": [ok.id, no_contact.id, suppressed.id, twice.id]},
                           follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Enrolled 2 prospect" in page
    assert "nocontact.test: no contact address yet" in page
    assert "gone.test: gone@gone.test unsubscribed" in page
    fresh(db)
    assert sorted(e.prospect_id for e in db.scalars(select(Enrollment))) == [ok.id, twice.id]
    queue = client.get(f"/campaigns/{campaign.id}/outreach").get_data(as_text=True)
    assert "good.test" in queue and "local outbox" in queue


def test_a_template_error_schedules_nothing_and_names_prospect_and_variable(app, db, team, login, make_prospect,
                                                                          make_sequence):
    campaign = team["campaign"]
    named = make_prospect(campaign, "https://named.test/a", email="a@named.test", contact_name="Al")
    nameless = make_prospect(campaign, "https://nameless.test/a", email="b@nameless.test")
    configure_campaign(db, campaign, None, make_sequence().id)
    db.commit()
    page = login(team["owner"]).post(f"/campaigns/{campaign.id}/outreach/enroll",
                                     data={"prospect_ids": [named.id, nameless.id]},
                                     follow_redirects=True).get_data(as_text=True)
    assert "nothing was scheduled" in page
    assert "nameless.test" in page and "contact.first_name is empty" in page
    assert db.scalar(select(Message)) is None and db.scalar(select(Enrollment)) is None


def test_pause_resume_and_cancel_one_prospect(app, db, team, login, make_prospect, make_sequence):
    campaign = team["campaign"]
    prospect = make_prospect(campaign, "https://c.test/a", email="c@c.test", contact_name="Cy")
    configure_campaign(db, campaign, None, make_sequence().id)
    db.commit()
    client = login(team["owner"])
    client.post(f"/campaigns/{campaign.id}/outreach/enroll", data={"prospect_ids": [prospect.id]})
    client.post(f"/campaigns/{campaign.id}/outreach/pause", data={"paused": "1"})
    fresh(db)
    assert db.get(CampaignMail, campaign.id).is_paused is True
    assert "Sending paused" in client.get(f"/campaigns/{campaign.id}/outreach").get_data(as_text=True)
    client.post(f"/campaigns/{campaign.id}/outreach/pause", data={"paused": "0"})
    client.post(f"/prospects/{prospect.id}/outreach/cancel")
    fresh(db)
    assert db.get(CampaignMail, campaign.id).is_paused is False
    assert db.scalar(select(Message.status)) == "cancelled"
    assert db.scalar(select(Enrollment.stop_reason)) == "cancelled"


@pytest.fixture
def sent_message(app, db, make_prospect, make_sequence, make_campaign):  # type: ignore[no-untyped-def]
    from outreach.mail.sequences import enroll_prospects

    campaign = make_campaign()
    prospect = make_prospect(campaign, "https://u.test/a", email="u@u.test", contact_name="Uma")
    configure_campaign(db, campaign, None, make_sequence().id)
    settings = app.extensions["outreach"].settings
    enroll_prospects(db, campaign, [prospect.id], settings, signing_secret(settings))
    db.commit()
    return db.scalar(select(Message)), prospect


def test_one_click_unsubscribe_works_without_cookies_or_csrf_and_never_redirects(app, db, client, sent_message,
                                                                                 make_user):
    message, prospect = sent_message
    make_user()  # past first-run setup
    app.config["WTF_CSRF_ENABLED"] = True
    token = make_token(signing_secret(app.extensions["outreach"].settings), message.message_id)
    page = client.get(f"/unsubscribe/{token}")
    assert page.status_code == 200 and b"Stop all emails to" in page.data
    fresh(db)
    assert db.scalar(select(Suppression)) is None  # a GET changes nothing
    client.delete_cookie("session")
    response = client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"},
                           headers={"Cookie": ""})
    assert response.status_code == 200
    fresh(db)
    assert db.scalar(select(Suppression.reason).where(Suppression.value == "u@u.test")) == "unsubscribed"
    assert db.get(Prospect, prospect.id).stage == "unsubscribed"
    assert db.scalar(select(Message.status)) == "cancelled"
    # other routes still need their CSRF token
    assert client.post("/mail/templates/new", data={}).status_code in (302, 400, 403)


def test_a_forged_unsubscribe_token_changes_nothing(app, db, client, sent_message, make_user):
    message, _ = sent_message
    make_user()
    forged = make_token("another-secret", message.message_id)
    assert client.post(f"/unsubscribe/{forged}").status_code == 404
    token = make_token(signing_secret(app.extensions["outreach"].settings), message.message_id)
    # a character inside the signature (the last one's low bits are padding: changing it may change nothing)
    tampered = token[:-5] + ("B" if token[-5] == "A" else "A") + token[-4:]
    assert client.post(f"/unsubscribe/{tampered}").status_code == 404
    fresh(db)
    assert db.scalar(select(Suppression)) is None


def test_a_template_in_use_cannot_be_deleted_but_an_unused_one_can(db, team, login, make_sequence):
    sequence = make_sequence()
    used = sequence.steps[0].template_id
    client = login(team["owner"])
    page = client.post(f"/mail/templates/{used}/delete", follow_redirects=True).get_data(as_text=True)
    assert "cannot be deleted: 1 sequence steps use it" in page
    client.post(f"/mail/sequences/{sequence.id}/delete")
    client.post(f"/mail/templates/{used}/delete")
    fresh(db)
    assert db.get(Template, used) is None
    assert client.post("/mail/nothing/1/delete").status_code == 404


def test_a_prospect_that_cannot_be_emailed_links_to_its_page_to_add_a_contact(team, login, client, make_prospect):
    campaign = team["campaign"]
    prospect = make_prospect(campaign, "https://nocontact.test/")
    login(team["owner"])
    page = client.get(f"/campaigns/{campaign.id}/outreach").get_data(as_text=True)
    assert "no contact address yet" in page
    assert f'href="/prospects/{prospect.id}">nocontact.test</a>' in page


def test_the_contact_of_a_prospect_in_a_running_sequence_cannot_change(db, sent_message):  # type: ignore[no-untyped-def]
    from outreach.campaigns.service import CampaignError, set_contact

    _, prospect = sent_message
    with pytest.raises(CampaignError, match="its email sequence is running"):
        set_contact(db, prospect, "someone.else@u.test")
    assert prospect.contact.email == "u@u.test"


def test_the_queue_shows_when_the_daily_cap_lets_each_email_go(app, db, team, login, outreach_campaign,
                                                               make_mailbox):  # type: ignore[no-untyped-def]
    from outreach.mail.sequences import enroll_prospects

    campaign, prospects = outreach_campaign(mailbox=make_mailbox(daily_cap=1), n=3)
    settings = app.extensions["outreach"].settings
    enroll_prospects(db, campaign, [p.id for p in prospects], settings, signing_secret(settings))
    db.commit()
    page = login(team["owner"]).get(f"/campaigns/{campaign.id}/outreach").get_data(as_text=True)
    cells = re.findall(r'data-testid="expected">(.*?)</td>', page, re.S)
    assert len(cells) == 3
    assert "daily cap" not in cells[0] and all("daily cap" in c for c in cells[1:])
    days = [re.search(r"\d{4}-\d\d-\d\d", c).group(0) for c in cells]  # type: ignore[union-attr]
    assert len(set(days)) == 3  # one a day


def test_the_local_outbox_lists_every_email_the_app_writes_in_one_vocabulary(app, db, team, login, outreach_campaign,
                                                                              job_context):
    from outreach.lib import appmail
    from tests.mail.test_sending import MONDAY, enroll

    settings = app.extensions["outreach"].settings
    for path in Path(settings.mail.outbox_dir).glob("*.eml"):  # the app's folder outlives each test
        path.unlink()
    campaign, prospects = outreach_campaign(None, n=1)
    with time_machine.travel(MONDAY, tick=False):
        enroll(db, app, campaign, prospects)
        assert send_due(job_context) == 1
    (message,) = db.scalars(select(Message).where(Message.status == "sent")).all()
    alert = appmail.AppEmail(["owner@agency.test"], "Link lost: https://pub.test/a", "gone", "<p>gone</p>")
    appmail.send(alert, settings)
    client = login(team["owner"])
    listing = client.get("/mail/outbox").get_data(as_text=True)
    assert message.subject in listing and "Link lost: https://pub.test/a" in listing
    assert listing.count(">written to the local outbox<") == 2 and ">sent<" not in listing
    assert listing.count(">scheduled<") == 1  # the follow-up
    page = client.get(f"/mail/outbox/{message.id}").get_data(as_text=True)
    assert '<span data-testid="status">written to the local outbox</span>' in page
    name = re.search(r'href="/mail/outbox/app/([0-9a-f]{32}\.eml)"', listing).group(1)
    app_page = client.get(f"/mail/outbox/app/{name}").get_data(as_text=True)
    assert '<span data-testid="status">written to the local outbox</span>' in app_page and "Link lost" in app_page
    assert client.get("/mail/outbox/app/" + "0" * 31 + "g.eml").status_code == 404
    assert "Local outbox (3)" in client.get("/mail").get_data(as_text=True)
    tab = client.get(f"/campaigns/{campaign.id}/outreach").get_data(as_text=True)
    assert ">written to the local outbox<" in tab
    prospect_page = client.get(f"/prospects/{prospects[0].id}").get_data(as_text=True)
    assert "written to the local outbox" in prospect_page
