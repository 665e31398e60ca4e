"""Fixtures for contacts: a test web on its own loopback address, fetch settings, a DNS server."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from outreach.contacts.validation import CACHE
from tests.contacts.dnsserver import DNSServer
from tests.lib.conftest import make_settings
from tests.lib.testweb import TestWeb

__all__ = ["make_settings"]


def build_linked_site(web: TestWeb) -> None:
    """A site whose contact page is linked only from its home page, under a name no one would guess."""
    web.page("/blog/post", '<html><body><p>A post about widgets.</p><a href="/">Home</a></body></html>')
    web.page("/", '<html><body><nav><a href="/blog/all-about-widgets">All about widgets</a>'
                  '<a href="/de/kontakt">Kontakt</a></nav></body></html>')
    web.page("/de/kontakt", '<html><body><p>Anzeigen: <a href="mailto:tom@site.test">Tom Baker</a></p>'
                            '<a href="/de/redaktion">Redaktion</a><a href="/shop">Shop</a></body></html>')
    web.page("/de/redaktion", '<html><body><ul><li>Chefredakteurin: Jane Doe – jane@site.test</li></ul>'
                              '<a href="/de/redaktion/max-muster">Max Muster</a></body></html>')


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
