"""Does a domain's mail server accept any address? One RCPT TO for a random local part; never DATA.

Off unless the settings given say `catch_all_probe` (the workspace's choice, outreach.workspace.service, over
`[dns] catch_all_probe`). Rate-limited in the process: at most `catch_all_per_minute`
probes a minute in all, one a minute per mail server, and each domain's answer is kept for a day.
"""
from __future__ import annotations

import secrets
import smtplib
import threading
import time
from collections import deque
from collections.abc import Callable

from outreach.config import DnsSettings

#: how long a domain's answer is kept
REMEMBER_SECONDS = 86_400


class _Limiter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._recent: deque[float] = deque()
        self._by_host: dict[str, float] = {}
        self._answers: dict[str, tuple[float, bool | None]] = {}

    def remembered(self, domain: str) -> tuple[bool, bool | None]:
        with self._lock:
            item = self._answers.get(domain)
            if item and item[0] > time.monotonic():
                return True, item[1]
            return False, None

    def remember(self, domain: str, answer: bool | None) -> None:
        with self._lock:
            if len(self._answers) > 50_000:
                self._answers.clear()
            self._answers[domain] = (time.monotonic() + REMEMBER_SECONDS, answer)

    def take(self, host: str, per_minute: int) -> bool:
        """Whether a probe to `host` may go now (and count it)."""
        now = time.monotonic()
        with self._lock:
            while self._recent and self._recent[0] <= now - 60:
                self._recent.popleft()
            if len(self._recent) >= per_minute or self._by_host.get(host, -1e9) > now - 60:
                return False
            self._recent.append(now)
            self._by_host[host] = now
            return True

    def clear(self) -> None:
        with self._lock:
            self._recent.clear()
            self._by_host.clear()
            self._answers.clear()


LIMITER = _Limiter()


def probe(domain: str, mx_host: str, settings: DnsSettings, resolve: Callable[[str], str | None]) -> bool | None:
    """True: the server accepts a made-up address (catch-all); False: it refuses it; None: not asked or no answer.

    `resolve` gives the MX host's address with the app's resolver (None when it has none).
    """
    known, answer = LIMITER.remembered(domain)
    if known:
        return answer
    if not settings.catch_all_probe or not LIMITER.take(mx_host, settings.catch_all_per_minute):
        return None
    address = resolve(mx_host)
    answer = _ask(domain, address, settings) if address else None
    if answer is not None:
        LIMITER.remember(domain, answer)
    return answer


def _ask(domain: str, address: str, settings: DnsSettings) -> bool | None:
    local = "no-such-user-" + secrets.token_hex(6)
    try:
        with smtplib.SMTP(address, settings.catch_all_port, timeout=settings.timeout) as conn:
            conn.ehlo_or_helo_if_needed()
            code, _ = conn.mail("<>")
            if code >= 400:
                return None
            code, _ = conn.rcpt(f"{local}@{domain}")
            conn.rset()
    except (smtplib.SMTPException, OSError):
        return None
    if 200 <= code < 300:
        return True
    if code >= 500:
        return False
    return None  # 4xx (greylisting): no answer yet
