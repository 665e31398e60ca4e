"""The crawl: pages of the seeds' hosts are fetched and parsed, every link found is checked once.

It is a visit of the one walker (outreach.crawler.walk: workers, frontier, seen-set, stop). Where a
link was found is kept only until the link is known to work; the pages that link to broken URLs are
all that stays.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from outreach.crawler.checker import LinkChecker, Outcome
from outreach.crawler.walk import Walk
from outreach.lib.aio import run_sync
from outreach.lib.html import HTML_TYPES, TOO_COMPLEX, ParseLimits, TooComplex, decode_page, off_loop, page_links
from outreach.lib.http import Fetcher, FetchResult, FetchSettings, blocked_message
from outreach.lib.urls import BadURL, ensure_http_url, normalize_url, url_origin


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

    Call `await run()` inside a running event loop.
    """

    def __init__(self, seeds: list[str], settings: FetchSettings, *, max_pages: int = 500,
                 on_progress: Callable[[Progress], None] | None = None,
                 should_stop: Callable[[], bool] | None = None, progress_every: float = 1.0,
                 backoff: float = 1.0, max_retry_after: float = 30.0) -> None:
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
        self._pending_sources: dict[str, list[tuple[str, str]]] = {}
        self._pages_budget = max_pages
        self._walk: Walk[bool] | None = None
        self._checker: LinkChecker | None = None

    def _add_link(self, url: str, page: str, anchor: str) -> None:
        assert self._walk is not None
        frontier = self._walk.frontier
        if url in frontier.seen:
            sources = self._pending_sources.get(url)
            if sources is not None:
                sources.append((page, anchor))
            elif url in self.result.found_on:
                known = self.result.found_on[url]
                if all(p != page for p, _ in known):
                    known.append((page, anchor))
            return
        frontier.seen.add(url)
        self._pending_sources[url] = [(page, anchor)]
        as_page = self._pages_budget > 0 and url_origin(url) in self.origins
        if as_page:
            self._pages_budget -= 1
        frontier.push(url, as_page)

    def _record(self, outcome: Outcome) -> None:
        sources = self._pending_sources.pop(outcome.url, [])
        self.progress.links_checked += 1
        if outcome.ok:
            return
        self.result.problems[outcome.url] = outcome
        if outcome.broken:
            self.progress.broken_found += 1
            # a page linking to the same dead URL twice counts once (the first anchor wins)
            unique: dict[str, str] = {}
            for page, anchor in sources:
                unique.setdefault(page, anchor)
            self.result.found_on[outcome.url] = list(unique.items())

    async def run(self) -> CrawlResult:
        started = time.monotonic()
        walk = self._walk = Walk(self._visit, concurrency=self.settings.concurrency)
        for seed in self.seeds:
            self._pending_sources[seed] = []
            self._pages_budget -= 1
            walk.add(seed, self._pages_budget >= 0)
        async with Fetcher(self.settings) as fetcher:
            self._checker = LinkChecker(fetcher, backoff=self.backoff, max_retry_after=self.max_retry_after)
            reporter = asyncio.create_task(self._report(started))
            try:
                await walk.run()
            finally:
                reporter.cancel()
                await asyncio.gather(reporter, return_exceptions=True)
        self.progress.elapsed = time.monotonic() - started
        self.progress.queued = 0
        self.result.cancelled = walk.stopped
        if self.on_progress:
            self.on_progress(self.progress)
        return self.result

    async def _report(self, started: float) -> None:
        assert self._walk is not None
        while True:
            await asyncio.sleep(self.progress_every)
            self.progress.elapsed = time.monotonic() - started
            self.progress.queued = self._walk.pending
            if self.should_stop():
                self._walk.stop()
            if self.on_progress:
                self.on_progress(self.progress)

    async def _visit(self, url: str, as_page: bool) -> None:
        assert self._checker is not None
        await self._process(self._checker, url, as_page)
        self._walk.wake()  # type: ignore[union-attr]  # links pushed by _add_link

    async def _process(self, checker: LinkChecker, url: str, as_page: bool) -> None:
        if not as_page:
            outcome, _ = await checker.check(url)
            self._record(outcome)
            return
        outcome, result = await checker.check(url, page_bytes=self.settings.max_bytes)
        if result.status is not None:  # an HTTP answer; refusals and network failures are not pages
            self.progress.pages_crawled += 1
        if (not outcome.ok or result.status is None or result.status >= 300 or not result.body
                or result.content_type not in HTML_TYPES or url_origin(result.final_url) not in self.origins):
            self._record(outcome)
            return
        limits = self.settings.parse
        try:
            links, nofollow = await off_loop(limits, result.body, _read_links, result, limits)
        except TooComplex:
            self._record(replace(outcome, ok=False, reason=TOO_COMPLEX))
            return
        # a page over the size cap: the links of the part read are followed, and the page says it was cut
        self._record(replace(outcome, ok=False, reason="too_large") if result.truncated else outcome)
        if nofollow and self.settings.respect_robots:
            return
        add_link = self._add_link
        for href, anchor in links:
            try:
                add_link(href, url, anchor)
            except BadURL:
                continue


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
