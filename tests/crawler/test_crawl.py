"""The crawler against a real test web on loopback: right about what is really broken."""
from __future__ import annotations

import asyncio
import re

import pytest

from outreach.crawler.crawl import CrawlResult, Progress, crawl
from outreach.lib.http import Fetcher
from tests.crawler.conftest import Site
from tests.lib.conftest import make_settings
from tests.lib.testweb import TestWeb, send


@pytest.fixture(scope="module")
def result(site: Site) -> CrawlResult:
    return crawl([site.web.url("/")], make_settings(timeout=0.5, retries=1), max_pages=50, backoff=0.01)


def reasons(result: CrawlResult) -> dict[str, str | None]:
    return {o.url: o.reason for o in result.broken}


def test_it_reports_404_410_dns_refused_timeout_loops_and_redirects_to_404(site: Site, result: CrawlResult) -> None:
    o = site.other.url
    assert reasons(result) == {
        o("/gone"): "not_found",
        o("/removed"): "not_found",
        o("/moved"): "not_found",
        "http://no-such-host.invalid/x": "dns",
        f"http://127.0.0.1:{site.refused_port}/": "refused",
        o("/slow"): "timeout",
        o("/loop1"): "redirect_loop",
        site.web.url("/l-dead"): "not_found",
        site.web.url("/bh-dead"): "not_found",
    }
    statuses = {o.url: o.status for o in result.broken}
    assert statuses[o("/removed")] == 410 and statuses["http://no-such-host.invalid/x"] is None


def test_flaky_rate_limited_head_refusing_and_bot_walled_links_are_not_broken(site: Site, result: CrawlResult) -> None:
    o = site.other.url
    dead = reasons(result)
    for url in (o("/flaky"), o("/busy"), o("/nohead"), o("/cf"), o("/linkedin")):
        assert url not in dead
    assert result.problems[o("/busy")].reason == "rate_limited"
    assert result.problems[o("/cf")].reason == "blocked"
    assert result.problems[o("/linkedin")].reason == "blocked"
    assert ("GET", "/nohead") in site.other.methods


def test_the_most_linked_dead_url_comes_first_with_every_page_and_anchor(site: Site, result: CrawlResult) -> None:
    first = result.broken[0]
    assert first.url == site.other.url("/gone")
    w = site.web.url
    assert sorted(result.found_on[first.url]) == sorted([(w("/"), "Gone guide"), (w("/tools"), "The guide"),
                                                         (w("/page2.html"), "guide")])


def test_robots_disallowed_pages_are_never_fetched(site: Site, result: CrawlResult) -> None:
    assert site.web.hits["/private/secret"] == 0
    assert site.other.hits["/only-in-private"] == 0
    assert result.problems[site.web.url("/private/secret")].reason == "robots_disallowed"


def test_each_url_is_checked_once(site: Site, result: CrawlResult) -> None:
    # linked from three pages, checked once: a HEAD, then a GET before calling it broken
    assert [m for m, p in site.other.methods if p == "/gone"] == ["HEAD", "GET"]
    assert site.web.hits["/"] == 1  # "/" and "/#top" are the same URL
    assert site.web.hits["/robots.txt"] == 1


def test_relative_base_entity_and_malformed_links_are_followed(site: Site, result: CrawlResult) -> None:
    assert site.web.hits["/elsewhere/target"] == 1
    assert site.web.hits["/search?q=a&lang=en"] == 1
    assert site.web.hits["/bh-ok"] == 1
    assert result.found_on[site.web.url("/l-dead")] == [(site.web.url("/latin"), "déjà vu")]


def test_links_inside_comments_and_mailto_are_ignored(site: Site, result: CrawlResult) -> None:
    assert site.other.hits["/commented"] == 0
    assert not any(url.startswith("mailto:") for url in result.problems)


def test_it_counts_pages_and_links(result: CrawlResult) -> None:
    p = result.progress
    assert p.pages_crawled >= 10 and p.links_checked > p.pages_crawled
    assert p.broken_found == len(result.broken)


def test_the_page_limit_is_respected(fresh_site: Site) -> None:
    got = crawl([fresh_site.web.url("/")], make_settings(timeout=1.0), max_pages=2, backoff=0.01)
    assert got.progress.pages_crawled == 2
    probe = re.compile(r"^/[0-9a-f]{24}-[0-9a-f]{8}$")  # the soft-404 probe of a random path
    fetched_pages = [p for m, p in fresh_site.web.methods
                     if m == "GET" and p != "/robots.txt" and not probe.match(p)]
    assert len(fetched_pages) == 2


def test_a_seed_is_crawled_within_its_own_host(fresh_site: Site) -> None:
    fresh_site.other.page("/ext-page", f'<a href="{fresh_site.other.url("/deeper")}">deeper</a>')
    fresh_site.web.page("/", f'<a href="{fresh_site.other.url("/ext-page")}">external page</a>')
    crawl([fresh_site.web.url("/")], make_settings(), max_pages=50)
    assert fresh_site.other.hits["/deeper"] == 0
    assert [m for m, p in fresh_site.other.methods if p == "/ext-page"] == ["HEAD"]


def test_progress_is_reported_and_a_crawl_can_be_stopped(fresh_site: Site) -> None:
    seen: list[Progress] = []
    got = crawl([fresh_site.web.url("/")], make_settings(timeout=5.0), max_pages=50, on_progress=seen.append,
                should_stop=lambda: True, progress_every=0.01)
    assert got.cancelled
    assert seen and seen[-1].elapsed > 0
    assert fresh_site.other.hits["/gone"] == 0 or got.progress.links_checked < 25


def test_a_soft_404_is_reported(web: TestWeb) -> None:
    real = ('<html><body><h1>Real page</h1><p>Lots of real content about widgets and gadgets that nobody '
            'else has.</p><a href="/vanished">old</a><a href="/real">real</a></body></html>')
    web.page("/", real)
    web.page("/real", real)
    web.fallback = lambda req: send(req, 200, f"<html><body><h1>Oops</h1><p>Sorry, we could not find {req.path} "
                                             "on this site. Try the search box or go back home.</p></body></html>")
    got = crawl([web.url("/")], make_settings(), max_pages=10)
    assert {o.url: o.reason for o in got.broken} == {web.url("/vanished"): "soft_404"}


def test_a_redirect_of_every_missing_page_to_the_home_page_is_a_soft_404(web: TestWeb) -> None:
    web.page("/", '<html><body><p>Welcome</p><a href="/old-guide">old guide</a>'
                  '<a href="/about">about</a></body></html>')
    web.page("/about", "<html><body><p>About us, a page with its own words.</p></body></html>")
    web.fallback = lambda req: send(req, 302, "", {"Location": "/"})
    got = crawl([web.url("/")], make_settings(), max_pages=10)
    assert {o.url: o.reason for o in got.broken} == {web.url("/old-guide"): "soft_404"}


def test_links_are_checked_where_a_browser_would_go(web: TestWeb) -> None:
    """A query in the page's charset, a backslash path and a protocol-relative link on a windows-1251 page."""
    page = ('<html><head><meta charset="windows-1251"></head><body><p>Поиск по сайту</p>'
            '<a href="/поиск?q=привет">поиск</a> <a href="\\docs\\guide.html">guide</a>'
            f'<a href="//{web.host}:{web.port}/p">p</a></body></html>')
    web.page("/", page.encode("windows-1251"), content_type="text/html")
    web.page("/%D0%BF%D0%BE%D0%B8%D1%81%D0%BA?q=%EF%F0%E8%E2%E5%F2", "<html><body>results</body></html>")
    web.page("/docs/guide.html", "<html><body>guide</body></html>")
    web.page("/p", "<html><body>p</body></html>")
    got = crawl([web.url("/")], make_settings(), max_pages=10)
    assert got.broken == []
    assert {path for _, path in web.methods} >= {"/%D0%BF%D0%BE%D0%B8%D1%81%D0%BA?q=%EF%F0%E8%E2%E5%F2",
                                                "/docs/guide.html", "/p"}


def test_robots_crawl_delay_is_read(web: TestWeb) -> None:
    web.page("/robots.txt", "User-agent: *\nCrawl-delay: 7\n", content_type="text/plain")

    async def run() -> float:
        async with Fetcher(make_settings(per_host_delay=1.0)) as fetcher:
            await fetcher.allowed_by_robots(web.url("/"))
            return fetcher.crawl_delay(web.base)

    assert asyncio.run(run()) == 7.0
