"""Address syntax: the fast path for plain addresses says exactly what email-validator says."""
from __future__ import annotations

import pytest

from outreach.lib import addresses


@pytest.mark.parametrize("address", [
    "Ann@Good.test", "a.b+c@x.co.uk", "a..b@x.com", "a@localhost", "x@foo.local", "x@mail.invalid", "x@a.onion",
    "x@home.arpa", "x@site.example", "a@b.c", "!#$%&'*+/=?^_`{|}~-@x.io", "x@-a.com", "x@a-.com", "x@a.123",
    "x@xn--bcher-kva.ch", "a" * 64 + "@x.com", "a" * 65 + "@x.com", "editor@@x.com", ".a@x.com", "a.@x.com",
    "x@test", "x@sub.localhost", "\u212a@x.com", "ü@x.com"])
def test_the_fast_path_for_plain_addresses_agrees_with_email_validator(address: str) -> None:
    from email_validator import EmailNotValidError, validate_email

    try:
        expected = validate_email(address, check_deliverability=False, test_environment=True).normalized.lower()
    except EmailNotValidError:
        expected = None
    try:
        got = addresses.normalise_address(address)
    except addresses.BadAddress:
        got = None
    assert got == expected
