"""Pages the crawler cannot read whole: too complex to parse (off the event loop, bounded), or over the size cap."""
from __future__ import annotations

from outreach.crawler.crawl import crawl
from outreach.discovery.broken_links.service import report
from tests.lib.conftest import make_settings
from tests.lib.testweb import TestWeb, deep_nesting, drip


def test_a_hostile_page_is_refused_as_too_complex_while_a_page_beside_it_finishes_in_time(web: TestWeb) -> None:
    web.page("/", '<html><body><a href="/hostile">hostile</a> <a href="/healthy">healthy</a></body></html>')
    web.page("/hostile", deep_nesting('<a href="/behind-hostile">x</a>'))
    # in flight while the hostile page is read, for a second, in more reads than one (1 MB)
    web.routes["/healthy"] = drip(f'<html><body><a href="/after-healthy">next</a><p>{"words " * 170_000}</p>'
                                  "</body></html>")
    got = crawl([web.url("/")], make_settings(timeout=5.0, max_bytes=2_000_000, retries=0), max_pages=10)
    assert web.url("/healthy") not in got.problems  # ok: not a timeout
    assert got.problems[web.url("/hostile")].reason == "too_complex"
    assert got.found_on[web.url("/after-healthy")] == [(web.url("/healthy"), "next")]
    assert web.hits["/behind-hostile"] == 0
    assert {"url": web.url("/hostile"), "reason": "too_complex", "status": 200} in report(got)["unknown"]


def test_a_page_over_the_size_cap_says_too_large_and_its_first_part_is_followed(web: TestWeb) -> None:
    early, late = '<a href="/early">early</a>', '<a href="/late">late</a>'
    web.page("/", f"<html><body>{early}<p>{'words ' * 2000}</p>{late}</body></html>")
    got = crawl([web.url("/")], make_settings(max_bytes=5_000), max_pages=10)
    assert got.problems[web.url("/")].reason == "too_large" and not got.problems[web.url("/")].broken
    assert got.found_on[web.url("/early")] == [(web.url("/"), "early")]
    assert web.hits["/late"] == 0
