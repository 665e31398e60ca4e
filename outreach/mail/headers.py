"""Header safety: CR, LF, NUL (and the other characters Python treats as line breaks) never reach a header."""
from __future__ import annotations

#: what str.splitlines() (and so the email package) treats as a line break, plus NUL
FORBIDDEN = {"\r": "a carriage return (CR)", "\n": "a line feed (LF)", "\0": "a NUL byte",
             "\v": "a vertical tab", "\f": "a form feed", "\x1c": "a file separator", "\x1d": "a group separator",
             "\x1e": "a record separator", "\x85": "a next-line character (NEL)",
             "\u2028": "a line separator", "\u2029": "a paragraph separator"}


class HeaderError(ValueError):
    """A header value that would break the message; the text names the header."""


def check_header(name: str, value: str) -> str:
    """The value unchanged, or HeaderError if it holds a line break or NUL."""
    for ch in value:
        if ch in FORBIDDEN:
            raise HeaderError(f"{name} contains {FORBIDDEN[ch]}, which is not allowed in an email header")
    return value
