"""The one guarded fetcher for all outbound HTTP (crawler, verifier, search providers, images).

Every fetch is bounded (a total deadline, compressed and decompressed size caps, a redirect limit
with loop detection, http/https only) and guarded against SSRF: host names are resolved by the
connection pool (outreach.lib.http_client), which refuses loopback, private, link-local, multicast,
reserved and metadata addresses (also in IPv4-mapped, NAT64 and 6to4 forms) and then connects to the
checked address; an address written in the URL is judged here before the pool sees it. The same
checks run on every redirect hop. Per-host concurrency and delay (and robots.txt Crawl-delay)
are applied here too, so every caller is polite without doing anything.
"""
from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, TypeVar
from urllib.parse import quote, urljoin, urlsplit

from outreach.config import DnsSettings, Settings
from outreach.lib.aio import run_sync
from outreach.lib.html import ParseLimits
from outreach.lib.http_client import ConnectionPool, FetchError
from outreach.lib.urls import BadURL, host_key, normalize_url, url_origin

#: robots.txt bodies are read up to this size (RFC 9309 asks for at least 500 KiB)
ROBOTS_MAX_BYTES = 512 * 1024
ERROR_CODES = ("dns", "refused", "timeout", "redirect_loop", "too_many_redirects", "too_large",
               "blocked_address", "bad_scheme", "bad_url", "tls", "reset")
_REDIRECTS = (301, 302, 303, 307, 308)
_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"),
             ipaddress.ip_address("100.100.100.200")}
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_SIX_TO_FOUR = ipaddress.ip_network("2002::/16")
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT: not global
#: characters a request target keeps as they are (others, such as spaces and non-ASCII, are %-encoded)
_TARGET_SAFE = "/%:@!$&'()*+,;=-._~?[]"
T = TypeVar("T")


@dataclass(frozen=True)
class FetchSettings:
    user_agent: str
    timeout: float
    max_bytes: int
    max_redirects: int
    allow_private_addresses: bool
    concurrency: int = 32
    per_host_concurrency: int = 2
    per_host_delay: float = 1.0
    retries: int = 2
    respect_robots: bool = True
    #: "host:port" origins that may be on private addresses even when allow_private_addresses is off
    #: (the demo's sample web on loopback); any other private address stays refused
    allow_private_hosts: frozenset[str] = frozenset()
    #: the resolver of every host name looked up ([dns]; no nameservers: the system's)
    dns: DnsSettings = field(default_factory=DnsSettings)
    #: what reading a fetched page may cost, and the threads that read pages
    parse: ParseLimits = field(default_factory=ParseLimits)

    @classmethod
    def from_settings(cls, settings: Settings) -> FetchSettings:
        """From the [crawl] and [dns] settings."""
        crawl = settings.crawl
        return cls(
            user_agent=crawl.user_agent, timeout=crawl.timeout, max_bytes=crawl.max_page_bytes,
            max_redirects=crawl.max_redirects, allow_private_addresses=crawl.allow_private_addresses,
            concurrency=crawl.concurrency, per_host_concurrency=crawl.per_host_concurrency,
            per_host_delay=crawl.per_host_delay, retries=crawl.retries, respect_robots=crawl.respect_robots,
            allow_private_hosts=frozenset(crawl.allow_private_hosts), dns=settings.dns,
            parse=ParseLimits(max_nodes=crawl.max_parse_nodes, max_depth=crawl.max_parse_depth,
                              timeout=crawl.parse_timeout, workers=crawl.parse_workers),
        )


@dataclass
class FetchResult:
    url: str                 # as requested
    final_url: str           # after redirects
    status: int | None       # None when no HTTP answer
    headers: dict[str, str] = field(default_factory=dict)   # lower-cased names
    body: bytes = b""        # capped at max_bytes (decompressed)
    redirects: list[tuple[str, int]] = field(default_factory=list)  # (url, status) of each hop
    error: str | None = None  # a code from ERROR_CODES when it failed
    truncated: bool = False
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None and 200 <= self.status < 300

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    def text(self) -> str:
        """The body decoded: charset from header, BOM, <meta>; never raises."""
        from outreach.lib.html import decode_html

        return decode_html(self.body, self.headers.get("content-type"))


def is_public_address(address: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True for a globally routable unicast address (checking the IPv4 inside mapped/NAT64/6to4 forms)."""
    try:
        ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            return False
        embedded: ipaddress.IPv4Address | None = None
        if ip.ipv4_mapped is not None:
            embedded = ip.ipv4_mapped
        elif any(ip in net for net in _NAT64):
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        elif ip in _SIX_TO_FOUR:
            embedded = ip.sixtofour
        elif ip.teredo is not None:
            return False
        elif int(ip) >> 32 == 0:  # deprecated IPv4-compatible ::a.b.c.d
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public_address(embedded)
    if ip in _METADATA or (isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED):
        return False
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_loopback or ip.is_link_local
                                 or ip.is_private or ip.is_unspecified)


def literal_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a host written as an IP literal means, including decimal, hex and octal IPv4 forms."""
    bare = host.strip("[]").rstrip(".")
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        pass
    if bare and all(c in "0123456789abcdefxABCDEFX." for c in bare) and any(c.isdigit() for c in bare):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(bare))
        except (OSError, ValueError):
            return None
    return None


class _HostState:
    __slots__ = ("delay", "next_at", "robots", "robots_error", "robots_lock", "semaphore", "slot_lock")

    def __init__(self, limit: int) -> None:
        self.semaphore = asyncio.Semaphore(limit)
        self.slot_lock = asyncio.Lock()
        self.next_at = 0.0
        self.robots: Any = None          # a Protego parser, or True/False for allow/deny all
        self.robots_lock = asyncio.Lock()
        self.robots_error: str | None = None  # why robots.txt could not be fetched at all
        self.delay: float | None = None  # seconds between requests, once robots.txt is known


class Fetcher:
    """One per run; an async context manager holding the connection pool and per-host state."""

    def __init__(self, settings: FetchSettings, *, tls: ssl.SSLContext | None = None) -> None:
        self.settings = settings
        self._tls = tls
        self._pool: ConnectionPool | None = None
        self._global = asyncio.Semaphore(settings.concurrency)
        self._hosts: dict[str, _HostState] = {}

    async def __aenter__(self) -> Fetcher:
        self._pool = ConnectionPool(allow_private=self.settings.allow_private_addresses, guard=is_public_address,
                                    user_agent=self.settings.user_agent, ssl_context=self._tls,
                                    private_hosts=self.settings.allow_private_hosts, dns=self.settings.dns)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def _host(self, origin: str) -> _HostState:
        state = self._hosts.get(origin)
        if state is None:
            state = self._hosts[origin] = _HostState(self.settings.per_host_concurrency)
        return state

    def crawl_delay(self, origin: str) -> float:
        """Seconds between two requests to this origin: per_host_delay or robots.txt Crawl-delay."""
        state = self._hosts.get(origin)
        if state is not None and state.delay is not None:
            return state.delay
        delay = self.settings.per_host_delay
        robots = state.robots if state is not None else None
        if robots is not None and not isinstance(robots, bool) and self.settings.respect_robots:
            robots_delay = robots.crawl_delay(self.settings.user_agent)
            if robots_delay:
                delay = max(delay, min(float(robots_delay), 60.0))
        if state is not None and robots is not None:
            state.delay = delay  # final once robots.txt is known
        return delay

    async def _wait_turn(self, origin: str, state: _HostState) -> None:
        delay = self.crawl_delay(origin)
        if delay <= 0:
            return
        async with state.slot_lock:
            now = time.monotonic()
            wait = state.next_at - now
            state.next_at = max(now, state.next_at) + delay
        if wait > 0:
            await asyncio.sleep(wait)

    async def fetch(self, url: str, *, method: str = "GET", max_bytes: int | None = None,
                    headers: dict[str, str] | None = None, follow_redirects: bool = True,
                    timeout: float | None = None, polite: bool = True, body: bytes = b"") -> FetchResult:
        """Fetch url within the total deadline; never raises for network trouble (see FetchResult.error).

        `body` goes with a POST (an API's form or JSON; the caller sets its Content-Type); a redirect that turns
        the POST into a GET (301, 302, 303) drops it, a 307 or 308 sends it again to the new address.
        """
        assert self._pool is not None, "use Fetcher as an async context manager"
        result = FetchResult(url=url, final_url=url, status=None)
        started = time.monotonic()
        try:
            await self._follow(result, method.upper(), max_bytes or self.settings.max_bytes, headers or {},
                               follow_redirects, polite, timeout or self.settings.timeout, body)
        except TimeoutError:
            result.error = "timeout"
        result.elapsed = time.monotonic() - started
        return result

    async def _follow(self, result: FetchResult, method: str, max_bytes: int, headers: dict[str, str],
                      follow_redirects: bool, polite: bool, timeout: float, body: bytes = b"") -> None:
        """Request, then follow redirects; the deadline starts with the first request (not the queue)."""
        current = result.url
        seen: set[str] = set()
        deadline: float | None = None
        loop = asyncio.get_running_loop()
        while True:
            error = self._check_target(current)
            if error:
                result.error, result.final_url = error, current
                return
            seen.add(normalize_url(current))
            origin = url_origin(current)
            state = self._host(origin)
            async with state.semaphore:
                if polite:
                    await self._wait_turn(origin, state)
                async with self._global:
                    if deadline is None:
                        deadline = loop.time() + timeout
                    status, location = await self._one(result, current, method, max_bytes, headers, deadline, body)
            result.final_url = current
            if status is None or not follow_redirects or status not in _REDIRECTS or not location:
                return
            result.redirects.append((current, status))
            try:
                target = urljoin(current, location.strip())
            except ValueError:
                result.error = "bad_url"
                return
            if urlsplit(target).scheme.lower() not in ("http", "https"):
                result.error, result.final_url = "bad_scheme", target
                return
            if normalize_url(target) in seen:
                result.error, result.final_url = "redirect_loop", target
                return
            if len(result.redirects) > self.settings.max_redirects:
                result.error, result.final_url = "too_many_redirects", target
                return
            if status == 303 or (status in (301, 302) and method == "POST"):
                method, body = "GET", b""
                headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
            current = target

    async def refusal(self, url: str) -> str | None:
        """"blocked_address" when the SSRF guard refuses url (its literal address, or what its host resolves to),
        before anything is requested; None otherwise (a host that does not resolve is left to the fetch)."""
        assert self._pool is not None, "use Fetcher as an async context manager"
        problem = self._check_target(url)
        if problem is not None:
            return problem if problem == "blocked_address" else None
        parts = _request_parts(url)
        if parts is None:
            return None
        try:
            async with asyncio.timeout(self.settings.timeout):
                await self._pool.addresses(parts[1], parts[2])
        except FetchError as exc:
            return exc.code if exc.code == "blocked_address" else None
        except TimeoutError:
            return None
        return None

    def _check_target(self, url: str) -> str | None:
        return _target_problem(url, self.settings.allow_private_addresses, self.settings.allow_private_hosts)

    async def _one(self, result: FetchResult, url: str, method: str, max_bytes: int, headers: dict[str, str],
                   deadline: float, body: bytes = b"") -> tuple[int | None, str | None]:
        """One request; fills result (status, headers, body, error) and returns (status, Location)."""
        assert self._pool is not None
        where = _request_parts(url)
        if where is None:
            result.error = "bad_url"
            return None, None
        scheme, host, port, target = where
        try:
            raw = await self._pool.request(method, scheme, host, port, target, headers, max_bytes + 1, deadline,
                                           body)
        except FetchError as exc:
            result.error = exc.code
            return None, None
        result.status = raw.status
        merged: dict[str, str] = {}
        for key, value in raw.headers:
            merged[key] = f"{merged[key]}, {value}" if key in merged else value
        result.headers = merged
        location = _first(raw.headers, "location")
        if raw.status in _REDIRECTS and location:
            return raw.status, location
        if method != "HEAD":
            _decode_body(result, raw.body, raw.truncated, max_bytes)
        return raw.status, None

    async def robots_for(self, url: str) -> Any:
        """The parsed robots.txt of url's origin: a Protego parser, True (allow all) or False (deny all)."""
        origin = url_origin(url)
        state = self._host(origin)
        if state.robots is not None:
            return state.robots
        async with state.robots_lock:
            if state.robots is None:
                state.robots = await self._load_robots(origin, state)
        return state.robots

    def robots_error(self, url: str) -> str | None:
        """The error code met fetching url's robots.txt (dns, refused, timeout...), if it failed."""
        state = self._hosts.get(url_origin(url))
        return state.robots_error if state else None

    async def _load_robots(self, origin: str, state: _HostState) -> Any:
        from protego import Protego

        got = await self.fetch(origin + "/robots.txt", max_bytes=ROBOTS_MAX_BYTES, polite=False)
        if got.status is None or (got.error and got.error not in ("redirect_loop", "too_many_redirects")):
            state.robots_error = got.error or "reset"
            return False  # network error: assume everything is disallowed (RFC 9309 2.3.1.4)
        if got.error or 400 <= got.status < 500:
            return True   # unavailable: everything allowed (RFC 9309 2.3.1.3)
        if got.status >= 500:
            return False  # unreachable: everything disallowed
        text = got.body.decode("utf-8", errors="replace")
        try:
            return Protego.parse(text)
        except Exception:
            return True

    async def allowed_by_robots(self, url: str, user_agent: str | None = None) -> bool:
        """RFC 9309: whether robots.txt lets user_agent fetch url (cached per host)."""
        robots = await self.robots_for(url)
        if isinstance(robots, bool):
            return robots
        return bool(robots.can_fetch(url, user_agent or self.settings.user_agent))


class _Deflate:
    """"deflate" is zlib-wrapped by the standard but raw in some servers; accept both."""

    def __init__(self) -> None:
        self._obj: Any = None
        self.unconsumed_tail = b""

    def decompress(self, data: bytes, max_length: int) -> bytes:
        if self._obj is None:
            raw = not (len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0)
            self._obj = zlib.decompressobj(-zlib.MAX_WBITS if raw else zlib.MAX_WBITS)
        out = self._obj.decompress(data, max_length)
        self.unconsumed_tail = self._obj.unconsumed_tail
        return out


@lru_cache(maxsize=65536)
def _request_parts(url: str) -> tuple[str, str, int, str] | None:
    """(scheme, host, port, request target) of an http(s) URL, or None when its host or port is malformed."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        host = parts.hostname
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        return None
    if not host:
        return None
    target = quote(parts.path or "/", safe=_TARGET_SAFE)
    if parts.query:
        target += "?" + quote(parts.query, safe=_TARGET_SAFE)
    return scheme, host, port, target


def _first(headers: list[tuple[str, str]], name: str) -> str | None:
    return next((value for key, value in headers if key == name), None)


def _decode_body(result: FetchResult, wire: bytes, cut: bool, max_bytes: int) -> None:
    """result.body from the body as sent: decompressed (gzip, deflate) and capped at max_bytes either way."""
    encoding = result.headers.get("content-encoding", "").strip().lower()
    decoder: Any = None
    if encoding in ("gzip", "x-gzip"):
        decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif encoding == "deflate":
        decoder = _Deflate()
    if decoder is None:
        body = wire
    else:
        chunks: list[bytes] = []
        size = 0
        try:
            data = decoder.decompress(wire, max_bytes + 1)
            while data:
                chunks.append(data)
                size += len(data)
                if size > max_bytes or not decoder.unconsumed_tail:
                    break
                data = decoder.decompress(decoder.unconsumed_tail, max_bytes - size + 1)
        except zlib.error:
            pass  # keep what decoded; a corrupt tail does not fail the page
        body = b"".join(chunks)
    if cut or len(body) > max_bytes:
        body, result.truncated = body[:max_bytes], True
    result.body = body


def _target_problem(url: str, allow_private: bool, private_hosts: frozenset[str] = frozenset()) -> str | None:
    """Why url must not be requested (scheme, malformed host, guarded literal address), or None."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "bad_scheme"
    netloc = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    return _origin_problem(scheme.lower(), netloc, allow_private, private_hosts)


@lru_cache(maxsize=4096)
def _origin_problem(scheme: str, netloc: str, allow_private: bool, private_hosts: frozenset[str]) -> str | None:
    if scheme not in ("http", "https"):
        return "bad_scheme"
    parts = urlsplit(f"{scheme}://{netloc}/")
    try:
        host = parts.hostname
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        return "bad_url"
    if not host:
        return "bad_url"
    literal = literal_address(host)
    if literal is not None:
        if (not allow_private and not is_public_address(literal)
                and not (private_hosts and host_key(host, port) in private_hosts)):
            return "blocked_address"
        if isinstance(literal, ipaddress.IPv4Address) and str(literal) != host.rstrip("."):
            return "bad_url"  # a decimal/hex/octal spelling of a public address
    return None


def target_refusal(url: str, settings: FetchSettings) -> str | None:
    """Why the guard would refuse url before any lookup (scheme, malformed host, a private address written in
    it), as an ERROR_CODES code; None when only resolving its host can tell (checked again on every fetch)."""
    return _target_problem(url, settings.allow_private_addresses, settings.allow_private_hosts)


def blocked_message(url: str) -> str:
    """Why the guard refused url, naming the settings that would allow it (one line)."""
    return (f"{url} is on a private, loopback or link-local address, which the crawler refuses "
            "(set [crawl] allow_private_addresses = true, or list its host:port in [crawl] allow_private_hosts)")


def fetch_one(url: str, settings: FetchSettings, **kwargs: Any) -> FetchResult:
    """Fetch one URL from synchronous code (asyncio.run around a Fetcher)."""

    async def run() -> FetchResult:
        async with Fetcher(settings) as fetcher:
            return await fetcher.fetch(url, **kwargs)

    return run_sync(run())


def check_url(url: str) -> str:
    """The normalised http(s) URL, or BadURL with a one-line reason (for user-given seeds and targets)."""
    from outreach.lib.urls import ensure_http_url

    return normalize_url(ensure_http_url(url))


__all__ = ["ERROR_CODES", "BadURL", "FetchResult", "FetchSettings", "Fetcher", "blocked_message", "check_url",
           "fetch_one", "is_public_address", "literal_address", "target_refusal"]
