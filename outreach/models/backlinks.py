"""Backlinks (the ledger of won links), their checks, their events, report shares and report deliveries."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from outreach.db import Base
from outreach.lib.clock import utcnow
from outreach.models.accounts import Client
from outreach.models.campaigns import Campaign, Prospect

#: pending: promised, not seen yet; live: found on the agreed terms; terms_not_met: found, but its anchor or rel
#: is not what was agreed; lost: gone after [backlinks] lost_after_failures failed checks in a row spread over at
#: least lost_after_hours; missed: never went live before its deadline; paused: not checked
BACKLINK_STATUSES = ("pending", "live", "terms_not_met", "lost", "missed", "paused")
#: exact: a link to the target URL itself; site: a link to any URL on the target's site
MATCH_MODES = ("exact", "site")
#: what was agreed: a followed link, or one of the weaker kinds (then a rel change is not a problem)
AGREED_RELS = ("follow", "nofollow", "sponsored", "ugc", "any")
#: unknown: the page answered but could not be read whole (too_complex; too_large without the link in the part read)
CHECK_STATUSES = ("live", "missing", "error", "unknown")
#: what was done about the link's price: invoiced by the publisher, paid, refunded (None: not tracked)
PAYMENT_STATUSES = ("unpaid", "invoiced", "paid", "refunded")
EVENT_KINDS = ("went_live", "lost", "relive", "rel_changed", "anchor_changed", "became_noindex",
               "became_indexable", "page_found", "missed", "terms_not_met", "terms_met")


class Backlink(Base):
    """A link promised or won: where it should be, what it should point to, and what we last saw."""

    __tablename__ = "backlinks"
    __table_args__ = (
        CheckConstraint(f"status IN {BACKLINK_STATUSES}", name="status"),
        CheckConstraint(f"match_mode IN {MATCH_MODES}", name="match_mode"),
        CheckConstraint(f"agreed_rel IN {AGREED_RELS}", name="agreed_rel"),
        CheckConstraint("consecutive_failures >= 0", name="failures"),
        CheckConstraint(f"payment_status IN {PAYMENT_STATUSES}", name="payment_status"),
        # serves the due query: WHERE next_check_at <= now (NULL = not scheduled)
        Index("ix_backlinks_next_check_at", "next_check_at"),
        Index("ix_backlinks_client_status", "client_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    prospect_id: Mapped[int | None] = mapped_column(ForeignKey("prospects.id", ondelete="SET NULL"), index=True)
    #: the page that carries (or will carry) the link; "" while the article is not published
    page_url: Mapped[str] = mapped_column(String(2000), default="")
    #: where to look for the page while page_url is unknown (the publisher's site)
    site_url: Mapped[str] = mapped_column(String(2000), default="")
    target_url: Mapped[str] = mapped_column(String(2000))
    match_mode: Mapped[str] = mapped_column(String(10), default="exact")
    agreed_anchor: Mapped[str] = mapped_column(String(500), default="")
    agreed_rel: Mapped[str] = mapped_column(String(20), default="follow")
    price: Mapped[float | None] = mapped_column(Float)
    #: ISO 4217 code of the price ("USD", "EUR"); "" when not given
    currency: Mapped[str] = mapped_column(String(3), default="")
    payment_status: Mapped[str | None] = mapped_column(String(10))
    notes: Mapped[str] = mapped_column(Text, default="")
    #: the link should be live by then; a pending link past it becomes missed
    deadline_at: Mapped[datetime | None]
    #: also check the DOM after JavaScript runs (headless Chromium)
    render_js: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    #: failed checks in a row (missing or error); lost after [backlinks] lost_after_failures
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    #: the first failed check of the current run of failures (None while the last check found the link)
    failing_since: Mapped[datetime | None]
    next_check_at: Mapped[datetime | None]
    last_checked_at: Mapped[datetime | None]
    #: the first time the link was ever seen live on the agreed terms ("won")
    first_live_at: Mapped[datetime | None]
    #: the start of the current spell on the page (live, or live with its terms not met)
    live_since: Mapped[datetime | None]
    lost_at: Mapped[datetime | None]
    #: what the last successful check saw: rel tokens (space-separated), anchor, follow, indexable
    seen_rel: Mapped[str] = mapped_column(String(200), default="")
    seen_anchor: Mapped[str] = mapped_column(String(500), default="")
    is_follow: Mapped[bool | None]
    is_indexable: Mapped[bool | None]
    #: why the link was lost (or missed its deadline), a code of outreach.backlinks.reasons; "" otherwise
    lost_reason: Mapped[str] = mapped_column(String(30), default="")
    #: how the last check's link differs from the agreed terms: [{"term": "rel"|"anchor", "found": ..,
    #: "agreed": ..}]; empty when the terms are met (see outreach.backlinks.terms)
    unmet_terms: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    client: Mapped[Client] = relationship()
    campaign: Mapped[Campaign | None] = relationship()
    prospect: Mapped[Prospect | None] = relationship()


class BacklinkCheck(Base):
    """One verification of a backlink, with all the evidence it saw."""

    __tablename__ = "backlink_checks"
    __table_args__ = (
        CheckConstraint(f"status IN {CHECK_STATUSES}", name="status"),
        Index("ix_backlink_checks_backlink_checked", "backlink_id", "checked_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    backlink_id: Mapped[int] = mapped_column(ForeignKey("backlinks.id", ondelete="CASCADE"))
    checked_at: Mapped[datetime] = mapped_column(default=utcnow)
    page_url: Mapped[str] = mapped_column(String(2000))
    final_url: Mapped[str] = mapped_column(String(2000), default="")
    http_status: Mapped[int | None]
    #: the fetcher's reason code when there was no usable answer (timeout, dns, refused, ...)
    error: Mapped[str] = mapped_column(String(40), default="")
    status: Mapped[str] = mapped_column(String(10))
    follow: Mapped[bool] = mapped_column(default=False)
    indexable: Mapped[bool] = mapped_column(default=False)
    #: "static", "rendered" or "" (not found)
    found_in: Mapped[str] = mapped_column(String(10), default="")
    #: problem names: nofollow, sponsored, ugc, noindex, robots_disallowed, canonical_elsewhere, ...
    problems: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: the whole result as `outreach verify --json` prints it (links, redirects, robots, canonical, ...)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    backlink: Mapped[Backlink] = relationship()


class BacklinkEvent(Base):
    """A state change of a backlink; also the queue of alert emails to its owner."""

    __tablename__ = "backlink_events"
    __table_args__ = (
        CheckConstraint(f"kind IN {EVENT_KINDS}", name="kind"),
        Index("ix_backlink_events_backlink_created", "backlink_id", "created_at"),
        # serves the alert queue: WHERE notified_at IS NULL
        Index("ix_backlink_events_notified_at", "notified_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    backlink_id: Mapped[int] = mapped_column(ForeignKey("backlinks.id", ondelete="CASCADE"))
    check_id: Mapped[int | None] = mapped_column(ForeignKey("backlink_checks.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text, default="")
    #: why, in a code of outreach.backlinks.reasons (a loss, a missed term, the page no longer indexable); "" when
    #: the event needs no reason
    reason: Mapped[str] = mapped_column(String(30), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: when the alert email went out (or was found to need none)
    notified_at: Mapped[datetime | None]
    notify_attempts: Mapped[int] = mapped_column(default=0)
    #: when a tick claimed the alert to send it; others leave it alone for backlinks.alerts.CLAIM_LEASE
    notify_claimed_at: Mapped[datetime | None]
    notify_error: Mapped[str] = mapped_column(String(500), default="")

    backlink: Mapped[Backlink] = relationship()


class ReportShare(Base):
    """A signed, expiring, revocable read-only link to a client (or campaign) report."""

    __tablename__ = "report_shares"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    #: random; part of the signed token, so a revoked or deleted share can never be guessed back
    nonce: Mapped[str] = mapped_column(String(32), unique=True)
    date_from: Mapped[date] = mapped_column(Date)
    date_to: Mapped[date] = mapped_column(Date)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_opened_at: Mapped[datetime | None]
    open_count: Mapped[int] = mapped_column(default=0)

    client: Mapped[Client] = relationship()
    campaign: Mapped[Campaign | None] = relationship()


class ClientLinkSettings(Base):
    """Per-client monitoring and reporting settings (a missing row means the defaults)."""

    __tablename__ = "client_link_settings"

    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), primary_key=True)
    #: re-check live links every this many days; None: [backlinks] live_check_days
    live_check_days: Mapped[int | None]
    #: send the monthly report email to the client's report addresses
    is_monthly_report: Mapped[bool] = mapped_column(default=True)
    #: show link prices (cost per live link, per referring domain) in what the client sees: its report pages,
    #: the shared link, the PDF and the CSV; the team always sees them in the app
    is_costs_in_report: Mapped[bool] = mapped_column(default=False)


class ReportDelivery(Base):
    """The monthly report email of one client for one month: claimed by inserting it (or, after a failure or a
    dead sender's lease, by a conditional update), sent once."""

    __tablename__ = "report_deliveries"
    __table_args__ = (
        UniqueConstraint("client_id", "period", name="uq_report_deliveries_client_period"),
        CheckConstraint("status IN ('sending', 'sent', 'failed', 'skipped')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    #: the month reported, "2026-10"
    period: Mapped[str] = mapped_column(String(7))
    status: Mapped[str] = mapped_column(String(10), default="sending")
    recipients: Mapped[str] = mapped_column(String(1000), default="")
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    #: when the delivery was last claimed; one left in "sending" longer than reports.jobs.CLAIM_LEASE belongs to
    #: a process that died, and is claimed again (NULL: claimed before claims had a time)
    claimed_at: Mapped[datetime | None]
