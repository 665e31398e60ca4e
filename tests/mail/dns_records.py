"""DNS records for a sending domain, served by the loopback DNS server (tests/contacts/dnsserver.py)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask

from outreach.mail.dkim import public_key_record
from tests.contacts.dnsserver import DNSServer

DOMAIN = "agency.test"


def new_private_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def healthy(smtp_ip: str = "127.0.0.1", selector: str = "s1", private_key: str | None = None
            ) -> dict[tuple[str, str], list[str]]:
    """A domain that passes every check: MX, SPF through an include, a DKIM key, DMARC p=reject."""
    public = public_key_record(private_key) if private_key else "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"
    return {
        (DOMAIN, "MX"): ["10 mx.agency.test."],
        ("mx.agency.test", "A"): ["127.0.0.9"],
        (DOMAIN, "TXT"): ['"v=spf1 include:_spf.mailhost.test -all"', '"google-site-verification=abc"'],
        ("_spf.mailhost.test", "TXT"): [f'"v=spf1 ip4:{smtp_ip}/32 ip6:::1 ~all"'],
        (f"{selector}._domainkey.{DOMAIN}", "TXT"): [_txt(f"v=DKIM1; k=rsa; p={public}")],
        (f"_dmarc.{DOMAIN}", "TXT"): ['"v=DMARC1; p=reject; rua=mailto:d@agency.test"'],
    }


def _txt(value: str) -> str:
    """A TXT value split into 255-byte strings, as DNS hosts publish long DKIM keys."""
    return " ".join(f'"{value[i:i + 255]}"' for i in range(0, len(value), 255))


@contextmanager
def serving(app: Flask, monkeypatch: Any, records: dict[tuple[str, str], list[str]],
            base_url: str = "https://outreach.agency.test") -> Iterator[DNSServer]:
    """Serve `records` and point the app's [dns] settings at them (and [app] base_url at `base_url`)."""
    with DNSServer(records) as server:
        changes = {"dns": {"nameservers": ["127.0.0.1"], "port": server.port, "timeout": 2.0, "cache_seconds": 0},
                   "app": {"base_url": base_url}}
        state = app.extensions["outreach"]
        monkeypatch.setattr(state, "settings", state.settings.with_(**changes))  # change_settings() has app=
        yield server
