"""Starts APScheduler with every declared tick (never inside a web worker)."""
from __future__ import annotations

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from outreach.jobs.ticks import JobContext, load_all, run_tick


def build_scheduler(ctx: JobContext, *, blocking: bool = False) -> BackgroundScheduler | BlockingScheduler:
    workers = ctx.settings["scheduler"]["workers"]
    cls = BlockingScheduler if blocking else BackgroundScheduler
    scheduler = cls(executors={"default": ThreadPoolExecutor(workers)},
                    job_defaults={"coalesce": True, "max_instances": 1}, timezone="UTC")
    default_seconds = ctx.settings["scheduler"]["tick_seconds"]
    for tick in load_all():
        scheduler.add_job(run_tick, IntervalTrigger(seconds=tick.seconds or default_seconds), args=(tick, ctx),
                          id=tick.id, name=tick.id, replace_existing=True,
                          misfire_grace_time=tick.misfire_grace_time)
    return scheduler
