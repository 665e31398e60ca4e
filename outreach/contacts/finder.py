"""Find a site's contacts: the page and the home page, their contact, about, team and write-for-us pages, and
the pages those link to one level down (a team member's profile), within a page limit."""
from __future__ import annotations

import asyncio
import re
import time
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from outreach.contacts.extraction import FoundAddress, PageContacts, extract_contacts, site_domain_of
from outreach.contacts.guessing import Guess, guess_addresses
from outreach.contacts.names import candidates as name_candidates
from outreach.contacts.validation import AddressChecker, Verdict
from outreach.lib.html import HTML_TYPES, Link, TooComplex, off_loop, parse_page
from outreach.lib.http import Fetcher
from outreach.lib.urls import BadURL, normalize_url

#: a site's contact pages by the words of their links (text or last path segment), best first; in a few
#: languages, compared without accents or case
CONTACT_WORDS: tuple[tuple[str, ...], ...] = (
    ("contact", "contacts", "get in touch", "reach us", "kontakt", "kontaktieren", "contacto", "contactenos",
     "contacta", "contactanos", "contato", "contatti", "contattaci", "contatto", "contactez", "nous contacter"),
    ("write for us", "write for me", "contribute", "contributors", "contributor guidelines", "guest post",
     "guest posts", "guest posting", "guest blogging", "submissions", "submission guidelines", "submit",
     "gastbeitrag", "gastbeitrage", "gastautor", "escribe para nosotros", "colabora", "colaboradores",
     "scrivi per noi", "ecrivez pour nous", "team", "our team", "the team", "meet the team", "staff", "people",
     "masthead", "editorial", "editors", "editorial team", "authors", "our authors", "redaktion", "redaccion",
     "redazione", "redaction", "equipe", "equipo", "impressum", "imprint", "mentions legales", "legal notice",
     "aviso legal", "colofon"),
    ("about", "about us", "about me", "uber uns", "ueber uns", "a propos", "qui sommes nous", "quienes somos",
     "sobre nosotros", "sobre mi", "chi siamo", "who we are", "over ons", "om oss", "o nas"),
)
#: tried when no link of that rank was found (a contact page is often not linked from the page itself)
GUESSED_PATHS = {0: "/contact", 1: "/write-for-us", 2: "/about"}
#: pages fetched per site by default: the page, the home page, contact-like pages and one level below them
MAX_PAGES = 10
_EXTENSION = re.compile(r"\.(?:html?|php|aspx?|jsp|cfm)$")


def _words_of(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return " ".join(re.split(r"[^a-z0-9]+", folded)).strip()


def link_rank(href: str, anchor: str) -> int | None:
    """0 for a contact page, 1 for write-for-us/team/imprint pages, 2 for about pages; None for other links.

    The link's text must start with those words and be short ("All about widgets" is a post, not the
    about page), or the last segment of its path must ("/kontakt", "/about-us.html", "/team/").
    """
    anchor_words = _words_of(anchor)
    segment = [s for s in urlsplit(href).path.split("/") if s]
    path_words = _words_of(_EXTENSION.sub("", unquote(segment[-1]))) if segment else ""
    best: int | None = None
    for text, longest in ((anchor_words, 5), (path_words, 4)):
        if not text or len(text.split()) > longest:
            continue
        for rank, phrases in enumerate(CONTACT_WORDS):
            if any(text == p or text.startswith(p + " ") for p in phrases):
                best = rank if best is None else min(best, rank)
                break
    return best


def contact_links(links: Iterable[Link], page_url: str, limit: int) -> list[str]:
    """Same-host links that look like contact/about/team pages, best first."""
    return [url for url, _ in _ranked_links(links, page_url)][:limit]


def _ranked_links(links: Iterable[Link], page_url: str, *, below: bool = False) -> list[tuple[str, int]]:
    """(URL, rank) of the page's same-host links worth reading for contacts, best first.

    With below=True (links of a contact-like page) its sub-pages and links named like a person
    ("/team/jane-doe", "Jane Doe") count too, after the contact-like ones.
    """
    parts = urlsplit(page_url)
    host, base = parts.netloc.lower(), parts.path.rstrip("/") + "/"
    ranked: dict[str, int] = {}
    for link in links:
        target = urlsplit(link.href)
        if target.netloc.lower() != host or target.scheme not in ("http", "https"):
            continue
        href = link.href.split("#", 1)[0]
        rank = link_rank(href, link.anchor)
        # (a page at "/", e.g. "/?page_id=12", has no sub-pages: everything would be under it)
        is_under = base != "/" and target.path.startswith(base) and len(target.path) > len(base)
        if rank is None and below and (is_under or _is_a_persons_name(link.anchor)):
            rank = len(CONTACT_WORDS)
        if rank is not None and rank < ranked.get(href, rank + 1):
            ranked[href] = rank
    return sorted(ranked.items(), key=lambda kv: kv[1])


def _is_a_persons_name(anchor: str) -> bool:
    """Whether a link's whole text is a person's name (a team page's link to a profile)."""
    text = " ".join(anchor.split())
    return any(len(n.split()) >= 2 and s == 0 and e == len(text) for s, e, n in name_candidates(text))


@dataclass
class SiteContacts:
    url: str
    addresses: list[FoundAddress] = field(default_factory=list)
    guesses: list[Guess] = field(default_factory=list)
    pages_fetched: list[str] = field(default_factory=list)
    ignored: list[tuple[str, str]] = field(default_factory=list)
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    error: str | None = None
    #: the time limit ran out before every chosen page answered
    stopped_early: bool = False


async def find_site_contacts(fetcher: Fetcher, url: str, *, max_pages: int = MAX_PAGES,
                             allow_domains: Iterable[str] = (), html: str | None = None,
                             site_domain: str | None = None, time_limit: float | None = None) -> SiteContacts:
    """Addresses published on the page and its site; guesses for named people.

    Reads the page and the site's home page, then the contact, write-for-us, team, imprint and about
    pages they link to (or the usual paths when none is linked), then what those link to one level
    down (a profile on a team page): `max_pages` pages in all, robots.txt obeyed, each fetched through
    the one guarded fetcher. With `time_limit` (seconds) it stops starting fetches after that long and
    drops the unanswered ones (`stopped_early`). Addresses count when they are on the site's registrable
    domain (`site_domain`, else the URL's).
    """
    found = SiteContacts(url=url)
    allow = list(allow_domains)
    deadline = time.monotonic() + time_limit if time_limit is not None else None
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
    people: list[str] = []
    by_email: dict[str, FoundAddress] = {}
    ignored: dict[str, str] = {}
    seen = {start, normalize_url(final)}

    limits = fetcher.settings.parse

    def read_page(page_html: str, page_url: str) -> tuple[PageContacts, list[Link]]:
        """The page's contacts and links (in the parse pool: TooComplex past the limits)."""
        links = parse_page(page_html, page_url, with_text=False, limits=limits).links  # first: it checks the limits
        return extract_contacts(page_html, page_url, allow_domains=allow, site_domain=domain), links

    async def take(page_html: str, page_url: str) -> list[Link]:
        """Keep the page's addresses and people; returns its links (none from a page too complex to read)."""
        try:
            contacts, links = await off_loop(limits, page_html, read_page, page_html, page_url)
        except TooComplex:
            return []
        found.pages_fetched.append(page_url)
        for address in contacts.addresses:
            known = by_email.get(address.email)
            if known is None:
                by_email[address.email] = address
            elif address.name and not known.name:
                known.name = address.name
        people.extend(contacts.people)
        for email, why in contacts.ignored:
            ignored.setdefault(email, why)
        return links

    async def get(candidate: str) -> tuple[str, str] | None:
        if fetcher.settings.respect_robots and not await fetcher.allowed_by_robots(candidate):
            return None
        got = await fetcher.fetch(candidate)
        if not got.ok or got.content_type not in HTML_TYPES:
            return None
        return got.final_url, got.text()

    async def read(candidates: list[str]) -> list[tuple[str, list[Link]]]:
        """Fetch the candidates at once (within the page and time limits); the new pages' URLs and links."""
        room = max_pages - len(found.pages_fetched)
        wanted = [c for c in dict.fromkeys(candidates) if c not in seen][:max(0, room)]
        seen.update(wanted)
        if not wanted:
            return []
        tasks = [asyncio.ensure_future(get(c)) for c in wanted]
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        done, pending = await asyncio.wait(tasks, timeout=remaining)
        for task in pending:
            task.cancel()
        if pending:
            found.stopped_early = True
            await asyncio.gather(*pending, return_exceptions=True)
        pages = []
        for task in tasks:  # in the order asked, so the best pages are kept first
            item = task.result() if task in done and not task.cancelled() else None
            if item is not None and item[0] not in found.pages_fetched:
                seen.add(normalize_url(item[0]))
                pages.append((item[0], await take(item[1], item[0])))
        return pages

    links = await take(html, final)
    parts = urlsplit(final)
    origin = f"{parts.scheme}://{parts.netloc}"
    for _home, home_links in await read([normalize_url(origin + "/")]):
        links += home_links
    ranked = _ranked_links(links, final)
    level_one = [u for u, _ in ranked]
    for rank, path in GUESSED_PATHS.items():
        if rank not in {r for _, r in ranked}:
            level_one.append(normalize_url(origin + path))
    below: list[tuple[str, int]] = []
    for page_url, page_links in await read(level_one):
        below += _ranked_links(page_links, page_url, below=True)
    await read([u for u, _ in sorted(below, key=lambda kv: kv[1])])
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
                        max_pages: int = MAX_PAGES, allow_domains: Iterable[str] = (),
                        site_domain: str | None = None, time_limit: float | None = None) -> list[SiteContacts]:
    """Contacts of each URL's site, with every found address checked when a checker is given."""
    sites = await asyncio.gather(*(find_site_contacts(fetcher, u, max_pages=max_pages, allow_domains=allow_domains,
                                                      site_domain=site_domain, time_limit=time_limit)
                                   for u in urls))
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
