"""Fixtures for contacts: a test web on its own loopback address, fetch settings, a DNS server."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from outreach.contacts.validation import CACHE
from tests.contacts.dnsserver import DNSServer
from tests.lib.conftest import make_settings
from tests.lib.testweb import TestWeb

__all__ = ["make_settings"]


@pytest.fixture
def web() -> Iterator[TestWeb]:
    server = TestWeb("127.0.0.21")
    yield server
    server.close()


@pytest.fixture
def dns_records() -> dict[tuple[str, str], list[str]]:
    return {("site.test", "MX"): ["10 mx.site.test."], ("mx.site.test", "A"): ["127.0.0.1"],
            ("nomx.test", "TXT"): ['"x"']}


@pytest.fixture
def dns_server(dns_records: dict[tuple[str, str], list[str]]) -> Iterator[DNSServer]:
    CACHE.clear()
    with DNSServer(dns_records, silent=("slow.test",)) as server:
        yield server
    CACHE.clear()
