"""Scale-out backend: the scheduler enqueues ticks on Redis, `outreach worker` processes run them.

Only the tick id crosses the broker; a follow-up in three days stays a row with a due time, never a
broker ETA. Two workers running the same tick at once are safe because ticks claim rows.
"""
from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import Any

from celery import Celery
from celery.signals import worker_shutting_down

from outreach.jobs.schedule import tick_by_id
from outreach.jobs.ticks import JobContext, Tick, run_tick

TASK_NAME = "outreach.run_tick"

#: set in each worker process before it consumes anything
_context: JobContext | None = None


def make_celery(broker_url: str) -> Celery:
    app = Celery("outreach", broker=broker_url)
    app.conf.update(task_ignore_result=True, worker_hijack_root_logger=False, task_acks_late=False,
                    broker_connection_retry_on_startup=True, worker_prefetch_multiplier=1)

    @app.task(name=TASK_NAME)
    def run_tick_task(tick_id: str) -> int:
        if _context is None:
            raise RuntimeError("worker started without a job context")
        tick = tick_by_id(tick_id)
        if tick is None:
            raise ValueError(f"unknown tick {tick_id!r}")
        return run_tick(tick, _context)

    return app


def set_worker_context(ctx: JobContext) -> None:
    global _context
    _context = ctx


def enqueue_tick(app: Celery, tick: Tick, expires_seconds: float) -> None:
    """Ask any worker to run the tick; a tick nobody picked up in time expires instead of piling up."""
    app.send_task(TASK_NAME, args=[tick.id], expires=expires_seconds)


def node_name() -> str:
    """This worker's Celery node name, unique per process even with several workers on one machine."""
    return f"outreach-{os.getpid()}@{socket.gethostname()}"


def run_worker(app: Celery, ctx: JobContext, concurrency: int, extra_args: list[str] | None = None,
               on_shutdown: Callable[[], None] | None = None) -> Any:
    """Consume ticks until stopped. SIGTERM starts Celery's warm shutdown, which waits for the running ticks:
    `on_shutdown` (which makes `ctx.stopping()` true) tells them to stop, so a crawl or prospecting run goes
    back to the queue at once instead of running to its end."""
    set_worker_context(ctx)
    if on_shutdown is not None:
        def shutting_down(**_: Any) -> None:
            on_shutdown()

        worker_shutting_down.connect(shutting_down, weak=False)
    argv = ["worker", "--pool=threads", f"--concurrency={concurrency}", "--loglevel=INFO", f"--hostname={node_name()}",
            "--without-gossip", "--without-mingle", *(extra_args or [])]
    return app.worker_main(argv)
