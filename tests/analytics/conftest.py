"""Analytics fixtures: the export files under tests/fixtures/analytics and Plausible's zip built from its members."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

from tests.backlinks.conftest import ctx

__all__ = ["ctx"]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "analytics"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def plausible_zip(*, drop: tuple[str, ...] = (), replace: dict[str, bytes] | None = None) -> bytes:
    """The dashboard export as Plausible sends it: a zip of its CSVs (members named as Plausible names them)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted((FIXTURES / "plausible-export").iterdir()):
            if path.name not in drop:
                archive.writestr(path.name, (replace or {}).get(path.name, path.read_bytes()))
    return out.getvalue()
