"""Finding a published article whose URL we do not know yet: sitemaps and feeds, then the pages themselves."""
from __future__ import annotations

import asyncio
import contextlib
import html
import re
from urllib.parse import urljoin, urlsplit

from outreach.backlinks.evidence import CheckResult
from outreach.backlinks.verify import Renderer, target_matcher, verify_page
from outreach.lib.html import ParseLimits, TooComplex, decode_page, off_loop, parse_page, parse_tree
from outreach.lib.http import Fetcher, FetchResult
from outreach.lib.urls import BadURL, registrable_domain

#: where sitemaps and feeds usually are, besides robots.txt's Sitemap lines and the home page's <link>s
SITEMAP_PATHS = ("/sitemap.xml", "/sitemap_index.xml", "/wp-sitemap.xml")
FEED_PATHS = ("/feed", "/rss.xml", "/atom.xml", "/feed.xml", "/index.xml")
#: pages looked at per search (newest first), and nested sitemaps followed
MAX_PAGES = 40
MAX_SITEMAPS = 6
FEED_MAX_BYTES = 2_000_000
_LOC = re.compile(r"<loc>\s*(.*?)\s*</loc>", re.IGNORECASE | re.DOTALL)
_URL_ENTRY = re.compile(r"<(url|sitemap)\b[^>]*>(.*?)</\1\s*>", re.IGNORECASE | re.DOTALL)
_LASTMOD = re.compile(r"<lastmod>\s*(.*?)\s*</lastmod>", re.IGNORECASE | re.DOTALL)
_RSS_LINK = re.compile(r"<item\b.*?<link>\s*(?:<!\[CDATA\[)?\s*(.*?)\s*(?:\]\]>)?\s*</link>", re.IGNORECASE | re.DOTALL)
_ATOM_ENTRY = re.compile(r"<entry\b(.*?)</entry\s*>", re.IGNORECASE | re.DOTALL)
_ATOM_LINK = re.compile(r"<link\b([^>]*)/?>", re.IGNORECASE)
_ATTR = re.compile(r"""(\w+)\s*=\s*["']([^"']*)["']""")


async def candidate_pages(fetcher: Fetcher, site_url: str) -> list[str]:
    """Article URLs on the site, newest first: RSS/Atom feeds, then sitemaps (by lastmod)."""
    origin = f"{urlsplit(site_url).scheme}://{urlsplit(site_url).netloc}"
    domain = registrable_domain(site_url)
    feeds, sitemaps = [origin + p for p in FEED_PATHS], [origin + p for p in SITEMAP_PATHS]
    robots = await fetcher.robots_for(origin + "/")
    if not isinstance(robots, bool):
        sitemaps = [*list(robots.sitemaps), *sitemaps]
    home = await fetcher.fetch(origin + "/")
    if home.ok:
        with contextlib.suppress(TooComplex):  # too complex: the usual feed paths are still tried
            feeds[:0] = await off_loop(fetcher.settings.parse, home.body, _feeds_of, home, fetcher.settings.parse)
    found: list[str] = []
    for url in _unique(feeds):
        got = await fetcher.fetch(url, max_bytes=FEED_MAX_BYTES)
        if got.ok:
            found.extend(_feed_links(got.body.decode("utf-8", "replace"), got.final_url))
    dated: list[tuple[str, str]] = []
    queue, seen = _unique(sitemaps), set()
    while queue and len(seen) < MAX_SITEMAPS:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        got = await fetcher.fetch(url, max_bytes=FEED_MAX_BYTES)
        if not got.ok:
            continue
        for kind, loc, lastmod in _sitemap_entries(got.body.decode("utf-8", "replace")):
            (queue.append(loc) if kind == "sitemap" else dated.append((lastmod, loc)))
    dated.sort(key=lambda pair: pair[0], reverse=True)
    found.extend(loc for _, loc in dated)
    same_site = []
    for url in _unique(found):
        try:
            if registrable_domain(url) == domain:
                same_site.append(url)
        except BadURL:
            continue
    return same_site


def _feeds_of(home: FetchResult, limits: ParseLimits) -> list[str]:
    """The RSS and Atom feeds the home page names in its <link rel="alternate">s, first first."""
    tree, _ = parse_tree(home.text(), limits)
    feeds = []
    for node in tree.css("link[rel][href]"):
        kind = (node.attributes.get("type") or "").lower()
        if "alternate" in (node.attributes.get("rel") or "").lower() and ("rss" in kind or "atom" in kind):
            feeds.insert(0, urljoin(home.final_url, node.attributes.get("href") or ""))
    return feeds


def _unique(urls: list[str]) -> list[str]:
    return list(dict.fromkeys(u for u in urls if u))


def _feed_links(text: str, base: str) -> list[str]:
    links = [html.unescape(m) for m in _RSS_LINK.findall(text)]
    for entry in _ATOM_ENTRY.findall(text):
        for attrs in _ATOM_LINK.findall(entry):
            values = dict(_ATTR.findall(attrs))
            if values.get("href") and values.get("rel", "alternate") == "alternate":
                links.append(html.unescape(values["href"]))
                break
    return [urljoin(base, link.strip()) for link in links if link.strip()]


def _sitemap_entries(text: str) -> list[tuple[str, str, str]]:
    entries = []
    for kind, body in _URL_ENTRY.findall(text):
        loc = _LOC.search(body)
        if loc:
            lastmod = _LASTMOD.search(body)
            entries.append((kind.lower(), html.unescape(loc.group(1).strip()),
                            lastmod.group(1).strip() if lastmod else ""))
    return entries


async def find_page(fetcher: Fetcher, site_url: str, target: str, *, match_mode: str = "exact",
                    anchor: str | None = None, renderer: Renderer | None = None,
                    max_pages: int = MAX_PAGES) -> CheckResult | None:
    """The check of the first candidate page that links to the target, or None when no page does."""
    candidates = (await candidate_pages(fetcher, site_url))[:max_pages]
    matches = target_matcher(target, match_mode)
    allowed = [url for url in candidates if not fetcher.settings.respect_robots
               or await fetcher.allowed_by_robots(url)]

    limits = fetcher.settings.parse

    def links_to_target(got: FetchResult) -> bool:
        text, encoding = decode_page(got.body, got.headers.get("content-type"))
        return any(matches(link.href) for link in parse_page(text, got.final_url, with_text=False, encoding=encoding,
                                                             limits=limits).links)

    async def look(url: str) -> str | None:
        got = await fetcher.fetch(url)
        if not got.ok:
            return None
        try:
            return url if await off_loop(limits, got.body, links_to_target, got) else None
        except TooComplex:
            return None

    hits = await asyncio.gather(*(look(url) for url in allowed))
    for url in hits:
        if url:
            return await verify_page(fetcher, url, target, match_mode=match_mode, anchor=anchor, renderer=renderer)
    return None
