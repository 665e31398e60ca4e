"""The wheel carries templates/ and migrations/ and works without the checkout."""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(out), str(ROOT)], check=True, capture_output=True, timeout=300)
    return next(out.glob("outreach-*.whl"))


def test_the_wheel_holds_templates_and_migrations(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "outreach/_templates/base.html" in names
    assert "outreach/_migrations/env.py" in names
    assert any(n.startswith("outreach/_migrations/versions/") for n in names)
    assert "outreach/static/htmx.min.js" in names


def test_the_installed_wheel_migrates_and_renders(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    script = (
        "import outreach.paths as p, sys; assert 'site' in str(p.TEMPLATES), p.TEMPLATES\n"
        "from outreach.migrate import upgrade; upgrade(sys.argv[1])\n"
        "from outreach import create_app\n"
        "app = create_app({'database': {'url': sys.argv[1]}, 'app': {'instance_path': sys.argv[2]}})\n"
        "r = app.test_client().get('/setup'); assert r.status_code == 200 and b'Welcome' in r.data\n"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    env.pop("OUTREACH_CONFIG", None)
    result = subprocess.run([sys.executable, "-c", script, f"sqlite:///{tmp_path / 'w.db'}", str(tmp_path / "inst")],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
