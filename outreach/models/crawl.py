"""Crawl jobs (seeds, limits, status, progress counters) and what they found."""
from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from outreach.db import Base
from outreach.runs.lifecycle import STATUSES, RunMixin

CRAWL_KINDS = ("broken_links",)
#: the run lifecycle (outreach.runs.lifecycle); "refused": the SSRF guard refused its seeds, nothing was
#: fetched, and `error` says why and names the setting
CRAWL_STATUSES = STATUSES


class CrawlJob(RunMixin, Base):
    """One crawl over some seed URLs; its counters are updated while it runs."""

    noun = "crawl"
    counters = ("pages_crawled", "links_checked", "broken_found", "queued_urls")

    __tablename__ = "crawl_jobs"
    __table_args__ = (
        CheckConstraint(f"kind IN {CRAWL_KINDS}".replace(",)", ")"), name="kind"),
        CheckConstraint(f"status IN {CRAWL_STATUSES}", name="status"),
        CheckConstraint("max_pages > 0", name="max_pages"),
        Index("ix_crawl_jobs_campaign_created", "campaign_id", "created_at"),
        #: serves the tick's "what is queued or running" query
        Index("ix_crawl_jobs_status", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), default="broken_links")
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: normalised seed URLs
    seeds: Mapped[list[str]] = mapped_column(JSON, default=list)
    max_pages: Mapped[int] = mapped_column(default=500)
    pages_crawled: Mapped[int] = mapped_column(default=0)
    links_checked: Mapped[int] = mapped_column(default=0)
    broken_found: Mapped[int] = mapped_column(default=0)
    #: URLs waiting in the frontier at the last progress update
    queued_urls: Mapped[int] = mapped_column(default=0)

    @property
    def pages_per_second(self) -> float:
        seconds = self.elapsed_seconds
        return self.pages_crawled / seconds if seconds > 0 else 0.0


class CrawlFinding(Base):
    """A dead URL a crawl found, with every page that links to it."""

    __tablename__ = "crawl_findings"
    __table_args__ = (UniqueConstraint("crawl_job_id", "url"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    crawl_job_id: Mapped[int] = mapped_column(ForeignKey("crawl_jobs.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2000))
    reason: Mapped[str] = mapped_column(String(40))
    http_status: Mapped[int | None]
    #: [{"page": URL, "anchor": text}], in the order found
    found_on: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    #: len(found_on): the results are sorted by it
    page_count: Mapped[int] = mapped_column(default=0)
