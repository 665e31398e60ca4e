"""The crawl tick: queued crawl jobs run through the one runner loop (outreach.runs.runner).

A job's frontier, seen-set and findings are rows of the app's database under its id
(outreach.crawler.state): its findings are saved as they are found, and a job stopped by a shutdown
or taken over from a dead process resumes where it was. The rows go when the job ends.

With `[crawl] processes` above 1 a job is shared: with the threads backend by that many processes
of the machine that runs it (outreach.crawler.shards); with the celery backend over the workers. The
job's worker then holds every shard (crawl_shards rows) and crawls them all; the crawl tick of any
other worker process takes one shard from the process holding the most (one per process and job)
and crawls it until the crawl ends, renewing it at each batch. A shard not renewed for
`[scheduler] run_heartbeat_seconds` is taken back by the job's worker; a worker stopping gives its
shard back. The job's progress, cancel and findings stay the job's.
"""
from __future__ import annotations

import logging
from collections import Counter
from functools import partial
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from outreach.crawler.crawl import CrawlResult, Progress, outcome, refusal_error, refused_seeds
from outreach.crawler.crawl import crawl as crawl_in_process
from outreach.crawler.service import counters_of
from outreach.crawler.shards import StoreSpec, politeness_on
from outreach.crawler.state import CrawlStore, drop_rows
from outreach.discovery.broken_links.service import find_broken_links
from outreach.discovery.broken_links.store import save_findings
from outreach.jobs.ticks import JobContext
from outreach.lib import logs
from outreach.lib.clock import utcnow
from outreach.lib.http import FetchSettings
from outreach.models.crawl import CrawlJob, CrawlShard
from outreach.runs import runner
from outreach.runs.lifecycle import worker_name
from outreach.runs.runner import Ending, RunControl

log = logging.getLogger(__name__)


def crawl(ctx: JobContext, job: CrawlJob, control: RunControl, **crawl_options: Any) -> Ending:
    """A crawl job's work: find the broken links of its seeds; refused seeds fetch nothing and say why."""
    settings = FetchSettings.from_settings(ctx.settings)
    refused = refused_seeds(list(job.seeds), settings)
    if refused:  # bad input: nothing is fetched, and the crawl says why instead of finding nothing
        return Ending("refused", refusal_error(refused))

    def on_progress(progress: Progress) -> None:
        control.report(**counters_of(progress))

    processes = ctx.settings.crawl.processes
    if processes > 1 and ctx.settings.scheduler.backend == "celery":
        result = _shared_over_workers(ctx, job, control, settings, processes, **crawl_options)
    elif processes > 1:  # processes of this machine share the job's rows (outreach.crawler.shards)
        spec = StoreSpec(ctx.settings.database.url, job.id, keep_findings=True)
        result = find_broken_links(list(job.seeds), settings, max_pages=job.max_pages, on_progress=on_progress,
                                   should_stop=control.should_stop, processes=processes, spec=spec, **crawl_options)
    else:
        store = CrawlStore(ctx.sessionmaker.kw["bind"], job.id, keep_findings=True)
        result = find_broken_links(list(job.seeds), settings, max_pages=job.max_pages, on_progress=on_progress,
                                   should_stop=control.should_stop, store=store, **crawl_options)

    def save(session: Session, done: CrawlJob) -> None:
        save_findings(session, done, result)
        drop_rows(session, done.id)  # the job has ended: its frontier is no longer needed

    status, error = outcome(result)
    return Ending(status, error, counters_of(result.progress, finished=True), stopped=result.cancelled, save=save)


def _shared_over_workers(ctx: JobContext, job: CrawlJob, control: RunControl, settings: FetchSettings,
                         shards: int, **crawl_options: Any) -> CrawlResult:
    """The job's worker's part of a crawl spread over Celery workers: hold every shard others have not taken."""
    store = CrawlStore(ctx.sessionmaker.kw["bind"], job.id, shards=shards, shard_by_host=politeness_on(settings),
                       keep_findings=True, holder=control.worker,
                       takes_back_after=ctx.settings.scheduler.run_heartbeat_seconds)
    store.open(list(job.seeds), job.max_pages)
    store.share(control.worker)

    def on_progress(_: Progress) -> None:  # the job's counters: every worker's
        counts = store.counts()
        control.report(pages_crawled=counts.pages_crawled, links_checked=counts.links_checked,
                       broken_found=counts.broken_found, queued_urls=counts.unfinished)

    result = find_broken_links(list(job.seeds), settings, max_pages=job.max_pages, on_progress=on_progress,
                               should_stop=control.should_stop, store=store, **crawl_options)
    counts = store.counts()
    result.progress.pages_crawled, result.progress.links_checked = counts.pages_crawled, counts.links_checked
    result.progress.broken_found = counts.broken_found
    return result


def help_crawls(ctx: JobContext) -> int:
    """Take a shard of a running job spread over workers and crawl it until the crawl ends; 1 when it helped."""
    me = worker_name()
    taken = _take_shard(ctx, me)
    if taken is None:
        return 0
    job_id, seeds, max_pages, shards = taken
    settings = FetchSettings.from_settings(ctx.settings)
    store = CrawlStore(ctx.sessionmaker.kw["bind"], job_id, shards=shards, shard_by_host=politeness_on(settings),
                       keep_findings=True, holder=me)
    ended = [False]

    def check(_: Progress) -> None:  # every second: is the job still running, and this shard still ours?
        with ctx.sessionmaker() as session:
            job = session.get(CrawlJob, job_id)
            ended[0] = job is None or job.status != "running" or job.is_cancel_requested
        if store.held == [] and not ended[0]:
            ended[0] = True  # taken back (this process was thought dead)

    with logs.job(f"crawl {job_id} shard"):
        log.info("helping crawl %s (%s shards)", job_id, shards)
        crawl_in_process(seeds, settings, max_pages=max_pages, on_progress=check, store=store, opened=True,
                         should_stop=lambda: ended[0] or ctx.stopping())
    if ctx.stopping():  # give the shard back to the job's worker, its claimed URLs queued again
        with ctx.sessionmaker() as session, session.begin():
            job = session.get(CrawlJob, job_id)
            held = list(session.scalars(select(CrawlShard.shard).where(CrawlShard.job_id == job_id,
                                                                       CrawlShard.worker == me)))
            if job is not None and held:
                session.execute(update(CrawlShard).where(CrawlShard.job_id == job_id, CrawlShard.worker == me)
                                .values(worker=job.worker, heartbeat_at=utcnow()))
                store.requeue_claimed(session.connection(), held)
    return 1


def _take_shard(ctx: JobContext, me: str) -> tuple[int, list[str], int, int] | None:
    """A shard of a running job this process holds none of, from the process holding the most (if more than one)."""
    with ctx.sessionmaker() as session, session.begin():
        rows = session.execute(select(CrawlShard.job_id, CrawlShard.shard, CrawlShard.worker, CrawlShard.heartbeat_at)
                               .join(CrawlJob, CrawlJob.id == CrawlShard.job_id)
                               .where(CrawlJob.status == "running", CrawlJob.is_cancel_requested.is_(False))
                               .order_by(CrawlShard.job_id, CrawlShard.shard)).all()
        by_job: dict[int, list[Any]] = {}
        for row in rows:
            by_job.setdefault(row.job_id, []).append(row)
        for job_id, shards in by_job.items():
            holders = Counter(row.worker for row in shards)
            if me in holders:
                continue
            busiest = [row for row in shards if holders[row.worker] > 1]
            if not busiest:
                continue
            row = max(busiest, key=lambda r: (holders[r.worker], -r.shard))
            took = session.execute(update(CrawlShard).where(
                CrawlShard.job_id == job_id, CrawlShard.shard == row.shard, CrawlShard.worker == row.worker)
                .values(worker=me, heartbeat_at=utcnow())).rowcount
            if took == 1:
                job = session.get(CrawlJob, job_id)
                return job_id, list(job.seeds), job.max_pages, len(shards)
    return None


def run_crawl_jobs(ctx: JobContext) -> int:
    """The crawl tick: run queued crawl jobs, then help one spread over workers."""
    return runner.run_queued(ctx, CrawlJob, crawl) + help_crawls(ctx)


def run_one(ctx: JobContext, **crawl_options: Any) -> bool:
    """Claim one queued crawl and run it to the end; False when nothing was queued."""
    return runner.run_one(ctx, CrawlJob, partial(crawl, **crawl_options))
