"""Enrolling from the board, the campaign's prospect list and a prospect's page, with reasons for refusals."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from outreach.mail.sequences import configure_campaign, save_sequence, save_template
from outreach.models import Suppression
from outreach.models.mail import Enrollment, Message
from tests.mail.test_sending import fresh


@pytest.fixture
def board(db, team, make_prospect, make_sequence):  # type: ignore[no-untyped-def]
    """The team's campaign with a sequence and three prospects: ok, on the do-not-contact list, no contact."""
    campaign = team["campaign"]
    ok = make_prospect(campaign, "https://good.test/links", email="jo@good.test", contact_name="Jo Good")
    dnc = make_prospect(campaign, "https://blocked.test/links", email="al@blocked.test", contact_name="Al Block")
    bare = make_prospect(campaign, "https://bare.test/links")
    db.add(Suppression(kind="domain", value="blocked.test", reason="manual", note=""))
    configure_campaign(db, campaign, None, make_sequence().id)
    db.commit()
    return campaign, ok, dnc, bare


def enrolled(db):  # type: ignore[no-untyped-def]
    fresh(db)
    return sorted(e.prospect_id for e in db.scalars(select(Enrollment)))


def test_the_board_offers_to_enrol_ticked_cards(board, team, login):
    campaign, ok, *_ = board
    page = login(team["owner"]).get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert 'id="board-enrol"' in page and "Enrol selected in “Seq " in page
    assert f'name="prospect_ids" value="{ok.id}" form="board-enrol"' in page
    assert 'class="pick-column"' in page


def test_enrolling_from_the_board_returns_to_it_with_a_reason_per_refused_prospect(db, board, team, login):
    campaign, ok, dnc, bare = board
    client = login(team["owner"])
    back = f"/campaigns/{campaign.id}?q="
    response = client.post(f"/campaigns/{campaign.id}/outreach/enroll",
                           data={"prospect_ids": [ok.id, dnc.id, bare.id], "next": back})
    assert response.status_code == 302 and response.headers["Location"] == back
    page = client.get(back).get_data(as_text=True)
    assert "Enrolled 1 prospect(s)" in page
    assert "Not enrolled: blocked.test: blocked.test is on the do-not-contact list" in page
    assert "Not enrolled: bare.test: no contact address yet" in page
    assert enrolled(db) == [ok.id]
    assert db.scalar(select(Message.to_email)) == "jo@good.test"


def test_the_prospect_lists_bulk_action_enrols_the_ticked_rows(db, board, team, login):
    campaign, ok, *_ = board
    client = login(team["owner"])
    page = client.get(f"/campaigns/{campaign.id}/prospects").get_data(as_text=True)
    assert f'formaction="/campaigns/{campaign.id}/outreach/enroll"' in page and "Enrol in sequence" in page
    back = f"/campaigns/{campaign.id}/prospects?sort=created"
    client.post(f"/campaigns/{campaign.id}/outreach/enroll", data={"ids": [ok.id], "action": "stage", "next": back})
    response = client.post(f"/campaigns/{campaign.id}/outreach/enroll", data={"ids": [ok.id], "next": back},
                           follow_redirects=True)
    assert "Not enrolled: good.test: already enrolled in this campaign&#39;s sequence" in response.get_data(
        as_text=True)
    assert enrolled(db) == [ok.id]


def test_a_template_that_does_not_render_names_the_prospect_and_the_variable_and_schedules_nothing(
        db, board, team, login):
    campaign, ok, *_ = board
    template = save_template(db, "Dead link", "Hi", "Your link to {{ opportunity.broken_url }} is dead")
    configure_campaign(db, campaign, None, save_sequence(db, "Broken", [(template.id, 0)]).id)
    db.commit()
    client = login(team["owner"])
    response = client.post(f"/campaigns/{campaign.id}/outreach/enroll",
                           data={"prospect_ids": [ok.id], "next": f"/campaigns/{campaign.id}"},
                           follow_redirects=True)
    text = response.get_data(as_text=True)
    assert "nothing was scheduled: step 1: good.test" in text and "opportunity.broken_url is empty" in text
    assert "for a fallback write {{ opportunity.broken_url or" in text
    assert enrolled(db) == []


def test_nothing_selected_is_a_one_line_error(db, board, team, login):
    campaign, *_ = board
    response = login(team["owner"]).post(f"/campaigns/{campaign.id}/outreach/enroll",
                                         data={"next": f"/campaigns/{campaign.id}"}, follow_redirects=True)
    assert "Select the prospects to enrol first." in response.get_data(as_text=True)


def test_an_outside_next_url_is_not_followed(db, board, team, login):
    campaign, ok, *_ = board
    response = login(team["owner"]).post(f"/campaigns/{campaign.id}/outreach/enroll",
                                         data={"prospect_ids": [ok.id], "next": "//evil.test/x"})
    assert response.headers["Location"] == f"/campaigns/{campaign.id}/outreach"


def test_the_prospect_page_enrols_one_prospect_and_then_offers_to_cancel(db, board, team, login):
    campaign, ok, dnc, _ = board
    client = login(team["owner"])
    page = client.get(f"/prospects/{ok.id}").get_data(as_text=True)
    assert "Enrol in “Seq " in page
    response = client.post(f"/campaigns/{campaign.id}/outreach/enroll",
                           data={"prospect_ids": [ok.id], "next": f"/prospects/{ok.id}"}, follow_redirects=True)
    text = response.get_data(as_text=True)
    assert "Enrolled 1 prospect(s)" in text and "Cancel the sequence" in text
    page = client.get(f"/prospects/{dnc.id}").get_data(as_text=True)
    assert "Cannot enrol:</strong> blocked.test is on the do-not-contact list." in page


def test_client_viewers_see_no_enrol_controls_and_cannot_enrol(db, board, team, login):
    campaign, ok, *_ = board
    client = login(team["viewer"])
    assert "board-enrol" not in client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert "Enrol in sequence" not in client.get(f"/campaigns/{campaign.id}/prospects").get_data(as_text=True)
    assert "Enrol in" not in client.get(f"/prospects/{ok.id}").get_data(as_text=True)
    response = client.post(f"/campaigns/{campaign.id}/outreach/enroll", data={"prospect_ids": [ok.id]})
    assert response.status_code == 403
    assert enrolled(db) == []


def test_a_contact_already_emailed_in_another_campaign_needs_an_override_that_then_holds_at_enrolment(
        db, team, login, outreach_campaign, make_campaign, make_prospect, make_sequence, job_context, app):
    from outreach.campaigns.contact_rules import ProspectConflict
    from outreach.campaigns.service import move_prospect
    from outreach.mail.jobs import send_due
    from tests.mail.test_sending import enroll

    first, (old,) = outreach_campaign(None, n=1)
    enroll(db, app, first, [old], now=None)
    assert send_due(job_context) == 1
    fresh(db)
    move_prospect(db, old, "declined")
    second = make_campaign(team["client"], "Second try")
    with pytest.raises(ProspectConflict, match=f"^{old.contact.email} was already contacted in “{first.name}”$"):
        make_prospect(second, old.page_url, email=old.contact.email)
    again = make_prospect(second, old.page_url, email=old.contact.email, override_reason="they asked for a new pitch")
    configure_campaign(db, second, None, make_sequence().id)
    db.commit()
    response = login(team["owner"]).post(f"/campaigns/{second.id}/outreach/enroll",
                                         data={"prospect_ids": [again.id], "next": f"/campaigns/{second.id}"},
                                         follow_redirects=True)
    assert "Enrolled 1 prospect(s)" in response.get_data(as_text=True)
