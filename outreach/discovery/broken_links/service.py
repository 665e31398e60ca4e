"""Broken-link discovery: crawl resource pages, group their dead outbound links by dead URL.

No database code here (`outreach discover broken-links` without --campaign loads none); storing
findings and turning them into opportunities and prospects is outreach.discovery.broken_links.store.

The dead URL linked from the most pages is the best opportunity ("your link to A is dead, here is
our page"), so findings are sorted by how many pages link to them.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from outreach.crawler.crawl import CrawlResult, Progress, crawl
from outreach.lib.http import FetchSettings

if TYPE_CHECKING:
    from outreach.crawler.shards import StoreSpec


def find_broken_links(seeds: Iterable[str], settings: FetchSettings, *, max_pages: int = 500,
                      on_progress: Callable[[Progress], None] | None = None,
                      should_stop: Callable[[], bool] | None = None, processes: int = 1,
                      spec: StoreSpec | None = None, **kwargs: Any) -> CrawlResult:
    """Crawl the seeds' hosts (at most max_pages pages) and check every link found once.

    The crawl's rows are where `spec` says (a temporary state file when None), or in `store` (kwargs: a
    CrawlStore on an engine the caller holds); with `processes` > 1 that many processes share them."""
    if processes > 1:
        from outreach.crawler.shards import StoreSpec, crawl_in_processes
        from outreach.crawler.state import temporary_state

        options = {"max_pages": max_pages, "on_progress": on_progress, "should_stop": should_stop, **kwargs}
        if spec is not None:
            return crawl_in_processes(seeds, settings, spec=spec, processes=processes, **options)
        with temporary_state() as path:
            return crawl_in_processes(seeds, settings, spec=StoreSpec(f"sqlite:///{path}", is_state_file=True),
                                      processes=processes, **options)
    if spec is not None and "store" not in kwargs:
        engine = spec.engine()
        try:
            return crawl(seeds, settings, max_pages=max_pages, on_progress=on_progress, should_stop=should_stop,
                         store=spec.store(engine), **kwargs)
        finally:
            engine.dispose()
    return crawl(seeds, settings, max_pages=max_pages, on_progress=on_progress, should_stop=should_stop, **kwargs)


def findings(result: CrawlResult) -> list[dict[str, Any]]:
    """The CLI contract's "broken" list: most-linked dead URL first."""
    return [{"url": o.url, "reason": o.reason, "status": o.status,
             "found_on": [{"page": page, "anchor": anchor} for page, anchor in result.found_on.get(o.url, [])]}
            for o in result.broken]


def report(result: CrawlResult) -> dict[str, Any]:
    """The JSON object `outreach discover broken-links --json` prints."""
    unknown = sorted((o for o in result.problems.values() if not o.broken), key=lambda o: o.url)
    p = result.progress
    return {
        "pages_crawled": p.pages_crawled,
        "links_checked": p.links_checked,
        "broken": findings(result),
        "unknown": [{"url": o.url, "reason": o.reason, "status": o.status} for o in unknown],
        "elapsed_seconds": round(p.elapsed, 3),
        "cancelled": result.cancelled,
    }
