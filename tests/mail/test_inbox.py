"""The team inbox: replies read over IMAP (Dovecot) in threads, answered in-thread through the send engine
(aiosmtpd), and "remove me" turned into do-not-contact in one click."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select, update

from outreach.mail.jobs import poll_mailboxes, send_due
from outreach.mail.removal import asks_removal
from outreach.mail.sequences import set_paused
from outreach.mail.unsubscribe import mailto_request, signing_secret
from outreach.models import Activity, Prospect, Suppression
from outreach.models.mail import Enrollment, InboundMessage, Mailbox, Message
from tests.mail.test_inbound import reply_to
from tests.mail.test_sending import MONDAY, enroll, fresh, messages


@pytest.mark.parametrize("text", [
    "Please unsubscribe me.", "Remove me from your list", "take me off your mailing list please",
    "Stop emailing me", "Don't contact us again", "I want to opt out", "no more emails, thanks",
    "Bitte abmelden", "Bitte keine weiteren E-Mails", "Merci de me désinscrire", "Retirez-moi de votre liste",
    "Por favor, darme de baja", "No me contacten más", "Cancellami dalla lista", "Graag uitschrijven",
    "Verwijder mij alstublieft", "Não quero receber mais emails",
])
def test_it_hears_a_request_to_be_removed(text: str) -> None:
    assert asks_removal(f"Hi,\n\n{text}\n\nAnn")


@pytest.mark.parametrize("text", [
    # our own footer, quoted below a reply, is not their request
    "Sounds good, send it over.\n\nOn Mon, 23 Nov 2026 at 10:00, Sam <sam@agency.test> wrote:\n> Hi Ann\n> --\n"
    "> If you would rather not hear from me again: https://outreach.test/unsubscribe/abc",
    "Thanks! Sure, send the link.\n> Please remove me\n",
    "We removed the broken link, thanks for the heads-up.",
    "Sounds good.\n\n-----Original Message-----\nFrom: sam@agency.test\nunsubscribe here",
])
def test_it_does_not_hear_one_in_quoted_text_or_ordinary_replies(text: str) -> None:
    assert not asks_removal(text)


@pytest.fixture
def replied(app, db, smtp_sink, imap_server, make_mailbox, outreach_campaign, job_context, make_user):  # type: ignore[no-untyped-def]
    """An email sent to a prospect owned by Olive, and the contact's reply read from the mailbox."""
    olive = make_user("olive@agency.test", name="Olive Owner")
    mailbox = make_mailbox(smtp_sink, imap_server, sent_copy="never")
    campaign, prospects = outreach_campaign(mailbox, n=2)
    prospects[0].owner_id = olive.id
    db.commit()
    with time_machine.travel(MONDAY, tick=False):
        enroll(db, app, campaign, prospects)
        assert send_due(job_context) == 2
    first = next(m for m in messages(db, "sent") if m.prospect_id == prospects[0].id)

    def read(body: str = "Sounds good, send it over.", **headers: str) -> InboundMessage:
        imap_server.append("INBOX", reply_to(first, body, **headers))
        fresh(db)
        db.execute(update(Mailbox).values(next_poll_at=None))  # due now, however many were read before
        db.commit()
        with time_machine.travel(MONDAY + timedelta(hours=1), tick=False):
            poll_mailboxes(job_context)
            fresh(db)
        return db.scalars(select(InboundMessage).order_by(InboundMessage.id.desc())).first()

    return {"message": first, "prospect": prospects[0], "campaign": campaign, "olive": olive, "read": read}


def test_a_reply_waits_unread_in_the_team_inbox_and_opening_it_shows_the_thread(db, login, team, replied):  # type: ignore[no-untyped-def]
    inbound = replied["read"]()
    browser = login(team["owner"])
    page = browser.get("/mail/inbox").get_data(as_text=True)
    assert "Unread (1)" in page and f"/mail/inbox/{inbound.id}" in page and "Olive Owner" in page
    assert "Sounds good, send it over." in page
    thread = browser.get(f"/mail/inbox/{inbound.id}").get_data(as_text=True)
    assert replied["message"].subject in thread and "Sounds good, send it over." in thread
    assert thread.index(replied["message"].subject) < thread.index("Sounds good")  # ours first, then theirs
    fresh(db)
    assert db.get(InboundMessage, inbound.id).read_at is not None  # read for the whole team
    assert "Nothing unread." in browser.get("/mail/inbox").get_data(as_text=True)
    assert f"/mail/inbox/{inbound.id}" in browser.get("/mail/inbox?status=read").get_data(as_text=True)
    browser.post(f"/mail/inbox/{inbound.id}/read", data={"read": "0"})
    assert "Unread (1)" in browser.get("/mail/inbox").get_data(as_text=True)
    # the prospect page shows the same conversation
    prospect_page = browser.get(f"/prospects/{replied['prospect'].id}").get_data(as_text=True)
    assert 'data-testid="prospect-conversation"' in prospect_page and "Sounds good, send it over." in prospect_page


def test_the_inbox_filters_by_campaign_and_owner(db, login, team, replied, make_campaign):  # type: ignore[no-untyped-def]
    inbound = replied["read"]()
    other = make_campaign(name="Elsewhere")
    browser = login(replied["olive"])
    link = f"/mail/inbox/{inbound.id}"
    assert link in browser.get(f"/mail/inbox?campaign_id={replied['campaign'].id}").get_data(as_text=True)
    assert link not in browser.get(f"/mail/inbox?campaign_id={other.id}").get_data(as_text=True)
    assert link in browser.get("/mail/inbox?owner=me").get_data(as_text=True)
    assert link not in browser.get(f"/mail/inbox?owner={team['owner'].id}").get_data(as_text=True)


def test_an_empty_inbox_says_what_to_do_next(login, team):  # type: ignore[no-untyped-def]
    page = login(team["owner"]).get("/mail/inbox").get_data(as_text=True)
    assert "Nothing unread." in page and "add the IMAP account to a mailbox" in page


def test_an_answer_goes_in_the_thread_through_the_send_engine(db, login, team, replied, smtp_sink, job_context):  # type: ignore[no-untyped-def]
    inbound = replied["read"]()
    browser = login(team["owner"])
    response = browser.post(f"/mail/inbox/{inbound.id}/answer", data={"body": "Great, here it is: https://acme.test/"})
    assert response.status_code == 302 and response.headers["Location"] == f"/mail/inbox/{inbound.id}"
    sent_before = len(smtp_sink.received)
    send_due(job_context)  # now: the other prospect's follow-up is due too
    (answer,) = [r.message for r in smtp_sink.received[sent_before:] if r.message["In-Reply-To"]
                 and "reply-" in r.message["In-Reply-To"]]
    assert answer["In-Reply-To"] == f"<reply-{replied['message'].message_id}>"
    assert f"<{replied['message'].message_id}>" in answer["References"]
    assert answer["Subject"] == f"Re: {replied['message'].subject}"
    assert answer["To"].endswith(f"<{replied['message'].to_email}>")
    text = answer.get_payload(decode=True).decode()
    assert text.startswith("Great, here it is: https://acme.test/")
    assert "> Sounds good, send it over." in text
    fresh(db)
    sent = db.scalar(select(Message).where(Message.message_id == answer["Message-ID"].strip("<>")))
    assert (sent.status, sent.author_id) == ("sent", team["owner"].id)
    kinds = [a.kind for a in db.scalars(select(Activity).where(Activity.prospect_id == replied["prospect"].id)
                                        .order_by(Activity.id))]
    assert kinds[-2:] == ["email_answer", "email_sent"]
    thread = browser.get(f"/mail/inbox/{inbound.id}").get_data(as_text=True)
    assert "written in Outreach" in thread and "Great, here it is" in thread


def test_an_answer_that_cannot_go_is_refused_with_the_reason_and_queues_nothing(db, login, team, replied):  # type: ignore[no-untyped-def]
    inbound = replied["read"]()
    browser = login(team["owner"])
    empty = browser.post(f"/mail/inbox/{inbound.id}/answer", data={"body": "  "})
    assert empty.status_code == 422 and "write your answer first" in empty.get_data(as_text=True)
    fresh(db)  # end the test session's read: the requests wrote since
    set_paused(db, replied["campaign"], True)
    db.commit()
    paused = browser.post(f"/mail/inbox/{inbound.id}/answer", data={"body": "Hello"})
    assert paused.status_code == 422 and "sending is paused" in paused.get_data(as_text=True)
    fresh(db)
    assert db.scalar(select(Message).where(Message.author_id.is_not(None))) is None


def test_a_reply_asking_to_be_removed_is_suggested_for_do_not_contact_in_one_click(db, login, team, replied):  # type: ignore[no-untyped-def]
    inbound = replied["read"]("Please take me off your list.")
    assert inbound.asks_removal
    browser = login(team["owner"])
    assert "asks to be removed" in browser.get("/mail/inbox").get_data(as_text=True)
    page = browser.get(f"/mail/inbox/{inbound.id}").get_data(as_text=True)
    assert 'data-testid="removal-suggestion"' in page and "Add to do-not-contact" in page
    response = browser.post(f"/mail/inbox/{inbound.id}/do-not-contact")
    assert response.status_code == 302
    fresh(db)
    email = replied["message"].to_email
    suppression = db.scalar(select(Suppression).where(Suppression.value == email))
    assert (suppression.kind, suppression.reason, suppression.created_by_id) == ("email", "unsubscribed",
                                                                                 team["owner"].id)
    assert db.get(Prospect, replied["prospect"].id).stage == "unsubscribed"
    assert db.scalar(select(Enrollment).where(Enrollment.prospect_id == replied["prospect"].id)).status == "stopped"
    done = browser.get(f"/mail/inbox/{inbound.id}").get_data(as_text=True)
    assert "is on the do-not-contact list" in done and "Add to do-not-contact" not in done
    assert "do-not-contact list" in browser.post(f"/mail/inbox/{inbound.id}/answer",
                                                  data={"body": "Done, sorry"}).get_data(as_text=True)


def test_the_unsubscribe_email_link_unsubscribes_by_itself(app, db, replied, smtp_sink):  # type: ignore[no-untyped-def]
    header = smtp_sink.received[0].message["List-Unsubscribe"]
    subject = re.search(r"subject=unsubscribe%20([^>]+)>", header).group(1)
    secret = signing_secret(app.extensions["outreach"].settings)
    target = mailto_request(secret, f"unsubscribe {subject}")
    assert target == smtp_sink.received[0].message_id
    message = db.scalar(select(Message).where(Message.message_id == target))
    inbound = replied["read"]("", Subject=f"unsubscribe {subject}", **{"In-Reply-To": "", "References": ""},
                              From=message.to_email)
    assert (inbound.kind, inbound.read_at is not None) == ("unsubscribe", True)
    assert db.scalar(select(Suppression).where(Suppression.value == message.to_email)).reason == "unsubscribed"
    assert mailto_request(secret, "unsubscribe forged.token") is None


def test_client_viewers_cannot_open_the_inbox_or_a_thread(login, team, replied):  # type: ignore[no-untyped-def]
    inbound = replied["read"]()
    browser = login(team["viewer"])
    assert browser.get("/mail/inbox").status_code == 403
    assert browser.get(f"/mail/inbox/{inbound.id}").status_code == 403
    assert browser.post(f"/mail/inbox/{inbound.id}/answer", data={"body": "x"}).status_code == 403


def test_a_subject_the_sender_wrote_counts_too(db, replied):  # type: ignore[no-untyped-def]
    assert replied["read"]("", Subject="Unsubscribe", **{"Message-ID": "<s1@site.test>"}).asks_removal
    assert replied["read"]("", Subject="RE: remove me please", **{"Message-ID": "<s2@site.test>"}).asks_removal
    assert not replied["read"]("Thanks!", **{"Message-ID": "<s3@site.test>"}).asks_removal  # "Re: Hello Ann0"
