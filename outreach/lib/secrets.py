"""Secrets at rest (mailbox passwords, API keys): Fernet keyed from the app's secret key."""
from __future__ import annotations

import base64
import fcntl
import os
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
    """The secret key kept in instance/secret_key, created on first start.

    Under an exclusive lock on instance/secret_key.lock: processes started together on a fresh folder
    (`outreach run` twice, a web and a scheduler) all read the one key the first of them wrote.
    """
    path = instance_path / "secret_key"
    instance_path.mkdir(parents=True, exist_ok=True)
    with open(instance_path / "secret_key.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if path.exists():
            return path.read_text().strip()
        key = _secrets.token_urlsafe(48)
        # written whole under another name, then renamed: a crash never leaves a half-written key
        tmp = instance_path / f".secret_key.{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(key)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
        return key
