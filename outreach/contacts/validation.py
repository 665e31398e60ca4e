"""Is an address deliverable as far as we can tell without sending? Syntax, then DNS.

Syntax comes from email-validator (through outreach.lib.addresses). The domain must accept mail:
its MX records, or, when it has none, an A or AAAA record (the implicit MX of RFC 5321 §5.1). A
"null MX" (RFC 7505: one MX of preference 0 pointing at ".") says the domain takes no mail. DNS
answers are cached per domain for `[dns] cache_seconds`; the resolver is the system's unless
`[dns] nameservers` (and `port`) name others.
"""
from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver

from outreach.config import DnsSettings
from outreach.contacts.catch_all import probe
from outreach.contacts.extraction import is_role_address, rejection
from outreach.lib.addresses import BadAddress, normalise_address
from outreach.lib.clock import utcnow
from outreach.lib.resolver import sync_resolver


@dataclass(frozen=True)
class Verdict:
    email: str
    #: valid | invalid | unknown (DNS did not answer: try again later)
    status: str
    reason: str
    is_role: bool = False
    #: valid | risky | invalid | unknown: `status`, with role, disposable and catch-all addresses made risky
    confidence: str = ""
    #: why, in words: "syntax", "disposable domain", "role address", "null MX", "no MX", "catch-all", ...
    confidence_reason: str = ""


@dataclass(frozen=True)
class DomainVerdict:
    status: str
    reason: str
    #: the domain's mail servers, best first (empty without MX records)
    mx_hosts: tuple[str, ...] = ()


class _Cache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[tuple[Any, ...], tuple[datetime, DomainVerdict]] = {}

    def get(self, key: tuple[Any, ...]) -> DomainVerdict | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            if item[0] <= utcnow():
                del self._items[key]
                return None
            return item[1]

    def put(self, key: tuple[Any, ...], verdict: DomainVerdict, seconds: float) -> None:
        with self._lock:
            if len(self._items) > 50_000:
                self._items.clear()
            self._items[key] = (utcnow() + timedelta(seconds=seconds), verdict)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


#: shared by every checker in the process (keyed by resolver, so two configurations never mix)
CACHE = _Cache()
#: domain -> why it takes mail without asking DNS (`outreach demo` vouches for its sample sites' domains)
VOUCHED: dict[str, str] = {}


def vouch_for(domains: Iterable[str], reason: str) -> None:
    """Count these domains as taking mail in this process, without a DNS lookup (no DNS knows them)."""
    for domain in domains:
        VOUCHED[domain.lower()] = reason


class AddressChecker:
    """Checks addresses with one resolver configuration; cheap to create, safe across threads."""

    def __init__(self, settings: DnsSettings) -> None:
        """With the [dns] settings (`AddressChecker(settings.dns)`)."""
        self.settings = settings
        self.cache_seconds = float(settings.cache_seconds)
        self._key = (tuple(settings.nameservers), settings.port)

    def _resolver(self) -> dns.resolver.Resolver:
        return sync_resolver(self.settings)

    def _address(self, host: str) -> str | None:
        """The first A (then AAAA) address of a host, from the configured resolver."""
        resolver = self._resolver()
        for rdtype in ("A", "AAAA"):
            try:
                return next(iter(resolver.resolve(host, rdtype, search=False))).to_text()
            except dns.exception.DNSException:
                continue
        return None

    def check(self, address: str) -> Verdict:
        """The verdict for one address: syntax first, then whether its domain takes mail."""
        try:
            email = normalise_address(address)
        except BadAddress as exc:
            return Verdict(address.strip(), "invalid", str(exc), confidence="invalid",
                           confidence_reason=f"syntax: {exc}")
        why = rejection(email, None)
        if why:
            return Verdict(email, "invalid", why, confidence="invalid", confidence_reason=f"syntax: {why}")
        domain = email.rsplit("@", 1)[1]
        verdict = self.check_domain(domain)
        is_role = is_role_address(email)
        confidence, why = self._confidence(email, domain, verdict, is_role)
        return Verdict(email, verdict.status, verdict.reason, is_role, confidence, why)

    def _confidence(self, email: str, domain: str, verdict: DomainVerdict, is_role: bool) -> tuple[str, str]:
        if verdict.status == "invalid":
            kind = "null MX" if "null MX" in verdict.reason else "no MX" if "no MX" in verdict.reason \
                else "no such domain"
            return "invalid", f"{kind}: {verdict.reason}"
        if verdict.status == "unknown":
            return "unknown", verdict.reason
        if verdict.reason.startswith("no MX"):
            return "risky", f"no MX: {verdict.reason}"
        if _is_disposable(domain):
            return "risky", f"disposable domain: {domain} hands out throwaway addresses"
        if is_role:
            return "risky", f"role address: {email.split('@')[0]}@ reaches a team or nobody, rarely the editor"
        if verdict.mx_hosts and domain.lower() not in VOUCHED \
                and probe(domain, verdict.mx_hosts[0], self.settings, self._address):
            return "risky", f"catch-all: {verdict.mx_hosts[0]} accepts any address at {domain}, so this one may " \
                            "not exist"
        return "valid", verdict.reason

    def check_domain(self, domain: str) -> DomainVerdict:
        if domain.lower() in VOUCHED:
            return DomainVerdict("valid", VOUCHED[domain.lower()])
        key = (*self._key, domain.lower())
        cached = CACHE.get(key)
        if cached is not None:
            return cached
        verdict = self._lookup(domain.lower())
        if verdict.status != "unknown" and self.cache_seconds > 0:
            CACHE.put(key, verdict, self.cache_seconds)
        return verdict

    def _lookup(self, domain: str) -> DomainVerdict:
        resolver = self._resolver()
        try:
            answer = resolver.resolve(domain, "MX", search=False)
        except dns.resolver.NXDOMAIN:
            return DomainVerdict("invalid", f"{domain} does not exist (NXDOMAIN)")
        except dns.resolver.NoAnswer:
            return self._fallback(resolver, domain)
        except (dns.resolver.NoNameservers, dns.exception.Timeout, dns.resolver.LifetimeTimeout) as exc:
            return DomainVerdict("unknown", f"DNS lookup for {domain} failed: {_short(exc)}")
        except dns.exception.DNSException as exc:
            return DomainVerdict("unknown", f"DNS lookup for {domain} failed: {_short(exc)}")
        hosts = sorted((r.preference, r.exchange.to_text(omit_final_dot=True)) for r in answer)
        if len(hosts) == 1 and hosts[0][1] in ("", "."):
            return DomainVerdict("invalid", f"{domain} accepts no mail (null MX)")
        shown = ", ".join(h for _, h in hosts[:3] if h not in ("", "."))
        return DomainVerdict("valid", f"MX {shown}", tuple(h for _, h in hosts if h not in ("", ".")))

    def _fallback(self, resolver: dns.resolver.Resolver, domain: str) -> DomainVerdict:
        failures = []
        for rdtype in ("A", "AAAA"):
            try:
                answer = resolver.resolve(domain, rdtype, search=False)
            except (dns.resolver.NoAnswer, dns.resolver.NXDOMAIN):
                continue
            except dns.exception.DNSException as exc:
                failures.append(_short(exc))
                continue
            first = next(iter(answer)).to_text()
            return DomainVerdict("valid", f"no MX; mail goes to the {rdtype} record {first} (RFC 5321)")
        if failures:
            return DomainVerdict("unknown", f"{domain} has no MX and its A/AAAA lookup failed: {failures[0]}")
        return DomainVerdict("invalid", f"{domain} has no MX, A or AAAA record")


def _is_disposable(domain: str) -> bool:
    """On the maintained list of throwaway-address domains (disposable-email-domains), or a subdomain of one."""
    from disposable_email_domains import blocklist  # a 100k-name set: loaded on the first check, not at import

    labels = domain.lower().split(".")
    return any(".".join(labels[i:]) in blocklist for i in range(len(labels) - 1))


def _short(exc: BaseException) -> str:
    text = str(exc).split(". ", 1)[0].strip() or type(exc).__name__
    return text[:160]
