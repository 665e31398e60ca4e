"""Crawl jobs (seeds, limits, status, progress counters) and what they found."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
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


class CrawlState(Base):
    """What a crawl needs to resume: its seeds, page limit and how many pages it has taken (one row per crawl).

    A crawl job's state lives here under its id until the job ends; the CLI keeps the same three tables
    in a SQLite file of its own (`--state FILE`) with `job_id` 0. See outreach.crawler.state.
    """

    __tablename__ = "crawl_states"

    #: the crawl job's id (no foreign key: the CLI's state file has no crawl_jobs table); 0 in a state file
    job_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seeds: Mapped[list[str]] = mapped_column(JSON, default=list)
    max_pages: Mapped[int] = mapped_column(default=500)
    #: URLs of the seeds' sites taken as pages so far: the one page limit of every process of the crawl
    pages_taken: Mapped[int] = mapped_column(default=0)


class CrawlURL(Base):
    """One URL of a crawl's frontier and seen-set: queued, claimed by a process, or done with its outcome."""

    __tablename__ = "crawl_urls"
    __table_args__ = (
        UniqueConstraint("job_id", "url_hash"),
        #: serves the claim: the oldest queued URLs of a crawl
        Index("ix_crawl_urls_claim", "job_id", "state", "id"),
        CheckConstraint("state IN (0, 1, 2)", name="state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(default=0)
    #: 63 bits of BLAKE2b of the URL: the seen-set's key (and, with politeness off, the shard)
    url_hash: Mapped[int] = mapped_column(BigInteger)
    #: the same of the URL's host:port: the shard when per-host politeness is on
    host_hash: Mapped[int] = mapped_column(BigInteger)
    url: Mapped[str] = mapped_column(Text)
    #: 0 queued, 1 claimed (being visited by a process), 2 done
    state: Mapped[int] = mapped_column(SmallInteger, default=0)
    #: fetched whole and parsed (a page of the seeds' sites within the limit); None until claimed
    is_page: Mapped[bool | None]
    #: a page that answered: counted in pages_crawled
    is_crawled: Mapped[bool] = mapped_column(default=False)
    is_ok: Mapped[bool] = mapped_column(default=False)
    is_broken: Mapped[bool] = mapped_column(default=False)
    reason: Mapped[str | None] = mapped_column(String(40))
    http_status: Mapped[int | None]
    final_url: Mapped[str | None] = mapped_column(Text)


class CrawlLink(Base):
    """A page linking to a URL whose check has not said it works: the dead URLs' linking pages come from here."""

    __tablename__ = "crawl_links"
    __table_args__ = (UniqueConstraint("job_id", "url_hash", "page_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(default=0)
    url_hash: Mapped[int] = mapped_column(BigInteger)
    page_hash: Mapped[int] = mapped_column(BigInteger)
    page: Mapped[str] = mapped_column(Text)
    #: the first anchor of the link on that page
    anchor: Mapped[str] = mapped_column(Text, default="")


class CrawlShard(Base):
    """A share of a crawl job spread over Celery workers, and the worker process crawling it (outreach.crawler.jobs)."""

    __tablename__ = "crawl_shards"

    job_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    #: the URLs whose host (or URL, politeness off) hashes to this shard
    shard: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    #: the process crawling it ("host:pid"); the job's own worker holds the shards nobody else took
    worker: Mapped[str] = mapped_column(String(200), default="")
    #: renewed at each batch the worker writes; a stale one is taken back by the job's worker
    heartbeat_at: Mapped[datetime]
