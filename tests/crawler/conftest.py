"""A test web with every kind of dead (and not dead) link, on two loopback hosts."""
from __future__ import annotations

import http.server
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.lib.testweb import TestWeb, closed_port, hang, send


@dataclass
class Site:
    web: TestWeb      # the crawled site
    other: TestWeb    # "external" links point here
    refused_port: int


def build_site(web: TestWeb, other: TestWeb, refused_port: int) -> None:
    o = other.url
    web.page("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    web.page("/", f"""<html><head><title>Resources</title></head><body>
      <a href="/tools">Tools</a> <a href="page2.html">Page two</a> <a href="/private/secret">Members</a>
      <a href="/latin">Latin</a> <a href="/broken-html">Malformed</a> <a href="/based/">Based</a>
      <a href="{o('/gone')}">Gone guide</a> <a href="{o('/removed')}">Removed</a>
      <a href="http://no-such-host.invalid/x">Dead host</a> <a href="http://127.0.0.1:{refused_port}/">Refused</a>
      <a href="{o('/slow')}">Slow</a> <a href="{o('/flaky')}">Flaky</a> <a href="{o('/busy')}">Busy</a>
      <a href="{o('/nohead')}">No HEAD</a> <a href="{o('/moved')}">Moved</a> <a href="{o('/loop1')}">Loop</a>
      <a href="{o('/cf')}">Challenge</a> <a href="{o('/linkedin')}">LinkedIn</a>
      <a href="mailto:x@example.com">mail</a> <!-- <a href="{o('/commented')}">commented</a> -->
      </body></html>""")
    web.page("/tools", f"""<html><body><a href="{o('/gone')}">The guide</a>
      <a href="{o('/gone')}">Twice on one page</a> <a href="/#top">Home</a> <a href="/">Home</a></body></html>""")
    web.page("/page2.html", f"""<html><body><a href="{o('/gone')}">guide</a>
      <a href="/search?q=a&amp;lang=en">Entity href</a></body></html>""")
    web.page("/search?q=a&lang=en", "<html><body>search results</body></html>")
    web.page("/private/secret", f'<html><body><a href="{o("/only-in-private")}">x</a></body></html>')
    web.page("/latin", "<html><body>caf\xe9 <a href='/l-dead'>d\xe9j\xe0 vu</a></body></html>".encode("latin-1"),
             content_type="text/html; charset=iso-8859-1")
    web.page("/broken-html", '<html><body><div><a href="/bh-dead">unclosed<table><tr><td><a href=/bh-ok>ok</a>')
    web.page("/bh-ok", "<p>ok</p>")
    web.page("/based/", '<html><head><base href="/elsewhere/"></head><body><a href="target">t</a></body></html>')
    web.page("/elsewhere/target", "<p>found via base</p>")

    other.page("/gone", "missing", status=404)
    other.page("/removed", "gone", status=410)
    other.routes["/slow"] = hang
    other.page("/only-in-private", "should never be checked")
    flaky_calls = {"n": 0}

    def flaky(req: http.server.BaseHTTPRequestHandler) -> None:
        flaky_calls["n"] += 1
        send(req, 503 if flaky_calls["n"] <= 2 else 200, "maybe")
    other.routes["/flaky"] = flaky
    other.page("/busy", "slow down", status=429, Retry_After="0")

    def nohead(req: http.server.BaseHTTPRequestHandler) -> None:
        send(req, 405 if req.command == "HEAD" else 200, "GET works")
    other.routes["/nohead"] = nohead
    other.redirect("/moved", "/removed")
    other.redirect("/loop1", "/loop2")
    other.redirect("/loop2", "/loop1")
    other.page("/cf", "challenge", status=403, cf_mitigated="challenge")
    other.page("/linkedin", "", status=999)


@pytest.fixture
def web() -> Iterator[TestWeb]:
    server = TestWeb("127.0.0.22")
    yield server
    server.close()


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    """The full test web, shared by the tests that only read one crawl of it."""
    yield from _site()


@pytest.fixture
def fresh_site() -> Iterator[Site]:
    """The full test web, for tests that change it."""
    yield from _site()


def _site() -> Iterator[Site]:
    main, other, port = TestWeb("127.0.0.20"), TestWeb("127.0.0.21"), closed_port()
    build_site(main, other, port)
    yield Site(main, other, port)
    main.close()
    other.close()
