"""Every fetch looks host names up with the [dns] nameservers when set; the SSRF guard judges what they answer."""
from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from outreach.config import DnsSettings
from outreach.lib.http import Fetcher, fetch_one
from tests.contacts.dnsserver import DNSServer
from tests.lib.conftest import make_settings
from tests.lib.testweb import Canary, TestWeb


@pytest.fixture
def dns_server(web: TestWeb) -> Iterator[DNSServer]:
    records = {("site.outreach.test", "A"): [web.host], ("evil.outreach.test", "A"): ["127.0.0.1"],
               ("evil6.outreach.test", "AAAA"): ["::1"], ("mixed.outreach.test", "A"): [web.host, "127.0.0.1"]}
    with DNSServer(records) as server:
        yield server


def via(server: DNSServer, **overrides: object):  # type: ignore[no-untyped-def]
    return make_settings(dns=DnsSettings(nameservers=("127.0.0.1",), port=server.port, timeout=2.0), **overrides)


def test_a_name_only_the_configured_nameserver_knows_is_fetched(web: TestWeb, dns_server: DNSServer) -> None:
    web.page("/", "<html><body>found by name</body></html>")
    got = fetch_one(f"http://site.outreach.test:{web.port}/", via(dns_server))
    assert (got.status, got.error, got.text()) == (200, None, "<html><body>found by name</body></html>")
    assert ("site.outreach.test.", "A") in dns_server.queries


def test_a_name_that_does_not_exist_there_is_a_dns_error(web: TestWeb, dns_server: DNSServer) -> None:
    got = fetch_one(f"http://nowhere.outreach.test:{web.port}/", via(dns_server))
    assert got.status is None and got.error == "dns"
    assert ("nowhere.outreach.test.", "A") in dns_server.queries


@pytest.mark.parametrize("name", ["evil.outreach.test", "evil6.outreach.test", "mixed.outreach.test"])
def test_the_guard_refuses_a_name_the_nameserver_points_at_a_private_address(
        dns_server: DNSServer, canary: Canary, name: str) -> None:
    got = fetch_one(f"http://{name}:{canary.port}/", via(dns_server, allow_private_addresses=False))
    assert got.error == "blocked_address"
    assert canary.connections == 0
    assert (name + ".", "A") in dns_server.queries


def test_a_refused_seed_is_told_before_anything_is_fetched(dns_server: DNSServer, canary: Canary) -> None:
    async def run() -> str | None:
        async with Fetcher(via(dns_server, allow_private_addresses=False)) as fetcher:
            return await fetcher.refusal(f"http://evil.outreach.test:{canary.port}/")

    assert asyncio.run(run()) == "blocked_address"
    assert canary.connections == 0


def test_a_private_host_allowed_by_name_is_fetched_with_the_guard_on(web: TestWeb, dns_server: DNSServer) -> None:
    web.page("/", "ok")
    name = f"site.outreach.test:{web.port}"
    got = fetch_one(f"http://{name}/", via(dns_server, allow_private_addresses=False,
                                            allow_private_hosts=frozenset({name})))
    assert got.status == 200


def test_the_cli_looks_names_up_with_the_dns_table(web: TestWeb, dns_server: DNSServer, tmp_path: Path) -> None:
    target = "https://client.example/product"
    web.page("/robots.txt", "User-agent: *\nAllow: /\n", content_type="text/plain")
    web.page("/a", f'<html><body><a href="{target}">Widgets</a></body></html>')
    config = tmp_path / "config.toml"
    config.write_text("[crawl]\nallow_private_addresses = true\nper_host_delay = 0\ntimeout = 5\n"
                      f'[dns]\nnameservers = ["127.0.0.1"]\nport = {dns_server.port}\ntimeout = 2\n')
    done = subprocess.run([sys.executable, "-m", "outreach.cli", "--config", str(config), "verify",
                           f"http://site.outreach.test:{web.port}/a", "--target", target, "--json"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "live"
