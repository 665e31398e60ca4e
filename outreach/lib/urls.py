"""URL helpers: the one place that says what a URL's site is and how URLs compare."""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from functools import lru_cache
from itertools import repeat
from operator import itemgetter
from urllib.parse import urlsplit

import ada_url
from publicsuffixlist import PublicSuffixList

_OTHER_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+-]*:(?!\d)")


class BadURL(ValueError):
    """Not an absolute http(s) URL."""


@lru_cache(maxsize=1)
def _psl() -> PublicSuffixList:
    return PublicSuffixList()


def hostname(url: str) -> str:
    """The lower-cased host of an absolute http(s) URL, or BadURL with a one-line reason."""
    text = url.strip()
    try:
        parts = urlsplit(text if "://" in text else "http://" + text)
    except ValueError:  # e.g. "Invalid IPv6 URL"
        raise BadURL(f"{url!r} is not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise BadURL(f"{url!r} is not an http(s) URL")
    try:
        host = parts.hostname
        _ = parts.port
    except ValueError:
        raise BadURL(f"{url!r} has a malformed host or port") from None
    if not host or " " in host or ("." not in host and host != "localhost" and not _is_ip(host)):
        raise BadURL(f"{url!r} has no valid host name")
    return host.rstrip(".").lower()


def ensure_http_url(url: str) -> str:
    """The URL with a scheme (https:// when none was given), or BadURL."""
    text = url.strip()
    if not text:
        raise BadURL("empty URL")
    if "://" not in text:
        if _OTHER_SCHEME.match(text):  # mailto:, tel:, javascript:, data: ... (not host:port)
            raise BadURL(f"{url!r} is not an http(s) URL")
        text = "https://" + text.lstrip("/")
    scheme = text.split("://", 1)[0].lower()
    if scheme not in ("http", "https"):
        raise BadURL(f"{url!r} is not an http(s) URL")
    hostname(text)
    return text


def host_key(host: str, port: int) -> str:
    """One spelling of a host and port ("127.0.0.1:8765", "[::1]:8765", "demo.test:80"), as
    [crawl] allow_private_hosts names them."""
    bare = host.strip("[]").rstrip(".").lower()
    return f"[{bare}]:{port}" if ":" in bare else f"{bare}:{port}"


def registrable_domain(url_or_host: str) -> str:
    """example.co.uk for https://www.example.co.uk/x; an IP address stays itself."""
    host = hostname(url_or_host) if ("/" in url_or_host or ":" in url_or_host) else url_or_host.lower()
    host = host.rstrip(".")
    if _is_ip(host) or host == "localhost":
        return host
    shallow = _shallow_suffixes()
    if shallow is not None:  # the common case without walking the list (imports ask 200,000 times)
        deep, wildcards = shallow
        parts = host.rsplit(".", 2)
        if len(parts) >= 2 and all(parts[-2:]):
            last_two = parts[-2] + "." + parts[-1]
            if last_two not in deep and parts[-1] not in wildcards:
                return last_two
    return _psl().privatesuffix(host) or host


def registrable_domains(hosts: Iterable[str]) -> dict[str, str]:
    """registrable_domain of each of many host names, by host (an import asks 200,000)."""
    names = list(hosts)
    shallow = _shallow_suffixes()
    lines = "\n" + "\n".join(names).lower() + "\n"
    # plain names (ASCII, two labels or more, no IP address, port, path or empty label), asked of them all at once
    if not names or shallow is None or not lines.isascii() or any(
            mark in lines for mark in ("/", ":", "]", "..", "\n.", ".\n", "\n\n")) \
            or min(map(str.count, names, repeat("."))) < 1 or any(map(str.isdigit, map(itemgetter(-1), names))):
        return {host: registrable_domain(host) for host in names}
    # the last two labels unless the public-suffix list has a deeper rule for them (registrable_domain's
    # common case, a list at a time)
    deep, wildcards = shallow
    tails = list(map(str.rsplit, map(str.lower, names), repeat("."), repeat(2)))
    last_two = [parts[-2] + "." + parts[-1] for parts in tails]
    out = dict(zip(names, last_two, strict=True))
    deeper = deep.intersection(last_two)
    wild = wildcards.intersection([parts[-1] for parts in tails])
    if deeper or wild:
        for name, two, parts in zip(names, last_two, tails, strict=True):
            if two in deeper or parts[-1] in wild:
                out[name] = registrable_domain(name)
    return out


@lru_cache(maxsize=1)
def _shallow_suffixes() -> tuple[frozenset[str], frozenset[str]] | None:
    """Every tail of two or more labels of a public-suffix rule, and the parents of wildcard rules.

    A host whose last two labels are not such a tail (and whose TLD has no wildcard rule) has only
    its TLD as public suffix, so its registrable domain is its last two labels. None when the
    list's rules cannot be read (then every host takes the full lookup).
    """
    rules = getattr(_psl(), "_publicsuffix", None)
    if not isinstance(rules, frozenset):
        return None
    deep: set[str] = set()
    wildcards: set[str] = set()
    for rule in rules:
        if not isinstance(rule, str):
            continue
        labels = rule.lstrip("!").split(".")
        if labels[0] == "*":
            wildcards.add(".".join(labels[1:]))
        for count in range(2, len(labels) + 1):
            deep.add(".".join(labels[-count:]))
    return frozenset(deep), frozenset(wildcards)


def _is_ip(host: str) -> bool:
    if not host or not (host[-1].isdigit() or ":" in host or host[-1] == "]"):
        return False  # an IPv4 address ends with a digit, an IPv6 one has colons: no parse needed
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


_DEFAULT_PORTS = {"http": 80, "https": 443}
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
#: a URL that the WHATWG URL parser serialises as itself (lower-case scheme and host of plain labels whose last one
#: starts with a letter, or a dotted-quad IPv4 address; no userinfo; a port that is not the default; a path and a query
#: of characters that are never percent-encoded): most links on a crawled page, and cheaper to recognise than to parse.
#: Dot segments, "xn--" labels and default ports are ruled out in _is_normal. tests/lib/test_urls_normalize.py checks
#: every match against ada-url, the WHATWG parser.
_NORMAL = re.compile(r"(https?)://(?:(?:[a-z0-9-]+\.)*[a-z][a-z0-9-]*|" + _OCTET + r"(?:\." + _OCTET + r"){3})"
                     r"(?::([1-9][0-9]{0,4}))?(/[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*)(?:\?[A-Za-z0-9\-._~!$&()*+,;=:@/?%]*)?")


def _is_normal(url: str) -> bool:
    match = _NORMAL.fullmatch(url)
    if match is None:
        return False
    scheme, port, path = match.groups()
    if port is not None and (int(port) > 65535 or int(port) == _DEFAULT_PORTS[scheme]):
        return False
    # "." and ".." segments (also spelled %2e) are removed by the parser; "xn--" labels are checked by it
    return "/." not in path and "%2e" not in path.lower() and "xn--" not in url[:match.start(3)]


def url_origin(url: str) -> str:
    """scheme://netloc of an absolute URL, lower-cased: what per-host state is keyed by."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return ""
    end = len(rest)
    for mark in "/?#":
        found = rest.find(mark, 0, end)
        if found != -1:
            end = found
    return f"{scheme.strip().lower()}://{rest[:end].lower()}"


@lru_cache(maxsize=65536)
def normalize_url(url: str) -> str:
    """The URL as a browser spells it (WHATWG URL parsing: lower-case scheme and host, IDNA, no default port, no dot
    segments, percent-encoding where the standard says, "/" for an empty path), without its fragment.

    Non-http(s) URLs come back stripped but otherwise unchanged; an http(s) URL that does not parse raises BadURL.
    """
    text = url.strip()
    head = text.partition("#")[0]
    if _is_normal(head):
        return head
    if not text[:8].lower().startswith(("http:", "https:")):
        return text
    try:
        return _serialised(ada_url.normalize_url(text))
    except ValueError:
        raise BadURL(f"{url!r} is not a valid URL (bad host or port)") from None


def resolve_href(base: str, href: str, encoding: str = "utf-8") -> str | None:
    """The absolute http(s) URL a browser makes of an href on a page whose base URL is base, without its fragment;
    None when that is not an http(s) URL or does not parse.

    WHATWG URL parsing with the document's encoding: a query's non-ASCII characters are percent-encoded in the page's
    charset (windows-1251, Shift_JIS ...), everything else in UTF-8. Backslashes, tabs and newlines, protocol-relative
    hrefs, dot segments and IDNA hosts read as in a browser.
    """
    if not encoding.startswith("utf") and not href.isascii():
        href = _encode_query(href, encoding)
    # most links: root-relative (which depend on the base's origin only) or absolute; both parse once per run
    if href[:1] == "/" and href[1:2] not in _NOT_ROOT_RELATIVE:
        origin = _origin(base)
        if origin is not None:
            return _parse_http(origin + href)
    elif href.startswith(("http://", "https://")):
        return _parse_http(href)
    try:
        joined = ada_url.join_url(base, href)
    except ValueError:
        return None
    return _serialised(joined) if joined.startswith(("http://", "https://")) else None


#: second characters that make an href starting with "/" other than root-relative ("//host", "/\\host", and the
#: same with a tab or newline between, which the parser removes)
_NOT_ROOT_RELATIVE = frozenset({"/", "\\", "\t", "\n", "\r"})


@lru_cache(maxsize=65536)
def _parse_http(url: str) -> str | None:
    """An absolute URL as a browser spells it, without its fragment; None when it is not http(s) or does not parse."""
    head = url.partition("#")[0]
    if _is_normal(head):
        return head
    try:
        href = ada_url.normalize_url(url)
    except ValueError:
        return None
    return _serialised(href) if href.startswith(("http://", "https://")) else None


@lru_cache(maxsize=1024)
def _origin(base: str) -> str | None:
    """scheme://[userinfo@]host[:port] of an http(s) base URL as a browser reads it: what a root-relative href
    keeps of it."""
    normal = _parse_http(base)
    if normal is None:
        return None
    # the serialisation of an http(s) URL always has a path, and "/" is escaped in the userinfo
    return normal[:normal.index("/", normal.index("://") + 3)]


def _serialised(href: str) -> str:
    # "#" is percent-encoded everywhere before the fragment, so the first one starts it
    return href.partition("#")[0]


def _encode_query(href: str, encoding: str) -> str:
    """href with the non-ASCII characters of its query percent-encoded in encoding (what the WHATWG URL parser does
    with a document's encoding; a character the encoding lacks becomes "&#N;", itself percent-encoded)."""
    query_at = href.find("?")
    fragment_at = href.find("#")
    if query_at == -1 or -1 < fragment_at < query_at:
        return href
    end = len(href) if fragment_at == -1 else fragment_at
    out: list[str] = []
    for ch in href[query_at + 1:end]:
        if ch.isascii():
            out.append(ch)
            continue
        try:
            data = ch.encode(encoding)
            if encoding == "cp932" and data[0] in (0xED, 0xEE):
                data = _ibm_extensions().get(ch, data)
        except UnicodeEncodeError:
            out.append(f"%26%23{ord(ch)}%3B")
            continue
        except LookupError:
            return href
        out.append("".join(f"%{b:02X}" if b >= 0x80 else chr(b) for b in data))
    return href[:query_at + 1] + "".join(out) + href[end:]


@lru_cache(maxsize=1)
def _ibm_extensions() -> dict[str, bytes]:
    """Shift_JIS bytes of the IBM extension kanji (lead bytes FA-FC), which the WHATWG encoder picks where Python's
    cp932 gives the NEC-selected copies of the same characters (lead bytes ED-EE)."""
    table: dict[str, bytes] = {}
    for lead in (0xFA, 0xFB, 0xFC):
        for trail in (*range(0x40, 0x7F), *range(0x80, 0xFD)):
            pair = bytes((lead, trail))
            try:
                table.setdefault(pair.decode("cp932"), pair)
            except UnicodeDecodeError:
                continue
    return table


#: query parameters that say where a visitor came from, not which page they asked for
TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "ttclid", "li_fat_id",
    "igshid", "mc_cid", "mc_eid", "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "ref", "ref_src", "ref_url", "srsltid",
})
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
#: characters whose escapes compare as the characters: the unreserved ones (RFC 3986: %7E is ~), and "|", which
#: Chromium escapes in a path where the WHATWG standard (and Firefox, Safari, ada) leave it
_SAME_ESCAPED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~|")


def _fold_escape(match: re.Match[str]) -> str:
    char = chr(int(match.group(1), 16))
    return char if char in _SAME_ESCAPED else "%" + match.group(1).upper()


def is_tracking_param(name: str) -> bool:
    """Whether a query parameter only says where a visitor came from (utm_*, ref, fbclid ...)."""
    lowered = name.lower()
    return lowered.startswith("utm_") or lowered in TRACKING_PARAMS


def split_tracking(query: str) -> tuple[list[str], list[str]]:
    """The name=value pairs of a query: (those that choose the page, the tracking ones), each in order."""
    kept: list[str] = []
    tracking: list[str] = []
    for pair in query.split("&"):
        if pair:
            (tracking if is_tracking_param(pair.partition("=")[0]) else kept).append(pair)
    return kept, tracking


@lru_cache(maxsize=65536)
def link_key(url: str) -> str:
    """How two URLs compare as link targets (see "How links are matched" in the README).

    Both are read as a browser reads them (normalize_url); then the scheme, a leading "www.", a trailing dot on the
    host, a trailing slash, the case of percent-escapes and escaped unreserved characters, an empty query, tracking
    parameters (utm_*, ref, fbclid ...) and the fragment do not count.
    """
    try:
        normal = normalize_url(url)
    except BadURL:
        return url.strip()
    scheme, sep, rest = normal.partition("://")
    if not sep or scheme not in _DEFAULT_PORTS:
        return normal
    end = len(rest)
    for mark in "/?":
        found = rest.find(mark)
        if found != -1 and found < end:
            end = found
    host, tail = rest[:end], rest[end:]
    path, _, query = tail.partition("?")
    if host.startswith("www."):
        host = host[4:]
    if host.endswith("."):
        host = host[:-1]
    elif ":" in host and not host.endswith("]"):
        name, _, port = host.rpartition(":")
        host = name.rstrip(".") + ":" + port
    path = _ESCAPE.sub(_fold_escape, path).rstrip("/") if "%" in path else path.rstrip("/")
    kept = split_tracking(query)[0] if query else []
    key = host + path
    if kept:
        key += "?" + _ESCAPE.sub(_fold_escape, "&".join(kept))
    return key
