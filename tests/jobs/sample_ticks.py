"""A tick for the scheduler tests: records that it ran."""
from __future__ import annotations

import threading

from outreach.jobs.ticks import JobContext

RAN: list[str] = []
DONE = threading.Event()


def touch(ctx: JobContext) -> int:
    RAN.append(ctx.settings.app.secret_key)
    DONE.set()
    return 1


def fail(ctx: JobContext) -> int:
    raise RuntimeError("this tick always fails")
