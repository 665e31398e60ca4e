"""/api/v1 email: mailboxes (secrets write-only, test connection), templates (the save-time check), sequences and
steps, a campaign's mail settings, enrolment with per-prospect reasons, the queue, a message's history, resolving an
unknown message, and inbound mail by thread. Every answer is checked against the OpenAPI document."""
from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outreach.campaigns.contact_rules import add_suppression
from outreach.jobs.ticks import JobContext
from outreach.lib.clock import utcnow
from outreach.mail import inbound
from outreach.mail.jobs import send_due
from outreach.mail.unsubscribe import signing_secret
from outreach.models import Prospect
from outreach.models.mail import Mailbox, Message, Sequence, Template
from tests.api.conftest import error_of
from tests.conftest import free_port
from tests.mail.test_inbound import dsn, reply_to

MAILBOX = {"name": "Sam", "from_name": "Sam Sender", "from_email": "sam@agency.test", "smtp_host": "127.0.0.1",
           "smtp_port": 2525, "smtp_security": "none", "smtp_username": "sam", "smtp_password": "smtp-s3cret-pass",
           "imap_host": "127.0.0.1", "imap_port": 1143, "imap_security": "none", "imap_username": "sam",
           "imap_password": "imap-s3cret-pass", "daily_cap": 40, "window_days": [1, 2, 3, 4, 5],
           "window_start_hour": 9, "window_end_hour": 17, "timezone": "Europe/Paris"}


@pytest.fixture
def staff(api_as: Any, team: dict[str, Any]) -> Any:
    return api_as(team["owner"])


def count(db: Session, model: Any) -> int:
    db.rollback()
    return db.scalar(select(func.count()).select_from(model)) or 0


# --- mailboxes -----------------------------------------------------------------------------------------

def test_it_adds_and_changes_a_mailbox_and_never_answers_its_passwords(app: Flask, db: Session, staff: Any) -> None:
    response = staff.post("/mailboxes", MAILBOX)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert response.headers["Location"] == body["url"]
    assert body["has_smtp_password"] is True and body["has_imap_password"] is True
    assert body["window_days"] == [1, 2, 3, 4, 5] and body["timezone"] == "Europe/Paris" and body["sent_today"] == 0
    stored = db.get(Mailbox, body["id"])
    assert stored is not None and "s3cret" not in stored.smtp_password + stored.imap_password
    assert app.extensions["outreach"].secret_box.decrypt(stored.smtp_password) == "smtp-s3cret-pass"

    assert body["sent_copy"] == "auto"
    changed = staff.patch(f"/mailboxes/{body['id']}", {"daily_cap": 25, "window_days": [1, 3], "is_active": False,
                                                        "sent_copy": "always"})
    assert changed.status_code == 200
    assert (changed.get_json()["daily_cap"], changed.get_json()["window_days"]) == (25, [1, 3])
    assert changed.get_json()["sent_copy"] == "always"  # the sender reads it from the mailbox row
    assert changed.get_json()["is_active"] is False
    db.commit()  # end the session's snapshot: read what the request committed
    db.expire_all()
    assert app.extensions["outreach"].secret_box.decrypt(db.get(Mailbox, body["id"]).smtp_password) == \
        "smtp-s3cret-pass"  # a password left out keeps the stored one
    assert db.get(Mailbox, body["id"]).sent_copy == "always"
    for answer in (staff.get("/mailboxes"), staff.get(f"/mailboxes/{body['id']}"), changed):
        assert "s3cret" not in answer.get_data(as_text=True)
        assert '"smtp_password"' not in answer.get_data(as_text=True)
    assert [m["name"] for m in staff.get("/mailboxes").get_json()["data"]] == ["Sam"]


def test_it_sets_a_warm_up_and_a_bounce_threshold_and_resumes_a_paused_mailbox_once(
        db: Session, staff: Any, team: dict[str, Any]) -> None:
    import time_machine

    from outreach.mail.protection import pause_mailbox
    from outreach.models import AuditLog
    from tests.mail.test_sending import MONDAY

    with time_machine.travel(MONDAY, tick=False):
        body = staff.post("/mailboxes", {**MAILBOX, "warmup_start": 10, "warmup_increment": 5,
                                         "bounce_pause_percent": 3}).get_json()
        assert body["warmup"] == {"started_on": "2026-11-23", "day": 1, "today_allowance": 10,
                                  "cap_reached_on": "2026-11-29", "is_done": False}
        assert (body["bounce_pause_percent"], body["is_paused"], body["paused_at"]) == (3, False, None)
        refused = staff.patch(f"/mailboxes/{body['id']}", {"warmup_increment": 0})
        assert refused.status_code == 422 and error_of(refused)["field"] == "warmup_increment"
        assert staff.post(f"/mailboxes/{body['id']}/resume").status_code == 409
        db.rollback()
        pause_mailbox(db, db.get(Mailbox, body["id"]), "the mail server answered with a block: 550 5.7.1")
        db.commit()
        paused = staff.get(f"/mailboxes/{body['id']}").get_json()
        assert paused["is_paused"] is True and paused["pause_reason"].endswith("550 5.7.1")
        resumed = staff.post(f"/mailboxes/{body['id']}/resume")
        assert resumed.status_code == 200 and resumed.get_json()["is_paused"] is False
        assert staff.post(f"/mailboxes/{body['id']}/resume").status_code == 409
    db.rollback()
    assert db.scalar(select(AuditLog.user_id).where(AuditLog.action == "mailbox_resumed")) == team["owner"].id


@pytest.mark.parametrize(("field", "value", "message"), [
    ("timezone", "Mars/Olympus", "unknown time zone"),
    ("smtp_port", "25", "smtp_port must be an integer"),
    ("window_days", [0, 8], "ISO weekdays"),
    ("from_email", "not an address", "is not a valid address"),
    ("smtp_security", "tls", "smtp_security must be one of"),
    ("sent_copy", "sometimes", "sent_copy must be one of"),
    ("window_start_hour", 18, "the window must start before it ends"),
    ("password", "x", "unknown field 'password'"),
])
def test_a_bad_mailbox_is_refused_in_one_line_and_saves_nothing(db: Session, staff: Any, field: str, value: Any,
                                                                message: str) -> None:
    response = staff.post("/mailboxes", {**MAILBOX, field: value})
    assert response.status_code == 422
    error = error_of(response)
    assert message in error["message"] and "\n" not in error["message"] and error["field"] == field
    assert count(db, Mailbox) == 0


def test_it_tests_a_mailbox_over_smtp_and_imap_and_reports_a_failure_as_a_result(
        staff: Any, smtp_sink: Any, imap_server: Any, make_mailbox: Any) -> None:
    working = make_mailbox(smtp_sink, imap_server)
    answer = staff.post(f"/mailboxes/{working.id}/test").get_json()
    assert answer["ok"] is True and answer["smtp"]["ok"] is True and answer["imap"]["ok"] is True
    assert "accepted the login" in answer["smtp"]["message"] and "'Sent' exists" in answer["imap"]["message"]
    closed = make_mailbox(smtp_port=free_port())
    answer = staff.post(f"/mailboxes/{closed.id}/test").get_json()
    assert answer["ok"] is False and answer["smtp"]["message"].startswith("SMTP failed: cannot connect")
    assert answer["imap"]["ok"] is None and "No IMAP account" in answer["imap"]["message"]


def test_a_mailbox_something_was_sent_from_cannot_be_deleted(app: Flask, db: Session, staff: Any,
                                                             make_mailbox: Any, make_sequence: Any,
                                                             make_prospect: Any, team: dict[str, Any]) -> None:
    unused, used = make_mailbox(), make_mailbox()
    assert staff.delete(f"/mailboxes/{unused.id}").status_code == 204
    enrolled(app, db, team["campaign"], make_prospect, make_sequence, mailbox=used)
    response = staff.delete(f"/mailboxes/{used.id}")
    assert response.status_code == 409 and "make it inactive instead" in error_of(response)["message"]
    assert staff.get(f"/mailboxes/{unused.id}").status_code == 404


# --- templates -----------------------------------------------------------------------------------------

def test_a_template_with_a_misspelt_variable_is_refused_with_its_line_and_a_suggestion(db: Session,
                                                                                      staff: Any) -> None:
    response = staff.post("/templates", {"name": "Pitch", "subject": "About {{ site.domain }}",
                                         "body_text": "Hello,\nHi {{ contact.frist_name }}, your page is great."})
    assert response.status_code == 422
    error = error_of(response)
    assert error["field"] == "body_text" and error["line"] == 2 and error["suggestion"] == "contact.first_name"
    assert "did you mean contact.first_name?" in error["message"]
    response = staff.post("/templates", {"name": "Pitch", "subject": "Hi {% if %}", "body_text": "x"})
    assert error_of(response)["field"] == "subject" and error_of(response)["line"] == 1
    assert count(db, Template) == 0

    created = staff.post("/templates", {"name": "Pitch", "subject": "About {{ site.domain }}",
                                        "body_text": "Hi {{ contact.first_name }}"})
    assert created.status_code == 201
    template_id = created.get_json()["id"]
    patched = staff.patch(f"/templates/{template_id}", {"body_html": "<p>Hi {{ contact.first_name }}</p>"})
    assert patched.status_code == 200 and patched.get_json()["body_html"].startswith("<p>Hi")
    assert patched.get_json()["subject"] == "About {{ site.domain }}"
    refused = staff.patch(f"/templates/{template_id}", {"body_html": "<p>{{ sender.mail }}</p>"})
    assert refused.status_code == 422 and error_of(refused)["suggestion"] == "sender.email"
    assert staff.post("/templates", {"name": "pitch", "subject": "s", "body_text": "t"}).status_code == 422
    assert [t["name"] for t in staff.get("/templates").get_json()["data"]] == ["Pitch"]


def test_a_template_a_step_uses_cannot_be_deleted(db: Session, staff: Any, make_sequence: Any) -> None:
    sequence = make_sequence()
    used = sequence.steps[0].template_id
    response = staff.delete(f"/templates/{used}")
    assert response.status_code == 409 and "sequence steps use it" in error_of(response)["message"]
    free = staff.post("/templates", {"name": "Free", "subject": "s", "body_text": "t"}).get_json()["id"]
    assert staff.delete(f"/templates/{free}").status_code == 204
    assert staff.get(f"/templates/{free}").status_code == 404


# --- sequences and steps --------------------------------------------------------------------------------

def test_it_builds_a_sequence_and_edits_its_steps_one_by_one(db: Session, staff: Any) -> None:
    ids = [staff.post("/templates", {"name": f"T{i}", "subject": f"s{i}", "body_text": "t"}).get_json()["id"]
           for i in range(3)]
    created = staff.post("/sequences", {"name": "Two steps", "steps": [{"template_id": ids[0]},
                                                                      {"template_id": ids[1], "delay": 4}]})
    assert created.status_code == 201
    sequence = created.get_json()
    assert [(s["position"], s["template_id"], s["delay"]) for s in sequence["steps"]] == [
        (1, ids[0], 0), (2, ids[1], 4)]
    path = f"/sequences/{sequence['id']}/steps"
    added = staff.post(path, {"template_id": ids[2], "delay": 7})
    assert added.status_code == 201 and added.get_json()["position"] == 3
    assert staff.patch(f"{path}/2", {"delay": 2}).get_json()["delay"] == 2
    assert staff.delete(f"{path}/1").status_code == 204
    steps = staff.get(path).get_json()["data"]
    assert [(s["position"], s["template_id"]) for s in steps] == [(1, ids[1]), (2, ids[2])]
    assert staff.patch(f"{path}/9", {"delay": 2}).status_code == 404
    bad = staff.patch(f"{path}/2", {"delay": 90})
    assert bad.status_code == 422 and error_of(bad)["field"] == "body.delay"
    missing = staff.post("/sequences", {"name": "Ghost", "steps": [{"template_id": 999999}]})
    assert missing.status_code == 422 and error_of(missing)["message"] == "step 1: choose an existing template"
    assert staff.get(f"/sequences/{sequence['id']}").get_json()["steps"] == steps
    hours = staff.patch(f"{path}/2", {"delay": 30, "delay_unit": "hours", "business_days_only": False}).get_json()
    assert (hours["delay"], hours["delay_unit"], hours["business_days_only"]) == (30, "hours", False)
    assert [s["name"] for s in staff.get("/sequences").get_json()["data"]] == ["Two steps"]
    renamed = staff.patch(f"/sequences/{sequence['id']}", {"name": "Follow-ups"})
    assert renamed.get_json()["name"] == "Follow-ups" and len(renamed.get_json()["steps"]) == 2
    assert staff.delete(f"/sequences/{sequence['id']}").status_code == 204
    assert count(db, Sequence) == 0


# --- mail settings, enrolment, the queue, a message -------------------------------------------------------

def enrolled(app: Flask, db: Session, campaign: Any, make_prospect: Any, make_sequence: Any,
             mailbox: Mailbox | None = None) -> Prospect:
    """A prospect of the campaign enrolled (its first email scheduled) and sent through the local outbox."""
    from outreach.mail.sequences import configure_campaign, enroll_prospects

    prospect = make_prospect(campaign, "https://sent.test/a", email="ann@sent.test", contact_name="Ann Lee")
    configure_campaign(db, campaign, mailbox.id if mailbox else None, make_sequence().id)
    settings = app.extensions["outreach"].settings
    enroll_prospects(db, campaign, [prospect.id], settings, signing_secret(settings))
    db.query(Message).update({"status": "sent", "sent_at": utcnow(), "claimed_at": utcnow()})
    db.commit()
    return prospect


def test_it_sets_a_campaigns_mailbox_sequence_and_pause(staff: Any, team: dict[str, Any], make_mailbox: Any,
                                                        make_sequence: Any) -> None:
    path = f"/campaigns/{team['campaign'].id}/mail-settings"
    assert staff.get(path).get_json() | {"url": ""} == {
        "campaign_id": team["campaign"].id, "mailbox_id": None, "mailbox": None, "sequence_id": None,
        "sequence": None, "is_paused": False, "is_review_required": False, "awaiting_review": 0,
        "sends_to_local_outbox": True, "url": ""}
    mailbox, sequence = make_mailbox(), make_sequence()
    answer = staff.patch(path, {"mailbox_id": mailbox.id, "sequence_id": sequence.id, "is_paused": True}).get_json()
    assert (answer["mailbox"]["id"], answer["sequence"]["id"], answer["is_paused"]) == (mailbox.id, sequence.id, True)
    assert answer["sends_to_local_outbox"] is False
    answer = staff.patch(path, {"mailbox_id": None, "is_paused": False}).get_json()
    assert (answer["mailbox_id"], answer["sequence_id"], answer["is_paused"]) == (None, sequence.id, False)
    bad = staff.patch(path, {"sequence_id": 999999})
    assert bad.status_code == 422 and error_of(bad) == {"code": "invalid", "field": "sequence_id",
                                                        "message": "choose an existing sequence"}
    assert staff.get(path).get_json()["sequence_id"] == sequence.id


def test_it_enrols_in_bulk_and_refuses_each_prospect_with_the_webs_reason(
        app: Flask, db: Session, staff: Any, team: dict[str, Any], make_prospect: Any,
        make_sequence: Any, job_context: JobContext) -> None:
    campaign = team["campaign"]
    path = f"/campaigns/{campaign.id}/enrollments"
    ready = [make_prospect(campaign, f"https://ok{i}.test/", email=f"ed{i}@ok{i}.test", contact_name="Ed")
             for i in range(2)]
    no_contact = make_prospect(campaign, "https://nobody.test/")
    gone = make_prospect(campaign, "https://gone.test/", email="gone@gone.test")
    elsewhere = make_prospect(team["other_campaign"], "https://other.test/", email="al@other.test")
    add_suppression(db, "gone@gone.test")
    db.commit()
    refused = staff.post(path, {"prospect_ids": [ready[0].id]})
    assert refused.status_code == 422 and error_of(refused)["field"] == "sequence_id"
    staff.patch(f"/campaigns/{campaign.id}/mail-settings", {"sequence_id": make_sequence().id})

    ids = [ready[0].id, no_contact.id, gone.id, elsewhere.id, ready[1].id, 999999]
    answer = staff.post(path, {"prospect_ids": ids})
    assert answer.status_code == 200
    body = answer.get_json()
    assert [e["prospect_id"] for e in body["enrolled"]] == [ready[0].id, ready[1].id]
    assert all(e["message"]["status"] == "scheduled" and e["message"]["step"] == 1 for e in body["enrolled"])
    assert body["refused"] == [
        {"prospect_id": no_contact.id, "reason": "no contact address yet"},
        {"prospect_id": gone.id, "reason": "gone@gone.test is on the do-not-contact list"},
        {"prospect_id": elsewhere.id, "reason": "not a prospect of this campaign"},
        {"prospect_id": 999999, "reason": "not a prospect of this campaign"}]
    again = staff.post(path, {"prospect_ids": [ready[0].id]}).get_json()
    assert again["refused"] == [{"prospect_id": ready[0].id, "reason": "already enrolled in this campaign's sequence"}]
    assert error_of(staff.post(path, {"prospect_ids": []}))["field"] == "prospect_ids"
    assert error_of(staff.post(path, {"prospect_ids": ["12"]}))["field"] == "prospect_ids"

    enrolment = staff.get(f"/prospects/{ready[0].id}/enrollment").get_json()
    assert enrolment["status"] == "active"
    assert "no contact address yet" in error_of(staff.get(f"/prospects/{no_contact.id}/enrollment"))["message"]

    queue = staff.get(f"/campaigns/{campaign.id}/messages", status="queue").get_json()
    assert queue["meta"]["total"] == 2 and {m["status"] for m in queue["data"]} == {"scheduled"}
    assert send_due(job_context) == 2  # the local outbox
    sent = staff.get(f"/campaigns/{campaign.id}/messages", status="sent", prospect_id=ready[0].id).get_json()
    [message] = sent["data"]
    assert message["status_label"] == "written to the local outbox"
    detail = staff.get(f"/messages/{message['id']}").get_json()
    assert [h["kind"] for h in detail["history"]] == ["email_scheduled", "email_sent"]
    assert "Hi Ed" in detail["body_text"]
    assert staff.get(f"/campaigns/{campaign.id}/messages", status="queued").status_code == 400

    stopped = staff.delete(f"/prospects/{ready[1].id}/enrollment")
    assert stopped.status_code == 200 and stopped.get_json()["status"] == "stopped"
    assert staff.delete(f"/prospects/{ready[1].id}/enrollment").status_code == 409


def test_it_resolves_an_unknown_message_as_the_outreach_tab_does(app: Flask, db: Session, staff: Any,
                                                                 team: dict[str, Any], make_prospect: Any,
                                                                 make_sequence: Any) -> None:
    prospect = enrolled(app, db, team["campaign"], make_prospect, make_sequence)
    message = db.scalar(select(Message).where(Message.prospect_id == prospect.id))
    assert message is not None
    message.status, message.data_started_at = "unknown", utcnow()
    db.commit()
    path = f"/messages/{message.id}/resolve"
    assert error_of(staff.post(path, {"action": "maybe"}))["field"] == "action"
    answer = staff.post(path, {"action": "sent"})
    assert answer.status_code == 200 and answer.get_json()["status"] == "sent"
    again = staff.post(path, {"action": "resend"})
    assert again.status_code == 409 and "this one is sent" in error_of(again)["message"]
    history = staff.get(f"/messages/{message.id}").get_json()["history"]
    assert [h["kind"] for h in history] == ["email_scheduled", "email_sent"]
    assert staff.get("/messages/999999").status_code == 404


def test_it_lists_replies_and_bounces_by_thread(app: Flask, db: Session, staff: Any, team: dict[str, Any],
                                                make_prospect: Any, make_sequence: Any,
                                                make_mailbox: Any) -> None:
    state = app.extensions["outreach"]
    prospect = enrolled(app, db, team["campaign"], make_prospect, make_sequence)
    other = make_prospect(team["campaign"], "https://bob.test/", email="bob@bob.test", contact_name="Bob")
    from outreach.mail.sequences import enroll_prospects

    enroll_prospects(db, team["campaign"], [other.id], state.settings, signing_secret(state.settings))
    db.query(Message).update({"status": "sent", "sent_at": utcnow()})
    db.commit()
    mailbox = make_mailbox()
    to_ann, to_bob = (db.scalar(select(Message).where(Message.prospect_id == p.id)) for p in (prospect, other))
    secret = signing_secret(state.settings)
    inbound.handle(db, mailbox, 7, 1, inbound.parse(reply_to(to_ann, "Happy to, send it.")), state.settings, secret)
    inbound.handle(db, mailbox, 7, 2, inbound.parse(dsn(to_bob, "5.1.1")), state.settings, secret)
    inbound.handle(db, mailbox, 7, 3, inbound.parse(b"From: x@stranger.test\r\nSubject: hello\r\n\r\nhi\r\n"),
                state.settings, secret)
    db.commit()
    threads = staff.get("/inbound-threads", campaign_id=team["campaign"].id).get_json()
    assert threads["meta"]["total"] == 2
    by_prospect = {t["prospect_id"]: t for t in threads["data"]}
    [reply] = by_prospect[prospect.id]["messages"]
    assert reply["kind"] == "reply" and reply["snippet"].startswith("Happy to") and \
        reply["in_reply_to"]["id"] == to_ann.id
    assert [m["kind"] for m in by_prospect[other.id]["messages"]] == ["bounce"]
    only_replies = staff.get("/inbound-threads", kind="reply").get_json()
    assert [t["prospect_id"] for t in only_replies["data"]] == [prospect.id]
    assert staff.get("/inbound-threads", kind="unmatched").status_code == 400
    unmatched = staff.get("/inbound-unmatched").get_json()["data"]
    assert [(m["kind"], m["from_email"]) for m in unmatched] == [("unmatched", "x@stranger.test")]
    history = staff.get(f"/messages/{to_ann.id}").get_json()["history"]
    assert history[-1]["kind"] == "inbound_reply" and history[-1]["inbound_id"] == reply["id"]


def test_client_viewers_see_no_email(api_as: Any, team: dict[str, Any], make_prospect: Any) -> None:
    viewer = api_as(team["viewer"])
    for path in ("/mailboxes", "/templates", "/sequences", "/inbound-threads",
                 f"/campaigns/{team['campaign'].id}/mail-settings", f"/campaigns/{team['campaign'].id}/messages"):
        response = viewer.get(path)
        assert response.status_code == 403 and "client-viewers do not see email" in error_of(response)["message"]
    assert viewer.post("/templates", {"name": "x", "subject": "s", "body_text": "t"}).status_code == 403
