"""URL helpers: the one place that says what a URL's site is and how URLs compare."""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from functools import lru_cache
from itertools import repeat
from operator import itemgetter
from urllib.parse import quote, urlsplit

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


_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_HEX = "0123456789ABCDEFabcdef"
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: characters left as they are in a path or query; anything else is percent-encoded
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?"


def _fix_percent(text: str, safe: str) -> str:
    """Upper-case %xx escapes, decode escaped unreserved characters, encode what must be encoded."""

    if "%" in text:
        out: list[str] = []
        i, n = 0, len(text)
        while i < n:
            ch = text[i]
            if ch == "%" and i + 2 < n and text[i + 1] in _HEX and text[i + 2] in _HEX:
                decoded = chr(int(text[i + 1:i + 3], 16))
                out.append(decoded if decoded in _UNRESERVED else "%" + text[i + 1:i + 3].upper())
                i += 3
            elif ch == "%":
                out.append("%25")
                i += 1
            else:
                out.append(ch)
                i += 1
        text = "".join(out)
    return quote(text, safe=safe)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4."""
    if "." not in path:
        return path
    segments = path.split("/")
    out: list[str] = []
    for seg in segments[1:] if path.startswith("/") else segments:
        if seg == ".":
            continue
        if seg == "..":
            if out:
                out.pop()
            continue
        out.append(seg)
    result = "/" + "/".join(out)
    if segments[-1] in (".", "..") and not result.endswith("/"):
        result += "/"
    return result


#: a URL already in normal form (lower-case host of plain labels, only characters that stay as they are,
#: no dot segments): most links on a crawled page, and cheaper to recognise than to take apart
_NORMAL = re.compile(r"(https?)://[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*"
                     r"(?::([1-9][0-9]{0,4}))?(/[A-Za-z0-9\-._~!$&'()*+,;=:@/]*)(?:\?[A-Za-z0-9\-._~!$&'()*+,;=:@/?]+)?")


def _is_normal(url: str) -> bool:
    match = _NORMAL.fullmatch(url)
    if match is None:
        return False
    scheme, port, path = match.groups()
    if port is not None and (int(port) > 65535 or int(port) == _DEFAULT_PORTS[scheme]):
        return False
    return "/." not in path


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
    """One spelling per URL: lower-case scheme and host, no default port, no dot segments,
    upper-case percent escapes (unreserved characters decoded), no fragment, "/" for an empty path.

    Non-http(s) URLs come back stripped but otherwise unchanged; a malformed host raises BadURL.
    """
    return url if _is_normal(url) else _normalize(url)


def _normalize(url: str) -> str:
    text = url.strip()
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.netloc:
        return text.split("#", 1)[0] if scheme in ("http", "https") else text
    try:
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        raise BadURL(f"{url!r} has a malformed host or port") from None
    host = host.rstrip(".")
    if host and not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise BadURL(f"{url!r} has an invalid international host name") from None
    host = host.lower()
    if ":" in host:
        host = f"[{host}]"
    netloc = host
    if parts.username is not None or parts.password is not None:
        userinfo = parts.netloc.rsplit("@", 1)[0]
        netloc = f"{userinfo}@{host}"
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    path = _remove_dot_segments(_fix_percent(parts.path, _PATH_SAFE)) or "/"
    query = _fix_percent(parts.query, _QUERY_SAFE) if parts.query else ""
    return f"{scheme}://{netloc}{path}" + (f"?{query}" if query else "")
