"""Prospecting: a client's assets (infographics, brand names) and guest-post / mention discovery runs."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from outreach.db import Base
from outreach.lib.clock import utcnow
from outreach.runs.lifecycle import STATUSES, RunMixin

ASSET_KINDS = ("image", "brand")
RUN_KINDS = ("guest_posts", "mentions", "search", "contacts", "import")
#: the kinds that walk seed sites (a search, a contacts find and an import are started by their own forms)
WALK_KINDS = ("guest_posts", "mentions")
#: the run lifecycle (outreach.runs.lifecycle)
RUN_STATUSES = STATUSES


class Asset(Base):
    """What a client wants credit for: an infographic image or its brand names, and where links should go."""

    __tablename__ = "assets"
    __table_args__ = (CheckConstraint(f"kind IN {ASSET_KINDS}", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(200))
    #: the client page a mention should link to
    target_url: Mapped[str] = mapped_column(String(2000))
    #: brand names, one per line (kind brand)
    brand_names: Mapped[str] = mapped_column(Text, default="")
    #: where the infographic is published, when known (kind image)
    image_url: Mapped[str] = mapped_column(String(2000), default="")
    image_sha256: Mapped[str] = mapped_column(String(64), default="")
    #: 64-bit perceptual hash (imagehash.phash) as 16 hex digits
    image_phash: Mapped[str] = mapped_column(String(16), default="")
    image_type: Mapped[str] = mapped_column(String(60), default="")
    #: the image itself, for the thumbnail (capped at upload)
    image_data: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def brand_list(self) -> list[str]:
        return [line.strip() for line in self.brand_names.splitlines() if line.strip()]


class ProspectingRun(RunMixin, Base):
    """One guest-post or mention discovery over some seed sites, run by a worker with progress."""

    noun = "run"
    counters = ("pages_crawled", "sites_done", "found")

    __tablename__ = "prospecting_runs"
    __table_args__ = (
        CheckConstraint(f"kind IN {RUN_KINDS}", name="kind"),
        CheckConstraint(f"status IN {RUN_STATUSES}", name="status"),
        CheckConstraint("max_pages > 0", name="max_pages"),
        Index("ix_prospecting_runs_campaign_created", "campaign_id", "created_at"),
        #: serves the tick's "what is queued" query
        Index("ix_prospecting_runs_status", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    #: normalised seed URLs
    seeds: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: keywords, language, target, brand names, asset ids
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: pages per seed site
    max_pages: Mapped[int] = mapped_column(default=20)
    pages_crawled: Mapped[int] = mapped_column(default=0)
    sites_done: Mapped[int] = mapped_column(default=0)
    found: Mapped[int] = mapped_column(default=0)
    #: what the run found, including what is not an opportunity (linked mentions, refusing sites)
    results: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    @property
    def units_total(self) -> int:
        """Seed sites, the queries of a search, or the rows an import writes."""
        if self.kind == "search":
            return len((self.options or {}).get("queries", ()))
        if self.kind == "import":
            return int((self.options or {}).get("rows") or 0)
        return len(self.seeds or ())

    @property
    def units_done(self) -> int:
        return self.sites_done
