"""Find email addresses (and the names beside them) in a page's HTML.

Sources: mailto links, plain text, common obfuscations (``name [at] site [dot] com``, ``(at)``,
`` at `` / `` dot ``), Cloudflare's ``data-cfemail`` protection and schema.org JSON-LD. Not counted:
file names that look like addresses (``logo@2x.png``), placeholder domains and local parts
(``you@example.com``), no-reply addresses, and addresses on another registrable domain than the
page's unless that domain is explicitly allowed.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from urllib.parse import unquote

from selectolax.lexbor import LexborHTMLParser, LexborNode

from outreach.contacts.names import name_beside, name_in_link_text
from outreach.lib.addresses import BadAddress, normalise_address
from outreach.lib.urls import BadURL, hostname, registrable_domain


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: how an address was found, best first (a mailto link beats a text match of the same address)
SOURCES = ("mailto", "jsonld", "cfemail", "text", "obfuscated")

#: what follows the @ of "logo@2x.png": file extensions, never mail domains
FILE_EXTENSIONS = _words(
    "png jpg jpeg gif webp svg avif bmp ico tif tiff heic css js mjs json map xml pdf zip gz mp4 mov webm "
    "mp3 woff woff2 ttf eot php html htm")

#: domains people write in examples and templates
PLACEHOLDER_DOMAINS = _words(
    "example.com example.org example.net example.edu domain.com yourdomain.com yoursite.com "
    "yourcompany.com mysite.com mydomain.com email.com company.com website.com site.com "
    "yourwebsite.com sentry.io wixpress.com sentry-next.wixpress.com")
PLACEHOLDER_SUFFIXES = (".example", ".invalid", ".localhost", ".local")
#: local parts that stand for "your address here"
PLACEHOLDER_LOCALS = _words(
    "you your yourname your.name name firstname first.last firstname.lastname john.doe jane.doe "
    "johndoe janedoe username user email someone somebody me test")
NO_REPLY = re.compile(r"^(?:no-?reply|do-?not-?reply|donotreply|mailer-daemon|bounces?)([+.\-_].*)?$")

#: addresses a whole team reads: flagged, still useful
ROLE_LOCALS = _words(
    "info contact contacts hello hi editor editors editorial admin administrator support help sales "
    "marketing press media pr team office webmaster web enquiries enquiry inquiries inquiry mail "
    "submissions submit pitches pitch news newsroom partnerships partners partner advertising ads "
    "advertise sponsor sponsors billing accounts jobs careers hr privacy legal abuse postmaster "
    "hostmaster feedback general contribute contributors writers guestpost guestposts community "
    "events customerservice service office")

_LOCAL = r"[A-Za-z0-9](?:[A-Za-z0-9._%+\-']{0,62}[A-Za-z0-9_%+\-])?"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
PLAIN = re.compile(rf"(?<![A-Za-z0-9._%+\-])({_LOCAL})@((?:{_LABEL}\.)+[A-Za-z]{{2,24}})(?![A-Za-z0-9\-])")
# name [at] site [dot] com, name (at) site (dot) com, name {at} site {dot} co {dot} uk
_AT = r"\s*[\[\(\{<]\s*(?:at|@)\s*[\]\)\}>]\s*"
_DOT = r"\s*[\[\(\{<]\s*(?:dot|\.)\s*[\]\)\}>]\s*"
BRACKETED = re.compile(
    rf"(?<![A-Za-z0-9._%+\-])({_LOCAL}){_AT}({_LABEL}(?:(?:{_DOT}|\.){_LABEL})*(?:{_DOT}|\.)[A-Za-z]{{2,24}})\b",
    re.IGNORECASE)
# name at site dot com (bare words: only trusted on the page's own domain)
BARE = re.compile(
    rf"(?<![A-Za-z0-9._%+\-])({_LOCAL})\s+(?:at|AT)\s+({_LABEL}(?:\s+(?:dot|DOT)\s+{_LABEL})*\s+(?:dot|DOT)\s+"
    r"[A-Za-z]{2,24})\b")
_DOT_WORD = re.compile(rf"{_DOT}|\s+(?:dot|DOT)\s+", re.IGNORECASE)


@dataclass
class FoundAddress:
    email: str
    found_on: str
    source: str
    name: str = ""
    is_role: bool = False
    #: every source it was seen by on that page
    sources: list[str] = field(default_factory=list)


@dataclass
class PageContacts:
    """What one page says about reaching its people."""

    url: str
    addresses: list[FoundAddress]
    #: people named on the page (JSON-LD authors, meta author, rel=author): material for guessing
    people: list[str]
    #: addresses seen but not counted, with why (shown to the user as "ignored")
    ignored: list[tuple[str, str]]


def is_role_address(email: str) -> bool:
    local = email.split("@", 1)[0].lower()
    return local in ROLE_LOCALS or local.split("+", 1)[0] in ROLE_LOCALS


def decode_cfemail(hex_string: str) -> str | None:
    """Undo Cloudflare's email obfuscation: the first byte is the XOR key of the rest."""
    try:
        data = bytes.fromhex(hex_string.strip())
    except ValueError:
        return None
    if len(data) < 2:
        return None
    key = data[0]
    try:
        return bytes(b ^ key for b in data[1:]).decode("utf-8")
    except UnicodeDecodeError:
        return None


def rejection(email: str, site_domain: str | None, allow_domains: Iterable[str] = ()) -> str | None:
    """Why this address is not counted for a site, or None when it counts."""
    local, _, domain = email.rpartition("@")
    domain = domain.lower().rstrip(".")
    tld = domain.rsplit(".", 1)[-1]
    if tld in FILE_EXTENSIONS:
        return "a file name, not an address"
    if domain in PLACEHOLDER_DOMAINS or domain.endswith(PLACEHOLDER_SUFFIXES) or domain in (
            "example", "invalid", "localhost", "test.com"):
        return "placeholder domain"
    if local.lower() in PLACEHOLDER_LOCALS:
        return "placeholder address"
    if NO_REPLY.match(local.lower()):
        return "no-reply address"
    if site_domain:
        allowed = {registrable_domain(d) for d in allow_domains if d.strip()}
        their = registrable_domain(domain)
        if their != site_domain and their not in allowed:
            return f"on another domain than {site_domain}"
    return None


def site_domain_of(url: str) -> str | None:
    """The registrable domain addresses must be on; None for IP or localhost hosts (nothing to compare)."""
    try:
        host = hostname(url)
    except BadURL:
        return None
    domain = registrable_domain(host)
    if domain == host and (domain == "localhost" or domain.replace(".", "").isdigit() or ":" in domain):
        return None
    return domain


def extract_contacts(html: str, page_url: str, *, allow_domains: Iterable[str] = (),
                     site_domain: str | None = None) -> PageContacts:
    """Every address on the page that belongs to the site, with its best source and name.

    The site's domain is the page's registrable domain unless given; on an IP-address host there is
    no domain to compare with, so addresses on any domain count there.
    """
    domain = site_domain or site_domain_of(page_url)
    allow = list(allow_domains)
    tree = LexborHTMLParser(html)
    raw: list[tuple[str, str, str]] = []  # (address, source, name)
    people: list[str] = []

    for node in tree.css("a[href]"):
        href = node.attributes.get("href") or ""
        if href[:7].lower() == "mailto:":
            target = unquote(href[7:].split("?", 1)[0])
            for part in target.split(","):
                raw.append((part, "mailto", name_in_link_text(node.text(deep=True), part)))
        elif "/cdn-cgi/l/email-protection#" in href:
            decoded = decode_cfemail(href.rsplit("#", 1)[1])
            if decoded:
                raw.append((decoded, "cfemail", ""))
    for node in tree.css("[data-cfemail]"):
        decoded = decode_cfemail(node.attributes.get("data-cfemail") or "")
        if decoded:
            raw.append((decoded, "cfemail", ""))
    for node in tree.css('script[type="application/ld+json"]'):
        for email, name, person in _jsonld_entries(node.text(deep=True)):
            if email:
                raw.append((email, "jsonld", name))
            if person:
                people.append(person)
    for node in tree.css('meta[name="author"]'):
        content = (node.attributes.get("content") or "").strip()
        if content and "@" not in content:
            people.append(content)
    for node in tree.css('a[rel~="author"]'):
        text = node.text(deep=True).strip()
        if text:
            people.append(text)

    text = visible_text(tree)
    for match in PLAIN.finditer(text):
        raw.append((f"{match.group(1)}@{match.group(2)}", "text", ""))
    for match in BRACKETED.finditer(text):
        host = _DOT_WORD.sub(".", match.group(2))
        raw.append((f"{match.group(1)}@{host}", "obfuscated", ""))
    for match in BARE.finditer(text):
        host = _DOT_WORD.sub(".", match.group(2))
        address = f"{match.group(1)}@{host}"
        # "meet me at home dot com" is prose: the bare form counts only on the page's own domain
        if domain and registrable_domain(host.lower()) == domain:
            raw.append((address, "obfuscated", ""))

    found: dict[str, FoundAddress] = {}
    ignored: dict[str, str] = {}
    for address, source, name in raw:
        try:
            email = normalise_address(address.strip().strip(".,;:"))
        except BadAddress:
            continue
        why = rejection(email, domain, allow)
        if why:
            ignored.setdefault(email, why)
            continue
        entry = found.get(email)
        if entry is None:
            found[email] = FoundAddress(email=email, found_on=page_url, source=source, name=name,
                                        is_role=is_role_address(email), sources=[source])
            continue
        if source not in entry.sources:
            entry.sources.append(source)
        if SOURCES.index(source) < SOURCES.index(entry.source):
            entry.source = source
        if name and not entry.name:
            entry.name = name
    _names_beside(tree, [a for a in found.values() if not a.name])
    return PageContacts(url=page_url, addresses=list(found.values()), people=_unique(people),
                        ignored=sorted(ignored.items()))


def visible_text(tree: LexborHTMLParser) -> str:
    """The text a reader sees (no scripts, styles or templates), with blocks separated by spaces."""
    body = tree.body or tree.root
    if body is None:
        return ""
    clone = LexborHTMLParser(body.html or "")
    clone.strip_tags(["script", "style", "template", "svg", "head"])
    root = clone.body or clone.root
    return root.text(separator=" ", deep=True) if root is not None else ""


#: elements whose start and end separate one piece of text from the next (a cell, a paragraph, a line)
BLOCK_TAGS = _words("p li tr td th dd dt div address h1 h2 h3 h4 h5 h6 blockquote figcaption section article "
                    "aside header footer table tbody thead tfoot ul ol dl br hr caption form nav main")
#: the smallest blocks that hold one record: an address's name is looked for in its record
RECORD_TAGS = _words("p li tr dd dt address h1 h2 h3 h4 h5 h6 blockquote figcaption div section article aside "
                     "header footer body")
_HIDDEN_TAGS = frozenset(("script", "style", "template", "noscript", "svg", "head"))
#: how far either side of an address a name may be written
BEFORE_CHARS, AFTER_CHARS = 160, 80


def _names_beside(tree: LexborHTMLParser, addresses: list[FoundAddress]) -> None:
    """Give each address the person's name written beside it (in its list item, paragraph or table row)."""
    body = tree.body
    if not addresses or body is None:
        return
    wanted = {a.email: a for a in addresses}
    spots: dict[str, list[LexborNode]] = {}
    blocks = _Blocks()
    for node in body.traverse(include_text=True):
        if node.tag == "a":
            href = node.attributes.get("href") or ""
            if href[:7].lower() == "mailto:":
                for part in unquote(href[7:].split("?", 1)[0]).split(","):
                    email = part.strip().lower()
                    if email in wanted:
                        spots.setdefault(email, []).append(node)
        elif node.tag == "-text" and node.parent is not None and node.parent.tag not in _HIDDEN_TAGS:
            written = blocks.written[node.mem_id] = _written(_squeeze(node.text_content or ""))
            for email in written:
                if email in wanted:
                    spots.setdefault(email, []).append(node)
    for email, nodes in spots.items():
        address = wanted[email]
        for node in nodes[:3]:
            before, after = blocks.beside(node, email)
            name = name_beside(before, after, email, is_role=address.is_role)
            if name:
                address.name = name
                break


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def _written(text: str) -> dict[str, tuple[int, int]]:
    """Each address written in the text (plainly or obfuscated, lower case) and where."""
    if "@" not in text and not re.search(r"\bat\b", text, re.IGNORECASE):
        return {}
    spans: dict[str, tuple[int, int]] = {}
    for pattern in (PLAIN, BRACKETED, BARE):
        for match in pattern.finditer(text):
            host = _DOT_WORD.sub(".", match.group(2))
            spans.setdefault(f"{match.group(1)}@{host}".lower(), (match.start(), match.end()))
    return spans


class _Blocks:
    """The text of the blocks around addresses, each built once: a newline wherever a block starts or ends,
    and where each node's text lies in it."""

    def __init__(self) -> None:
        self.texts: dict[int, tuple[str, dict[int, tuple[int, int]]]] = {}
        #: the addresses written in each text node, and where (see _written)
        self.written: dict[int, dict[str, tuple[int, int]]] = {}

    def text(self, block: LexborNode) -> tuple[str, dict[int, tuple[int, int]]]:
        if block.mem_id not in self.texts:
            parts: list[str] = []
            where: dict[int, tuple[int, int]] = {}
            size = 0

            def walk(node: LexborNode) -> None:
                nonlocal size
                for child in node.iter(include_text=True):
                    tag = child.tag
                    if tag in _HIDDEN_TAGS:
                        continue
                    start = size
                    if tag == "-text":
                        piece = _squeeze(child.text_content or "")
                        parts.append(piece)
                        size += len(piece)
                    else:
                        if tag in BLOCK_TAGS:
                            parts.append("\n")
                            size += 1
                        walk(child)
                        if tag in BLOCK_TAGS:
                            parts.append("\n")
                            size += 1
                    where[child.mem_id] = (start, size)

            walk(block)
            self.texts[block.mem_id] = ("".join(parts), where)
        return self.texts[block.mem_id]

    def beside(self, spot: LexborNode, email: str) -> tuple[str, str]:
        """The text of the spot's record block before and after the address, other addresses cut off."""
        block = spot.parent
        while block is not None and block.tag not in RECORD_TAGS:
            block = block.parent
        if block is None:
            return "", ""
        if block.tag in ("td", "th") and block.parent is not None:
            block = block.parent
        span = self._span(block, spot, email)
        # a block holding nothing but the address (a cell, a <p>): its record is the one around it
        for _ in range(2):
            text = self.text(block)[0]
            outside = text[:span[0]] + text[span[1]:]
            parent = block.parent
            if parent is None or block.tag == "body" or re.search(r"[^\W\d_]{2}", outside) or len(text) > 400:
                break
            block = parent
            span = self._span(block, spot, email)
        text = self.text(block)[0]
        before, after = text[max(0, span[0] - 4 * BEFORE_CHARS):span[0]], text[span[1]:span[1] + 4 * AFTER_CHARS]
        previous = list(PLAIN.finditer(before))
        if previous:
            before = before[previous[-1].end():]
        following = PLAIN.search(after)
        if following:
            after = after[:following.start()]
        return before[-BEFORE_CHARS:], after[:AFTER_CHARS]

    def _span(self, block: LexborNode, spot: LexborNode, email: str) -> tuple[int, int]:
        where = self.text(block)[1]
        start, end = where.get(spot.mem_id, (0, 0))
        if spot.tag == "-text":  # the address inside a longer text: just the address
            inner = self.written.get(spot.mem_id, {}).get(email)
            if inner is not None:
                return start + inner[0], start + inner[1]
        return start, end


def _jsonld_entries(raw: str) -> Iterator[tuple[str, str, str]]:
    """(email, name, person name) triples from a JSON-LD block; bad JSON yields nothing."""
    try:
        data = json.loads(raw)
    except ValueError:
        return
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
            continue
        if not isinstance(item, dict):
            continue
        types = item.get("@type")
        types = types if isinstance(types, list) else [types]
        name = item.get("name") if isinstance(item.get("name"), str) else ""
        is_person = "Person" in types
        email = item.get("email")
        if isinstance(email, str) and email.strip():
            address = email.strip()
            if address.lower().startswith("mailto:"):
                address = address[7:]
            yield address, name if is_person else "", ""
        if is_person and name:
            yield "", "", name
        for key, value in item.items():
            if key in ("email", "name"):
                continue
            if isinstance(value, dict | list):
                stack.append(value)


def _unique(items: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        clean = " ".join(item.split())[:200]
        if clean and clean.lower() not in {s.lower() for s in seen}:
            seen[clean] = None
    return list(seen)

