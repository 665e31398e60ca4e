"""Personalise before sending: first emails held until approved, the edit is what the SMTP server receives."""
from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from outreach.mail import review
from outreach.mail.jobs import send_due
from outreach.mail.mailboxes import MailError
from outreach.mail.sequences import set_review_required
from outreach.models import Activity
from outreach.models.mail import Message
from tests.mail.test_sending import MONDAY, enroll, fresh, messages
from tests.race import together


@pytest.fixture
def reviewed(app, db, smtp_sink, make_mailbox, outreach_campaign, make_user):  # type: ignore[no-untyped-def]
    """A campaign that reviews first emails, with two prospects enrolled (their first emails held)."""
    campaign, prospects = outreach_campaign(make_mailbox(smtp_sink), n=2)
    set_review_required(db, campaign, True)
    db.commit()
    enroll(db, app, campaign, prospects)
    return campaign, prospects, make_user(role="personaliser", name="Pat Personaliser")


def first_email(db, prospect):  # type: ignore[no-untyped-def]
    fresh(db)
    return db.scalar(select(Message).where(Message.prospect_id == prospect.id, Message.step == 1))


def test_it_holds_first_emails_until_approved_and_sends_the_edit_to_that_prospect_only(
        app, db, smtp_sink, job_context, reviewed):
    campaign, (ann0, ann1), pat = reviewed
    settings = app.extensions["outreach"].settings
    with time_machine.travel(MONDAY + timedelta(minutes=1), tick=False):
        assert send_due(job_context) == 0
        held = messages(db)
        assert [(m.status, m.attempts) for m in held] == [("scheduled", 0), ("scheduled", 0)]  # held: not failed
        assert review.awaiting_count(db, campaign.id) == 2
        message = first_email(db, ann0)
        edit = review.Edit("A quick idea for {{ site.domain }}", "Hi {{ contact.first_name }},\n\nI read your "
                           "resources page twice; our guide would fit under Tools.\n")
        review.edit_message(db, message, edit, pat, settings)
        review.approve(db, message, pat)
        db.commit()
        assert review.awaiting_count(db, campaign.id) == 1
        assert send_due(job_context) == 1
        assert send_due(job_context) == 0
    (received,) = smtp_sink.received
    assert received.rcpt_tos == [ann0.contact.email]
    assert received.message["Subject"] == f"A quick idea for {ann0.site.domain}"
    assert "I read your resources page twice" in received.message.get_payload(decode=True).decode()
    assert "Hi Ann0," in received.message.get_payload(decode=True).decode()
    # the other prospect keeps the template's text and still waits
    other = first_email(db, ann1)
    assert (other.status, other.subject) == ("scheduled", "Hello Ann1")
    # the edit is on the prospect's timeline, and the follow-up answers the subject that was sent
    edits = db.scalars(select(Activity).where(Activity.kind == "email_edited")).all()
    assert [(a.prospect_id, a.user_id) for a in edits] == [(ann0.id, pat.id)]
    assert "I read your resources page twice" in edits[0].text
    follow_up = db.scalar(select(Message).where(Message.prospect_id == ann0.id, Message.step == 2))
    assert follow_up.subject == f"Re: A quick idea for {ann0.site.domain}"
    with time_machine.travel(follow_up.send_at + timedelta(minutes=1), tick=False):
        assert send_due(job_context) == 1  # follow-ups are not reviewed
    assert len(smtp_sink.to(ann1.contact.email)) == 0


def test_an_edit_is_checked_like_a_template_and_a_refused_one_changes_nothing(app, db, reviewed):
    _campaign, (ann0, _ann1), pat = reviewed
    settings = app.extensions["outreach"].settings
    message = first_email(db, ann0)
    with pytest.raises(MailError) as placeholder:
        review.edit_message(db, message, review.Edit("Hello", "Hi [FIRST NAME], a quick idea."), pat, settings)
    assert placeholder.value.field == "body_text"
    assert "[FIRST NAME]" in str(placeholder.value)
    with pytest.raises(MailError) as unknown:
        review.edit_message(db, message, review.Edit("Hi {{ contact.frist_name }}", "Body"), pat, settings)
    assert unknown.value.field == "subject"
    assert unknown.value.suggestion == "contact.first_name"
    with pytest.raises(MailError) as empty:
        review.edit_message(db, message, review.Edit("Hello", "  "), pat, settings)
    assert str(empty.value) == "the plain-text body is required"
    db.rollback()
    message = first_email(db, ann0)
    assert (message.subject, message.edited_at) == ("Hello Ann0", None)
    assert db.scalar(select(Activity).where(Activity.kind == "email_edited")) is None


def test_two_reviewers_approving_at_once_approve_and_send_it_once(app, db, smtp_sink, job_context, reviewed,
                                                                   make_user):
    _campaign, (ann0, _ann1), pat = reviewed
    olive = make_user(name="Olive")
    message_id = first_email(db, ann0).id
    factory = app.extensions["outreach"].sessionmaker

    def approve(i: int) -> str:
        with factory() as session:
            message = review.review_item(session, message_id)
            try:
                review.approve(session, message, session.merge([pat, olive][i]))
            except review.ReviewConflict as exc:
                session.rollback()
                return str(exc)
            session.commit()
            return "approved"

    results = together(approve)
    assert sorted(r == "approved" for r in results) == [False, True]
    assert "approved this email at" in next(r for r in results if r != "approved")
    with time_machine.travel(MONDAY + timedelta(minutes=1), tick=False):
        assert send_due(job_context) == 1
    assert list(smtp_sink.ids().values()) == [1]
    fresh(db)
    approvals = db.scalars(select(Activity).where(Activity.kind == "email_approved")).all()
    assert len(approvals) == 1


def test_an_approved_email_can_no_longer_be_edited(app, db, reviewed):
    _campaign, (ann0, _ann1), pat = reviewed
    message = first_email(db, ann0)
    review.approve(db, message, pat)
    db.commit()
    with pytest.raises(review.ReviewConflict, match="Pat Personaliser approved this email"):
        review.edit_message(db, message, review.Edit("Other", "Other"), pat, app.extensions["outreach"].settings)
    with pytest.raises(review.ReviewConflict):
        review.approve(db, message, pat)


def test_bulk_approval_takes_the_waiting_ones_and_says_why_it_left_the_others(app, db, reviewed):
    _campaign, (ann0, ann1), pat = reviewed
    first, second = first_email(db, ann0), first_email(db, ann1)
    review.approve(db, first, pat)
    db.commit()
    result = review.approve_many(db, [first.id, second.id, 999_999], pat)
    db.commit()
    assert [m.id for m in result.approved] == [second.id]
    assert [message_id for message_id, _reason in result.refused] == [first.id, 999_999]
    assert review.awaiting_count(db) == 0


def test_turning_review_off_lets_the_held_emails_go(app, db, smtp_sink, job_context, reviewed):
    campaign, _prospects, _pat = reviewed
    with time_machine.travel(MONDAY + timedelta(minutes=1), tick=False):
        assert send_due(job_context) == 0
        set_review_required(db, campaign, False)
        db.commit()
        assert send_due(job_context) == 2
    assert len(smtp_sink.received) == 2
