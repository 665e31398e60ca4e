"""Address confidence: valid / risky / invalid / unknown with the reason, and the opt-in catch-all probe."""
from __future__ import annotations

from typing import Any

import pytest

from outreach.config import DnsSettings
from outreach.contacts.catch_all import LIMITER
from outreach.contacts.validation import AddressChecker
from tests.contacts.conftest import Probed
from tests.contacts.dnsserver import DNSServer

RECORDS = {
    ("mail.test", "MX"): ["10 mx.mail.test."],
    ("other.test", "MX"): ["10 mx.mail.test."],
    ("third.test", "MX"): ["10 mx3.mail.test."],
    ("mx.mail.test", "A"): ["127.0.0.1"],
    ("mx3.mail.test", "A"): ["127.0.0.1"],
    ("onlya.test", "A"): ["127.0.0.2"],
    ("nomail.test", "MX"): ["0 ."],
    ("bare.test", "TXT"): ['"v=spf1 -all"'],
    ("mailinator.com", "MX"): ["10 mx.mail.test."],
    ("eu.mailinator.com", "MX"): ["10 mx.mail.test."],
}


@pytest.fixture
def dns_records() -> dict[tuple[str, str], list[str]]:
    return RECORDS


def checker(server: DNSServer, *, probe: bool = False, port: int = 25, per_minute: int = 6) -> AddressChecker:
    return AddressChecker(DnsSettings(nameservers=("127.0.0.1",), port=server.port, timeout=2.0, cache_seconds=0,
                                      catch_all_probe=probe, catch_all_port=port, catch_all_per_minute=per_minute))


@pytest.mark.parametrize(("address", "status", "confidence", "reason"), [
    ("jane@mail.test", "valid", "valid", "MX mx.mail.test"),
    ("jane doe@mail.test", "invalid", "invalid", "syntax: "),
    ("jane@mailinator.com", "valid", "risky", "disposable domain: mailinator.com"),
    ("jane@eu.mailinator.com", "valid", "risky", "disposable domain: eu.mailinator.com"),
    ("info@mail.test", "valid", "risky", "role address: info@"),
    ("jane@nomail.test", "invalid", "invalid", "null MX: nomail.test accepts no mail"),
    ("jane@bare.test", "invalid", "invalid", "no MX: bare.test has no MX, A or AAAA record"),
    ("jane@onlya.test", "valid", "risky", "no MX: no MX; mail goes to the A record"),
    ("jane@gone.test", "invalid", "invalid", "no such domain: gone.test does not exist"),
    ("jane@slow.test", "unknown", "unknown", "DNS lookup for slow.test failed"),
])
def test_it_grades_each_address_with_its_reason(dns_server: DNSServer, address: str, status: str, confidence: str,
                                                reason: str) -> None:
    verdict = checker(dns_server).check(address)
    assert (verdict.status, verdict.confidence) == (status, confidence)
    assert verdict.confidence_reason.startswith(reason), verdict.confidence_reason


def test_the_probe_is_off_by_default_and_never_connects(dns_server: DNSServer, mx: tuple[Probed, int]) -> None:
    state, port = mx
    assert AddressChecker(DnsSettings()).settings.catch_all_probe is False
    assert checker(dns_server, port=port).check("jane@mail.test").confidence == "valid"
    assert state.commands == []


def test_a_server_that_accepts_a_random_address_makes_the_domain_catch_all(dns_server: DNSServer,
                                                                          mx: tuple[Probed, int]) -> None:
    state, port = mx
    verdict = checker(dns_server, probe=True, port=port).check("jane@mail.test")
    assert verdict.confidence == "risky"
    assert verdict.confidence_reason.startswith("catch-all: mx.mail.test accepts any address at mail.test")
    assert state.commands[0] == "MAIL <>" and state.commands[1].startswith("RCPT no-such-user-")
    assert "DATA" not in state.commands and "jane@mail.test" not in " ".join(state.commands)


def test_a_server_that_refuses_a_random_address_leaves_the_address_valid(dns_server: DNSServer,
                                                                         mx: tuple[Probed, int]) -> None:
    state, port = mx
    state.accept_any = False
    assert checker(dns_server, probe=True, port=port).check("jane@mail.test").confidence == "valid"
    assert len([c for c in state.commands if c.startswith("RCPT")]) == 1 and "DATA" not in state.commands


def test_probes_are_rate_limited_per_server_and_remembered_per_domain(dns_server: DNSServer,
                                                                      mx: tuple[Probed, int]) -> None:
    state, port = mx
    check = checker(dns_server, probe=True, port=port, per_minute=2).check
    assert check("jane@mail.test").confidence == "risky"
    assert check("joe@mail.test").confidence == "risky"  # remembered: no second probe
    assert check("jane@other.test").confidence == "valid"  # same server within the minute: not asked
    assert check("jane@third.test").confidence == "risky"  # another server name: asked
    assert len([c for c in state.commands if c.startswith("RCPT")]) == 2
    LIMITER.clear()
    limited = checker(dns_server, probe=True, port=port, per_minute=1).check
    limited("jane@mail.test")
    assert limited("jane@third.test").confidence == "valid"  # one probe a minute in all
    assert len([c for c in state.commands if c.startswith("RCPT")]) == 3


def test_the_confidence_is_stored_on_the_contact_and_answered_by_the_api(
        app: Any, db: Any, dns_server: DNSServer) -> None:
    from outreach.api.serialize import contact as contact_json
    from outreach.contacts.service import apply_verdict
    from outreach.models import Contact

    contact = Contact(email="info@mail.test")
    db.add(contact)
    apply_verdict(contact, checker(dns_server).check(contact.email))
    db.commit()
    db.expire_all()
    stored = db.get(Contact, contact.id)
    assert (stored.status, stored.confidence) == ("valid", "risky")
    with app.test_request_context():
        assert contact_json(stored)["confidence_reason"].startswith("role address: info@")
