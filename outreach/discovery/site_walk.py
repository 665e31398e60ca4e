"""Walk one site's pages for prospecting, through the guarded fetcher and the shared HTML parser.

A seed is walked within its own host, breadth first, with links a caller ranks higher visited first
(the guest-post finder wants "write for us" pages before the archive), robots.txt obeyed and a page
limit. Only HTML answers are parsed, off the event loop; a page past the parse limits is skipped.

The broken-link crawler (outreach.crawler.crawl.Crawler) has its own frontier on purpose: it checks
every link it meets (external ones too, with retries and backoff), keeps only where dead links were
found and holds a shared page budget over all seeds in FIFO order with a worker pool, so memory grows
with distinct URLs only. This walk yields whole parsed pages of one site, ranked by the caller, to be
read (guidelines, mentions), and checks no link. Both fetch through the one Fetcher and parse with
outreach.lib.html; they share the HTML content types from there.
"""
from __future__ import annotations

import asyncio
import heapq
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from outreach.lib.html import HTML_TYPES, Link, ParsedPage, TooComplex, off_loop, parse_page
from outreach.lib.http import Fetcher, FetchResult
from outreach.lib.urls import BadURL, normalize_url


@dataclass
class WalkProgress:
    """Shared by the walks of one run: counters to report, and a flag that stops every walk."""

    pages: int = 0
    sites_done: int = 0
    found: int = 0
    stop_requested: bool = False


@dataclass
class WalkedPage:
    url: str
    result: FetchResult
    html: str
    parsed: ParsedPage


def same_host(url: str, other: str) -> bool:
    a, b = urlsplit(url), urlsplit(other)
    return (a.hostname or "").lower() == (b.hostname or "").lower() and a.port == b.port


async def walk_site(fetcher: Fetcher, seed: str, *, max_pages: int,
                    rank: Callable[[Link], int] | None = None,
                    extra_paths: tuple[str, ...] = (), pages: list[str] | None = None,
                    concurrency: int = 4, progress: WalkProgress | None = None) -> AsyncIterator[WalkedPage]:
    """Yield up to max_pages HTML pages of the seed's host; lower rank values are fetched first.

    `extra_paths` are tried on the host even when no link points at them (e.g. /write-for-us);
    `pages` (from a sitemap, say) are queued right after the seed.
    """
    try:
        start = normalize_url(seed)
    except BadURL:
        return
    origin = f"{urlsplit(start).scheme}://{urlsplit(start).netloc}"
    queue: list[tuple[int, int, str]] = []
    seen: set[str] = set()
    counter = 0

    def push(url: str, priority: int) -> None:
        nonlocal counter
        if url in seen or not same_host(url, start):
            return
        seen.add(url)
        counter += 1
        heapq.heappush(queue, (priority, counter, url))

    push(start, 0)
    for url in pages or ():
        try:
            push(normalize_url(url), 2)
        except BadURL:
            continue
    for path in extra_paths:
        try:
            push(normalize_url(origin + path), 5)
        except BadURL:
            continue
    yielded = 0
    while queue and yielded < max_pages:
        if progress is not None and progress.stop_requested:
            return
        batch = []
        while queue and len(batch) < min(concurrency, max_pages - yielded):
            batch.append(heapq.heappop(queue)[2])
        pages = await asyncio.gather(*(_get(fetcher, url) for url in batch))
        for page in pages:
            if page is None:
                continue
            yielded += 1
            if progress is not None:
                progress.pages += 1
            for link in page.parsed.links:
                if link.tag == "a" and "nofollow" not in link.rel:
                    push(link.href, rank(link) if rank else 10)
            yield page
            if yielded >= max_pages:
                return


async def _get(fetcher: Fetcher, url: str) -> WalkedPage | None:
    if fetcher.settings.respect_robots and not await fetcher.allowed_by_robots(url):
        return None
    result = await fetcher.fetch(url)
    if not result.ok or result.content_type not in HTML_TYPES:
        return None
    limits = fetcher.settings.parse

    def read() -> tuple[str, ParsedPage]:
        html = result.text()
        return html, parse_page(html, result.final_url, limits=limits)

    try:
        html, parsed = await off_loop(limits, read)
    except TooComplex:
        return None  # past the parse limits: not read, as a page that is not HTML
    return WalkedPage(url=url, result=result, html=html, parsed=parsed)
