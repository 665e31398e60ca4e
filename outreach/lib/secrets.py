"""Secrets at rest (mailbox passwords, API keys): Fernet keyed from the app's secret key."""
from __future__ import annotations

import base64
import secrets as _secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class SecretBox:
    """Encrypts and decrypts short strings with a key derived from the secret key."""

    def __init__(self, secret_key: str, purpose: str = "secrets-at-rest") -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=purpose.encode()).derive(secret_key.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise ValueError("stored secret cannot be decrypted: was app.secret_key changed?") from None


def load_or_create_secret_key(instance_path: Path) -> str:
    """The secret key kept in instance/secret_key, created on first start."""
    path = instance_path / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = _secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key
