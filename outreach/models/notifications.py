"""In-app notifications: what an alert told a user, and whether they have read it."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from outreach.db import Base
from outreach.lib.clock import utcnow

#: backlink alerts (the event kinds outreach.backlinks.alerts emails about, terms_not_met and terms_met included),
#: then the mail alerts: a reply received, an address that bounced; then no scheduler heartbeat (outreach.health);
#: then a mailbox paused for its bounce rate or a block (outreach.mail.protection)
NOTIFICATION_KINDS = ("went_live", "relive", "terms_not_met", "terms_met", "lost", "missed", "rel_changed",
                      "anchor_changed", "became_noindex", "reply", "bounce", "scheduler_stale", "mailbox_paused")


class Notification(Base):
    """One alert for one user, listed on the Notifications page until read (and after)."""

    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint(f"kind IN {NOTIFICATION_KINDS}", name="kind"),
        CheckConstraint("link LIKE '/%'", name="link_in_app"),
        # the badge on every page: WHERE user_id = ? AND read_at IS NULL; the list: WHERE user_id = ? ORDER BY id
        Index("ix_notifications_user_read", "user_id", "read_at"),
        Index("ix_notifications_user_id_id", "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    #: the record it is about, as a path inside the app ("/backlinks/12", "/prospects/7")
    link: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]
