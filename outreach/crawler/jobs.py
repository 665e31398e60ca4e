"""The crawl tick: run queued crawl jobs, one at a time per call; jobs of dead processes are marked."""
from __future__ import annotations

import logging

from outreach.crawler import service
from outreach.crawler.crawl import Progress, outcome, refusal_error, refused_seeds
from outreach.discovery.broken_links import find_broken_links, save_findings
from outreach.jobs.ticks import JobContext
from outreach.lib.http import FetchSettings
from outreach.models.crawl import CrawlJob

log = logging.getLogger(__name__)


def run_crawl_jobs(ctx: JobContext) -> int:
    """Mark stale running jobs interrupted, then run queued jobs until none is left or we are stopping."""
    with ctx.sessionmaker() as session, session.begin():
        if service.mark_interrupted(session):
            log.warning("crawl jobs of a stopped process were marked interrupted")
    done = 0
    while not ctx.stopping():
        if not run_one(ctx):
            break
        done += 1
    return done


def run_one(ctx: JobContext, **crawl_options: object) -> bool:
    """Claim one queued job and run it to the end; False when nothing was queued."""
    with ctx.sessionmaker() as session, session.begin():
        job = service.claim_next(session, service.worker_name())
        if job is None:
            return False
        job_id, seeds, max_pages = job.id, list(job.seeds), job.max_pages
    cancel = {"requested": False}

    def on_progress(progress: Progress) -> None:
        try:
            with ctx.sessionmaker() as session, session.begin():
                cancel["requested"] = service.record_progress(session, job_id, progress)
        except Exception:  # a busy database must not kill the crawl; the next update retries
            log.exception("could not record progress of crawl %s", job_id)

    def should_stop() -> bool:
        return cancel["requested"] or ctx.stopping()

    settings = FetchSettings.from_settings(ctx.settings.crawl)
    try:
        refused = refused_seeds(seeds, settings)
        if refused:  # bad input: nothing is fetched, and the crawl says why instead of finding nothing
            with ctx.sessionmaker() as session, session.begin():
                job = session.get(CrawlJob, job_id)
                if job is not None:
                    service.finish(session, job, "refused", None, refusal_error(refused))
            return True
        result = find_broken_links(seeds, settings, max_pages=max_pages, on_progress=on_progress,
                                   should_stop=should_stop, **crawl_options)  # type: ignore[arg-type]
    except Exception as exc:
        log.exception("crawl %s failed", job_id)
        with ctx.sessionmaker() as session, session.begin():
            job = session.get(CrawlJob, job_id)
            if job is not None:
                service.finish(session, job, "failed", None, f"{type(exc).__name__}: {exc}")
        return True
    with ctx.sessionmaker() as session, session.begin():
        job = session.get(CrawlJob, job_id)
        if job is None:  # deleted with its campaign meanwhile
            return True
        if result.cancelled and not cancel["requested"]:
            service.requeue(session, job)  # shutting down: start again after the restart
        elif result.cancelled:
            save_findings(session, job, result)
            service.finish(session, job, "cancelled", result.progress)
        else:
            save_findings(session, job, result)
            status, error = outcome(result)
            service.finish(session, job, status, result.progress, error)
    return True
