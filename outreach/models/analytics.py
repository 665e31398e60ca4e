"""Referral traffic: monthly sessions from referring pages and domains, imported or pulled from analytics."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from outreach.db import Base
from outreach.lib.clock import utcnow
from outreach.models.accounts import Client

#: where figures come from: an export file of one of these tools, or its API
SOURCES = ("ga4", "plausible", "matomo")
#: a connection pulls from one of these (GA4 has no token-only API: its exports are imported)
CONNECTION_KINDS = ("plausible", "matomo")
#: page: the referrer is a page URL; domain: the export names only the referring site
LEVELS = ("page", "domain")


class ReferralTraffic(Base):
    """Sessions one referrer (a page, or a whole site) sent to a client's site in one month, from one source.

    Rows are kept whatever they match: a backlink added later finds its history. A new import of a month from a
    source replaces that source's rows of the month.
    """

    __tablename__ = "referral_traffic"
    __table_args__ = (
        CheckConstraint(f"source IN {SOURCES}", name="source"),
        CheckConstraint(f"level IN {LEVELS}", name="level"),
        CheckConstraint("sessions >= 0", name="sessions"),
        UniqueConstraint("client_id", "source", "month", "level", "key", name="uq_referral_traffic_row"),
        # serves the report's lookup: a client's rows of some referring domains over a range of months
        Index("ix_referral_traffic_client_domain_month", "client_id", "domain", "month"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    #: the first day of the month
    month: Mapped[date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(10))
    level: Mapped[str] = mapped_column(String(6))
    #: the referrer as the tool wrote it ("blog.example/post", "https://blog.example/post/", "blog.example")
    referrer: Mapped[str] = mapped_column(String(2000))
    #: how it matches a link: outreach.backlinks.verify.link_key of the page, or the host for a domain row
    key: Mapped[str] = mapped_column(String(700))
    #: the registrable domain of the referrer
    domain: Mapped[str] = mapped_column(String(255))
    #: sessions (visits); visitors when the tool gives nothing else (Plausible's CSV export)
    sessions: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AnalyticsConnection(Base):
    """A client's Plausible or Matomo, pulled monthly: its address, site and token (encrypted at rest)."""

    __tablename__ = "analytics_connections"
    __table_args__ = (
        CheckConstraint(f"kind IN {CONNECTION_KINDS}", name="kind"),
        # serves the due query: WHERE next_pull_at <= now (NULL = paused)
        Index("ix_analytics_connections_next_pull_at", "next_pull_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    #: the instance's address ("https://plausible.io", "https://analytics.example/matomo/")
    base_url: Mapped[str] = mapped_column(String(500))
    #: Plausible: the site's domain as configured there; Matomo: the idSite number
    site_id: Mapped[str] = mapped_column(String(200))
    #: the API key (Plausible) or token_auth (Matomo), encrypted with outreach.lib.secrets
    token_encrypted: Mapped[str] = mapped_column(Text)
    #: when the next pull is due
    next_pull_at: Mapped[datetime | None]
    #: a pull claimed it until then (others leave it alone); None when no pull holds it
    claimed_until: Mapped[datetime | None]
    last_pulled_at: Mapped[datetime | None]
    #: the latest complete month stored by a pull (the next pull starts after it)
    pulled_through: Mapped[date | None] = mapped_column(Date)
    #: why the last pull failed ("" after a good one)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    client: Mapped[Client] = relationship()
