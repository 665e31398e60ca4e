"""The permission layer: staff see and change everything; a client viewer reads its own client, nothing internal."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.accounts import permissions
from outreach.backlinks.service import create_backlink
from outreach.campaigns import service
from outreach.models import Activity, Campaign, Client


def test_it_lets_staff_see_and_change_every_clients_records(team: dict[str, Any], make_prospect: Any) -> None:
    prospect = make_prospect(team["other_campaign"])
    for who in ("admin", "owner", "teammate"):
        user = team[who]
        assert permissions.is_staff(user) and permissions.can_see_internal(user)
        for record in (team["other_client"], team["other_campaign"], prospect):
            assert permissions.can_see(user, record) and permissions.can_change(user, record)
    assert permissions.is_admin(team["admin"]) and not permissions.is_admin(team["owner"])


def test_it_lets_a_client_viewer_read_its_own_clients_records_only(team: dict[str, Any], make_prospect: Any,
                                                                  db: Session) -> None:
    viewer = team["viewer"]
    mine, theirs = make_prospect(team["campaign"]), make_prospect(team["other_campaign"])
    link = create_backlink(db, client_id=team["client"].id, target_url="https://acme.example/",
                           site_url="https://blog.example/")
    db.commit()
    for record in (team["client"], team["campaign"], mine, link):
        assert permissions.can_see(viewer, record) and not permissions.can_change(viewer, record)
    for record in (team["other_client"], team["other_campaign"], theirs, None):
        assert not permissions.can_see(viewer, record)
    assert not permissions.is_staff(viewer) and not permissions.can_see_internal(viewer)
    assert not permissions.can_change(viewer)


def test_its_filters_keep_a_viewers_client_rows_and_every_row_for_staff(team: dict[str, Any], db: Session) -> None:
    def clients(user: Any) -> set[int]:
        return set(db.scalars(select(Client.id).where(permissions.client_filter(user, Client.id))))

    def campaigns(user: Any) -> set[int]:
        visible = permissions.visible_campaign_ids(user)
        return set(db.scalars(select(Campaign.id).where(Campaign.id.in_(visible)))) if visible is not None else set(
            db.scalars(select(Campaign.id)))

    both = {team["client"].id, team["other_client"].id}
    assert clients(team["owner"]) == both and clients(team["viewer"]) == {team["client"].id}
    assert clients(team["outsider"]) == {team["other_client"].id}
    assert campaigns(team["viewer"]) == {team["campaign"].id}
    assert permissions.visible_client_ids(team["owner"]) is None
    assert permissions.visible_client_ids(team["viewer"]) == [team["client"].id]


def test_it_shows_a_viewer_the_stage_changes_and_links_of_a_timeline_but_no_reason(team: dict[str, Any],
                                                                                   make_prospect: Any,
                                                                                   db: Session) -> None:
    prospect = make_prospect(team["campaign"])
    service.add_note(db, prospect, "Called the editor", team["owner"])
    service.move_prospect(db, prospect, "replied", reason="reply from ed@blog.example")
    db.commit()
    kinds = permissions.timeline_kinds(team["viewer"])
    assert kinds is not None and "note" not in kinds and permissions.timeline_kinds(team["owner"]) is None
    stage = db.scalar(select(Activity).where(Activity.kind == "stage"))
    assert permissions.activity_text(team["owner"], stage) == "Stage new → replied: reply from ed@blog.example"
    assert permissions.activity_text(team["viewer"], stage) == "Stage new → replied"


def test_it_takes_contact_addresses_out_of_evidence_for_a_viewer(team: dict[str, Any]) -> None:
    details = {"guidelines_url": "https://blog.example/write", "emails": ["ed@blog.example"],
               "email_checks": {"ed@blog.example": {"status": "valid"}}}
    assert permissions.opportunity_details(team["owner"], details) == details
    assert permissions.opportunity_details(team["viewer"], details) == {"guidelines_url": "https://blog.example/write"}
    results = {"seeds": ["https://blog.example/"], "targets": [details]}
    assert permissions.run_results(team["viewer"], results)["targets"] == [
        {"guidelines_url": details["guidelines_url"]}]
    assert permissions.run_results(team["owner"], results) == results


def test_a_personaliser_may_review_and_open_nothing_else(team: dict[str, Any], make_user: Any,
                                                         make_prospect: Any) -> None:
    pat = make_user(role="personaliser")
    prospect = make_prospect(team["campaign"])
    assert permissions.can_review(pat) and permissions.can_review(team["teammate"])
    assert not permissions.can_review(team["viewer"])
    assert not permissions.is_staff(pat) and not permissions.can_change(pat) and not permissions.can_see_internal(pat)
    for record in (team["client"], team["campaign"], prospect):
        assert not permissions.can_see(pat, record)
    assert permissions.personaliser_may_open("mail.review.queue", "mail.review")
    assert permissions.personaliser_may_open("api.review.list_reviews", "api.review")
    assert permissions.personaliser_may_open("accounts.account", "accounts")
    for endpoint in ("mail.index", "mail.campaign", "mail.template", "accounts.users", "campaigns.board",
                     "api.mail.list_mailboxes", "api.list_campaigns"):
        assert not permissions.personaliser_may_open(endpoint, endpoint.rpartition(".")[0]), endpoint
    assert not permissions.personaliser_may_open("mail.reviewer_lookalike", "mail.reviewer")
