"""Header safety: CR, LF and NUL never reach a header."""
from __future__ import annotations

FORBIDDEN = ("\r", "\n", "\0")


class HeaderError(ValueError):
    """A header value that would break the message; the text names the header."""


def check_header(name: str, value: str) -> str:
    """The value unchanged, or HeaderError if it holds a line break or NUL."""
    for ch in FORBIDDEN:
        if ch in value:
            shown = {"\r": "a carriage return (CR)", "\n": "a line feed (LF)", "\0": "a NUL byte"}[ch]
            raise HeaderError(f"{name} contains {shown}, which is not allowed in an email header")
    return value
