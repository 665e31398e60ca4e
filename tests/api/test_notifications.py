"""/api/v1/notifications: the token's user's own notifications, the unread filter, marking one read."""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from outreach.notifications.service import notify, unread_count
from tests.api.conftest import error_of


def test_it_lists_my_notifications_newest_first_with_the_unread_filter(db: Session, team: dict[str, Any],
                                                                       api_as: Any) -> None:
    [old] = notify(db, [team["owner"].id], "went_live", "Link is live: https://a.test/", "anchor", "/backlinks/4")
    notify(db, [team["owner"].id], "reply", "Reply from ann@site.test", "yes", "/prospects/9")
    notify(db, [team["teammate"].id], "bounce", "Bounced: x@y.test", "", "/prospects/9")
    old.read_at = old.created_at
    db.commit()
    api = api_as(team["owner"])
    body = api.get("/notifications").get_json()
    assert [n["title"] for n in body["data"]] == ["Reply from ann@site.test", "Link is live: https://a.test/"]
    assert body["unread"] == 1 and body["meta"]["total"] == 2
    assert body["data"][0]["link"] == "/prospects/9" and body["data"][0]["web_url"].endswith("/prospects/9")
    unread = api.get("/notifications", unread="true").get_json()
    assert [n["kind"] for n in unread["data"]] == ["reply"]
    assert error_of(api.get("/notifications", unread="yes"))["field"] == "unread"


def test_it_marks_one_read_and_not_someone_elses(db: Session, team: dict[str, Any], api_as: Any) -> None:
    [mine] = notify(db, [team["owner"].id], "lost", "Link lost: https://a.test/", "", "/backlinks/4")
    [theirs] = notify(db, [team["teammate"].id], "lost", "Link lost: https://a.test/", "", "/backlinks/4")
    db.commit()
    api = api_as(team["owner"])
    answer = api.post(f"/notifications/{mine.id}/read")
    assert answer.status_code == 200 and answer.get_json()["is_read"] is True
    assert unread_count(db, team["owner"].id) == 0
    assert api.post(f"/notifications/{theirs.id}/read").status_code == 404
    db.expire_all()
    assert unread_count(db, team["teammate"].id) == 1


def test_client_viewers_are_told_notifications_are_for_staff(team: dict[str, Any], api_as: Any) -> None:
    response = api_as(team["viewer"]).get("/notifications")
    assert response.status_code == 403 and "admins and members" in error_of(response)["message"]
