"""Address validation against a real DNS server on loopback: MX, A/AAAA fallback, null MX, NXDOMAIN."""
from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from outreach.config import DnsSettings
from outreach.contacts.validation import AddressChecker
from outreach.lib.clock import utcnow
from tests.contacts.dnsserver import DNSServer

RECORDS = {
    ("mail.test", "MX"): ["10 mx1.mail.test.", "20 mx2.mail.test."],
    ("mx1.mail.test", "A"): ["127.0.0.1"],
    ("onlya.test", "A"): ["127.0.0.2"],
    ("onlyaaaa.test", "AAAA"): ["::1"],
    ("nomail.test", "MX"): ["0 ."],
    ("bare.test", "TXT"): ['"v=spf1 -all"'],
}


@pytest.fixture
def dns_records() -> dict[tuple[str, str], list[str]]:
    return RECORDS


def checker(server: DNSServer, cache_seconds: int = 3600) -> AddressChecker:
    return AddressChecker(DnsSettings(nameservers=("127.0.0.1",), port=server.port, timeout=1.0,
                                      cache_seconds=cache_seconds))


@pytest.mark.parametrize(("address", "status", "reason"), [
    ("jane@mail.test", "valid", "MX mx1.mail.test, mx2.mail.test"),
    ("jane@onlya.test", "valid", "no MX; mail goes to the A record 127.0.0.2"),
    ("jane@onlyaaaa.test", "valid", "no MX; mail goes to the AAAA record ::1"),
    ("jane@nomail.test", "invalid", "nomail.test accepts no mail (null MX)"),
    ("jane@bare.test", "invalid", "bare.test has no MX, A or AAAA record"),
    ("jane@gone.test", "invalid", "gone.test does not exist (NXDOMAIN)"),
    ("jane@slow.test", "unknown", "DNS lookup for slow.test failed"),
    ("not an address", "invalid", "not a valid address"),
    ("jane@example.com", "invalid", "placeholder domain"),
])
def test_it_judges_addresses_by_their_domains_dns(dns_server: DNSServer, address: str, status: str,
                                                   reason: str) -> None:
    verdict = checker(dns_server).check(address)
    assert verdict.status == status
    assert reason in verdict.reason


def test_it_flags_role_addresses(dns_server: DNSServer) -> None:
    assert checker(dns_server).check("Editor@mail.test").is_role
    assert not checker(dns_server).check("jane.roe@mail.test").is_role


def test_it_caches_answers_per_domain_until_they_expire(dns_server: DNSServer) -> None:
    check = checker(dns_server, cache_seconds=60)
    check.check("a@mail.test")
    check.check("b@mail.test")
    assert dns_server.queries.count(("mail.test.", "MX")) == 1
    with time_machine.travel(utcnow() + timedelta(seconds=61), tick=False):
        check.check("c@mail.test")
    assert dns_server.queries.count(("mail.test.", "MX")) == 2


def test_it_does_not_cache_a_failed_lookup(dns_server: DNSServer) -> None:
    check = checker(dns_server)
    assert check.check("a@slow.test").status == "unknown"
    assert check.check("a@slow.test").status == "unknown"
    assert dns_server.queries.count(("slow.test.", "MX")) >= 2


def test_two_resolver_configurations_do_not_share_cached_answers(dns_server: DNSServer) -> None:
    checker(dns_server).check("a@mail.test")
    with DNSServer({("other.test", "A"): ["127.0.0.3"]}) as other:
        assert checker(other).check("a@mail.test").status == "invalid"
