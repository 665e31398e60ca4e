"""A small programmable web server on loopback, for fetcher and crawler tests (real sockets, no mocks)."""
from __future__ import annotations

import http.server
import socket
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable
from typing import Any

Handler = Callable[[http.server.BaseHTTPRequestHandler], None]


def send(req: http.server.BaseHTTPRequestHandler, status: int = 200, body: bytes | str = b"",
         headers: dict[str, str] | None = None, content_type: str = "text/html; charset=utf-8") -> None:
    data = body.encode() if isinstance(body, str) else body
    req.send_response(status)
    all_headers = {"Content-Type": content_type, "Content-Length": str(len(data))}
    all_headers.update(headers or {})
    for name, value in all_headers.items():
        req.send_header(name, value)
    req.end_headers()
    if req.command != "HEAD":
        req.wfile.write(data)


class TestWeb:
    """Routes path -> handler on a ThreadingHTTPServer bound to host; counts requests per path."""

    __test__ = False

    def __init__(self, host: str = "127.0.0.10") -> None:
        self.routes: dict[str, Handler] = {}
        #: answers paths with no route (None: a 404 page)
        self.fallback: Handler | None = None
        self.hits: Counter[str] = Counter()
        self.methods: list[tuple[str, str]] = []
        web = self

        class Req(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def handle_any(self) -> None:
                path = self.path
                web.hits[path] += 1
                web.methods.append((self.command, path))
                handler = web.routes.get(path) or web.routes.get(path.split("?", 1)[0]) or web.fallback
                if handler is None:
                    send(self, 404, "<html><body>Not found</body></html>")
                    return
                handler(self)

            do_GET = do_HEAD = do_POST = handle_any  # noqa: N815 (http.server names)

            def log_message(self, *args: Any) -> None:
                pass

        class Server(http.server.ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # clients hanging up on hostile handlers is the point of those tests

        self.server = Server((host, 0), Req)
        self.server.daemon_threads = True
        self.host, self.port = host, self.server.server_address[1]
        self.base = f"http://{host}:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return self.base + path

    def page(self, path: str, html: str | bytes, status: int = 200, **headers: str) -> None:
        content_type = headers.pop("content_type", "text/html; charset=utf-8")
        self.routes[path] = lambda req: send(req, status, html, {k.replace("_", "-"): v for k, v in headers.items()},
                                             content_type)

    def redirect(self, path: str, to: str, status: int = 301) -> None:
        self.routes[path] = lambda req: send(req, status, b"", {"Location": to})

    def handler(self, path: str) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            self.routes[path] = fn
            return fn
        return register

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def slow_drip(req: http.server.BaseHTTPRequestHandler, every: float = 15.0) -> None:
    """Headers at once, then one byte every `every` seconds, for ever."""
    req.send_response(200)
    req.send_header("Content-Type", "text/html")
    req.send_header("Content-Length", "100000")
    req.end_headers()
    try:
        while True:
            req.wfile.write(b"x")
            req.wfile.flush()
            time.sleep(every)
    except OSError:
        return


def endless(req: http.server.BaseHTTPRequestHandler) -> None:
    """A body that never ends (no Content-Length, connection close)."""
    req.send_response(200)
    req.send_header("Content-Type", "text/html")
    req.send_header("Connection", "close")
    req.end_headers()
    chunk = b"<p>" + b"a" * 65536 + b"</p>"
    try:
        while True:
            req.wfile.write(chunk)
    except OSError:
        return


def gzip_bomb(size: int = 200 * 1024 * 1024) -> bytes:
    """Gzip of `size` zero bytes (about 200 KB on the wire for 200 MB decompressed)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b"\0" * (1024 * 1024)
    parts = [compressor.compress(block) for _ in range(size // len(block))]
    parts.append(compressor.flush())
    return b"".join(parts)


class Canary:
    """A listener that records every connection made to it (the SSRF guard must never reach it)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.sock = socket.socket()
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop = True
        self.sock.close()


def closed_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on (connections to it are refused)."""
    sock = socket.socket()
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def hang(req: http.server.BaseHTTPRequestHandler, seconds: float = 15.0) -> None:
    """Accept the request, then say nothing for `seconds`."""
    time.sleep(seconds)
    try:
        send(req, 200, "late")
    except OSError:
        return


def deep_nesting(inner: str = "", depth: int = 100_000) -> str:
    """A hostile page: `depth` nested <div>s (1.1 MB for 100,000) around `inner`; tens of seconds of CPU
    for a parser that builds it all."""
    return f"<!doctype html><html><body>{'<div>' * depth}{inner}{'</div>' * depth}</body></html>"


def drip(body: str, pieces: int = 10, every: float = 0.1) -> Handler:
    """A handler that sends a healthy page in `pieces` chunks, `every` seconds apart: its fetch is in flight
    for pieces * every seconds and needs the event loop all that time (not one read at the end)."""
    data = body.encode()
    size = -(-len(data) // pieces)

    def handler(req: http.server.BaseHTTPRequestHandler) -> None:
        req.send_response(200)
        req.send_header("Content-Type", "text/html; charset=utf-8")
        req.send_header("Content-Length", str(len(data)))
        req.end_headers()
        try:
            for start in range(0, len(data), size):
                req.wfile.write(data[start:start + size])
                req.wfile.flush()
                time.sleep(every)
        except OSError:
            return

    return handler
