"""Crawl jobs: start one; their lifecycle (claim, progress, cancel, finish) is outreach.runs.lifecycle."""
from __future__ import annotations

from sqlalchemy.orm import Session

from outreach.crawler.crawl import Progress, parse_seeds
from outreach.lib.clock import utcnow
from outreach.lib.urls import BadURL
from outreach.models import Campaign, User
from outreach.models.crawl import CrawlJob

MAX_PAGES_LIMIT = 100_000
MAX_SEEDS = 50


class CrawlError(ValueError):
    """A one-line reason a crawl could not be started or changed."""


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


def counters_of(progress: Progress, *, finished: bool = False) -> dict[str, int]:
    """A crawl's progress as its run counters (nothing is left in the frontier of a finished crawl)."""
    return {"pages_crawled": progress.pages_crawled, "links_checked": progress.links_checked,
            "broken_found": progress.broken_found, "queued_urls": 0 if finished else progress.queued}
