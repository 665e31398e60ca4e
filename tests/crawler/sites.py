"""A generated site on loopback, large enough to stop a crawl half-way: pages linking to each other and to dead URLs."""
from __future__ import annotations

import http.server
import threading
import time
from collections import Counter

from tests.lib.testweb import TestWeb, send


class GeneratedSite:
    """`pages` pages /p/0 ... answering after `delay` seconds, each with 6 links to other pages and a few dead
    ones (/dead/N, and /p/N past the end); counts the GETs of each path."""

    def __init__(self, host: str, pages: int, delay: float = 0.0) -> None:
        self.pages, self.delay = pages, delay
        self.gets: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.web = TestWeb(host)
        self.web.fallback = self._answer

    def url(self, path: str) -> str:
        return self.web.url(path)

    def links(self, i: int) -> list[str]:
        n = self.pages
        out = [f"/p/{(i + 1) % n}", f"/p/{(i * 7 + 3) % n}", f"/p/{(i * 13 + 5) % n}", f"/p/{(i * i) % n}",
               f"/p/{(i // 2) % n}", f"/p/{(n - i - 1) % n}"]
        if i % 5 == 0:
            out.append(f"/dead/{i % 17}")
        if i % 11 == 0:
            out.append(f"/p/{n + i % 7}")  # past the last page: a 404
        return out

    def _answer(self, req: http.server.BaseHTTPRequestHandler) -> None:
        path = req.path
        if req.command == "GET":
            with self._lock:
                self.gets[path] += 1
        if path.startswith("/p/") and path[3:].isdigit() and int(path[3:]) < self.pages:
            if self.delay:
                time.sleep(self.delay)
            i = int(path[3:])
            body = "".join(f'<a href="{u}">to {u}</a>' for u in self.links(i))
            send(req, 200, f"<html><body><h1>Page {i}</h1>{body}</body></html>")
            return
        if path == "/":
            send(req, 200, '<html><body><a href="/p/0">Start</a></body></html>')
            return
        send(req, 404, "<html><body>Not found</body></html>")

    def page_gets(self) -> Counter[str]:
        with self._lock:
            return Counter({p: n for p, n in self.gets.items() if p.startswith("/p/")})

    def close(self) -> None:
        self.web.close()
