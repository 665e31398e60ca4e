"""Fixtures for contacts: a test web on its own loopback address, fetch settings, a DNS server, and a mail server
for the catch-all probe."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from outreach.contacts.catch_all import LIMITER
from outreach.contacts.validation import CACHE
from tests.conftest import free_port
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


# --- a mail server for the catch-all probe ---------------------------------------------------------

@dataclass
class Probed:
    accept_any: bool = True
    commands: list[str] = field(default_factory=list)


class _Handler:
    def __init__(self, state: Probed) -> None:
        self.state = state

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str,  # noqa: N802
                          options: list[str]) -> str:
        self.state.commands.append(f"MAIL {address}")
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,  # noqa: N802
                          options: list[str]) -> str:
        self.state.commands.append(f"RCPT {address}")
        if self.state.accept_any or address.startswith("jane@"):
            envelope.rcpt_tos.append(address)
            return "250 OK"
        return "550 5.1.1 no such user"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.state.commands.append("DATA")
        return "250 OK"


@pytest.fixture
def mx() -> Iterator[tuple[Probed, int]]:
    state, port = Probed(), free_port()
    controller = Controller(_Handler(state), hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    LIMITER.clear()
    try:
        yield state, port
    finally:
        controller.stop()
        LIMITER.clear()
