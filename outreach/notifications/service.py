"""In-app notifications: written by every alert in the alert's own transaction, read on the Notifications
page, its badge and the API. No Flask here.

Who gets one: the record's owner (the prospect's owner, else the campaign's owner, else for a backlink whoever
added it), when that user is an active admin or member; with no such owner, every active admin and member.
Client viewers never get one: every alert so far is about internal work (replies, bounces, link checks).
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from outreach.accounts import permissions
from outreach.lib.clock import utcnow
from outreach.models import Campaign, Prospect, User
from outreach.models.notifications import NOTIFICATION_KINDS, Notification

TITLE_MAX = 300
LINK_MAX = 500
#: a path inside the app: no scheme, no host, no backslash a browser would read as "//"
_IN_APP = re.compile(r"/[A-Za-z0-9/_.~%?=&#-]*")


class NotificationError(ValueError):
    """A notification that cannot be written (bad kind, title or link); one line."""


def notify(session: Session, user_ids: Iterable[int], kind: str, title: str, body: str,
           link: str) -> list[Notification]:
    """Write one notification for each of these users who is an active admin or member (flushed, not committed)."""
    if kind not in NOTIFICATION_KINDS:
        raise NotificationError(f"unknown notification kind {kind!r} (one of {', '.join(NOTIFICATION_KINDS)})")
    title = " ".join(title.split())
    if not title:
        raise NotificationError("a notification needs a title")
    if not _IN_APP.fullmatch(link) or link.startswith("//") or len(link) > LINK_MAX:
        raise NotificationError(f"a notification links to a page of the app (a path starting with /), not {link!r}")
    wanted = sorted(set(user_ids))
    if not wanted:
        return []
    recipients = session.scalars(select(User.id).where(User.id.in_(wanted), User.is_active.is_(True),
                                                       permissions.team_filter())).all()
    now = utcnow()
    rows = [Notification(user_id=user_id, kind=kind, title=title[:TITLE_MAX], body=body, link=link, created_at=now)
            for user_id in recipients]
    session.add_all(rows)
    session.flush()
    return rows


def owner_or_team(session: Session, candidates: Iterable[int | None]) -> list[int]:
    """The first candidate who is an active admin or member; with none, every active admin and member."""
    for user_id in candidates:
        if user_id is None:
            continue
        user = session.get(User, user_id)
        if user is not None and user.is_active and permissions.is_staff(user):
            return [user.id]
    return list(session.scalars(select(User.id).where(User.is_active.is_(True), permissions.team_filter())
                                .order_by(User.id)))


def notify_about_prospect(session: Session, prospect: Prospect, kind: str, title: str, body: str) -> list[Notification]:
    """Tell the prospect's owner (else the campaign's owner, else the team) about it, linking to its page."""
    campaign = session.get(Campaign, prospect.campaign_id)
    users = owner_or_team(session, [prospect.owner_id, campaign.owner_id if campaign else None])
    return notify(session, users, kind, title, body, f"/prospects/{prospect.id}")


# --- reading -------------------------------------------------------------------------------------------

def unread_count(session: Session, user_id: int) -> int:
    """The badge: one indexed count."""
    return session.scalar(select(func.count()).select_from(Notification)
                          .where(Notification.user_id == user_id, Notification.read_at.is_(None))) or 0


def notifications_query(user_id: int, *, unread_only: bool = False) -> Select[tuple[Notification]]:
    """A user's notifications, newest first."""
    query = select(Notification).where(Notification.user_id == user_id).order_by(Notification.id.desc())
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    return query


def get_for(session: Session, user_id: int, notification_id: int) -> Notification | None:
    """The user's own notification, or None (someone else's is as good as missing)."""
    found = session.get(Notification, notification_id)
    return found if found is not None and found.user_id == user_id else None


def mark_read(session: Session, notification: Notification, *, now: datetime | None = None) -> bool:
    """Mark one read; False when it already was."""
    if notification.read_at is not None:
        return False
    notification.read_at = now or utcnow()
    session.flush()
    return True


def mark_all_read(session: Session, user_id: int, *, now: datetime | None = None) -> int:
    """Mark every unread notification of the user read; returns how many."""
    result = session.execute(update(Notification)
                             .where(Notification.user_id == user_id, Notification.read_at.is_(None))
                             .values(read_at=now or utcnow()).execution_options(synchronize_session=False))
    session.flush()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
