"""Crawl jobs (seeds, limits, status, progress counters) and what they found."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from outreach.db import Base
from outreach.lib.clock import utcnow

CRAWL_KINDS = ("broken_links",)
#: queued -> running -> done | failed | cancelled | interrupted (the process died mid-crawl) | refused (the
#: SSRF guard refused its seeds: nothing was fetched; `error` says why and names the setting)
CRAWL_STATUSES = ("queued", "running", "done", "failed", "cancelled", "interrupted", "refused")
FINISHED_STATUSES = ("done", "failed", "cancelled", "interrupted", "refused")


class CrawlJob(Base):
    """One crawl over some seed URLs; its counters are updated while it runs."""

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
    status: Mapped[str] = mapped_column(String(20), default="queued")
    pages_crawled: Mapped[int] = mapped_column(default=0)
    links_checked: Mapped[int] = mapped_column(default=0)
    broken_found: Mapped[int] = mapped_column(default=0)
    #: URLs waiting in the frontier at the last progress update
    queued_urls: Mapped[int] = mapped_column(default=0)
    #: set by the cancel button; the running crawl sees it at its next progress update
    is_cancel_requested: Mapped[bool] = mapped_column(default=False)
    #: which process runs it ("host:pid"), for the log and for spotting dead runs
    worker: Mapped[str] = mapped_column(String(200), default="")
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    #: last progress update of a running crawl; a running job whose heartbeat stopped was interrupted
    heartbeat_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    @property
    def elapsed_seconds(self) -> float:
        if self.started_at is None:
            return 0.0
        end = self.finished_at or self.heartbeat_at or self.started_at
        if not self.is_finished:
            end = max(end, utcnow())
        return max(0.0, (end - self.started_at).total_seconds())

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
