"""Campaigns, sites, contacts, prospects (the pipeline cards) and their timeline."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    DDL,
    JSON,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from outreach.db import Base
from outreach.lib.clock import utcnow
from outreach.models.accounts import Client, User

#: the pipeline, in board order
PIPELINE_STAGES = ("new", "qualified", "contacted", "replied", "negotiating", "promised", "live")
#: the exits: a prospect that leaves the pipeline
STAGE_EXITS = ("lost", "declined", "bounced", "unsubscribed")
STAGES = PIPELINE_STAGES + STAGE_EXITS
#: stages in which a prospect's site counts as "in an active campaign" for de-duplication
ACTIVE_STAGES = ("new", "qualified", "contacted", "replied", "negotiating", "promised")

CAMPAIGN_KINDS = ("broken_links", "guest_posts", "mentions", "custom")
CAMPAIGN_STATUSES = ("active", "paused", "archived")
OPPORTUNITY_KINDS = ("broken_link", "guest_post", "image_mention", "brand_mention")


class Campaign(Base):
    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint(f"kind IN {CAMPAIGN_KINDS}", name="kind"),
        CheckConstraint(f"status IN {CAMPAIGN_STATUSES}", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), default="custom")
    status: Mapped[str] = mapped_column(String(20), default="active")
    #: one URL per line: the client pages that should receive links
    target_urls: Mapped[str] = mapped_column(Text, default="")
    #: one keyword or phrase per line
    keywords: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    client: Mapped[Client] = relationship()
    owner: Mapped[User | None] = relationship()

    @property
    def target_url_list(self) -> list[str]:
        return [line.strip() for line in self.target_urls.splitlines() if line.strip()]

    @property
    def keyword_list(self) -> list[str]:
        return [line.strip() for line in self.keywords.splitlines() if line.strip()]


# the trigram indexes' operator class; migration 0006 creates it too (create_all in tests needs it here)
event.listen(Base.metadata, "before_create",
             DDL("CREATE EXTENSION IF NOT EXISTS pg_trgm").execute_if(dialect="postgresql"))


class Site(Base):
    """A registrable domain: the unit of 'never contact twice'."""

    __tablename__ = "sites"
    __table_args__ = (
        #: substring search (ILIKE '%q%') on PostgreSQL; a plain index on SQLite
        Index("ix_sites_domain_trgm", "domain", postgresql_using="gin", postgresql_ops={"domain": "gin_trgm_ops"}),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    domain: Mapped[str] = mapped_column(String(255), unique=True)
    #: Ahrefs Domain Rating, imported
    domain_rating: Mapped[float | None] = mapped_column(Float)
    #: Moz Domain Authority, imported
    domain_authority: Mapped[float | None] = mapped_column(Float)
    #: Semrush Authority Score, imported
    authority_score: Mapped[float | None] = mapped_column(Float)
    organic_traffic: Mapped[int | None]
    #: Majestic Trust Flow of the domain, imported
    trust_flow: Mapped[float | None] = mapped_column(Float)
    #: Majestic Citation Flow of the domain, imported
    citation_flow: Mapped[float | None] = mapped_column(Float)
    #: Moz Spam Score, imported
    spam_score: Mapped[float | None] = mapped_column(Float)
    #: domains linking to this domain, imported
    referring_domains: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    contacts: Mapped[list[Contact]] = relationship(back_populates="site")


class Contact(Base):
    __tablename__ = "contacts"
    __table_args__ = (
        CheckConstraint("status IN ('unchecked', 'valid', 'invalid', 'unknown')", name="status"),
        #: substring search on address or name (ILIKE '%q%') on PostgreSQL; a covering index on SQLite
        Index("ix_contacts_search_trgm", "email", "name", postgresql_using="gin",
              postgresql_ops={"email": "gin_trgm_ops", "name": "gin_trgm_ops"}),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: lower-cased; one contact per address across campaigns
    email: Mapped[str] = mapped_column(String(320), unique=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id", ondelete="SET NULL"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(20), default="unchecked")
    status_reason: Mapped[str] = mapped_column(String(300), default="")
    #: valid | risky | invalid | unknown ("" until checked): status, with role, disposable and catch-all made risky
    confidence: Mapped[str] = mapped_column(String(10), default="")
    confidence_reason: Mapped[str] = mapped_column(String(300), default="")
    is_role: Mapped[bool] = mapped_column(default=False)
    #: guessed from a name pattern, never seen published
    is_guessed: Mapped[bool] = mapped_column(default=False)
    found_on: Mapped[str] = mapped_column(String(2000), default="")
    checked_at: Mapped[datetime | None]
    #: when a validation tick claimed the address; other ticks leave it alone for contacts.jobs.claim_lease
    check_claimed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    site: Mapped[Site | None] = relationship(back_populates="contacts")

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.strip() else ""


prospect_tags = Table(
    "prospect_tags",
    Base.metadata,
    Column("prospect_id", ForeignKey("prospects.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Tag(Base):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)


class Prospect(Base):
    """A site (and usually a contact) in one campaign: the card on the pipeline board."""

    __tablename__ = "prospects"
    __table_args__ = (
        UniqueConstraint("campaign_id", "site_id", name="uq_prospects_campaign_site"),
        CheckConstraint(f"stage IN {STAGES}", name="stage"),
        Index("ix_prospects_campaign_stage", "campaign_id", "stage", "position"),
        #: lists filtered by stage across campaigns (covers the site join of metric filters)
        Index("ix_prospects_stage_site", "stage", "site_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="RESTRICT"), index=True)
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), index=True)
    #: the page on the site this prospect is about (resource page, article, guidelines page)
    page_url: Mapped[str] = mapped_column(String(2000), default="")
    stage: Mapped[str] = mapped_column(String(20), default="new")
    #: order within a board column
    position: Mapped[float] = mapped_column(Float, default=0.0)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    #: set when the prospect was added although its site was in another campaign or do-not-contact
    override_reason: Mapped[str] = mapped_column(String(500), default="")
    #: the keys of the conflicts that override set aside (contact_rules.Conflict.key; "*": all, from before keys)
    overridden: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: imported with the page (see outreach.campaigns.metrics): the page's title, and the link found on
    #: it by the export (its anchor, where it points, whether it is nofollow; None = not said)
    page_title: Mapped[str] = mapped_column(String(500), default="")
    link_anchor: Mapped[str] = mapped_column(String(500), default="")
    link_target_url: Mapped[str] = mapped_column(String(2000), default="")
    link_is_nofollow: Mapped[bool | None]
    #: imported metrics of the page
    url_rating: Mapped[float | None] = mapped_column(Float)
    page_authority: Mapped[float | None] = mapped_column(Float)
    page_authority_score: Mapped[float | None] = mapped_column(Float)
    page_trust_flow: Mapped[float | None] = mapped_column(Float)
    page_citation_flow: Mapped[float | None] = mapped_column(Float)
    page_traffic: Mapped[int | None]
    page_referring_domains: Mapped[int | None]
    external_links: Mapped[int | None]
    links_to_target: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    stage_changed_at: Mapped[datetime] = mapped_column(default=utcnow)

    campaign: Mapped[Campaign] = relationship()
    site: Mapped[Site] = relationship()
    contact: Mapped[Contact | None] = relationship()
    owner: Mapped[User | None] = relationship()
    tags: Mapped[list[Tag]] = relationship(secondary=prospect_tags, order_by="Tag.name")


class Activity(Base):
    """One entry on a prospect's timeline."""

    __tablename__ = "activities"
    __table_args__ = (Index("ix_activities_prospect_created", "prospect_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    prospect_id: Mapped[int] = mapped_column(ForeignKey("prospects.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: created, stage, note, tag, owner, override, email_sent, email_received, email_cancelled, ...
    kind: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User | None] = relationship()


class Suppression(Base):
    """The global do-not-contact list: a whole domain or one address."""

    __tablename__ = "suppressions"
    __table_args__ = (
        UniqueConstraint("kind", "value", name="uq_suppressions_kind_value"),
        CheckConstraint("kind IN ('domain', 'email')", name="kind"),
        CheckConstraint("reason IN ('manual', 'unsubscribed', 'bounced', 'complained')", name="reason"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    value: Mapped[str] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(String(20), default="manual")
    note: Mapped[str] = mapped_column(String(500), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Opportunity(Base):
    """Something found by discovery: a dead link, a guest-post page, an unlinked mention."""

    __tablename__ = "opportunities"
    __table_args__ = (
        CheckConstraint(f"kind IN {OPPORTUNITY_KINDS}", name="kind"),
        CheckConstraint("status IN ('new', 'accepted', 'dismissed')", name="status"),
        Index("ix_opportunities_campaign_kind", "campaign_id", "kind", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="RESTRICT"), index=True)
    page_url: Mapped[str] = mapped_column(String(2000))
    kind: Mapped[str] = mapped_column(String(20))
    #: kind-specific evidence: dead URL and anchors, guidelines and requirements, image URL, snippet
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    status: Mapped[str] = mapped_column(String(20), default="new")
    prospect_id: Mapped[int | None] = mapped_column(ForeignKey("prospects.id", ondelete="SET NULL"))
    crawl_job_id: Mapped[int | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    site: Mapped[Site] = relationship()

