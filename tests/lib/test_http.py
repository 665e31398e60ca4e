"""The guarded fetcher against real servers on loopback, hostile ones included."""
from __future__ import annotations

import asyncio
import gzip
import tracemalloc
import zlib
from collections.abc import Callable
from typing import Any

import pytest

from outreach.lib.http import Fetcher, FetchSettings, fetch_one, is_public_address, literal_address
from tests.lib.conftest import make_settings
from tests.lib.testweb import Canary, TestWeb, closed_port, endless, gzip_bomb, send, slow_drip


def test_it_fetches_a_page_with_lower_cased_headers(web: TestWeb) -> None:
    web.page("/", "<html><body>hello</body></html>", X_Thing="yes")
    got = fetch_one(web.url("/"), make_settings())
    assert (got.status, got.error, got.truncated) == (200, None, False)
    assert got.headers["x-thing"] == "yes"
    assert got.text() == "<html><body>hello</body></html>"
    assert got.final_url == got.url == web.url("/")


def test_it_sends_the_configured_user_agent(web: TestWeb) -> None:
    seen: list[str] = []

    @web.handler("/ua")
    def ua(req):  # type: ignore[no-untyped-def]
        seen.append(req.headers["User-Agent"])
        send(req, 200, "ok")

    fetch_one(web.url("/ua"), make_settings())
    assert seen == ["OutreachTest/1.0 (+https://example.test/bot)"]


def test_it_follows_redirects_and_records_each_hop(web: TestWeb) -> None:
    web.redirect("/a", "/b", 301)
    web.redirect("/b", web.url("/c"), 302)
    web.page("/c", "done")
    got = fetch_one(web.url("/a"), make_settings())
    assert got.status == 200 and got.error is None
    assert got.redirects == [(web.url("/a"), 301), (web.url("/b"), 302)]
    assert got.final_url == web.url("/c")


def test_it_can_leave_redirects_unfollowed(web: TestWeb) -> None:
    web.redirect("/a", "/b", 308)
    got = fetch_one(web.url("/a"), make_settings(), follow_redirects=False)
    assert (got.status, got.headers["location"], got.redirects) == (308, "/b", [])


def test_it_detects_a_redirect_loop(web: TestWeb) -> None:
    web.redirect("/x", "/y")
    web.redirect("/y", "/x")
    assert fetch_one(web.url("/x"), make_settings()).error == "redirect_loop"


def test_a_50_hop_redirect_chain_stops_at_the_limit(web: TestWeb) -> None:
    for i in range(50):
        web.redirect(f"/hop{i}", f"/hop{i + 1}")
    web.page("/hop50", "end")
    got = fetch_one(web.url("/hop0"), make_settings(max_redirects=5))
    assert got.error == "too_many_redirects"
    assert web.hits["/hop6"] == 0 and web.hits["/hop50"] == 0


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://example.com/x", "gopher://example.com/"])
def test_it_refuses_a_redirect_to_another_scheme(web: TestWeb, target: str) -> None:
    web.redirect("/r", target)
    got = fetch_one(web.url("/r"), make_settings())
    assert got.error == "bad_scheme" and got.final_url == target


def test_it_reports_dns_failure_and_refused_connections() -> None:
    assert fetch_one("http://no-such-host.invalid/", make_settings()).error == "dns"
    port = closed_port()
    got = fetch_one(f"http://127.0.0.1:{port}/", make_settings())
    assert (got.error, got.status) == ("refused", None)


def test_a_server_sending_one_byte_every_15_seconds_hits_the_total_deadline(web: TestWeb) -> None:
    web.routes["/drip"] = slow_drip
    got = fetch_one(web.url("/drip"), make_settings(timeout=1.0))
    assert got.error == "timeout"
    assert got.elapsed < 5


def test_an_endless_body_is_cut_at_the_size_cap(web: TestWeb) -> None:
    web.routes["/endless"] = endless
    tracemalloc.start()
    try:
        got = fetch_one(web.url("/endless"), make_settings(max_bytes=300_000, timeout=10))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert got.status == 200 and got.truncated
    assert len(got.body) == 300_000
    assert peak < 10_000_000


def test_a_gzip_bomb_is_cut_at_the_decompressed_cap(web: TestWeb) -> None:
    bomb = gzip_bomb()
    web.page("/bomb", bomb, Content_Encoding="gzip")
    tracemalloc.start()
    try:
        got = fetch_one(web.url("/bomb"), make_settings(max_bytes=1_000_000, timeout=10))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert got.truncated and len(got.body) == 1_000_000
    assert peak < 20_000_000


def test_it_decompresses_gzip_and_deflate(web: TestWeb) -> None:
    web.page("/gz", gzip.compress(b"<p>gzipped</p>"), Content_Encoding="gzip")
    web.page("/zl", zlib.compress(b"<p>zlib</p>"), Content_Encoding="deflate")
    raw = zlib.compressobj(wbits=-15)
    web.page("/raw", raw.compress(b"<p>raw</p>") + raw.flush(), Content_Encoding="deflate")
    settings = make_settings()
    assert fetch_one(web.url("/gz"), settings).body == b"<p>gzipped</p>"
    assert fetch_one(web.url("/zl"), settings).body == b"<p>zlib</p>"
    assert fetch_one(web.url("/raw"), settings).body == b"<p>raw</p>"


def test_head_reads_no_body(web: TestWeb) -> None:
    web.page("/h", "body")
    got = fetch_one(web.url("/h"), make_settings(), method="HEAD")
    assert got.status == 200 and got.body == b""
    assert web.methods == [("HEAD", "/h")]


def robots(web: TestWeb, url: str, settings: FetchSettings | None = None) -> bool:
    async def run() -> bool:
        async with Fetcher(settings or make_settings()) as fetcher:
            return await fetcher.allowed_by_robots(url)
    return asyncio.run(run())


def test_robots_rules_apply_per_user_agent(web: TestWeb) -> None:
    web.page("/robots.txt", "User-agent: *\nDisallow: /private/\n\nUser-agent: OutreachTest\nDisallow: /nobot\n",
             content_type="text/plain")
    assert robots(web, web.url("/public")) is True
    assert robots(web, web.url("/nobot")) is False


def test_robots_4xx_allows_everything_and_5xx_disallows_everything(web: TestWeb) -> None:
    assert robots(web, web.url("/anything")) is True  # 404
    web.page("/robots.txt", "oops", status=503)
    assert robots(web, web.url("/anything")) is False


def test_robots_network_error_disallows_everything() -> None:
    port = closed_port()
    assert robots(TestWeb.__new__(TestWeb), f"http://127.0.0.1:{port}/page") is False


def test_robots_is_fetched_once_per_host(web: TestWeb) -> None:
    web.page("/robots.txt", "User-agent: *\nDisallow: /no\n", content_type="text/plain")

    async def run() -> list[bool]:
        async with Fetcher(make_settings()) as fetcher:
            return [await fetcher.allowed_by_robots(web.url(p)) for p in ("/a", "/no", "/b")]

    assert asyncio.run(run()) == [True, False, True]
    assert web.hits["/robots.txt"] == 1


def test_a_10_mb_robots_txt_is_read_only_up_to_its_cap(web: TestWeb) -> None:
    body = b"User-agent: *\nDisallow: /secret\n" + b"# padding\n" * 1_000_000 + b"Disallow: /late\n"
    web.page("/robots.txt", body, content_type="text/plain")
    tracemalloc.start()
    try:
        assert robots(web, web.url("/secret")) is False
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert robots(web, web.url("/late")) is True  # beyond the 512 KiB that are read
    assert peak < 20_000_000


@pytest.mark.parametrize("host", [
    "127.0.0.1", "localhost", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254",
    "[::1]", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "[64:ff9b::7f00:1]", "[2002:7f00:1::]",
    "[fe80::1]", "[fc00::1]", "0.0.0.0", "2130706433", "0x7f000001", "0177.0.0.1", "127.1", "224.0.0.1",
])
def test_the_ssrf_guard_refuses_private_forms_before_connecting(canary: Canary, host: str) -> None:
    got = fetch_one(f"http://{host}:{canary.port}/", make_settings(allow_private_addresses=False))
    assert got.error == "blocked_address"
    assert canary.connections == 0


def test_the_ssrf_guard_refuses_redirects_into_private_addresses(web: TestWeb, canary: Canary) -> None:
    # The first hop must be public to get past the guard, so run the guard by hand on each hop:
    # a private-allowed fetch records the hops, a guarded fetch refuses the first private one.
    web.redirect("/to-canary", f"http://127.0.0.1:{canary.port}/")
    web.redirect("/to-metadata", "http://169.254.169.254/latest/meta-data/")
    web.redirect("/to-decimal", f"http://2130706433:{canary.port}/")

    async def run() -> list[str | None]:
        async with Fetcher(make_settings(allow_private_addresses=True)) as fetcher:
            strict = make_settings(allow_private_addresses=False)
            guard = Fetcher(strict)
            first = {web.url(p) for p in ("/to-canary", "/to-metadata", "/to-decimal")}
            fetcher._check_target = (  # type: ignore[method-assign]
                lambda url: None if url in first else guard._check_target(url))
            fetcher._pool.allow_private = False  # type: ignore[union-attr]
            results = [await fetcher.fetch(web.url(p)) for p in ("/to-canary", "/to-metadata", "/to-decimal")]
            return [r.error for r in results]

    assert asyncio.run(run()) == ["blocked_address"] * 3
    assert canary.connections == 0


def test_allow_private_hosts_lets_only_the_named_host_and_port_through(web: TestWeb, canary: Canary) -> None:
    """The demo's sample web is allowed by name; its neighbours, other ports and redirects elsewhere are not."""
    web.page("/", "<html><body>demo</body></html>")
    web.redirect("/to-canary", f"http://127.0.0.1:{canary.port}/")
    settings = make_settings(allow_private_addresses=False, allow_private_hosts=frozenset({f"127.0.0.10:{web.port}"}))
    assert fetch_one(web.url("/"), settings).status == 200
    assert fetch_one(web.url("/to-canary"), settings).error == "blocked_address"
    assert fetch_one(f"http://127.0.0.1:{canary.port}/", settings).error == "blocked_address"
    assert fetch_one(f"http://127.0.0.10:{canary.port}/", settings).error == "blocked_address"  # another port
    assert fetch_one(f"http://localhost:{canary.port}/", settings).error == "blocked_address"  # through DNS
    assert canary.connections == 0
    # a name is checked after DNS by the client: allowed by its own host:port, it connects
    by_name = make_settings(allow_private_addresses=False, allow_private_hosts=frozenset({f"localhost:{canary.port}"}))
    assert fetch_one(f"http://localhost:{canary.port}/", by_name).error != "blocked_address"
    assert canary.connections >= 1


def test_public_addresses_pass_the_guard() -> None:
    assert is_public_address("93.184.216.34")
    assert is_public_address("2606:2800:220:1:248:1893:25c8:1946")
    assert not is_public_address("::ffff:10.0.0.1")
    assert not is_public_address("100.64.0.1")
    assert literal_address("0x7f.0.0.1") is not None and literal_address("example.com") is None


def _echo(req: Any) -> None:
    """Answer with the method, Content-Type and body the server received."""
    length = int(req.headers.get("Content-Length") or 0)
    body = req.rfile.read(length) if length else b""
    send(req, 200, f"{req.command} {req.headers.get('Content-Type')} ".encode() + body, content_type="text/plain")


def test_a_post_sends_its_body_and_a_redirect_keeps_or_drops_it_as_browsers_do(web: TestWeb) -> None:
    web.routes["/echo"] = _echo

    def redirect(status: int) -> Callable[[Any], None]:
        def answer(req: Any) -> None:
            req.rfile.read(int(req.headers.get("Content-Length") or 0))  # a server reads the body it answers
            send(req, status, b"", {"Location": "/echo"})
        return answer

    web.routes["/moved"], web.routes["/seen"] = redirect(308), redirect(303)
    form = {"headers": {"Content-Type": "application/x-www-form-urlencoded"}, "method": "POST",
            "body": b"token_auth=s3cret&idSite=3"}
    direct = fetch_one(web.url("/echo"), make_settings(), **form)
    assert direct.body == b"POST application/x-www-form-urlencoded token_auth=s3cret&idSite=3"
    kept = fetch_one(web.url("/moved"), make_settings(), **form)
    assert kept.body == b"POST application/x-www-form-urlencoded token_auth=s3cret&idSite=3"
    dropped = fetch_one(web.url("/seen"), make_settings(), **form)
    assert dropped.body == b"GET None "  # a 303 turns it into a GET without the body or its type
