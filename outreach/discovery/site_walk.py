"""Walk one site's pages for prospecting: the reading visit of the one walker (outreach.crawler.walk).

A seed is walked within its own host, links a caller ranks higher visited first (the guest-post
finder wants "write for us" pages before the archive), robots.txt obeyed and a page limit. Only HTML
answers are parsed, through the guarded fetcher and the shared HTML parser, off the event loop (a
page past the parse limits is skipped). Pages are yielded as they are read (in the order they answer;
each says its rank and the order it was queued in, for a caller that wants them in a stable order); no
link is checked (that is the broken-link crawl's visit).
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from outreach.crawler.walk import Walk
from outreach.lib.html import HTML_TYPES, Link, ParsedPage, TooComplex, decode_page, off_loop, parse_page
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
    #: the rank its link was given, and when it was queued: sort by both for the walk's own order
    priority: int = 0
    order: int = 0


def same_host(url: str, other: str) -> bool:
    a, b = urlsplit(url), urlsplit(other)
    return (a.hostname or "").lower() == (b.hostname or "").lower() and a.port == b.port


async def walk_site(fetcher: Fetcher, seed: str, *, max_pages: int,
                    rank: Callable[[Link], int] | None = None,
                    extra_paths: tuple[str, ...] = (), pages: list[str] | None = None,
                    concurrency: int = 4, progress: WalkProgress | None = None) -> AsyncIterator[WalkedPage]:
    """Yield up to max_pages HTML pages of the seed's host; lower rank values are fetched first.

    `extra_paths` are tried on the host even when no link points at them (e.g. /write-for-us);
    `pages` (from a sitemap, say) are queued right after the seed. At most `concurrency` pages are
    fetched at once, and never more than the pages still allowed.
    """
    try:
        start = normalize_url(seed)
    except BadURL:
        return
    origin = f"{urlsplit(start).scheme}://{urlsplit(start).netloc}"
    read: asyncio.Queue[WalkedPage | None] = asyncio.Queue()
    budget = asyncio.Condition()
    state = {"in_flight": 0, "yielded": 0, "queued": 0}

    def add(url: str, priority: int) -> None:
        if same_host(url, start) and walk.add(url, (priority, state["queued"]), priority):
            state["queued"] += 1

    async def visit(url: str, queued: tuple[int, int]) -> None:
        async with budget:  # fetch no more pages than may still be yielded
            await budget.wait_for(lambda: state["yielded"] + state["in_flight"] < max_pages or not state["in_flight"])
            if state["yielded"] >= max_pages or (progress is not None and progress.stop_requested):
                walk.stop()
                return
            state["in_flight"] += 1
        page = None
        try:
            page = await _get(fetcher, url)
        finally:
            async with budget:
                state["in_flight"] -= 1
                if page is not None:
                    state["yielded"] += 1
                budget.notify_all()
        if page is None:
            return
        page.priority, page.order = queued
        if progress is not None:
            progress.pages += 1
        for link in page.parsed.links:
            if link.tag == "a" and "nofollow" not in link.rel:
                add(link.href, rank(link) if rank else 10)
        await read.put(page)

    walk: Walk[tuple[int, int]] = Walk(visit, concurrency=concurrency, ranked=True)
    add(start, 0)
    for url in pages or ():
        try:
            add(normalize_url(url), 2)
        except BadURL:
            continue
    for path in extra_paths:
        try:
            add(normalize_url(origin + path), 5)
        except BadURL:
            continue

    async def run() -> None:
        try:
            await walk.run()
        finally:
            await read.put(None)

    task = asyncio.get_running_loop().create_task(run())
    try:
        while (page := await read.get()) is not None:
            yield page
    finally:
        walk.stop()
        if not task.done():
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _get(fetcher: Fetcher, url: str) -> WalkedPage | None:
    if fetcher.settings.respect_robots and not await fetcher.allowed_by_robots(url):
        return None
    result = await fetcher.fetch(url)
    if not result.ok or result.content_type not in HTML_TYPES:
        return None
    limits = fetcher.settings.parse

    def read() -> tuple[str, ParsedPage]:
        html, encoding = decode_page(result.body, result.headers.get("content-type"))
        return html, parse_page(html, result.final_url, encoding=encoding, limits=limits)

    try:
        html, parsed = await off_loop(limits, result.body, read)
    except TooComplex:
        return None  # past the parse limits: not read, as a page that is not HTML
    return WalkedPage(url=url, result=result, html=html, parsed=parsed)
