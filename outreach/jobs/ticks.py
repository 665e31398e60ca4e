"""Periodic ticks, declared as data with stable ids (outreach.jobs.schedule.TICKS lists them all).

A tick function takes a JobContext, finds due rows, claims each with a conditional update, does the
work and returns how many units it did. It must be safe to run twice at once (two schedulers by
mistake): the claim, not the scheduler, guarantees nothing is done twice.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from outreach.config import Settings
from outreach.jobs import tick_stats
from outreach.lib import logs
from outreach.lib.secrets import SecretBox

log = logging.getLogger(__name__)


@dataclass
class JobContext:
    settings: Settings
    sessionmaker: sessionmaker[Session]
    secret_box: SecretBox
    #: set by SIGTERM: finish the current unit, then return
    stopping: Callable[[], bool] = field(default=lambda: False)


@dataclass(frozen=True)
class Tick:
    id: str
    #: takes a JobContext and returns the number of units done
    func: Callable[[JobContext], int]
    #: interval; None means the [scheduler] tick_seconds setting
    seconds: int | None = None
    misfire_grace_time: int = 60


def run_tick(tick: Tick, ctx: JobContext) -> int:
    """Run one tick, logging (not raising) its failure so the scheduler keeps going, and count it (/metrics)."""
    started = time.monotonic()
    failed = False
    with logs.job(f"tick {tick.id}"):
        try:
            units = tick.func(ctx)
        except Exception:
            log.exception("tick %s failed", tick.id)
            units, failed = 0, True
    tick_stats.record(tick.id, units, failed, time.monotonic() - started)
    if ctx.sessionmaker is not None:
        tick_stats.flush_if_due(ctx.sessionmaker)
    return units
