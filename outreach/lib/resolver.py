"""The one resolver configuration ([dns] nameservers, port, timeout) for every lookup: MX checks and fetches.

With no nameservers the system's resolver answers (dnspython reads /etc/resolv.conf for MX checks; fetches
use getaddrinfo, which also reads the hosts file). With nameservers, every lookup asks them and only them.
"""
from __future__ import annotations

import asyncio
import socket
from typing import TYPE_CHECKING, TypeVar

import dns.exception
import dns.resolver

from outreach.config import DnsSettings

if TYPE_CHECKING:
    import dns.asyncresolver

R = TypeVar("R", bound=dns.resolver.BaseResolver)


class LookupFailed(Exception):
    """A host name has no address: it does not exist, has no A/AAAA record, or the servers did not answer."""


def configure(resolver: R, settings: DnsSettings) -> R:
    """The resolver with the [dns] servers, port and time limits (its own system configuration otherwise)."""
    if settings.nameservers:
        resolver.nameservers = list(settings.nameservers)
        resolver.port = settings.port
    resolver.lifetime = settings.timeout
    resolver.timeout = min(settings.timeout, 2.0)
    return resolver


def sync_resolver(settings: DnsSettings) -> dns.resolver.Resolver:
    """A blocking resolver as [dns] says."""
    return configure(dns.resolver.Resolver(configure=not settings.nameservers), settings)


def async_resolver(settings: DnsSettings) -> dns.asyncresolver.Resolver:
    """An asyncio resolver as [dns] says."""
    import dns.asyncresolver

    return configure(dns.asyncresolver.Resolver(configure=not settings.nameservers), settings)


async def host_addresses(resolver: dns.asyncresolver.Resolver, host: str) -> list[tuple[int, str]]:
    """(family, address) of every A, then AAAA, record of host (CNAMEs followed); LookupFailed when none."""
    kinds = (("A", socket.AF_INET), ("AAAA", socket.AF_INET6))
    answers = await asyncio.gather(*(resolver.resolve(host, rdtype, search=False) for rdtype, _ in kinds),
                                   return_exceptions=True)
    found: list[tuple[int, str]] = []
    problems: list[str] = []
    for (_, family), answer in zip(kinds, answers, strict=True):
        if isinstance(answer, dns.resolver.NXDOMAIN):
            raise LookupFailed(f"{host} does not exist (NXDOMAIN)")
        if isinstance(answer, dns.resolver.NoAnswer):
            continue
        if isinstance(answer, dns.exception.DNSException):
            problems.append(str(answer).split(". ", 1)[0][:160] or type(answer).__name__)
            continue
        if isinstance(answer, BaseException):
            raise answer
        found.extend((family, record.to_text()) for record in answer)
    if not found:
        raise LookupFailed(f"{host} has no address" + (f": {problems[0]}" if problems else ""))
    return found
