"""A small HTTP/1.1 client for the guarded fetcher: checked addresses, keep-alive, bounded reads.

Why not aiohttp: a crawl makes tens of thousands of small requests, and aiohttp's request path costs
about 200 µs of CPU each where this one (an asyncio Protocol around the llhttp parser of httptools)
costs about 50 (bench/http_client.py measures both in one run). It does only what the fetcher needs:
GET and HEAD, and a POST with a small body (an API's form or JSON), one request at a time per connection,
no cookies, no proxies.

Safety lives here too: a host name is resolved by us (by the [dns] nameservers when set, else the system)
and every address it resolves to must pass the SSRF guard before anything connects, and the connection
goes to that checked address. Response
headers and bodies are capped; a body over its cap ends the connection instead of being read.
"""
from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import httptools

from outreach.config import DnsSettings
from outreach.lib.urls import host_key

#: total size of a response's status line and headers
MAX_HEADER_BYTES = 64 * 1024
#: bodies of redirects are read (to keep the connection) up to this size, then the connection ends
REDIRECT_BODY_BYTES = 64 * 1024
#: idle connections kept in all, and how long one is kept
MAX_IDLE_CONNECTIONS = 256
IDLE_SECONDS = 30.0
DNS_TTL_SECONDS = 300.0
#: a host with several addresses gets this long per address before the next is tried (the last gets the rest)
ADDRESS_CONNECT_SECONDS = 2.5
_REDIRECTS = (301, 302, 303, 307, 308)
_HEADER_END = (b"\r\n\r\n", b"\n\n")
#: request headers the client writes itself (a caller's value is ignored)
_OWN_HEADERS = frozenset({"host", "user-agent", "accept-encoding", "content-length", "transfer-encoding",
                          "connection", "te", "upgrade"})


class FetchError(Exception):
    """A request failed; code is one of outreach.lib.http.ERROR_CODES."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code


class _StaleConnection(Exception):
    """A kept-alive connection was closed by the server before it answered: try a new one."""


@dataclass
class RawResponse:
    status: int
    headers: list[tuple[str, str]]   # names lower-cased, in the order received
    body: bytes                      # as on the wire (still compressed), at most the cap given
    truncated: bool                  # the body went on past the cap


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection; one request at a time, its parser kept from one response to the next."""

    def __init__(self, key: tuple[str, str, int], on_closed: Callable[[_Connection], None]) -> None:
        self.key = key
        self.on_closed = on_closed
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.requests = 0
        self.idle_since = 0.0
        self._parser = _new_parser(self)
        self._waiter: asyncio.Future[None] | None = None
        self._head = False
        self._cap = 0
        self._received = 0
        self._headers_done = False
        self._reusable = False
        self._status = 0
        self._headers: list[tuple[str, str]] = []
        self._body: list[bytes] = []
        self._size = 0
        self._truncated = False
        self._response: RawResponse | None = None

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self._waiter is None or self._waiter.done():
            self.close()  # bytes nobody asked for: this connection cannot be trusted again
            return
        self._received += len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(FetchError("reset", "the server switched protocols"))
            return
        except httptools.HttpParserError as exc:
            # on a kept connection, garbage before any status line is most likely a late leftover of the
            # previous answer (a body sent after a HEAD answer): try again on a new connection
            stale = self.requests > 1 and not self._headers_done
            self._fail(_StaleConnection() if stale else FetchError("reset", f"malformed response: {exc}"))
            return
        if self._waiter.done():
            return
        if not self._headers_done:
            if self._received > MAX_HEADER_BYTES:
                self._fail(FetchError("reset", "response headers too large"))
        elif self._head:
            # llhttp cannot be told that a HEAD answer has no body: the answer ends with its headers, and
            # the connection is kept only when nothing came after them
            reusable = data.endswith(_HEADER_END) and self._parser.should_keep_alive()
            self._parser = _new_parser(self)
            self._complete(reusable)
        elif self._truncated:
            self._complete(False)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.on_closed(self)
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if self._headers_done and not self._framed():
            self._complete(False)  # a body without framing ends where the connection does
        elif self._headers_done:
            waiter.set_exception(FetchError("reset", "the server closed the connection in the middle of the body"))
        elif self._received == 0 and self.requests > 1:
            waiter.set_exception(_StaleConnection())
        else:
            waiter.set_exception(FetchError("reset", "the server closed the connection"))

    def _framed(self) -> bool:
        """Whether the body's end is announced (Content-Length or chunked), so a close before it is a cut."""
        return any(name == "content-length" or (name == "transfer-encoding" and "chunked" in value.lower())
                   for name, value in self._headers)

    # httptools callbacks

    def on_message_begin(self) -> None:
        if self._response is not None:
            self._reusable = False  # a second answer to one request: the connection is out of step

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._response is None:
            self._headers.append((name.decode("latin-1").lower(), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if 100 <= status < 200:
            return  # an interim answer (103 Early Hints, 100 Continue): the real one follows
        self._status = status
        self._headers_done = True
        if status in _REDIRECTS:
            self._cap = min(self._cap, REDIRECT_BODY_BYTES)

    def on_body(self, chunk: bytes) -> None:
        if self._truncated or self._head or self._response is not None:
            return
        room = self._cap - self._size
        if len(chunk) > room:
            chunk, self._truncated = chunk[:room], True
        if chunk:
            self._body.append(chunk)
            self._size += len(chunk)

    def on_message_complete(self) -> None:
        if not self._headers_done:  # the end of an interim answer
            self._headers = []
            return
        if self._response is None:
            self._complete(self._parser.should_keep_alive())

    # the request

    def _complete(self, reusable: bool) -> None:
        self._reusable = reusable
        self._response = RawResponse(self._status, self._headers, b"".join(self._body), self._truncated)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _fail(self, error: BaseException) -> None:
        self._reusable = False
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(error)

    def _expire(self) -> None:
        self._fail(TimeoutError())

    async def send(self, request: bytes, *, head: bool, max_bytes: int, deadline: float) -> RawResponse:
        """Write one request and read its response, by the deadline (loop time) or TimeoutError."""
        assert self.transport is not None
        if self.closed:
            raise _StaleConnection()
        self.requests += 1
        self._head, self._cap = head, max_bytes
        self._received, self._headers_done, self._reusable = 0, False, False
        self._status, self._headers, self._body, self._size, self._truncated = 0, [], [], 0, False
        self._response = None
        loop = asyncio.get_running_loop()
        self._waiter = waiter = loop.create_future()
        timer = loop.call_at(deadline, self._expire)
        try:
            self.transport.write(request)
            await waiter
        except BaseException:
            self.close()
            raise
        finally:
            timer.cancel()
            self._waiter = None
        if not self.reusable:
            self.close()
        assert self._response is not None
        if self._response.status == 408 and self.requests > 1:
            self.close()  # the server timed the idle connection out as the request went: not an answer to it
            raise _StaleConnection()
        return self._response

    @property
    def reusable(self) -> bool:
        return self._reusable and not self._truncated and not self.closed

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.abort()
        self.closed = True


def _new_parser(conn: _Connection) -> httptools.HttpResponseParser:
    parser = httptools.HttpResponseParser(conn)
    # real servers send bare LFs and odd header bytes; a crawler reads what browsers read
    # (and some send a Content-Length beside chunked framing: the chunks win, as in browsers)
    parser.set_dangerous_leniencies(lenient_headers=True, lenient_optional_cr_before_lf=True,
                                    lenient_spaces_after_chunk_size=True, lenient_chunked_length=True)
    return parser


class ConnectionPool:
    """Connections by (scheme, host, port), kept alive between requests; one per Fetcher."""

    def __init__(self, *, allow_private: bool, guard: Callable[[str], bool], user_agent: str,
                 ssl_context: ssl.SSLContext | None = None, private_hosts: frozenset[str] = frozenset(),
                 dns: DnsSettings | None = None) -> None:
        self.allow_private = allow_private
        self.guard = guard
        #: "host:port" names (outreach.lib.urls.host_key) whose private addresses are allowed all the same
        self.private_hosts = private_hosts
        self.user_agent = user_agent
        self.ssl_context = ssl_context or _default_tls()
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        #: every idle connection, the longest idle first
        self._idle_order: dict[_Connection, None] = {}
        self._dns: dict[tuple[str, int], tuple[float, list[tuple[int, str]]]] = {}
        self._lookups: dict[tuple[str, int], asyncio.Future[list[tuple[int, str]]]] = {}
        self._resolver: Any = None
        if dns is not None and dns.nameservers:
            from outreach.lib.resolver import async_resolver

            self._resolver = async_resolver(dns)

    async def request(self, method: str, scheme: str, host: str, port: int, target: str,
                      headers: dict[str, str], max_bytes: int, deadline: float, body: bytes = b"") -> RawResponse:
        """One request, done by deadline (loop time); raises FetchError, or TimeoutError when time runs out."""
        key = (scheme, host, port)
        default_port = 443 if scheme == "https" else 80
        host_header = _host_header(host) + ("" if port == default_port else f":{port}")
        payload = _request_bytes(method, target, host_header, self.user_agent, headers, body)
        head = method == "HEAD"
        while True:
            conn = self._take_idle(key)
            fresh = conn is None
            if conn is None:
                async with asyncio.timeout_at(deadline):
                    conn = await self._connect(key)
            try:
                response = await conn.send(payload, head=head, max_bytes=max_bytes, deadline=deadline)
            except _StaleConnection:
                if fresh:
                    raise FetchError("reset", "the server closed the connection") from None
                continue  # nothing was answered on a kept-alive connection: another one
            self._give_back(conn)
            return response

    def _take_idle(self, key: tuple[str, str, int]) -> _Connection | None:
        idle = self._idle.get(key)
        now = time.monotonic()
        while idle:
            conn = idle[-1]
            self._forget(conn)
            if not conn.closed and now - conn.idle_since < IDLE_SECONDS:
                return conn
            conn.close()
        return None

    def _give_back(self, conn: _Connection) -> None:
        if not conn.reusable:
            conn.close()
            return
        if len(self._idle_order) >= MAX_IDLE_CONNECTIONS:
            oldest = next(iter(self._idle_order))
            self._forget(oldest)
            oldest.close()
        conn.idle_since = time.monotonic()
        self._idle.setdefault(conn.key, []).append(conn)
        self._idle_order[conn] = None

    def _forget(self, conn: _Connection) -> None:
        if conn in self._idle_order:
            del self._idle_order[conn]
            idle = self._idle[conn.key]
            idle.remove(conn)
            if not idle:
                del self._idle[conn.key]

    async def _connect(self, key: tuple[str, str, int]) -> _Connection:
        scheme, host, port = key
        loop = asyncio.get_running_loop()
        tls = self.ssl_context if scheme == "https" else None
        addresses = await self._addresses(host, port)
        last: FetchError | None = None
        for index, (family, address) in enumerate(addresses):
            conn = _Connection(key, self._forget)
            connecting = loop.create_connection(lambda conn=conn: conn, address, port, family=family, ssl=tls,
                                                server_hostname=host if tls else None)
            try:
                if index == len(addresses) - 1:
                    await connecting
                else:  # an address that drops packets must not use up the whole deadline: try the next
                    async with asyncio.timeout(ADDRESS_CONNECT_SECONDS):
                        await connecting
                return conn
            except ssl.SSLError as exc:
                raise FetchError("tls", str(exc)) from None
            except OSError as exc:  # TimeoutError included
                last = FetchError(connect_error_code(exc), str(exc))
        raise last or FetchError("dns", f"{host} has no address")

    async def addresses(self, host: str, port: int) -> list[tuple[int, str]]:
        """The host's (family, address) pairs as a connection would use them; FetchError when refused or unknown."""
        return await self._addresses(host, port)

    async def _addresses(self, host: str, port: int) -> list[tuple[int, str]]:
        """The host's addresses, each checked by the guard; cached, and looked up once at a time per host.

        An IP literal is used as it is: the fetcher's target check has already judged it.
        """
        bare = host.strip("[]")
        try:
            literal = ipaddress.ip_address(bare)
        except ValueError:
            literal = None
        if literal is not None:
            return [(socket.AF_INET6 if literal.version == 6 else socket.AF_INET, bare)]
        key = (host, port)
        cached = self._dns.get(key)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        lookup = self._lookups.get(key)
        if lookup is None:
            # its own task: a caller whose deadline passes does not cancel the others' lookup
            lookup = self._lookups[key] = asyncio.ensure_future(self._resolve(host, port))
            lookup.add_done_callback(lambda task: self._lookup_done(key, task))
        return await asyncio.shield(lookup)

    def _lookup_done(self, key: tuple[str, int], task: asyncio.Future[list[tuple[int, str]]]) -> None:
        self._lookups.pop(key, None)
        if not task.cancelled() and task.exception() is None:
            self._dns[key] = (time.monotonic() + DNS_TTL_SECONDS, task.result())

    async def _lookup(self, host: str, port: int) -> list[tuple[int, str]]:
        """(family, address) of the host as the configured resolver answers, or FetchError("dns")."""
        if self._resolver is not None:
            from outreach.lib.resolver import LookupFailed, host_addresses

            try:
                return await host_addresses(self._resolver, host)
            except LookupFailed as exc:
                raise FetchError("dns", str(exc)) from None
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise FetchError("dns", f"{host} does not resolve: {exc}") from None
        return [(family, str(sockaddr[0])) for family, _type, _proto, _canon, sockaddr in infos]

    async def _resolve(self, host: str, port: int) -> list[tuple[int, str]]:
        addresses: list[tuple[int, str]] = []
        allowed = self.allow_private or host_key(host, port) in self.private_hosts
        for family, address in await self._lookup(host, port):
            if not allowed and not self.guard(address.split("%", 1)[0]):
                raise FetchError("blocked_address", f"{host} resolves to {address}, which is not a public address")
            if (family, address) not in addresses:
                addresses.append((family, address))
        if not addresses:
            raise FetchError("dns", f"{host} has no address")
        return addresses

    def close(self) -> None:
        for lookup in list(self._lookups.values()):
            lookup.cancel()
        for conns in self._idle.values():
            for conn in conns:
                conn.close()
        self._idle.clear()
        self._idle_order.clear()


@lru_cache(maxsize=1)
def _default_tls() -> ssl.SSLContext:
    """Certificates checked against the system's trust store (loading it takes a few milliseconds)."""
    return ssl.create_default_context()


def connect_error_code(error: OSError | None) -> str:
    """The fetcher's error code for a failed connection."""
    if isinstance(error, ConnectionRefusedError):
        return "refused"
    if isinstance(error, ssl.SSLError):
        return "tls"
    if isinstance(error, TimeoutError):
        return "timeout"
    if isinstance(error, socket.gaierror):
        return "dns"
    return "refused" if error is not None and error.errno in (111, 113, 101) else "reset"


def _host_header(host: str) -> str:
    if ":" in host:
        return f"[{host}]"  # an IPv6 address
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        raise FetchError("bad_url", f"{host!r} is not a valid host name") from None


def _request_bytes(method: str, target: str, host: str, user_agent: str, headers: dict[str, str],
                   body: bytes = b"") -> bytes:
    accept = "*/*"
    extra = ""
    for name, value in headers.items():
        if any(ch in name or ch in value for ch in "\r\n\0"):
            raise ValueError(f"the request header {name!r} holds a line break or NUL")
        lowered = name.lower()
        if lowered == "accept":
            accept = value
        elif lowered not in _OWN_HEADERS:
            extra += f"{name}: {value}\r\n"
    if body or method == "POST":
        extra += f"Content-Length: {len(body)}\r\n"
    return (f"{method} {target} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {user_agent}\r\n"
            f"Accept: {accept}\r\nAccept-Encoding: gzip, deflate\r\n{extra}\r\n").encode("latin-1") + body
