"""Starts APScheduler with every declared tick (never inside a web worker).

With the threads backend a tick runs in the scheduler's own pool (`outreach run`); with the celery
backend the scheduler only enqueues tick ids and `outreach worker` processes run them.
"""
from __future__ import annotations

import logging
from datetime import datetime

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from outreach.health.heartbeat import HEARTBEAT_SECONDS, beat
from outreach.jobs import tick_stats
from outreach.jobs.schedule import TICKS
from outreach.jobs.ticks import JobContext, run_tick
from outreach.lib.clock import utcnow
from outreach.lib.logs import process_name

log = logging.getLogger(__name__)
#: the scheduler's own job (not a tick: it runs in the scheduler process whatever the backend)
HEARTBEAT_JOB = "scheduler.heartbeat"


def build_scheduler(ctx: JobContext, *, blocking: bool = False) -> BackgroundScheduler | BlockingScheduler:
    workers = ctx.settings.scheduler.workers
    cls = BlockingScheduler if blocking else BackgroundScheduler
    scheduler = cls(executors={"default": ThreadPoolExecutor(workers)},
                    job_defaults={"coalesce": True, "max_instances": 1}, timezone="UTC")
    default_seconds = ctx.settings.scheduler.tick_seconds
    celery_app = None
    if ctx.settings.scheduler.backend == "celery":
        # Celery is needed (and installed) only by the scale-out backend
        from outreach.jobs.celery_backend import enqueue_tick, make_celery

        celery_app = make_celery(ctx.settings.scheduler.broker_url)
    for tick in TICKS:
        seconds = tick.seconds or default_seconds
        if celery_app is None:
            func, args = run_tick, (tick, ctx)
        else:
            func, args = enqueue_tick, (celery_app, tick, seconds)
        scheduler.add_job(func, IntervalTrigger(seconds=seconds), args=args, id=tick.id, name=tick.id,
                          replace_existing=True, misfire_grace_time=tick.misfire_grace_time)
    scheduler.add_job(record_heartbeat, IntervalTrigger(seconds=HEARTBEAT_SECONDS),
                      args=(ctx, process_name(), utcnow()), id=HEARTBEAT_JOB, name=HEARTBEAT_JOB,
                      replace_existing=True, next_run_time=utcnow(), misfire_grace_time=HEARTBEAT_SECONDS)
    return scheduler


def record_heartbeat(ctx: JobContext, name: str, started_at: datetime) -> None:
    """Tell the deployment this scheduler is alive, and store the tick totals this process counted."""
    try:
        with ctx.sessionmaker() as session, session.begin():
            beat(session, name, started_at)
    except Exception:  # a busy or unreachable database: the next beat tries again
        log.exception("could not record the scheduler heartbeat")
    tick_stats.flush(ctx.sessionmaker)
