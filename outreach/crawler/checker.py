"""Is this link really broken? HEAD then GET, retries with backoff, 429, blocks, soft 404s.

A link is called broken only for reasons a visitor would see too: not_found (404/410), server_error
(persistent 5xx or a reset connection), client_error (another 4xx after a GET), dns, refused,
timeout, tls, redirect_loop, too_many_redirects, soft_404. Rate limiting (429), bot walls
(Cloudflare challenges, 999, 401/403), robots.txt refusals and pages too large or too complex to read
are "unknown", never broken.
"""
from __future__ import annotations

import asyncio
import re
import secrets
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from outreach.lib.http import Fetcher, FetchResult
from outreach.lib.urls import url_origin

#: reasons that make a link broken
BROKEN_REASONS = ("not_found", "server_error", "client_error", "dns", "refused", "timeout", "tls",
                  "redirect_loop", "too_many_redirects", "soft_404")
#: reasons for "we could not tell": never reported as broken. too_large and too_complex are pages that
#: answer but could not be read whole (over [crawl] max_page_bytes; past the parse limits)
UNKNOWN_REASONS = ("blocked", "rate_limited", "robots_disallowed", "blocked_address", "bad_scheme", "bad_url",
                   "too_large", "too_complex")
_NOT_FOUND_WORDS = re.compile(r"\b(404|not found|page not found|no longer (exists|available)|does not exist|"
                              r"couldn.t find|could not find|nothing (was )?found)\b", re.IGNORECASE)
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Outcome:
    """What checking one URL found."""

    url: str
    ok: bool
    reason: str | None        # None when ok; a code from BROKEN_REASONS or UNKNOWN_REASONS otherwise
    status: int | None        # the last HTTP status seen
    final_url: str

    @property
    def broken(self) -> bool:
        return not self.ok and self.reason in BROKEN_REASONS


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds asked for by a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


def _shingles(text: str) -> set[int]:
    words = _WORD.findall(text.lower())
    return {hash(tuple(words[i:i + 3])) for i in range(max(1, len(words) - 2))}


def similar(a: str, b: str) -> float:
    """Jaccard similarity of the two texts' word 3-gram sets (0..1)."""
    sa, sb = _shingles(a), _shingles(b)
    if not sa and not sb:
        return 1.0
    return len(sa & sb) / max(1, len(sa | sb))


@dataclass
class _Probe:
    soft: bool                # the host answers 200 for a path that cannot exist
    final_url: str
    text: str
    redirected: bool


class LinkChecker:
    """Checks URLs through one Fetcher; remembers per-host soft-404 probes and HEAD trouble."""

    def __init__(self, fetcher: Fetcher, *, retries: int | None = None, backoff: float = 1.0,
                 max_retry_after: float = 30.0, check_bytes: int = 256 * 1024,
                 detect_soft_404: bool = True) -> None:
        self.fetcher = fetcher
        self.retries = fetcher.settings.retries if retries is None else retries
        self.backoff = backoff
        self.max_retry_after = max_retry_after
        self.check_bytes = check_bytes
        self.detect_soft_404 = detect_soft_404
        self._probes: dict[str, asyncio.Future[_Probe]] = {}
        self._head_unreliable: set[str] = set()

    async def check(self, url: str, *, page_bytes: int | None = None) -> tuple[Outcome, FetchResult]:
        """Check url. With page_bytes, GET it whole (a page to crawl) instead of HEAD first."""
        site = url_origin(url)
        if self.fetcher.settings.respect_robots and not await self.fetcher.allowed_by_robots(url):
            # robots.txt unreachable because the host is (dns, refused...): the link fails the same way
            unreachable = self.fetcher.robots_error(url)
            reason = self._classify(FetchResult(url, url, None, error=unreachable)) if unreachable else None
            return (Outcome(url, False, reason or "robots_disallowed", None, url),
                    FetchResult(url, url, None, error=unreachable))
        get_first = page_bytes is not None or site in self._head_unreliable
        attempt = 0
        while True:
            result = await self._request(url, get_first, page_bytes)
            reason = self._classify(result)
            retry = False
            if reason == "rate_limited":
                wait = retry_after_seconds(result.headers.get("retry-after"))
                wait = self.backoff * (2 ** attempt) if wait is None else wait
                retry = wait <= self.max_retry_after
            elif reason in ("server_error", "timeout"):
                wait = self.backoff * (2 ** attempt)
                retry = True
            if not retry or attempt >= self.retries:
                break
            attempt += 1
            await asyncio.sleep(wait)
        if reason is None and self.detect_soft_404 and await self._is_soft_404(url, result, page_bytes):
            reason = "soft_404"
        return Outcome(url, reason is None, reason, result.status, result.final_url), result

    async def _request(self, url: str, get_first: bool, page_bytes: int | None) -> FetchResult:
        if not get_first:
            head = await self.fetcher.fetch(url, method="HEAD")
            if head.error is None and head.status is not None and head.status < 400 and head.status != 999:
                return head
            if head.error in ("dns", "refused", "blocked_address", "bad_scheme", "bad_url", "tls",
                              "redirect_loop", "too_many_redirects"):
                return head  # GET would meet the same fate
            if head.status in (405, 501, 403, 400):
                self._head_unreliable.add(url_origin(url))
        return await self.fetcher.fetch(url, max_bytes=page_bytes or self.check_bytes)

    @staticmethod
    def _classify(result: FetchResult) -> str | None:
        if result.error is not None and result.error != "too_large":
            return {"reset": "server_error"}.get(result.error, result.error)
        status = result.status
        if status is None:
            return "server_error"
        if status == 429:
            return "rate_limited"
        if status == 999 or (status == 403 and "cf-mitigated" in result.headers) or status in (401, 403):
            return "blocked"
        if status in (404, 410):
            return "not_found"
        if status >= 500:
            return "server_error"
        if status >= 400:
            return "client_error"
        return None  # 2xx, or a 3xx without Location

    async def _is_soft_404(self, url: str, result: FetchResult, page_bytes: int | None) -> bool:
        """A 200 that is really "not found": compare with what the host answers for a random path."""
        parts = urlsplit(url)
        if parts.path in ("", "/") and not parts.query:
            return False
        probe = await self._probe(url_origin(url))
        if not probe.soft:
            return False
        if not result.body:  # it was a HEAD: the comparison needs the page
            result = await self.fetcher.fetch(url, max_bytes=page_bytes or self.check_bytes)
            if result.status is None or result.status >= 300:
                return False
        if probe.redirected and result.redirects and result.final_url == probe.final_url:
            return True
        if not result.body:
            return False
        page_text = await self._page_text(result)
        if not page_text:
            return False
        # the missing path often appears in the "not found" text: take it out, as from the probe's
        page_text = page_text.replace(parts.path.strip("/"), "")
        return similar(page_text, probe.text) >= 0.8 or (
            similar(page_text, probe.text) >= 0.5 and bool(_NOT_FOUND_WORDS.search(page_text[:2000])))

    async def _probe(self, origin: str) -> _Probe:
        future = self._probes.get(origin)
        if future is not None and future.done():
            return future.result()  # the common case, without a shield around a finished future
        if future is None:
            future = self._probes[origin] = asyncio.get_running_loop().create_future()
            try:
                future.set_result(await self._run_probe(origin))
            except BaseException as exc:  # a cancelled probe must not leave waiters hanging
                future.set_result(_Probe(False, origin, "", False))
                if isinstance(exc, asyncio.CancelledError):
                    raise
        return await asyncio.shield(future)

    async def _run_probe(self, origin: str) -> _Probe:
        path = f"/{secrets.token_hex(12)}-{secrets.token_hex(4)}"
        result = await self.fetcher.fetch(origin + path, max_bytes=self.check_bytes)
        if result.error is not None or result.status is None or not 200 <= result.status < 300:
            return _Probe(False, result.final_url, "", False)
        text = await self._page_text(result) if result.body else ""
        return _Probe(True, result.final_url, text.replace(path.strip("/"), ""), bool(result.redirects))

    async def _page_text(self, result: FetchResult) -> str:
        """The visible text of a fetched page, read off the event loop ("" when it is too complex to read)."""
        from outreach.lib.html import TooComplex, off_loop, parse_page

        limits = self.fetcher.settings.parse
        try:
            page = await off_loop(limits, result.body, parse_page, result.text(), result.final_url, limits=limits)
            return page.text
        except TooComplex:
            return ""
