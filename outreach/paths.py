"""Where the top-level templates/ and migrations/ live, in a checkout and in an installed wheel."""
from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    checkout = _PACKAGE.parent / name
    if checkout.is_dir():
        return checkout
    return _PACKAGE / f"_{name}"


TEMPLATES = _find("templates")
MIGRATIONS = _find("migrations")
STATIC = _PACKAGE / "static"
