"""URL helpers: the one place that says what a URL's site is and how URLs compare."""
from __future__ import annotations

import ipaddress
from functools import lru_cache
from urllib.parse import urlsplit

from publicsuffixlist import PublicSuffixList


class BadURL(ValueError):
    """Not an absolute http(s) URL."""


@lru_cache(maxsize=1)
def _psl() -> PublicSuffixList:
    return PublicSuffixList()


def hostname(url: str) -> str:
    """The lower-cased host of an absolute http(s) URL, or BadURL with a one-line reason."""
    text = url.strip()
    parts = urlsplit(text if "://" in text else "http://" + text)
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
        text = "https://" + text.lstrip("/")
    scheme = text.split("://", 1)[0].lower()
    if scheme not in ("http", "https"):
        raise BadURL(f"{url!r} is not an http(s) URL")
    hostname(text)
    return text


def registrable_domain(url_or_host: str) -> str:
    """example.co.uk for https://www.example.co.uk/x; an IP address stays itself."""
    host = hostname(url_or_host) if ("/" in url_or_host or ":" in url_or_host) else url_or_host.lower()
    host = host.rstrip(".")
    if _is_ip(host) or host == "localhost":
        return host
    return _psl().privatesuffix(host) or host


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True
