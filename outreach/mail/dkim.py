"""DKIM: checking a mailbox's private key, the public record that matches it, and signing outgoing mail (dkimpy)."""
from __future__ import annotations

import base64

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from outreach.lib.secrets import SecretBox
from outreach.models.mail import Mailbox

#: the headers each signature covers (those present in the message; RFC 6376 §5.4)
SIGNED_HEADERS = (b"From", b"Subject", b"Message-ID", b"Date", b"To", b"List-Unsubscribe",
                  b"List-Unsubscribe-Post")


class DkimKeyError(ValueError):
    """The key given is not a usable DKIM private key; the message says why in one line."""


def _load(private_pem: str) -> rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(private_pem.strip().encode(), password=None)
    except (ValueError, TypeError):
        raise DkimKeyError("the DKIM key is not an unencrypted PEM private key (-----BEGIN PRIVATE KEY-----)") \
            from None
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < 1024:
            raise DkimKeyError(f"the DKIM key has {key.key_size} bits; use 2048 (receivers ignore keys under 1024)")
        return key
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key
    raise DkimKeyError("the DKIM key must be RSA or Ed25519")


def check_private_key(private_pem: str) -> str:
    """The key, normalised to PKCS#8 PEM; DkimKeyError when it cannot sign."""
    key = _load(private_pem)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _algorithm(key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) -> str:
    return "rsa" if isinstance(key, rsa.RSAPrivateKey) else "ed25519"


def public_key_record(private_pem: str) -> str:
    """The p= value to publish for this private key (base64 of the public key)."""
    key = _load(private_pem)
    public = key.public_key()
    if isinstance(public, ed25519.Ed25519PublicKey):
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    else:
        raw = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(raw).decode()


def dns_record(private_pem: str, selector: str, domain: str) -> str:
    """The whole TXT record to publish, as a user pastes it into their DNS host."""
    key = _load(private_pem)
    return f"{selector}._domainkey.{domain}. TXT \"v=DKIM1; k={_algorithm(key)}; p={public_key_record(private_pem)}\""


def sign(payload: bytes, selector: str, domain: str, private_pem: str) -> bytes:
    """The message with a DKIM-Signature header for `domain` in front (relaxed/relaxed, SHA-256).

    Signs the exact bytes that go on the wire, so nothing refolds a header after signing.
    """
    key = _load(private_pem)
    head = payload.split(b"\r\n\r\n", 1)[0].lower()
    present = {line.split(b":", 1)[0].strip() for line in head.split(b"\r\n") if line[:1] not in (b" ", b"\t")}
    headers = [h for h in SIGNED_HEADERS if h.lower() in present]
    signature = dkim.sign(payload, selector.encode(), domain.encode(), private_pem.encode(),
                          canonicalize=(b"relaxed", b"relaxed"), include_headers=headers,
                          signature_algorithm=b"ed25519-sha256" if _algorithm(key) == "ed25519" else b"rsa-sha256")
    return signature + payload


def sign_for(mailbox: Mailbox | None, box: SecretBox, payload: bytes) -> bytes:
    """The payload signed with the mailbox's key when it has a key and a selector; unchanged otherwise."""
    if mailbox is None or not mailbox.dkim_private_key or not mailbox.dkim_selector:
        return payload
    domain = mailbox.from_email.rsplit("@", 1)[-1]
    return sign(payload, mailbox.dkim_selector, domain, box.decrypt(mailbox.dkim_private_key))
