"""Where a `next=` parameter may send the browser: only a path on this site."""
from __future__ import annotations

from urllib.parse import urlsplit


def safe_next(target: str | None) -> str | None:
    """`target` if it is a same-site path, else None.

    Browsers drop tabs and newlines from a URL and read a backslash as a slash, so "/\\t/evil.test" and
    "/\\\\evil.test" would leave the site: any control character or backslash refuses the target.
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target
