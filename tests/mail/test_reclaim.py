"""Reclaim emails for lost links: once, in the original thread, through the normal outbox."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from outreach.campaigns.contact_rules import suppress
from outreach.campaigns.service import move_prospect
from outreach.mail.jobs import poll_mailboxes, send_due
from outreach.mail.mailboxes import MailError
from outreach.mail.reclaim_email import RECLAIM_STEP, schedule_reclaim
from outreach.mail.sequences import save_template
from outreach.mail.unsubscribe import signing_secret
from outreach.models import Activity, Backlink
from outreach.models.mail import Enrollment, Message
from tests.mail.test_inbound import reply_to
from tests.mail.test_sending import MONDAY, enroll, fresh, messages

LATER = MONDAY + timedelta(days=30)


@pytest.fixture
def lost_link(app, db, smtp_sink, make_mailbox, outreach_campaign, job_context):  # type: ignore[no-untyped-def]
    """A prospect who got the whole sequence (it finished), whose won link was then lost."""

    def make(status="lost", sequence=None, imap=None):  # type: ignore[no-untyped-def]
        mailbox = make_mailbox(smtp_sink, imap)
        campaign, (prospect,) = outreach_campaign(mailbox, n=1, sequence=sequence)
        with time_machine.travel(MONDAY, tick=False):
            enroll(db, app, campaign, [prospect])
            assert send_due(job_context) == 1
        with time_machine.travel(MONDAY + timedelta(days=3, minutes=1), tick=False):
            send_due(job_context)  # the follow-up, "Re: Hello ...", if the sequence has one
            fresh(db)
            move_prospect(db, prospect, "lost")
            backlink = Backlink(client_id=campaign.client_id, campaign_id=campaign.id, prospect_id=prospect.id,
                                page_url=f"https://{prospect.site.domain}/resources", agreed_anchor="Widget guide",
                                target_url="https://client.test/guide", status=status,
                                lost_at=MONDAY if status == "lost" else None)
            db.add(backlink)
            db.commit()
        template = save_template(db, f"Reclaim {uuid.uuid4().hex[:6]}", "ignored: the thread's subject is kept",
                                 "Hi {{ contact.first_name }}, our link on {{ backlink.page_url }} is gone.")
        db.commit()
        return backlink, template

    return make


def schedule(app, db, backlink, template, now=LATER):  # type: ignore[no-untyped-def]
    settings = app.extensions["outreach"].settings
    message = schedule_reclaim(db, backlink, template.id, settings, signing_secret(settings), now=now)
    db.commit()
    return message


@pytest.fixture
def one_step(make_sequence):  # type: ignore[no-untyped-def]
    return make_sequence([("Hello {{ contact.first_name }}", "Hi {{ contact.first_name }}.", 0)])


def test_it_sends_the_reclaim_email_once_in_the_original_thread(app, db, smtp_sink, lost_link, one_step,
                                                                job_context):
    backlink, template = lost_link(sequence=one_step)
    (first,) = messages(db, "sent")
    assert db.scalar(select(Enrollment.status)) == "finished"
    with time_machine.travel(LATER, tick=False):
        message = schedule(app, db, backlink, template)
        assert message.step == RECLAIM_STEP
        assert send_due(job_context) == 1
        assert send_due(job_context) == 0
    assert smtp_sink.ids()[message.message_id] == 1
    assert len(smtp_sink.received) == 2
    sent = smtp_sink.received[-1].message
    assert sent["In-Reply-To"] == f"<{first.message_id}>"
    assert first.message_id in sent["References"]
    assert sent["Subject"] == f"Re: {first.subject}"
    assert b"our link on https://" in smtp_sink.received[-1].data
    fresh(db)
    assert db.get(Message, message.id).status == "sent"
    assert db.scalar(select(Enrollment.status)) == "finished"  # no follow-up, the sequence is untouched
    kinds = [a.kind for a in db.scalars(select(Activity).where(Activity.prospect_id == backlink.prospect_id)
                                        .order_by(Activity.id))]
    assert kinds[-2:] == ["reclaim_scheduled", "email_sent"]


def test_it_threads_after_the_last_follow_up_and_is_refused_a_second_time(app, db, smtp_sink, lost_link,
                                                                         job_context):
    backlink, template = lost_link()
    follow_up = messages(db, "sent")[-1]
    assert follow_up.step == 2
    with time_machine.travel(LATER, tick=False):
        message = schedule(app, db, backlink, template)
        with pytest.raises(MailError, match="already scheduled"):
            schedule(app, db, backlink, template)
        assert send_due(job_context) == 1
        fresh(db)
        with pytest.raises(MailError, match="already sent"):
            schedule(app, db, backlink, template)
    sent = smtp_sink.received[-1].message
    assert sent["In-Reply-To"] == f"<{follow_up.message_id}>"
    assert sent["Subject"] == follow_up.subject  # already "Re: ...", not "Re: Re: ..."
    assert len(sent["References"].split()) == 2
    assert smtp_sink.ids()[message.message_id] == 1


@pytest.mark.parametrize("reason", ["unsubscribed", "bounced"])
def test_it_refuses_a_contact_who_unsubscribed_or_bounced(app, db, lost_link, reason):
    backlink, template = lost_link()
    suppress(db, backlink.prospect.contact.email, reason, "test")
    db.commit()
    with pytest.raises(MailError, match=rf"^No reclaim email: \S+ {reason} \(test\)\.$"):
        schedule(app, db, backlink, template)
    assert db.scalar(select(Message).where(Message.step >= RECLAIM_STEP)) is None


@pytest.mark.parametrize("status", ["live", "pending"])
def test_it_refuses_a_link_that_is_not_lost(app, db, lost_link, status):
    backlink, template = lost_link(status=status)
    with pytest.raises(MailError, match=f"^No reclaim email: the link is {status}, not lost.$"):
        schedule(app, db, backlink, template)


def test_it_names_the_variable_when_the_template_does_not_render(app, db, lost_link):
    backlink, _ = lost_link()
    broken = save_template(db, "Broken", "x", "See {{ opportunity.guidelines_url }}")
    db.commit()
    with pytest.raises(MailError, match=r"opportunity\.guidelines_url"):
        schedule(app, db, backlink, broken)
    assert db.scalar(select(Message).where(Message.step >= RECLAIM_STEP)) is None


def test_it_is_cancelled_at_claim_time_when_the_link_came_back_or_the_contact_unsubscribed(
        app, db, smtp_sink, lost_link, one_step, job_context):
    backlink, template = lost_link(sequence=one_step)
    other, other_template = lost_link(sequence=one_step)
    with time_machine.travel(LATER, tick=False):
        came_back = schedule(app, db, backlink, template)
        unsubscribed = schedule(app, db, other, other_template)
        db.get(Backlink, backlink.id).status = "live"
        suppress(db, other.prospect.contact.email, "unsubscribed", "test")
        db.commit()
        assert send_due(job_context) == 0
    fresh(db)
    assert db.get(Message, came_back.id).status_reason == "the link is no longer lost"
    assert "unsubscribed (test)" in db.get(Message, unsubscribed.id).status_reason
    assert smtp_sink.ids()[came_back.message_id] == 0
    assert {e.status for e in db.scalars(select(Enrollment))} == {"finished"}  # the sequences were not touched


def test_a_reply_that_arrives_before_it_goes_cancels_it_even_when_the_sequence_had_stopped(
        app, db, smtp_sink, imap_server, lost_link, one_step, job_context):
    backlink, template = lost_link(sequence=one_step, imap=imap_server)
    (first,) = messages(db, "sent")
    db.scalar(select(Enrollment)).status = "stopped"  # as after the reply that won the link
    db.commit()
    with time_machine.travel(LATER, tick=False):
        message = schedule(app, db, backlink, template)
        imap_server.append("INBOX", reply_to(first, body="We moved the article, here is the new URL."))
        assert poll_mailboxes(job_context) == 1
        assert send_due(job_context) == 0
    fresh(db)
    assert db.get(Message, message.id).status_reason == "the contact replied after it was scheduled"
    assert smtp_sink.ids()[message.message_id] == 0


# --- the lost link's page ------------------------------------------------------------------------

def test_the_lost_links_page_previews_and_schedules_the_reclaim_email_once(app, db, lost_link, team, login):
    backlink, template = lost_link()
    client = login(team["owner"])
    page = client.get(f"/backlinks/{backlink.id}").get_data(as_text=True)
    assert "Reclaim email" in page and f'<option value="{template.id}"' in page
    assert "Send reclaim email" not in page  # preview first
    page = client.get(f"/backlinks/{backlink.id}?reclaim_template={template.id}").get_data(as_text=True)
    assert "Re: Hello Ann0" in page and "our link on https://" in page and "Send reclaim email" in page
    response = client.post(f"/backlinks/{backlink.id}/reclaim", data={"template_id": template.id},
                           follow_redirects=True)
    assert "Reclaim email to ann0." in response.get_data(as_text=True)
    response = client.post(f"/backlinks/{backlink.id}/reclaim", data={"template_id": template.id},
                           follow_redirects=True)
    assert "No reclaim email: a reclaim email for this loss is already scheduled" in response.get_data(as_text=True)
    fresh(db)
    assert len(db.scalars(select(Message).where(Message.step >= RECLAIM_STEP)).all()) == 1
    timeline = client.get(f"/prospects/{backlink.prospect_id}").get_data(as_text=True)
    assert "Reclaim email “Re: Hello Ann0" in timeline


def test_the_page_says_why_no_reclaim_email_can_be_sent(app, db, lost_link, team, login):
    backlink, template = lost_link()
    suppress(db, backlink.prospect.contact.email, "unsubscribed", "test")
    db.commit()
    client = login(team["owner"])
    page = client.get(f"/backlinks/{backlink.id}?reclaim_template={template.id}").get_data(as_text=True)
    assert "unsubscribed (test)" in page and "Send reclaim email" not in page
    response = client.post(f"/backlinks/{backlink.id}/reclaim", data={"template_id": template.id},
                           follow_redirects=True)
    assert "No reclaim email:" in response.get_data(as_text=True)
    assert db.scalar(select(Message).where(Message.step >= RECLAIM_STEP)) is None


def test_a_client_viewer_cannot_send_a_reclaim_email(app, db, lost_link, team, login):
    backlink, template = lost_link()
    backlink.client_id = team["campaign"].client_id
    db.commit()
    client = login(team["viewer"])
    page = client.get(f"/backlinks/{backlink.id}").get_data(as_text=True)
    assert "Reclaim email" not in page
    assert client.post(f"/backlinks/{backlink.id}/reclaim", data={"template_id": template.id}).status_code == 403
    assert db.scalar(select(Message).where(Message.step >= RECLAIM_STEP)) is None


def test_a_reclaim_email_can_name_why_the_link_was_lost(app, db, lost_link, one_step):  # type: ignore[no-untyped-def]
    from outreach.mail.reclaim_email import render_reclaim
    from outreach.models import BacklinkCheck, BacklinkEvent

    backlink, _ = lost_link(sequence=one_step)
    check = BacklinkCheck(backlink_id=backlink.id, page_url=backlink.page_url, final_url=backlink.page_url,
                          http_status=410, status="missing", problems=["http_410", "link_missing"])
    db.add(check)
    db.flush()
    db.add(BacklinkEvent(backlink_id=backlink.id, check_id=check.id, kind="lost", text="lost", reason="page_gone"))
    backlink.lost_reason = "page_gone"
    template = save_template(db, "Reclaim with reason", "x",
                             "Hi {{ contact.first_name }}, we noticed {{ backlink.lost_reason }}.")
    db.commit()
    settings = app.extensions["outreach"].settings
    rendered = render_reclaim(db, backlink, template, settings, signing_secret(settings))
    assert "we noticed the page is gone (HTTP 410)." in rendered.body_text
