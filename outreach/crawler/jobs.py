"""The crawl tick: queued crawl jobs run through the one runner loop (outreach.runs.runner).

A job's frontier, seen-set and findings are rows of the app's database under its id
(outreach.crawler.state): its findings are saved as they are found, and a job stopped by a shutdown
or taken over from a dead process resumes where it was. The rows go when the job ends.
"""
from __future__ import annotations

from functools import partial
from typing import Any

from sqlalchemy.orm import Session

from outreach.crawler.crawl import Progress, outcome, refusal_error, refused_seeds
from outreach.crawler.service import counters_of
from outreach.crawler.shards import StoreSpec
from outreach.crawler.state import CrawlStore, drop_rows
from outreach.discovery.broken_links.service import find_broken_links
from outreach.discovery.broken_links.store import save_findings
from outreach.jobs.ticks import JobContext
from outreach.lib.http import FetchSettings
from outreach.models.crawl import CrawlJob
from outreach.runs import runner
from outreach.runs.runner import Ending, RunControl


def crawl(ctx: JobContext, job: CrawlJob, control: RunControl, **crawl_options: Any) -> Ending:
    """A crawl job's work: find the broken links of its seeds; refused seeds fetch nothing and say why."""
    settings = FetchSettings.from_settings(ctx.settings)
    refused = refused_seeds(list(job.seeds), settings)
    if refused:  # bad input: nothing is fetched, and the crawl says why instead of finding nothing
        return Ending("refused", refusal_error(refused))

    def on_progress(progress: Progress) -> None:
        control.report(**counters_of(progress))

    processes = ctx.settings.crawl.processes
    if processes > 1:  # processes of this machine share the job's rows (outreach.crawler.shards)
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


def run_crawl_jobs(ctx: JobContext) -> int:
    return runner.run_queued(ctx, CrawlJob, crawl)


def run_one(ctx: JobContext, **crawl_options: Any) -> bool:
    """Claim one queued crawl and run it to the end; False when nothing was queued."""
    return runner.run_one(ctx, CrawlJob, partial(crawl, **crawl_options))
