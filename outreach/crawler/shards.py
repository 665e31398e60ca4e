"""One crawl over several processes: a coordinator and its shards, sharing the crawl's rows (outreach.crawler.state).

The coordinator opens the crawl's rows (or finds a stopped crawl of the same seeds to resume), starts
one process per shard, adds up their progress, passes a stop on (cancel, SIGTERM: each shard writes
what it found and exits) and an error (a shard that fails stops the others, and the crawl fails), and
reads the findings from the rows at the end: the same CrawlResult as one process. Each shard runs the
one crawler (outreach.crawler.crawl.Crawler), claiming only the URLs of its shard: by host when
per-host politeness is on, so that a host's limits hold, by URL when it is off, for even shares. The
seen-set and the page limit are the rows', so they are one for all shards.
"""
from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from outreach.crawler.crawl import Crawler, CrawlResult, Progress, parse_seeds
from outreach.lib.aio import run_sync
from outreach.lib.http import FetchSettings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from outreach.crawler.state import CrawlStore

#: how often the coordinator looks at its shards (exit codes, the stop request)
WATCH_SECONDS = 0.1


class ShardFailed(RuntimeError):
    """A process of the crawl ended with an error (the others were stopped)."""


@dataclass(frozen=True)
class StoreSpec:
    """Where a crawl's rows are, in a form a new process can open: a database URL and the crawl's id."""

    url: str
    job_id: int = 0
    keep_findings: bool = False
    #: a CLI state file (its tables are created when new) rather than the app's database
    is_state_file: bool = False

    def engine(self) -> Engine:
        if self.is_state_file:
            from outreach.crawler.state import state_file_engine

            return state_file_engine(self.url.removeprefix("sqlite:///"))
        from outreach.db import make_engine

        return make_engine(self.url)

    def store(self, engine: Engine, shard: int = 0, shards: int = 1, by_host: bool = True) -> CrawlStore:
        from outreach.crawler.state import CrawlStore

        return CrawlStore(engine, self.job_id, shard=shard, shards=shards, shard_by_host=by_host,
                          keep_findings=self.keep_findings)


def politeness_on(settings: FetchSettings) -> bool:
    """Whether a host has limits of its own (a delay, or fewer requests in flight than the crawl): shard by host."""
    return settings.per_host_delay > 0 or settings.per_host_concurrency < settings.concurrency


def crawl_in_processes(seeds: Iterable[str], settings: FetchSettings, *, spec: StoreSpec, processes: int,
                       max_pages: int = 500, on_progress: Callable[[Progress], None] | None = None,
                       should_stop: Callable[[], bool] | None = None, progress_every: float = 1.0,
                       backoff: float = 1.0, max_retry_after: float = 30.0) -> CrawlResult:
    """Crawl with `processes` shards; returns what one process would have (findings in the rows' order)."""
    urls = parse_seeds(seeds)
    started = time.monotonic()
    engine = spec.engine()
    try:
        store = spec.store(engine)
        resumed = store.open(urls, max_pages)
        base = store.counts() if resumed else None
        context = multiprocessing.get_context("spawn")  # no copy of this process's threads, loops or connections
        stop = context.Event()
        counters = context.Array("q", 3 * processes, lock=False)
        by_host = politeness_on(settings)
        shards = [context.Process(target=run_shard, name=f"outreach-crawl-{i}", daemon=True, args=(
            spec, i, processes, by_host, urls, settings, max_pages, backoff, max_retry_after, stop, counters))
            for i in range(processes)]
        for process in shards:
            process.start()
        progress = Progress()
        cancelled, failed = False, ""
        last = time.monotonic()
        while any(p.is_alive() for p in shards):
            time.sleep(WATCH_SECONDS)
            for i, process in enumerate(shards):
                if process.exitcode not in (None, 0) and not failed:
                    failed = f"crawl process {i + 1} of {processes} ended with exit code {process.exitcode}"
                    stop.set()
            if not cancelled and should_stop is not None and should_stop():
                cancelled = True
                stop.set()
            if time.monotonic() - last < progress_every:
                continue
            last = time.monotonic()
            _add_up(progress, base, counters, processes)
            progress.elapsed = last - started
            if on_progress is not None:
                on_progress(progress)
        if failed:
            raise ShardFailed(failed)
        result = CrawlResult(urls, progress, cancelled=cancelled)
        counts = store.counts()
        progress.pages_crawled, progress.links_checked = counts.pages_crawled, counts.links_checked
        progress.broken_found, progress.queued = counts.broken_found, 0
        progress.elapsed = time.monotonic() - started
        result.problems, result.found_on = store.problems()
        if on_progress is not None:
            on_progress(progress)
        return result
    finally:
        engine.dispose()


def _add_up(progress: Progress, base: Any, counters: Any, processes: int) -> None:
    values = list(counters)
    progress.pages_crawled = sum(values[0::3]) + (base.pages_crawled if base else 0)
    progress.links_checked = sum(values[1::3]) + (base.links_checked if base else 0)
    progress.broken_found = sum(values[2::3]) + (base.broken_found if base else 0)


def run_shard(spec: StoreSpec, shard: int, shards: int, by_host: bool, seeds: list[str], settings: FetchSettings,
              max_pages: int, backoff: float, max_retry_after: float, stop: Any, counters: Any) -> None:
    """A shard's process: the one crawler over the URLs of shard `shard`, until no process has any left."""
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C reaches the coordinator, which stops every shard
    signal.signal(signal.SIGTERM, lambda *_: stop.set())  # a service manager stopping the group: stop cleanly
    engine = spec.engine()
    try:
        def report(progress: Progress) -> None:
            counters[3 * shard:3 * shard + 3] = [progress.pages_crawled, progress.links_checked,
                                                 progress.broken_found]

        crawler = Crawler(seeds, settings, max_pages=max_pages, on_progress=report, should_stop=stop.is_set,
                          backoff=backoff, max_retry_after=max_retry_after,
                          store=spec.store(engine, shard, shards, by_host), opened=True)
        run_sync(crawler.run())
    finally:
        engine.dispose()


def _die_with_parent() -> None:
    """Ask Linux to SIGTERM this process when the coordinator dies (killed): no shard crawls on alone."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
