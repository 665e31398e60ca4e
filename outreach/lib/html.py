"""HTML parsing with selectolax (Lexbor): links, robots meta, canonical, visible text, charset.

Parsing is bounded: a page with more elements than `ParseLimits.max_nodes`, nested deeper than
`max_depth`, or that takes longer than `timeout` to read raises TooComplex (reason "too_complex")
instead of holding a CPU. Lexbor's tree building costs time proportional to the nesting depth for
every block element, so 100,000 nested <div>s (1.1 MB) take tens of seconds: a page with many tags is
therefore measured before Lexbor sees it, and a smaller one (fast whatever its nesting) after.
Callers in async code run the parse off the event loop with `off_loop`, in a pool of `workers` threads
(Lexbor releases the GIL while it parses).
"""
from __future__ import annotations

import codecs
import operator
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from itertools import accumulate, islice, repeat
from typing import Any, TypeVar

from selectolax.lexbor import LexborHTMLParser

from outreach.lib.aio import in_threads
from outreach.lib.urls import resolve_href

#: schemes that are not pages: their links are never checked
#: content types parsed as HTML pages (no type at all counts: many servers omit it)
HTML_TYPES = ("text/html", "application/xhtml+xml", "")
SKIPPED_SCHEMES = ("mailto:", "tel:", "javascript:", "data:", "sms:", "callto:", "about:", "blob:")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_\-:.]+)""", re.IGNORECASE)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?([^"';\s]+)""", re.IGNORECASE)
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
#: the check reason of a page refused by ParseLimits
TOO_COMPLEX = "too_complex"
#: a page with at most this many "<" is parsed before its depth is measured: Lexbor builds even 10,000
#: nested blocks in well under 0.1 s; above it, nesting is estimated first (a few ms per 100 KB)
_PARSE_FIRST_TAGS = 10_000
#: a page with at most this many "<" is read on the event loop (off_loop): 1,000 links or nested blocks
#: take about 2 ms, where a hand-off to a thread costs about 0.1 ms of CPU (10 % of reading a 30 KB article)
INLINE_TAGS = 1_000
#: elements that never hold others (void), whose end is implied by the next sibling (p, li, td...), or
#: SVG shapes (written self-closed): none of them deepens the tree in the estimate
_FLAT = ("area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track",
         "wbr", "keygen", "frame", "basefont", "bgsound", "p", "li", "dt", "dd", "rt", "rp", "optgroup", "option",
         "colgroup", "caption", "thead", "tbody", "tfoot", "tr", "td", "th", "html", "head", "body", "path",
         "circle", "rect", "line", "polyline", "polygon", "ellipse", "use", "stop", "image")
_FLAT_DELTAS = {**{name: 0 for name in _FLAT}, **{"/" + name: 0 for name in _FLAT}}
_RAW_TEXT = re.compile(r"<!--.*?(?:-->|\Z)|<script\b.*?(?:</script\s*>|\Z)|<style\b.*?(?:</style\s*>|\Z)", re.S)
_TAG = re.compile(r"<(/?[a-z][a-z0-9-]*)")
_SIGN = (1, -1).__getitem__
T = TypeVar("T")


@dataclass(frozen=True)
class ParseLimits:
    """What reading one page may cost ([crawl] parse_workers, max_parse_nodes, max_parse_depth, parse_timeout)."""

    max_nodes: int = 200_000
    #: browsers' parsers stop nesting at 512 too
    max_depth: int = 512
    #: seconds of one parse (in its thread, from when it starts)
    timeout: float = 1.0
    #: threads of the process's parse pool
    workers: int = 2


class TooComplex(Exception):
    """The page is past a ParseLimits bound; the message says which."""

    reason = TOO_COMPLEX


def _estimate(html: str) -> tuple[int, int]:
    """(elements, deepest nesting) of a page as its tags say, without building the tree (C-speed passes only).

    Comments, scripts and styles are left out; a stray end tag never makes the depth negative.
    """
    low = html.lower()
    if "<!--" in low or "<script" in low or "<style" in low:
        low = _RAW_TEXT.sub("", low)
    tags = _TAG.findall(low)
    if not tags:
        return 0, 0
    deltas = map(_FLAT_DELTAS.get, tags, map(_SIGN, map(str.startswith, tags, repeat("/"))))
    sums = list(accumulate(deltas))
    lows = islice(accumulate(sums, min, initial=0), 1, None)  # depth = running sum minus its lowest point so far
    ends = sum(map(str.startswith, tags, repeat("/")))
    return len(tags) - ends, max(map(operator.sub, sums, lows))


def parse_tree(html: str, limits: ParseLimits | None = None) -> tuple[LexborHTMLParser, float]:
    """The page's tree and the time.monotonic() deadline of reading it, or TooComplex."""
    limits = limits or ParseLimits()
    deadline = time.monotonic() + limits.timeout
    tags = html.count("<")
    if tags > limits.max_nodes or tags > _PARSE_FIRST_TAGS:
        nodes, depth = _estimate(html)
        if nodes > limits.max_nodes:
            raise TooComplex(f"{nodes} elements (at most {limits.max_nodes})")
        if depth > limits.max_depth:
            raise TooComplex(f"nested {depth} deep (at most {limits.max_depth})")
    tree = LexborHTMLParser(html)
    if limits.max_depth < tags <= _PARSE_FIRST_TAGS and tree.css_first("*" + " > *" * limits.max_depth):
        raise TooComplex(f"nested more than {limits.max_depth} deep")
    check_time(deadline)
    return tree, deadline


def check_time(deadline: float) -> None:
    """TooComplex once the deadline of parse_tree has passed."""
    if time.monotonic() > deadline:
        raise TooComplex("took too long to read")


async def off_loop(limits: ParseLimits, markup: str | bytes, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """fn(*args, **kwargs), a bounded read of the page `markup`, in the parse pool: the event loop runs meanwhile.

    A page of at most INLINE_TAGS tags is read on the loop instead: whatever it holds, that is over in a
    couple of milliseconds, less than the hand-off to a thread is worth.
    """
    if markup.count(b"<" if isinstance(markup, bytes) else "<") <= INLINE_TAGS:
        return fn(*args, **kwargs)
    return await in_threads(limits.workers, partial(fn, *args, **kwargs))



@dataclass
class Link:
    href: str            # absolute, as a browser resolves it, without fragment (outreach.lib.urls.resolve_href)
    raw_href: str
    anchor: str          # visible text, or the img alt when the link holds only an image
    rel: list[str]       # lower-cased tokens
    tag: str             # "a" | "area"
    is_image: bool


@dataclass
class ParsedPage:
    url: str
    base_url: str
    title: str
    links: list[Link] = field(default_factory=list)
    meta_robots: list[str] = field(default_factory=list)
    canonical: str | None = None
    text: str = ""
    mailtos: list[str] = field(default_factory=list)


#: codecs a browser uses in place of the one a page names (the WHATWG Encoding standard's labels: a page that says
#: iso-8859-1 is read as windows-1252, Shift_JIS as Microsoft's superset of it, and so on)
_BROWSER_CODECS = {"iso8859-1": "cp1252", "ascii": "cp1252", "shift_jis": "cp932",
                   "euc_kr": "cp949", "gb2312": "gbk", "iso8859-9": "cp1254", "iso8859-11": "cp874", "tis-620": "cp874"}


def _usable_codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        codec = codecs.lookup(name.strip().lower()).name
    except LookupError:
        return None
    return _BROWSER_CODECS.get(codec, codec)


def decode_html(body: bytes, content_type: str | None = None) -> str:
    """Text of an HTML body: BOM, then the Content-Type charset, then <meta charset>, then UTF-8
    (windows-1252 when that fails). Never raises: undecodable bytes become U+FFFD."""
    return decode_page(body, content_type)[0]


def decode_page(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """(text, codec) of an HTML body, as decode_html reads it; the codec is what its links' queries are encoded in."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body[len(bom):].decode(codec, errors="replace"), codec
    codec = None
    if content_type:
        found = _HEADER_CHARSET.search(content_type)
        codec = _usable_codec(found.group(1)) if found else None
    if codec is None:
        found = _META_CHARSET.search(body[:4096])
        codec = _usable_codec(found.group(1).decode("ascii", "replace")) if found else None
        # a <meta> that says utf-16 was readable as ASCII, so it is wrong: WHATWG reads it as UTF-8
        if codec and codec.startswith("utf-16"):
            codec = "utf-8"
    if codec is not None:
        return body.decode(codec, errors="replace"), codec
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return body.decode("cp1252", errors="replace"), "cp1252"


def _clean(text: str) -> str:
    """Whitespace runs as one space, none at the ends (str.split and re's \\s agree on Unicode whitespace)."""
    return " ".join(text.split())


def _absolute(base: str, raw: str, encoding: str = "utf-8") -> str | None:
    """The absolute http(s) URL of raw against base as a browser resolves it, or None for other schemes."""
    if raw[:1] not in "/h" and raw[:11].lower().startswith(SKIPPED_SCHEMES):  # (the test is costly per link)
        return None
    return resolve_href(base, raw, encoding)


def _base_url(tree: LexborHTMLParser, url: str, encoding: str = "utf-8") -> str:
    """What the page's relative links resolve against: its first <base href> when that is http(s), else its URL."""
    base = tree.css_first("base[href]")
    if base is None:
        return url
    return resolve_href(url, base.attributes.get("href") or "", encoding) or url


def parse_page(html: str, url: str, *, with_text: bool = True, encoding: str = "utf-8",
               limits: ParseLimits | None = None) -> ParsedPage:
    """Links, robots meta, canonical, title, visible text and mailto addresses of one page, or TooComplex.

    with_text=False skips the visible text (the crawler does not need it and it costs a tree walk). encoding is the
    page's (decode_page says which): a browser encodes the non-ASCII characters of a link's query in it.
    """
    tree, deadline = parse_tree(html, limits)
    base_url = _base_url(tree, url, encoding)
    title_node = tree.css_first("title")
    page = ParsedPage(url=url, base_url=base_url, title=_clean(title_node.text()) if title_node else "")
    for count, node in enumerate(tree.css("a[href], area[href]")):
        if not count & 255:
            check_time(deadline)
        raw = node.attributes.get("href") or ""
        stripped = raw.strip()
        if stripped.lower().startswith("mailto:"):
            address = stripped[7:].split("?", 1)[0].strip()
            if address and address not in page.mailtos:
                page.mailtos.append(address)
            continue
        href = _absolute(base_url, raw, encoding)
        if href is None:
            continue
        tag = node.tag
        rel = [t.lower() for t in (node.attributes.get("rel") or "").split()]
        if tag == "area":
            anchor, is_image = _clean(node.attributes.get("alt") or ""), False
        else:
            anchor = _clean(node.text(deep=True))
            img = None
            child = node.child
            if child is not None and (child.next is not None or child.tag != "-text"):
                img = node.css_first("img")  # only when the link holds more than one text node
            is_image = img is not None
            if not anchor and img is not None:
                anchor = _clean(img.attributes.get("alt") or "")
        page.links.append(Link(href=href, raw_href=raw, anchor=anchor, rel=rel, tag=tag, is_image=is_image))
    for meta in tree.css("meta[name]"):
        name = (meta.attributes.get("name") or "").strip().lower()
        if name in ("robots", "googlebot"):
            for token in (meta.attributes.get("content") or "").split(","):
                token = token.strip().lower()
                if token and token not in page.meta_robots:
                    page.meta_robots.append(token)
    for link in tree.css("link[rel][href]"):
        if "canonical" in (link.attributes.get("rel") or "").lower().split():
            page.canonical = _absolute(base_url, link.attributes.get("href") or "", encoding)
            break
    if with_text:
        for node in tree.css("script, style, template"):
            node.decompose()
        root = tree.body or tree.root
        page.text = _clean(root.text(separator=" ")) if root is not None else ""
    check_time(deadline)
    return page




def page_links(html: str, url: str, encoding: str = "utf-8", *,
               limits: ParseLimits | None = None) -> tuple[list[tuple[str, str]], bool]:
    """(href, anchor) of every a[href]/area[href] in document order, and whether meta robots says nofollow.

    The crawler's cut of parse_page: the same hrefs and anchors, without title, rel, canonical, mailtos or
    text, and without the base/meta queries when the page has no <base or <meta tag at all. TooComplex past
    the limits.
    """
    tree, deadline = parse_tree(html, limits)
    lowered = html.lower()  # one pass; the tag-name tests below are 10x cheaper than case-blind regexes
    base_url = _base_url(tree, url, encoding) if "<base" in lowered else url
    links: list[tuple[str, str]] = []
    for count, node in enumerate(tree.css("a[href], area[href]")):
        if not count & 255:
            check_time(deadline)
        attrs = node.attributes
        raw = attrs.get("href") or ""
        href = _absolute(base_url, raw, encoding)
        if href is None:
            continue
        if node.tag == "area":
            anchor = _clean(attrs.get("alt") or "")
        else:
            anchor = _clean(node.text(deep=True))
            if not anchor:
                child = node.child
                if child is not None and (child.next is not None or child.tag != "-text"):
                    img = node.css_first("img")
                    if img is not None:
                        anchor = _clean(img.attributes.get("alt") or "")
        links.append((href, anchor))
    nofollow = False
    if "<meta" in lowered:  # not a test for "robots": the name may be spelled with character references
        for meta in tree.css("meta[name]"):
            name = (meta.attributes.get("name") or "").strip().lower()
            if name in ("robots", "googlebot"):
                tokens = (meta.attributes.get("content") or "").split(",")
                if any(token.strip().lower() == "nofollow" for token in tokens):
                    nofollow = True
    check_time(deadline)
    return links, nofollow
