"""One tick in a process of its own, for tests that SIGKILL it mid-batch.

`python -m tests.jobs.killable TICK_ID OVERRIDES_JSON` builds the job context as `outreach worker` does
(settings from the overrides, the engine of [database]) and runs the tick once.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def start_tick(tick_id: str, overrides: dict[str, Any], log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", "tests.jobs.killable", tick_id, json.dumps(overrides)],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def kill(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def wait_until(condition: Callable[[], bool], process: subprocess.Popen[bytes], log: Path,
               timeout: float = 90.0) -> None:
    """Poll `condition` while the process runs; fail with its log if it ends first or never gets there."""
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            raise AssertionError(f"the tick process ended ({process.returncode}) too early:\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            kill(process)
            raise AssertionError(f"the tick process never got there:\n{log.read_text()[-3000:]}")
        time.sleep(0.05)


def main(tick_id: str, overrides: str) -> int:
    from outreach.config import load_settings
    from outreach.db import engine_from, make_sessionmaker
    from outreach.jobs.schedule import tick_by_id
    from outreach.jobs.ticks import JobContext
    from outreach.lib import logs
    from outreach.lib.secrets import SecretBox

    settings = load_settings(overrides=json.loads(overrides), environ={})
    logs.configure(settings.logging)
    tick = tick_by_id(tick_id)
    assert tick is not None, tick_id
    ctx = JobContext(settings=settings, sessionmaker=make_sessionmaker(engine_from(settings.database)),
                     secret_box=SecretBox(settings.app.secret_key))
    print(f"{tick_id}: {tick.func(ctx)} units", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
