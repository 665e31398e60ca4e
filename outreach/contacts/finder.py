"""Find a site's contacts: the page itself, then its contact, about, team and write-for-us pages."""
from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from outreach.contacts.extraction import FoundAddress, extract_contacts, site_domain_of
from outreach.contacts.guessing import Guess, guess_addresses
from outreach.contacts.validation import AddressChecker, Verdict
from outreach.lib.html import Link
from outreach.lib.http import Fetcher
from outreach.lib.urls import BadURL, normalize_url

#: links worth following for contacts, by path or anchor text
CONTACT_LINK = re.compile(
    r"contact|about|team|staff|people|masthead|impressum|imprint|write[-_\s]?for[-_\s]?us|contribut|"
    r"guest[-_\s]?post|submission|editorial|authors?\b|get[-_\s]in[-_\s]touch|reach[-_\s]us", re.IGNORECASE)
CONTACT_PATHS = ("/contact", "/about", "/write-for-us")


@dataclass
class SiteContacts:
    url: str
    addresses: list[FoundAddress] = field(default_factory=list)
    guesses: list[Guess] = field(default_factory=list)
    pages_fetched: list[str] = field(default_factory=list)
    ignored: list[tuple[str, str]] = field(default_factory=list)
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    error: str | None = None


def contact_links(links: Iterable[Link], page_url: str, limit: int) -> list[str]:
    """Same-host links that look like contact/about/team pages, best first."""
    host = urlsplit(page_url).netloc.lower()
    scored: dict[str, int] = {}
    for link in links:
        parts = urlsplit(link.href)
        if parts.netloc.lower() != host or link.href in scored:
            continue
        text = f"{parts.path} {link.anchor}"
        match = CONTACT_LINK.search(text)
        if match:
            scored[link.href] = 0 if "contact" in match.group(0).lower() else 1
    return [url for url, _ in sorted(scored.items(), key=lambda kv: kv[1])][:limit]


async def find_site_contacts(fetcher: Fetcher, url: str, *, max_pages: int = 6,
                             allow_domains: Iterable[str] = (), html: str | None = None,
                             site_domain: str | None = None) -> SiteContacts:
    """Addresses published on the page and the site's contact-like pages; guesses for named people.

    Addresses count when they are on the site's registrable domain (`site_domain`, else the URL's).
    """
    found = SiteContacts(url=url)
    allow = list(allow_domains)
    try:
        start = normalize_url(url)
    except BadURL:
        found.error = "bad_url"
        return found
    domain = site_domain or site_domain_of(start)
    if html is None:
        result = await fetcher.fetch(start)
        if not result.ok:
            found.error = result.error or f"http_{result.status}"
            return found
        html, final = result.text(), result.final_url
    else:
        final = start
    from outreach.lib.html import parse_page

    parsed = parse_page(html, final)
    found.pages_fetched.append(final)
    people: list[str] = []
    by_email: dict[str, FoundAddress] = {}
    ignored: dict[str, str] = {}

    def take(page_html: str, page_url: str) -> None:
        contacts = extract_contacts(page_html, page_url, allow_domains=allow, site_domain=domain)
        for address in contacts.addresses:
            known = by_email.get(address.email)
            if known is None:
                by_email[address.email] = address
            elif address.name and not known.name:
                known.name = address.name
        people.extend(contacts.people)
        for email, why in contacts.ignored:
            ignored.setdefault(email, why)

    take(html, final)
    origin = f"{urlsplit(final).scheme}://{urlsplit(final).netloc}"
    candidates = contact_links(parsed.links, final, max_pages)
    for path in CONTACT_PATHS:
        candidate = normalize_url(origin + path)
        if candidate not in candidates:
            candidates.append(candidate)
    candidates = [c for c in candidates if c != normalize_url(final)][: max(0, max_pages - 1)]

    async def get(candidate: str) -> tuple[str, str] | None:
        if fetcher.settings.respect_robots and not await fetcher.allowed_by_robots(candidate):
            return None
        got = await fetcher.fetch(candidate)
        if not got.ok or got.content_type not in ("text/html", "application/xhtml+xml", ""):
            return None
        return got.final_url, got.text()

    for item in await asyncio.gather(*(get(c) for c in candidates)):
        if item is not None and item[0] not in found.pages_fetched:
            found.pages_fetched.append(item[0])
            take(item[1], item[0])
    found.addresses = list(by_email.values())
    found.ignored = sorted(ignored.items())
    if domain:
        known = [(a.name, a.email) for a in found.addresses]
        personal = {a.name.lower() for a in found.addresses if a.name}
        for person in dict.fromkeys(people):
            if person.lower() in personal:
                continue
            found.guesses.extend(guess_addresses(person, domain, known, limit=1))
    return found


async def find_contacts(fetcher: Fetcher, urls: list[str], checker: AddressChecker | None, *,
                        max_pages: int = 6, allow_domains: Iterable[str] = (),
                        site_domain: str | None = None) -> list[SiteContacts]:
    """Contacts of each URL's site, with every found address checked when a checker is given."""
    sites = await asyncio.gather(*(find_site_contacts(fetcher, u, max_pages=max_pages, allow_domains=allow_domains,
                                                      site_domain=site_domain) for u in urls))
    if checker is not None:
        table = await check_addresses(checker, [a.email for s in sites for a in s.addresses])
        for site in sites:
            site.verdicts = {a.email: table[a.email] for a in site.addresses}
    return sites


async def check_addresses(checker: AddressChecker, emails: Iterable[str]) -> dict[str, Verdict]:
    """Verdicts by address; one thread per domain, so a domain's addresses share one (cached) DNS lookup."""
    by_domain: dict[str, list[str]] = {}
    for email in sorted(set(emails)):
        by_domain.setdefault(email.rsplit("@", 1)[-1], []).append(email)
    groups = await asyncio.gather(*(asyncio.to_thread(lambda es: [checker.check(e) for e in es], group)
                                    for group in by_domain.values()))
    return {email: verdict for group, verdicts in zip(by_domain.values(), groups, strict=True)
            for email, verdict in zip(group, verdicts, strict=True)}
