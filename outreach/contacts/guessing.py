"""Guess a person's address from their name and the site's address pattern. Guesses are never 'found'."""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

#: patterns in the order they are most common on small sites, as format strings over name parts
PATTERNS = ("{first}.{last}", "{first}", "{f}{last}", "{first}{last}", "{first}_{last}", "{last}")


@dataclass(frozen=True)
class Guess:
    email: str
    name: str
    pattern: str
    #: "pattern seen on this site" when a published address of a named person matched it
    basis: str


def name_parts(full_name: str) -> tuple[str, str] | None:
    """(first, last) in plain lower-case ASCII, or None when the name is not a person's first + last."""
    text = unicodedata.normalize("NFKD", full_name).encode("ascii", "ignore").decode()
    words = [w for w in re.split(r"[\s,]+", text.lower()) if w and w not in ("dr", "mr", "mrs", "ms", "prof")]
    words = [re.sub(r"[^a-z\-']", "", w).replace("'", "") for w in words]
    words = [w for w in words if w]
    if len(words) < 2:
        return None
    return words[0], words[-1].replace("-", "")


def render(pattern: str, first: str, last: str) -> str:
    return pattern.format(first=first, last=last, f=first[0])


def detect_pattern(known: Iterable[tuple[str, str]], domain: str) -> str | None:
    """The pattern that turns known (name, address) pairs on the domain into their addresses."""
    for name, email in known:
        parts = name_parts(name) if name else None
        if not parts or not email.endswith("@" + domain):
            continue
        local = email.split("@", 1)[0]
        for pattern in PATTERNS:
            if render(pattern, *parts) == local:
                return pattern
    return None


def guess_addresses(full_name: str, domain: str, known: Iterable[tuple[str, str]] = (),
                    limit: int = 3) -> list[Guess]:
    """Likely addresses for a person at the domain: the site's own pattern when one is known."""
    parts = name_parts(full_name)
    if parts is None or not domain:
        return []
    known = list(known)
    seen_pattern = detect_pattern(known, domain)
    taken = {email for _, email in known}
    if seen_pattern:
        email = f"{render(seen_pattern, *parts)}@{domain}"
        return [] if email in taken else [Guess(email, full_name, seen_pattern, "pattern seen on this site")]
    guesses = []
    for pattern in PATTERNS[:limit]:
        email = f"{render(pattern, *parts)}@{domain}"
        if email not in taken:
            guesses.append(Guess(email, full_name, pattern, "common pattern"))
    return guesses
