"""The review queue's pages, and the personaliser: reviews first emails, gets 403 everywhere else."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outreach.mail.sequences import set_review_required
from outreach.models import Activity, AuditLog, Campaign, Prospect
from outreach.models.mail import CampaignMail, Message, Sequence, Template
from tests.mail.test_sending import enroll, fresh

#: routes anyone may open (their own rules are tested elsewhere), and the ones a personaliser may use
PUBLIC = ("/api/", "/static", "/r/", "/unsubscribe", "/login", "/setup", "/logout", "/healthz", "/readyz",
          "/metrics")
PERSONALISER_PAGES = ("/review", "/account")


@pytest.fixture
def queue(app, db, team, outreach_campaign, make_user):  # type: ignore[no-untyped-def]
    """A campaign that reviews first emails (local outbox) with two held, and a personaliser."""
    campaign, prospects = outreach_campaign(None, n=2)
    set_review_required(db, campaign, True)
    db.commit()
    enroll(db, app, campaign, prospects)
    held = [db.scalar(select(Message).where(Message.prospect_id == p.id)) for p in prospects]
    return {"campaign": campaign, "prospects": prospects, "messages": held,
            "pat": make_user("pat@agency.test", role="personaliser", name="Pat")}


def message(db: Session, message_id: int) -> Message:
    fresh(db)
    found = db.get(Message, message_id)
    assert found is not None
    return found


def test_the_queue_and_its_counts_show_on_the_nav_and_the_outreach_tab(queue, team, login):
    browser = login(team["owner"])
    page = browser.get("/review").get_data(as_text=True)
    assert page.count('data-testid="review-row"') == 2
    assert f'name="ids" value="{queue["messages"][0].id}"' in page
    assert ('>Mail&nbsp;<span class="notif-count" data-testid="nav-count" '
            'title="2 first emails waiting for review">2</span>') in page
    assert "Review first emails (2 waiting)" in browser.get("/mail").get_data(as_text=True)
    tab = browser.get(f"/campaigns/{queue['campaign'].id}/outreach").get_data(as_text=True)
    assert "2 first emails waiting for review" in tab
    board = browser.get(f"/campaigns/{queue['campaign'].id}").get_data(as_text=True)
    assert 'Outreach <span class="notif-count" data-testid="tab-review-count"' in board
    assert tab.count('data-testid="awaiting-review"') == 2
    assert 'name="is_review_required" value="1" data-testid="review-required" checked' in tab


def test_staff_reach_the_queue_from_mail_whose_entry_counts_nothing_while_nothing_waits(team, login):
    page = login(team["owner"]).get("/mail").get_data(as_text=True)
    assert 'data-testid="nav-count"' not in page and ">Review" not in page.split("</nav>", 1)[0]
    assert 'data-testid="review-link">Review first emails</a>' in page
    assert "Nothing waits for review." in login(team["owner"]).get("/review").get_data(as_text=True)


def test_a_refused_edit_shows_one_line_next_to_the_field_and_changes_nothing(db, queue, login):
    first = queue["messages"][0]
    response = login(queue["pat"]).post(f"/review/{first.id}", data={
        "subject": "Hello", "body_text": "Hi [FIRST NAME], a quick idea.", "action": "approve"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert ('<div class="error" role="alert">the plain-text body still holds the placeholder “[FIRST NAME]”: write a '
            'variable such as {{ contact.first_name }} or the words themselves</div>') in page
    assert page.index('id="body_text"') < page.index("still holds the placeholder")
    after = message(db, first.id)
    assert (after.subject, after.edited_at, after.approved_at) == (first.subject, None, None)


def test_a_personaliser_edits_and_approves_and_the_timeline_keeps_the_edit(db, queue, login):
    first, second = queue["messages"]
    browser = login(queue["pat"])
    response = browser.post(f"/review/{first.id}", data={
        "subject": "An idea for {{ site.domain }}", "body_text": "Hi {{ contact.first_name }},\nPersonal words.",
        "action": "approve"})
    assert response.status_code == 302 and response.headers["Location"].startswith("/review")
    edited = message(db, first.id)
    assert edited.subject == f"An idea for {queue['prospects'][0].site.domain}"
    assert edited.body_text == "Hi Ann0,\nPersonal words."
    assert edited.approved_by_id == queue["pat"].id and edited.edited_at is not None
    kinds = db.scalars(select(Activity.kind).where(Activity.prospect_id == first.prospect_id)
                       .order_by(Activity.id)).all()
    assert kinds[-2:] == ["email_edited", "email_approved"]
    assert message(db, second.id).approved_at is None  # the other prospect is untouched
    page = browser.get(f"/review/{first.id}").get_data(as_text=True)
    assert 'data-testid="review-done"' in page and "approved</span> by Pat" in page


def test_bulk_approval_approves_the_selected_rows(db, queue, team, login):
    ids = [m.id for m in queue["messages"]]
    response = login(team["teammate"]).post("/review/approve", data={"ids": ids, "next": "/review"})
    assert response.status_code == 302
    assert all(message(db, i).approved_at is not None for i in ids)
    assert "Approved 2 email(s)" in login(team["teammate"]).get("/review").get_data(as_text=True)


def test_the_outreach_tab_turns_review_on_and_off_and_says_what_it_holds(app, db, team, login, outreach_campaign):
    campaign, prospects = outreach_campaign(None, n=1)
    enroll(db, app, campaign, prospects)
    sequence_id = str(db.get(CampaignMail, campaign.id).sequence_id)
    browser = login(team["owner"])
    settings = f"/campaigns/{campaign.id}/outreach/settings"
    browser.post(settings, data={"mailbox_id": "0", "sequence_id": sequence_id, "is_review_required": "1"})
    fresh(db)
    assert db.get(CampaignMail, campaign.id).is_review_required is True
    tab = browser.get(f"/campaigns/{campaign.id}/outreach").get_data(as_text=True)
    assert "Sending settings saved. 1 first email(s) now wait for review." in tab
    browser.post(settings, data={"mailbox_id": "0", "sequence_id": sequence_id})
    fresh(db)
    assert db.get(CampaignMail, campaign.id).is_review_required is False
    tab = browser.get(f"/campaigns/{campaign.id}/outreach").get_data(as_text=True)
    assert "1 first email(s) that waited for review now go as scheduled." in tab


def test_a_personaliser_lands_on_the_queue_and_sees_only_it_in_the_nav(queue, login):
    browser = login(queue["pat"])
    response = browser.get("/")
    assert response.status_code == 302 and response.headers["Location"] == "/review"
    page = browser.get("/review").get_data(as_text=True)
    assert '<nav class="mainnav">' in page
    nav = page.split('<nav class="mainnav">', 1)[1].split("</nav>", 1)[0]
    assert nav.count("<a ") == 1 and ">Review&nbsp;<span" in nav
    assert "Notifications" not in page


def test_a_personaliser_opens_first_emails_of_reviewed_campaigns_only(db, app, queue, login, outreach_campaign):
    other, prospects = outreach_campaign(None, n=1)  # no review: its first email is none of the reviewer's business
    enroll(db, app, other, prospects)
    not_reviewed = db.scalar(select(Message).where(Message.campaign_id == other.id))
    browser = login(queue["pat"])
    assert browser.get(f"/review/{queue['messages'][0].id}").status_code == 200
    assert browser.get(f"/review/{not_reviewed.id}").status_code == 404
    browser.post("/review/approve", data={"ids": [not_reviewed.id]})
    assert message(db, not_reviewed.id).approved_at is None


def fingerprint(db: Session) -> tuple[Any, ...]:
    db.rollback()
    counts = [db.scalar(select(func.count()).select_from(model))
              for model in (Activity, AuditLog, Prospect, Campaign, Template, Sequence)]
    messages = tuple(db.execute(select(Message.id, Message.subject, Message.approved_at).order_by(Message.id)))
    settings = tuple(db.execute(select(CampaignMail.campaign_id, CampaignMail.is_review_required,
                                       CampaignMail.is_paused)))
    return (*counts, messages, settings)


def test_a_personaliser_gets_403_on_every_other_page_and_changes_nothing(app, db, queue, team, login):
    browser = login(queue["pat"])
    ids = {"campaign_id": queue["campaign"].id, "prospect_id": queue["prospects"][0].id,
           "client_id": team["client"].id, "user_id": team["owner"].id, "message_id": queue["messages"][0].id}
    before = fingerprint(db)
    answered = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(PUBLIC + PERSONALISER_PAGES) or rule.endpoint == "campaigns.dashboard":
            continue
        url = rule.rule.replace("<kind>", "templates").replace("<token>", "x").replace("<name>", "x")
        for name in rule.arguments:
            url = url.replace(f"<int:{name}>", str(ids.get(name, 1)))
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            answered.append((method, url, browser.open(url, method=method, data={}).status_code))
    assert len(answered) > 100
    assert [a for a in answered if a[2] != 403] == []
    assert fingerprint(db) == before


@pytest.mark.parametrize("who", ["viewer", "outsider"])
def test_client_viewers_cannot_review(db, queue, team, login, who):
    browser = login(team[who])
    first = queue["messages"][0]
    assert browser.get("/review").status_code == 403
    assert browser.get(f"/review/{first.id}").status_code == 403
    assert browser.post(f"/review/{first.id}", data={"subject": "x", "body_text": "y"}).status_code == 403
    assert browser.post("/review/approve", data={"ids": [first.id]}).status_code == 403
    assert message(db, first.id).approved_at is None


def test_the_prospect_page_says_its_first_email_awaits_review(queue, team, login):
    first = queue["messages"][0]
    page = login(team["owner"]).get(f"/prospects/{first.prospect_id}").get_data(as_text=True)
    assert 'data-testid="prospect-awaiting-review"' in page and f'href="/review/{first.id}"' in page
