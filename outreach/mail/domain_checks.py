"""Does a mailbox's domain let its mail land? MX, SPF, DKIM, DMARC and one-click unsubscribe, each with its fix.

Each check says pass, warn or fail and, when it is not a pass, the exact DNS record (or setting) to add.
SPF is evaluated as a receiver would (RFC 7208) for the mailbox's SMTP host's addresses, with the limit
of 10 DNS-querying mechanisms. Lookups use the `[dns]` resolver settings, never a cache: a user who just
added a record wants to see it counted.
"""
from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import dns.exception
import dns.resolver
from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from outreach.config import DnsSettings, Settings
from outreach.db import write_transaction
from outreach.jobs.ticks import JobContext
from outreach.lib.clock import utcnow
from outreach.lib.secrets import SecretBox
from outreach.mail.dkim import public_key_record
from outreach.models.mail import Mailbox

STATUSES = ("pass", "warn", "fail")
#: selectors tried when the mailbox names none (Google, Microsoft 365, common hosts and defaults)
COMMON_SELECTORS = ("default", "google", "selector1", "selector2", "k1", "s1", "s2", "dkim", "mail", "smtp")
#: RFC 7208 §4.6.4: more DNS-querying terms than this is a permanent error
SPF_LOOKUP_LIMIT = 10


@dataclass(frozen=True)
class Check:
    #: mx | spf | dkim | dmarc | unsubscribe
    name: str
    #: pass | warn | fail
    status: str
    detail: str
    #: the exact record (or setting) to add or change; empty on a pass
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class MailboxDomain:
    """What the checks need to know about a mailbox: plain values, no ORM row."""

    from_email: str
    smtp_host: str
    dkim_selector: str = ""
    #: the public key matching the mailbox's private key (base64 of the DER), to print the exact record
    dkim_public_key: str = ""


class _Dns:
    def __init__(self, settings: DnsSettings) -> None:
        if settings.nameservers:
            self.resolver = dns.resolver.Resolver(configure=False)
            self.resolver.nameservers = list(settings.nameservers)
            self.resolver.port = settings.port
        else:
            self.resolver = dns.resolver.Resolver()
        self.resolver.lifetime = settings.timeout
        self.resolver.timeout = min(settings.timeout, 2.0)

    def records(self, name: str, rdtype: str) -> list[Any]:
        """The answer's records; [] when the name or type has none. DNSException when DNS did not answer."""
        try:
            return list(self.resolver.resolve(name, rdtype, search=False))
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []

    def txt(self, name: str) -> list[str]:
        return [b"".join(r.strings).decode("utf-8", "replace") for r in self.records(name, "TXT")]

    def addresses(self, name: str) -> list[str]:
        return [r.to_text() for t in ("A", "AAAA") for r in self.records(name, t)]


def check_mailbox_domain(mailbox: MailboxDomain, base_url: str, settings: DnsSettings) -> list[Check]:
    """Every check for one mailbox, in the order the mailbox page shows them."""
    resolver = _Dns(settings)
    domain = mailbox.from_email.rsplit("@", 1)[-1].lower()
    checks = []
    for name, func in (("mx", lambda: _mx(resolver, domain)),
                       ("spf", lambda: _spf(resolver, domain, mailbox.smtp_host)),
                       ("dkim", lambda: _dkim(resolver, domain, mailbox.dkim_selector, mailbox.dkim_public_key))):
        try:
            checks.append(func())
        except dns.exception.DNSException as exc:
            checks.append(Check(name, "warn", f"DNS did not answer ({_short(exc)}); checked again tomorrow"))
    try:
        checks.append(_dmarc(resolver, domain, checks))
    except dns.exception.DNSException as exc:
        checks.append(Check("dmarc", "warn", f"DNS did not answer ({_short(exc)}); checked again tomorrow"))
    checks.append(_unsubscribe(base_url))
    return checks


def failing(checks: list[dict[str, str]] | list[Check]) -> list[str]:
    """The names of the checks that fail (stored dicts or Check objects)."""
    return [c["name"] if isinstance(c, dict) else c.name for c in checks
            if (c["status"] if isinstance(c, dict) else c.status) == "fail"]


# --- MX ------------------------------------------------------------------------------------------

def _mx(resolver: _Dns, domain: str) -> Check:
    hosts = sorted((r.preference, r.exchange.to_text(omit_final_dot=True)) for r in resolver.records(domain, "MX"))
    if len(hosts) == 1 and hosts[0][1] in ("", "."):
        return Check("mx", "fail", f"{domain} publishes a null MX (RFC 7505): it accepts no mail, so replies and "
                     "bounces are lost", f"{domain}. MX 10 <your incoming mail server>.")
    if not hosts:
        return Check("mx", "fail", f"{domain} has no MX record: replies cannot reach the mailbox",
                     f"{domain}. MX 10 <your incoming mail server>.")
    return Check("mx", "pass", "MX " + ", ".join(h for _, h in hosts[:3]))


# --- SPF -----------------------------------------------------------------------------------------

class _SpfError(Exception):
    """A permanent error (RFC 7208 permerror): the record is broken or needs too many lookups."""


@dataclass
class _SpfState:
    lookups: int = 0

    def count(self) -> None:
        self.lookups += 1
        if self.lookups > SPF_LOOKUP_LIMIT:
            raise _SpfError(f"it needs more than {SPF_LOOKUP_LIMIT} DNS lookups (RFC 7208 §4.6.4)")


def _spf_record(resolver: _Dns, domain: str) -> str | None:
    records = [t for t in resolver.txt(domain) if t.lower() == "v=spf1" or t.lower().startswith("v=spf1 ")]
    if len(records) > 1:
        raise _SpfError(f"{domain} publishes {len(records)} SPF records (only one is allowed)")
    return records[0] if records else None


def _in_network(ip: str, addresses: list[str], prefix4: int = 32, prefix6: int = 128) -> bool:
    address = ipaddress.ip_address(ip)
    for other in addresses:
        prefix = prefix4 if ":" not in other else prefix6
        try:
            if address in ipaddress.ip_network(f"{other}/{prefix}", strict=False):
                return True
        except ValueError:
            continue
    return False


def _split_cidr(value: str) -> tuple[str, int, int]:
    """'host/24//64' -> (host, 24, 64)."""
    prefix4, prefix6 = 32, 128
    if "//" in value:
        value, six = value.split("//", 1)
        prefix6 = int(six)
    if "/" in value:
        value, four = value.split("/", 1)
        prefix4 = int(four)
    return value, prefix4, prefix6


def _evaluate(resolver: _Dns, domain: str, ip: str, state: _SpfState, depth: int = 0) -> str | None:
    """The qualifier of the first mechanism matching `ip` ('+', '-', '~', '?'), or None when none matches."""
    if depth > SPF_LOOKUP_LIMIT:
        raise _SpfError("include loop")
    record = _spf_record(resolver, domain)
    if record is None:
        if depth:
            raise _SpfError(f"an included domain, {domain}, has no SPF record")
        return None
    redirect = None
    for term in record.split()[1:]:
        if "=" in term and ":" not in term.split("=", 1)[0]:
            key, value = term.split("=", 1)
            if key.lower() == "redirect":
                redirect = value
            continue
        qualifier = term[0] if term[0] in "+-~?" else "+"
        mechanism = term.lstrip("+-~?")
        name, _, arg = mechanism.partition(":")
        name = name.lower()
        if "/" in name:  # a/24, mx/24 with no domain
            name, cidr = name.split("/", 1)
            arg = f"{domain}/{cidr}"
        if name == "all":
            return qualifier
        if name == "ip4" or name == "ip6":
            try:
                if ipaddress.ip_address(ip) in ipaddress.ip_network(arg, strict=False):
                    return qualifier
            except ValueError as exc:
                raise _SpfError(f"bad {name} value {arg!r}") from exc
        elif name == "include":
            state.count()
            if _evaluate(resolver, arg, ip, state, depth + 1) == "+":
                return qualifier
        elif name in ("a", "mx"):
            state.count()
            host, prefix4, prefix6 = _split_cidr(arg or domain)
            if name == "a":
                if _in_network(ip, resolver.addresses(host), prefix4, prefix6):
                    return qualifier
            else:
                exchanges = [r.exchange.to_text(omit_final_dot=True) for r in resolver.records(host, "MX")]
                for exchange in exchanges[:10]:
                    if _in_network(ip, resolver.addresses(exchange), prefix4, prefix6):
                        return qualifier
        elif name in ("exists", "ptr"):
            state.count()  # counted, never matched here: macros and reverse DNS are beyond this check
        else:
            raise _SpfError(f"unknown mechanism {term!r}")
    if redirect:
        state.count()
        return _evaluate(resolver, redirect, ip, state, depth + 1)
    return None


def _host_addresses(resolver: _Dns, host: str) -> list[str]:
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    try:
        found = resolver.addresses(host)
    except dns.exception.DNSException:
        found = []
    if not found:
        try:
            found = sorted({info[4][0] for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)})
        except OSError:
            found = []
    return found


def _mechanism_for(host: str, ips: list[str]) -> str:
    try:
        address = ipaddress.ip_address(host)
        return f"ip{address.version}:{address}"
    except ValueError:
        return f"a:{host}" if ips else f"include:<your provider's SPF domain for {host}>"


def _spf(resolver: _Dns, domain: str, smtp_host: str) -> Check:
    ips = _host_addresses(resolver, smtp_host)
    mechanism = _mechanism_for(smtp_host, ips)
    try:
        record = _spf_record(resolver, domain)
    except _SpfError as exc:
        return Check("spf", "fail", f"the SPF record is broken: {exc}", f"{domain}. TXT \"v=spf1 {mechanism} -all\" "
                     "(as the only SPF record)")
    if record is None:
        return Check("spf", "fail", f"{domain} has no SPF record", f"{domain}. TXT \"v=spf1 {mechanism} -all\"")
    if not ips:
        return Check("spf", "warn", f"the SMTP host {smtp_host} does not resolve, so SPF cannot be checked "
                     f"(record: {record})")
    terms = record.split()
    at_all = next((i for i, t in enumerate(terms) if t.lstrip("+-~?").lower() == "all"), len(terms))
    fixed = " ".join([*terms[:at_all], mechanism, *terms[at_all:]])
    state = _SpfState()
    try:
        results = {ip: _evaluate(resolver, domain, ip, state) for ip in ips}
    except _SpfError as exc:
        return Check("spf", "fail", f"the SPF record is broken: {exc} (record: {record})",
                     f"{domain}. TXT \"{fixed}\" with fewer include/a/mx terms (flatten includes to ip4/ip6)")
    refused = [ip for ip, result in results.items() if result != "+"]
    if refused:
        return Check("spf", "fail", f"SPF does not authorise {smtp_host} ({', '.join(refused)}); record: {record}",
                     f"{domain}. TXT \"{fixed}\"")
    return Check("spf", "pass", f"SPF authorises {smtp_host} ({state.lookups} of {SPF_LOOKUP_LIMIT} lookups)")


# --- DKIM ----------------------------------------------------------------------------------------

def _dkim_key(resolver: _Dns, domain: str, selector: str) -> str | None:
    for text in resolver.txt(f"{selector}._domainkey.{domain}"):
        tags = dict(part.strip().split("=", 1) for part in text.split(";") if "=" in part)
        if "p" in {k.strip() for k in tags}:
            return "".join({k.strip(): v for k, v in tags.items()}["p"].split())
    return None


def _dkim(resolver: _Dns, domain: str, selector: str, public_key: str) -> Check:
    record = f"{selector or '<selector>'}._domainkey.{domain}. TXT \"v=DKIM1; k=rsa; p={public_key or '<public key>'}\""
    if selector:
        published = _dkim_key(resolver, domain, selector)
        if published is None:
            return Check("dkim", "fail", f"no DKIM key at {selector}._domainkey.{domain}", record)
        if not published:
            return Check("dkim", "fail", f"the DKIM key at {selector}._domainkey.{domain} is revoked (empty p=)",
                         record)
        if public_key and published != public_key:
            return Check("dkim", "fail", f"the key at {selector}._domainkey.{domain} does not match the mailbox's "
                         "private key: signatures will not verify", record)
        return Check("dkim", "pass", f"DKIM key published at {selector}._domainkey.{domain}")
    for candidate in COMMON_SELECTORS:
        if _dkim_key(resolver, domain, candidate):
            return Check("dkim", "pass", f"DKIM key found at {candidate}._domainkey.{domain} (set the selector on "
                         "the mailbox to check that exact one)")
    return Check("dkim", "warn", f"no DKIM key at the common selectors of {domain}; enter your provider's "
                 "selector on the mailbox (or a private key to sign here)", record)


# --- DMARC ---------------------------------------------------------------------------------------

def _dmarc(resolver: _Dns, domain: str, earlier: list[Check]) -> Check:
    from publicsuffixlist import PublicSuffixList

    organisational = PublicSuffixList().privatesuffix(domain) or domain
    record, where = None, ""
    for name in dict.fromkeys((domain, organisational)):
        found = [t for t in resolver.txt(f"_dmarc.{name}") if t.replace(" ", "").lower().startswith("v=dmarc1")]
        if found:
            record, where = found[0], name
            break
    fix = f"_dmarc.{organisational}. TXT \"v=DMARC1; p=none; rua=mailto:dmarc-reports@{organisational}\""
    if record is None:
        return Check("dmarc", "fail", f"{domain} has no DMARC record (Gmail and Yahoo require one of bulk senders)",
                     fix)
    tags = {k.strip().lower(): v.strip() for k, _, v in (p.partition("=") for p in record.split(";")) if k.strip()}
    policy = tags.get("p", "").lower()
    if where != domain:
        policy = tags.get("sp", policy).lower()
    if policy not in ("none", "quarantine", "reject"):
        return Check("dmarc", "fail", f"the DMARC record at _dmarc.{where} has no valid policy (p=): {record}", fix)
    passed = {c.name for c in earlier if c.status == "pass"}
    strict = [name for key, name in (("aspf", "SPF"), ("adkim", "DKIM")) if tags.get(key, "r").lower() == "s"]
    if where != domain and strict:
        return Check("dmarc", "fail", f"the From domain {domain} is a subdomain of {where}, whose DMARC record asks "
                     f"strict {' and '.join(strict)} alignment: mail from {domain} cannot align",
                     f"_dmarc.{where}. TXT \"{record.replace('aspf=s', 'aspf=r').replace('adkim=s', 'adkim=r')}\"")
    if not passed & {"spf", "dkim"}:
        return Check("dmarc", "fail", f"DMARC p={policy}, but neither SPF nor DKIM passes for {domain}, so "
                     "messages from it fail DMARC alignment", "fix SPF or DKIM above")
    if policy == "none":
        return Check("dmarc", "warn", f"DMARC p=none at _dmarc.{where}: receivers only report; aligned via "
                     f"{' and '.join(sorted(p.upper() for p in passed & {'spf', 'dkim'}))}",
                     f"_dmarc.{where}. TXT \"{record.replace('p=none', 'p=quarantine')}\" once reports look clean")
    return Check("dmarc", "pass", f"DMARC p={policy} at _dmarc.{where}; aligned via "
                 f"{' and '.join(sorted(p.upper() for p in passed & {'spf', 'dkim'}))}")


# --- one-click unsubscribe -----------------------------------------------------------------------

def _unsubscribe(base_url: str) -> Check:
    if urlsplit(base_url).scheme == "https":
        return Check("unsubscribe", "pass", f"one-click unsubscribe links use {base_url} (https)")
    return Check("unsubscribe", "fail", f"[app] base_url is {base_url}: Gmail and Yahoo need an https "
                 "List-Unsubscribe URL for one-click unsubscribe (RFC 8058)",
                 '[app] base_url = "https://<the address users reach this app at>"')


def _short(exc: BaseException) -> str:
    return (str(exc).split(". ", 1)[0].strip() or type(exc).__name__)[:160]


# --- stored results: the mailbox page, the daily re-check and the enrolment guard ----------------------

#: how often each mailbox's domain is checked again
RECHECK = timedelta(days=1)


def recheck_mailbox(session: Session, mailbox: Mailbox, settings: Settings, box: SecretBox) -> list[Check]:
    """Run every check for the mailbox now and store the results (flushes; the caller commits).

    What the session has open is committed first: the lookups happen outside any transaction (on SQLite
    a write transaction holds the database's one write lock)."""
    private = box.decrypt(mailbox.dkim_private_key) if mailbox.dkim_private_key else ""
    facts = MailboxDomain(mailbox.from_email, mailbox.smtp_host, mailbox.dkim_selector,
                          public_key_record(private) if private else "")
    if session.in_transaction():
        session.commit()
    checks = check_mailbox_domain(facts, settings.app.base_url, settings.dns)
    write_transaction(session)
    now = utcnow()
    mailbox.domain_checks = [c.as_dict() for c in checks]
    mailbox.domain_checked_at = now
    mailbox.next_domain_check_at = now + RECHECK
    session.flush()
    return checks


def _due(now: datetime) -> ColumnElement[bool]:
    return or_(Mailbox.next_domain_check_at.is_(None), Mailbox.next_domain_check_at <= now)


def claim_domain_check(session: Session, mailbox_id: int, now: datetime) -> bool:
    """Move the mailbox's next check a day ahead if it is still due; False when another scheduler did."""
    claimed = session.execute(update(Mailbox).where(Mailbox.id == mailbox_id, _due(now))
                              .values(next_domain_check_at=now + RECHECK))
    return claimed.rowcount == 1  # type: ignore[attr-defined]


def recheck_due(session_factory: sessionmaker[Session], settings: Settings, box: SecretBox,
                stopping: Callable[[], bool] = lambda: False) -> int:
    """Check every active mailbox whose daily check is due; returns how many were checked."""
    now = utcnow()
    with session_factory() as session:
        ids = list(session.scalars(select(Mailbox.id).where(Mailbox.is_active.is_(True), _due(now))))
    done = 0
    for mailbox_id in ids:
        if stopping():
            break
        with session_factory() as session:
            if not claim_domain_check(session, mailbox_id, now):
                session.rollback()
                continue
            session.commit()
            mailbox = session.get(Mailbox, mailbox_id)
            if mailbox is None:
                continue
            recheck_mailbox(session, mailbox, settings, box)
            session.commit()
            done += 1
    return done


def recheck_tick(ctx: JobContext) -> int:
    """The daily tick: re-check every mailbox whose check is due (claimed, so two schedulers never both check)."""
    return recheck_due(ctx.sessionmaker, ctx.settings, ctx.secret_box, ctx.stopping)


def domain_refusal(mailbox: Mailbox | None) -> str | None:
    """Why a campaign must not send from this mailbox without an override, or None (unchecked is not refused)."""
    if mailbox is None or not mailbox.domain_checks:
        return None
    bad = [c for c in mailbox.domain_checks if c.get("status") == "fail"]
    if not bad:
        return None
    domain = mailbox.from_email.rsplit("@", 1)[-1]
    return (f"the domain checks of {mailbox.name} fail ({', '.join(c['name'].upper() for c in bad)}: "
            f"{bad[0]['detail']}); add the records shown on the mailbox page, or enrol anyway with a reason"
            if domain else "the mailbox's domain checks fail")
