"""Periodic ticks, declared as data with stable ids. Each part adds its own to TICKS.

A tick function takes a JobContext, finds due rows, claims each with a conditional update, does the
work and returns how many units it did. It must be safe to run twice at once (two schedulers by
mistake): the claim, not the scheduler, guarantees nothing is done twice.
"""
from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from outreach.lib.secrets import SecretBox

log = logging.getLogger(__name__)


@dataclass
class JobContext:
    settings: dict[str, dict[str, Any]]
    sessionmaker: sessionmaker[Session]
    secret_box: SecretBox
    #: set by SIGTERM: finish the current unit, then return
    stopping: Callable[[], bool] = field(default=lambda: False)


@dataclass(frozen=True)
class Tick:
    id: str
    #: "module:function" taking a JobContext and returning the number of units done
    func: str
    #: interval; None means the [scheduler] tick_seconds setting
    seconds: int | None = None
    misfire_grace_time: int = 60


TICKS: list[Tick] = []


def register(tick: Tick) -> None:
    if any(t.id == tick.id for t in TICKS):
        return
    TICKS.append(tick)


def resolve(tick: Tick) -> Callable[[JobContext], int]:
    module_name, attr = tick.func.split(":")
    return getattr(importlib.import_module(module_name), attr)


def run_tick(tick: Tick, ctx: JobContext) -> int:
    """Run one tick, logging (not raising) its failure so the scheduler keeps going."""
    try:
        return resolve(tick)(ctx)
    except Exception:
        log.exception("tick %s failed", tick.id)
        return 0


#: modules that declare ticks; importing them registers their ticks
TICK_MODULES: list[str] = [
    "outreach.backlinks.jobs",
    "outreach.discovery.prospecting_jobs",
    "outreach.reports.jobs",
    "outreach.mail.jobs",
    "outreach.crawler.jobs",
    "outreach.contacts.jobs",
    "outreach.campaigns.jobs",
]


def load_all() -> list[Tick]:
    for module_name in TICK_MODULES:
        importlib.import_module(module_name)
    return list(TICKS)
