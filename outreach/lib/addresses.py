"""Email address syntax: one normalised form everywhere (MX checks live in outreach.contacts)."""
from __future__ import annotations

from email_validator import EmailNotValidError, validate_email


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
    if any(ch in text for ch in "\r\n\0"):
        raise BadAddress(f"{text!r} contains a line break")
    try:
        return validate_email(text, check_deliverability=False, test_environment=True).normalized.lower()
    except EmailNotValidError as exc:
        raise BadAddress(f"{text} is not a valid address: {exc}") from None
