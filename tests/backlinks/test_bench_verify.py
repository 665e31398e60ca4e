"""bench/verify.py keeps working end to end: a tiny run prints the engine and the tick figures (no timing is
asserted). Its tick part once failed on an unwired alert signal and nothing noticed."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_verify_benchmark_runs_its_engine_and_its_tick_at_a_tiny_scale() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "verify.py"), "--links", "60", "--hosts", "5",
                             "--renders", "1", "--concurrency", "8", "--batch", "50"],
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, (result.stdout + result.stderr)[-2000:]
    ticks = [line for line in result.stdout.splitlines() if line.startswith("tick ")]
    assert len(ticks) == 2 and all("checks/s" in line for line in ticks), result.stdout
