"""bench/ui.py keeps working: a tiny run on SQLite prints its table (no timing is asserted)."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_ui_benchmark_runs_at_a_tiny_scale() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "ui.py"), "--backend", "sqlite", "--scale",
                             "0.002,0.005", "--requests", "1"], capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-2000:]
    for page in ("dashboard", "board", "prospect list, filtered", "prospect page", "CSV export, campaign",
                 "API prospect list"):
        rows = re.findall(rf"^sqlite +[\d,]+ {re.escape(page)}  ", result.stdout, re.MULTILINE)
        assert len(rows) == 2, result.stdout
    assert "most queries per request" in result.stdout, result.stdout


def test_it_refuses_a_bad_scale_in_one_line() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "ui.py"), "--scale", "lots"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "--scale must be numbers" in result.stderr
