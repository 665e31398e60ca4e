"""The notification service, the Notifications page and the unread badge on every page."""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outreach.models import Notification
from outreach.notifications.service import NotificationError, notify, owner_or_team, unread_count


def badge(client: FlaskClient, path: str = "/") -> str | None:
    page = client.get(path).get_data(as_text=True)
    found = re.search(r'data-testid="notifications-badge">([^<]*)<', page)
    return found.group(1) if found else None


def count(db: Session) -> int:
    db.commit()
    return db.scalar(select(func.count()).select_from(Notification)) or 0


def test_it_writes_one_per_staff_recipient_and_none_for_a_client_viewer(db: Session, team: dict[str, Any]) -> None:
    users = [team["owner"].id, team["teammate"].id, team["viewer"].id, team["owner"].id]
    rows = notify(db, users, "reply", "Reply  from\nann@site.test", "Sounds good", "/prospects/1")
    db.commit()
    assert sorted(n.user_id for n in rows) == sorted([team["owner"].id, team["teammate"].id])
    assert rows[0].title == "Reply from ann@site.test"
    assert unread_count(db, team["viewer"].id) == 0


@pytest.mark.parametrize(("kind", "title", "link", "message"), [
    ("party", "T", "/x", "unknown notification kind 'party'"),
    ("reply", "  ", "/x", "a notification needs a title"),
    ("reply", "T", "https://evil.test/", "a page of the app"),
    ("reply", "T", "//evil.test/", "a page of the app"),
    ("reply", "T", "/\\evil.test/", "a page of the app"),
])
def test_bad_input_is_refused_in_one_line_and_writes_nothing(db: Session, team: dict[str, Any], kind: str,
                                                             title: str, link: str, message: str) -> None:
    with pytest.raises(NotificationError, match=re.escape(message)):
        notify(db, [team["owner"].id], kind, title, "", link)
    assert count(db) == 0


def test_every_kind_has_a_badge() -> None:
    from outreach.models.notifications import NOTIFICATION_KINDS
    from outreach.notifications.views import KIND_BADGES

    assert set(KIND_BADGES) == set(NOTIFICATION_KINDS)


def test_the_owner_if_staff_else_the_whole_team(db: Session, team: dict[str, Any]) -> None:
    assert owner_or_team(db, [None, team["owner"].id]) == [team["owner"].id]
    staff = sorted([team["admin"].id, team["owner"].id, team["teammate"].id])
    assert sorted(owner_or_team(db, [team["viewer"].id])) == staff
    team["owner"].is_active = False
    db.commit()
    assert team["owner"].id not in owner_or_team(db, [team["owner"].id])


def test_the_badge_shows_on_every_page_and_drops_when_read(db: Session, team: dict[str, Any],
                                                           login: Callable[..., FlaskClient]) -> None:
    [first] = notify(db, [team["owner"].id], "went_live", "Link is live: https://a.test/", "", "/backlinks/1")
    [second] = notify(db, [team["owner"].id], "lost", "Link lost: https://b.test/", "gone", "/backlinks/2")
    notify(db, [team["teammate"].id], "reply", "Reply from x@y.test", "", "/prospects/3")
    db.commit()
    client = login(team["owner"])
    for path in ("/", "/backlinks", "/mail", "/account"):
        assert badge(client, path) == "2", path
    page = client.get("/notifications").get_data(as_text=True)
    assert page.index("Link lost") < page.index("Link is live")  # newest first
    assert "Reply from" not in page  # someone else's
    assert client.post(f"/notifications/{first.id}/read").status_code == 302
    assert badge(client) == "1"
    unread = client.get("/notifications?unread=1").get_data(as_text=True)
    assert "Link lost" in unread and "Link is live" not in unread
    response = client.post(f"/notifications/{second.id}/open")
    assert response.headers["Location"] == "/backlinks/2"
    assert badge(client) is None
    assert "Nothing unread." in client.get("/notifications?unread=1").get_data(as_text=True)
    assert client.post("/notifications/999999/open").status_code == 404


def test_mark_all_read_marks_only_mine(db: Session, team: dict[str, Any], login: Callable[..., FlaskClient]) -> None:
    notify(db, [team["owner"].id, team["teammate"].id], "bounce", "Bounced: a@b.test", "", "/prospects/1")
    notify(db, [team["owner"].id], "reply", "Reply from a@b.test", "", "/prospects/1")
    db.commit()
    page = login(team["owner"]).post("/notifications/read-all", follow_redirects=True).get_data(as_text=True)
    assert "Marked 2 notifications read." in page
    assert unread_count(db, team["owner"].id) == 0 and unread_count(db, team["teammate"].id) == 1


def test_the_empty_page_says_what_will_appear(team: dict[str, Any], login: Callable[..., FlaskClient]) -> None:
    page = login(team["owner"]).get("/notifications").get_data(as_text=True)
    assert "No notifications yet." in page and "goes live" in page and "replies" in page and "bounces" in page
    assert 'data-testid="notifications-link"' in page


def test_client_viewers_have_no_notifications_page_or_link(team: dict[str, Any],
                                                           login: Callable[..., FlaskClient]) -> None:
    client = login(team["viewer"])
    assert 'data-testid="notifications-link"' not in client.get("/").get_data(as_text=True)
    assert client.get("/notifications").status_code == 403
    assert client.post("/notifications/read-all").status_code == 403
