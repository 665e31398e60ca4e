"""bench/send.py keeps working end to end: a tiny run starts `outreach run`, seeds over the JSON API, enrols and
sees every message accepted by the sink (no timing is asserted: the machine is shared)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_the_send_benchmark_runs_end_to_end_through_outreach_run_at_a_tiny_scale() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "send.py"), "--sizes", "5,20",
                             "--backends", "sqlite"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    rows = json.loads(result.stdout)["end_to_end_sqlite"]
    assert [(r["messages"], r["enrolled"], r["accepted"], r["complete"]) for r in rows] == [(5, 5, 5, True),
                                                                                          (20, 20, 20, True)]
    assert all(r["duplicates_at_sink"] == 0 and r["messages_per_s"] > 0 for r in rows)
    assert "end to end through `outreach run`" in result.stderr
