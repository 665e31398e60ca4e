"""Email address syntax: one normalised form everywhere (MX checks live in outreach.contacts)."""
from __future__ import annotations

import re
from collections.abc import Iterable
from itertools import repeat

from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

#: a plain ASCII address (dot-atom local part, LDH labels, a letter TLD): what email-validator accepts
#: unchanged but for case, checked here without it (it costs ~100 µs an address; imports check 200,000)
_PLAIN = re.compile(r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
                    r"@((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63})")
_SPECIAL_USE = frozenset(d for d in SPECIAL_USE_DOMAIN_NAMES if d != "test")
_SPECIAL_USE_LABELS = max((d.count(".") + 1 for d in _SPECIAL_USE), default=0)


#: _PLAIN one to a line, without its group: findall gives each line's address or "" (not plain)
_PLAIN_LINES = re.compile(r"^(?:([a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
                          r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63})$|.*$)", re.MULTILINE)


class BadAddress(ValueError):
    """Not a usable email address; the message says why in one line."""


def normalise_address(address: str) -> str:
    """The address, lower-cased and normalised, or BadAddress.

    Special-use domains (example, invalid, localhost) are refused; `.test` is allowed so that test
    webs and loopback mail servers work.
    """
    text = address.strip()
    if not text:
        raise BadAddress("empty address")
    if "\r" in text or "\n" in text or "\0" in text:
        raise BadAddress(f"{text!r} contains a line break")
    lowered = text.lower()
    plain = _PLAIN.fullmatch(lowered) if text.isascii() else None
    if plain is not None and len(lowered) <= 254 and lowered.index("@") <= 64 and "xn--" not in lowered:
        domain = plain.group(1)
        if _SPECIAL_USE_LABELS == 1:
            if domain.rpartition(".")[2] not in _SPECIAL_USE:
                return lowered
        else:
            labels = domain.split(".")
            if not any(".".join(labels[i:]) in _SPECIAL_USE for i in range(len(labels))):
                return lowered
    try:
        return validate_email(text, check_deliverability=False, test_environment=True).normalized.lower()
    except EmailNotValidError as exc:
        raise BadAddress(f"{text} is not a valid address: {exc}") from None


def normalise_addresses(addresses: Iterable[str]) -> list[str | BadAddress]:
    """normalise_address of each address, or the BadAddress it raises, at a fraction of the cost a piece."""
    texts = list(map(str.strip, addresses))
    lowered = list(map(str.lower, texts))
    joined = "\n".join(lowered)
    ends = joined + "\n"
    # normalise_address's conditions for its plain path, asked of the whole column at once
    if texts and "\n".join(texts).isascii() and joined.count("\n") == len(texts) - 1 and "xn--" not in joined \
            and max(map(len, lowered)) <= 254 and max(map(str.find, lowered, repeat("@"))) <= 64 \
            and not any(f".{name}\n" in ends or f"@{name}\n" in ends for name in _SPECIAL_USE):
        plain = _PLAIN_LINES.findall(joined)
        if len(plain) == len(texts):
            return [address or _normalised_or_error(text) for text, address in zip(texts, plain, strict=True)]
    return [_normalised_or_error(text) for text in texts]


def _normalised_or_error(address: str) -> str | BadAddress:
    try:
        return normalise_address(address)
    except BadAddress as exc:
        return exc
