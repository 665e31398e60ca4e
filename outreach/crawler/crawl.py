"""The crawl: pages of the seeds' hosts are fetched and parsed, every link found is checked once.

It is a visit of the one walker (outreach.crawler.walk: workers, frontier, seen-set, stop), over a
frontier kept in a database (outreach.crawler.state). Where a link was found is kept only until the
link is known to work; the pages that link to broken URLs are all that stays.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from outreach.crawler.checker import LinkChecker, Outcome
from outreach.crawler.walk import Walk
from outreach.lib.aio import run_sync
from outreach.lib.html import HTML_TYPES, TOO_COMPLEX, ParseLimits, TooComplex, decode_page, off_loop, page_links
from outreach.lib.http import Fetcher, FetchResult, FetchSettings, blocked_message
from outreach.lib.urls import BadURL, ensure_http_url, normalize_url, url_origin

if TYPE_CHECKING:
    from outreach.crawler.state import CrawlStore, StoredFrontier

#: the longest a visit's finds and outcome wait in memory before they are written
FLUSH_SECONDS = 0.25


@dataclass
class Progress:
    pages_crawled: int = 0
    links_checked: int = 0
    broken_found: int = 0
    queued: int = 0
    elapsed: float = 0.0

    @property
    def pages_per_second(self) -> float:
        return self.pages_crawled / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def links_per_second(self) -> float:
        return self.links_checked / self.elapsed if self.elapsed > 0 else 0.0


@dataclass
class CrawlResult:
    seeds: list[str]
    progress: Progress
    #: broken and unknown outcomes by URL (working links are not kept)
    problems: dict[str, Outcome] = field(default_factory=dict)
    #: dead URL -> [(page, anchor)] in the order found
    found_on: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    cancelled: bool = False

    @property
    def broken(self) -> list[Outcome]:
        """Broken outcomes, the URL linked from the most pages first."""
        dead = [o for o in self.problems.values() if o.broken]
        return sorted(dead, key=lambda o: (-len(self.found_on.get(o.url, ())), o.url))


def parse_seeds(seeds: Iterable[str]) -> list[str]:
    """Normalised seed URLs, or BadURL naming the first bad one."""
    out: list[str] = []
    for seed in seeds:
        text = seed.strip()
        if not text:
            continue
        url = normalize_url(ensure_http_url(text))
        if url not in out:
            out.append(url)
    if not out:
        raise BadURL("no seed URL given")
    return out


class Crawler:
    """One crawl over the given seeds: the link-checking visit of the one walker (outreach.crawler.walk).

    Its frontier, seen-set and findings are rows of a CrawlStore (outreach.crawler.state): a crawl job's
    in the app's database, the CLI's in a state file (a temporary one when none is given). A crawl whose
    store already holds a stopped crawl of the same seeds resumes it. Call `await run()` inside a running
    event loop.
    """

    def __init__(self, seeds: list[str], settings: FetchSettings, *, max_pages: int = 500,
                 on_progress: Callable[[Progress], None] | None = None,
                 should_stop: Callable[[], bool] | None = None, progress_every: float = 1.0,
                 backoff: float = 1.0, max_retry_after: float = 30.0, store: CrawlStore | None = None,
                 opened: bool = False) -> None:
        self.seeds = parse_seeds(seeds)
        self.settings = settings
        self.max_pages = max_pages
        self.on_progress = on_progress
        self.should_stop = should_stop or (lambda: False)
        self.progress_every = progress_every
        self.backoff, self.max_retry_after = backoff, max_retry_after
        self.origins = {url_origin(s) for s in self.seeds}
        self.progress = Progress()
        self.result = CrawlResult(self.seeds, self.progress)
        #: where the crawl's rows live; None: a temporary state file for this run only
        self.store = store
        #: the store was opened by a coordinator (this is one shard of a crawl of several processes)
        self.opened = opened
        self.resumed = False
        self._walk: Walk[tuple[int, bool]] | None = None
        self._frontier: StoredFrontier | None = None
        self._checker: LinkChecker | None = None

    def _add_link(self, url: str, page: str, anchor: str) -> None:
        self._frontier.add_link(url, page, anchor)  # type: ignore[union-attr]

    def _record(self, row_id: int, outcome: Outcome, crawled: bool = False) -> None:
        self._frontier.done(row_id, outcome, crawled)  # type: ignore[union-attr]
        self.progress.links_checked += 1
        if outcome.broken:
            self.progress.broken_found += 1

    async def run(self) -> CrawlResult:
        # the state's database code is loaded when a crawl runs, not with the CLI: `outreach` starts fast
        from outreach.crawler.state import CrawlStore, StoredFrontier, state_file_engine, temporary_state

        if self.store is None:
            with temporary_state() as path:
                engine = state_file_engine(path)
                try:
                    self.store = CrawlStore(engine)
                    return await self.run()
                finally:
                    self.store = None
                    engine.dispose()
        store = self.store
        started = time.monotonic()
        if self.opened:
            await asyncio.to_thread(store.attach)
        else:
            self.resumed = await asyncio.to_thread(store.open, self.seeds, self.max_pages)
        if self.resumed:
            counts = await asyncio.to_thread(store.counts)
            self.progress.pages_crawled, self.progress.links_checked = counts.pages_crawled, counts.links_checked
            self.progress.broken_found = counts.broken_found
        frontier = self._frontier = StoredFrontier(store, batch=max(64, 4 * self.settings.concurrency))
        walk = self._walk = Walk(self._visit, concurrency=self.settings.concurrency, frontier=frontier)
        async with Fetcher(self.settings) as fetcher:
            self._checker = LinkChecker(fetcher, backoff=self.backoff, max_retry_after=self.max_retry_after)
            reporter = asyncio.create_task(self._report(started))
            try:
                await walk.run()
            finally:
                reporter.cancel()
                await asyncio.gather(reporter, return_exceptions=True)
                await frontier.close()  # what the last visits found, also when stopped or failed
                store.close()
        self.progress.elapsed = time.monotonic() - started
        self.progress.queued = 0
        self.result.cancelled = walk.stopped
        if not self.opened:
            self.result.problems, self.result.found_on = await asyncio.to_thread(store.problems)
        if self.on_progress:
            self.on_progress(self.progress)
        return self.result

    async def _report(self, started: float) -> None:
        assert self._walk is not None and self._frontier is not None
        last = time.monotonic()
        while True:
            await asyncio.sleep(min(FLUSH_SECONDS, self.progress_every))
            await self._frontier.flush()  # findings are saved as they are found
            if self.should_stop():
                self._walk.abort()  # visits in flight are cancelled: they are queued again on resume
                return
            if time.monotonic() - last < self.progress_every:
                continue
            last = time.monotonic()
            self.progress.elapsed = last - started
            self.progress.queued = self._walk.pending
            if self.on_progress:
                self.on_progress(self.progress)

    async def _visit(self, url: str, item: tuple[int, bool]) -> None:
        assert self._checker is not None
        await self._process(self._checker, url, *item)
        self._walk.wake()  # type: ignore[union-attr]  # links pushed by _add_link

    async def _process(self, checker: LinkChecker, url: str, row_id: int, as_page: bool) -> None:
        if not as_page:
            outcome, _ = await checker.check(url)
            self._record(row_id, outcome)
            return
        outcome, result = await checker.check(url, page_bytes=self.settings.max_bytes)
        crawled = result.status is not None  # an HTTP answer; refusals and network failures are not pages
        if crawled:
            self.progress.pages_crawled += 1
        if (not outcome.ok or result.status is None or result.status >= 300 or not result.body
                or result.content_type not in HTML_TYPES or url_origin(result.final_url) not in self.origins):
            self._record(row_id, outcome, crawled)
            return
        limits = self.settings.parse
        try:
            links, nofollow = await off_loop(limits, result.body, _read_links, result, limits)
        except TooComplex:
            self._record(row_id, replace(outcome, ok=False, reason=TOO_COMPLEX), crawled)
            return
        if not (nofollow and self.settings.respect_robots):
            add_link = self._add_link
            for href, anchor in links:
                add_link(href, url, anchor)
        # a page over the size cap: the links of the part read are followed, and the page says it was cut
        self._record(row_id, replace(outcome, ok=False, reason="too_large") if result.truncated else outcome, crawled)


def _read_links(result: FetchResult, limits: ParseLimits) -> tuple[list[tuple[str, str]], bool]:
    """page_links of a fetched page, decoded as a browser decodes it."""
    html, encoding = decode_page(result.body, result.headers.get("content-type"))
    return page_links(html, result.final_url, encoding, limits=limits)


def refused_seeds(seeds: list[str], settings: FetchSettings) -> list[str]:
    """The seeds the SSRF guard refuses (judged after DNS, before anything is fetched)."""

    async def run() -> list[str]:
        async with Fetcher(settings) as fetcher:
            return [seed for seed in seeds if await fetcher.refusal(seed) == "blocked_address"]

    return run_sync(run())


def refusal_error(refused: list[str]) -> str:
    """The one line a refused crawl shows (web, API, CLI): the first refused seed, the setting, how many more."""
    more = f" (and {len(refused) - 1} more seed(s))" if len(refused) > 1 else ""
    return blocked_message(refused[0]) + more


def outcome(result: CrawlResult) -> tuple[str, str]:
    """How a finished crawl ends: ("done", ""), or "refused"/"failed" with the reason when no page could be crawled.

    A crawl that fetched nothing has no findings for a reason that must be said, never a clean "done"."""
    if result.cancelled or result.progress.pages_crawled:
        return ("cancelled" if result.cancelled else "done"), ""
    reasons = {seed: result.problems[seed].reason for seed in result.seeds if seed in result.problems}
    refused = [seed for seed, reason in reasons.items() if reason == "blocked_address"]
    if refused and len(refused) == len(result.seeds):
        return "refused", refusal_error(refused)
    why = "; ".join(f"{seed}: {blocked_message(seed) if reason == 'blocked_address' else reason}"
                    for seed, reason in reasons.items())
    return "failed", "no page could be fetched" + (f" ({why})" if why else "")


def crawl(seeds: Iterable[str], settings: FetchSettings, **kwargs: Any) -> CrawlResult:
    """Run a crawl from synchronous code."""
    crawler = Crawler(list(seeds), settings, **kwargs)
    return run_sync(crawler.run())
