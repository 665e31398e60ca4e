"""Crawl jobs: start, cancel, claim, record progress and results. Verbs take a Session and flush."""
from __future__ import annotations

import os
import socket
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from outreach.crawler.crawl import Progress, parse_seeds
from outreach.jobs.claims import claim_oldest_queued
from outreach.lib.clock import utcnow
from outreach.lib.urls import BadURL
from outreach.models import Campaign, User
from outreach.models.crawl import CrawlJob

#: a running job whose progress has not moved for this long belongs to a process that died
STALE_AFTER = timedelta(minutes=2)
MAX_PAGES_LIMIT = 100_000
MAX_SEEDS = 50


class CrawlError(ValueError):
    """A one-line reason a crawl could not be started or changed."""


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def start_crawl(session: Session, seeds: list[str], *, max_pages: int, campaign: Campaign | None = None,
                actor: User | None = None, kind: str = "broken_links") -> CrawlJob:
    """Queue a crawl of the seeds; a worker picks it up at its next tick."""
    try:
        urls = parse_seeds(seeds)
    except BadURL as exc:
        raise CrawlError(str(exc)) from None
    if len(urls) > MAX_SEEDS:
        raise CrawlError(f"at most {MAX_SEEDS} seed URLs per crawl, got {len(urls)}")
    if not 1 <= max_pages <= MAX_PAGES_LIMIT:
        raise CrawlError(f"the page limit must be between 1 and {MAX_PAGES_LIMIT}, got {max_pages}")
    job = CrawlJob(kind=kind, seeds=urls, max_pages=max_pages, campaign_id=campaign.id if campaign else None,
                   created_by_id=actor.id if actor else None, status="queued", created_at=utcnow())
    session.add(job)
    session.flush()
    return job


def request_cancel(session: Session, job: CrawlJob) -> None:
    """A queued job is cancelled at once; a running one stops at its next progress update."""
    if job.is_finished:
        raise CrawlError(f"crawl {job.id} has already finished ({job.status})")
    cancelled = session.execute(
        update(CrawlJob).where(CrawlJob.id == job.id, CrawlJob.status == "queued")
        .values(status="cancelled", finished_at=utcnow(), is_cancel_requested=True)).rowcount
    if not cancelled:
        job.is_cancel_requested = True
    session.flush()
    session.refresh(job)


def claim_next(session: Session, worker: str) -> CrawlJob | None:
    """Claim the oldest queued job with a conditional update (two workers never run the same job)."""
    now = utcnow()
    return claim_oldest_queued(session, CrawlJob, {
        "status": "running", "started_at": now, "heartbeat_at": now, "worker": worker, "error": "",
        "pages_crawled": 0, "links_checked": 0, "broken_found": 0, "queued_urls": 0})


def mark_interrupted(session: Session) -> int:
    """Running jobs whose heartbeat stopped (their process died) become "interrupted"."""
    now = utcnow()
    count = session.execute(
        update(CrawlJob).where(CrawlJob.status == "running", CrawlJob.heartbeat_at < now - STALE_AFTER)
        .values(status="interrupted", finished_at=now,
                error="the process running this crawl stopped; start it again")).rowcount
    session.flush()
    return count


def record_progress(session: Session, job_id: int, progress: Progress) -> bool:
    """Store the counters and heartbeat; returns True when a cancel was requested."""
    session.execute(update(CrawlJob).where(CrawlJob.id == job_id, CrawlJob.status == "running").values(
        pages_crawled=progress.pages_crawled, links_checked=progress.links_checked,
        broken_found=progress.broken_found, queued_urls=progress.queued, heartbeat_at=utcnow()))
    session.flush()
    return bool(session.scalar(select(CrawlJob.is_cancel_requested).where(CrawlJob.id == job_id)))


def finish(session: Session, job: CrawlJob, status: str, progress: Progress | None, error: str = "") -> None:
    if progress is not None:
        job.pages_crawled, job.links_checked = progress.pages_crawled, progress.links_checked
        job.broken_found, job.queued_urls = progress.broken_found, 0
    job.status, job.error, job.finished_at = status, error[:2000], utcnow()
    session.flush()


def requeue(session: Session, job: CrawlJob) -> None:
    """Put a job interrupted by a clean shutdown back in the queue; it starts over after the restart."""
    job.status, job.started_at, job.heartbeat_at, job.worker = "queued", None, None, ""
    job.error = "restarted after the app shut down"
    session.flush()
