"""The crawler is a guest: per-host concurrency and delay, robots Crawl-delay, an honest User-Agent."""
from __future__ import annotations

import itertools
import threading
import time
from typing import Any

from outreach.crawler.crawl import crawl
from tests.lib.conftest import make_settings
from tests.lib.testweb import TestWeb, send


def counting_site(web: TestWeb, pages: int = 12) -> dict[str, Any]:
    """Every page links to all others; the server records when requests arrive and how many overlap."""
    state: dict[str, Any] = {"in_flight": 0, "max_in_flight": 0, "arrivals": [], "agents": set()}
    lock = threading.Lock()
    links = "".join(f'<a href="/p{i}">p{i}</a>' for i in range(pages))

    def handler(req: Any) -> None:
        with lock:
            state["in_flight"] += 1
            state["max_in_flight"] = max(state["max_in_flight"], state["in_flight"])
            state["arrivals"].append(time.monotonic())
            state["agents"].add(req.headers["User-Agent"])
        try:
            time.sleep(0.02)  # the server's own work, so that requests can overlap
            send(req, 200, f"<html><body>{links}</body></html>")
        finally:
            with lock:
                state["in_flight"] -= 1

    web.fallback = handler
    web.page("/robots.txt", "User-agent: *\nAllow: /\n", content_type="text/plain")
    return state


def test_it_never_has_more_requests_in_flight_to_a_host_than_allowed(web: TestWeb) -> None:
    state = counting_site(web)
    crawl([web.url("/")], make_settings(concurrency=16, per_host_concurrency=2, per_host_delay=0.0), max_pages=20)
    assert 1 < state["max_in_flight"] <= 2
    assert state["agents"] == {"OutreachTest/1.0 (+https://example.test/bot)"}


def test_requests_to_one_host_are_spaced_by_the_per_host_delay(web: TestWeb) -> None:
    state = counting_site(web, pages=4)
    crawl([web.url("/")], make_settings(concurrency=8, per_host_concurrency=4, per_host_delay=0.15), max_pages=5)
    arrivals = sorted(state["arrivals"])
    assert len(arrivals) >= 5
    assert min(b - a for a, b in itertools.pairwise(arrivals)) >= 0.1  # server-side jitter aside


def test_robots_crawl_delay_spaces_requests_when_larger(web: TestWeb) -> None:
    state = counting_site(web, pages=3)
    web.page("/robots.txt", "User-agent: *\nCrawl-delay: 0.3\n", content_type="text/plain")
    crawl([web.url("/")], make_settings(concurrency=8, per_host_concurrency=4, per_host_delay=0.0), max_pages=4)
    arrivals = sorted(state["arrivals"])
    assert len(arrivals) >= 4
    assert min(b - a for a, b in itertools.pairwise(arrivals)) >= 0.2  # server-side jitter aside
