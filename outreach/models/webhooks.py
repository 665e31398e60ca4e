"""Webhooks: URLs an admin registers for alerts, the deliveries queued for them and each attempt's answer."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from outreach.db import Base
from outreach.lib.clock import utcnow

#: what a webhook can subscribe to (outreach.notifications.events raises them)
WEBHOOK_EVENTS = ("reply_received", "bounce", "unsubscribe", "link_live", "link_lost", "terms_not_met",
                  "mailbox_paused")
DELIVERY_STATUSES = ("pending", "delivered", "failed")


class Webhook(Base):
    """A URL that receives a signed POST for each event it subscribes to."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(200), default="")
    #: the WEBHOOK_EVENTS it receives
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: the signing secret, encrypted with the app's SecretBox (shown once, when made)
    secret: Mapped[str] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WebhookDelivery(Base):
    """One event for one webhook: the schedule is this row (status + next_attempt_at, which is also the lease)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint(f"status IN {DELIVERY_STATUSES}", name="status"),
        #: the due-rows query: status = 'pending' AND next_attempt_at <= now, oldest first
        Index("ix_webhook_deliveries_status_next", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_webhook_id", "webhook_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(40))
    #: the exact JSON body, kept so every attempt sends (and signs) the same bytes
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    #: when it is due; a claim moves it a lease ahead, so a worker that dies mid-attempt leaves it due again
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_status_code: Mapped[int | None]
    last_error: Mapped[str] = mapped_column(String(500), default="")
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    webhook: Mapped[Webhook] = relationship()


class WebhookAttempt(Base):
    """What the receiver answered to one attempt (or why nothing was answered)."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_delivery_id", "delivery_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_deliveries.id", ondelete="CASCADE"))
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: None when no HTTP answer came (refused address, timeout, connection error)
    status_code: Mapped[int | None]
    #: the first characters of the answer's body
    response_excerpt: Mapped[str] = mapped_column(String(1000), default="")
    error: Mapped[str] = mapped_column(String(500), default="")
    duration_ms: Mapped[int] = mapped_column(default=0)
