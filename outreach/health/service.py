"""What the deployment is doing, read from the database: readiness, queue depths, jobs by state, tick totals.

One home for these figures: /readyz, /metrics and the admin's Status page all read them here.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from outreach.config import Settings
from outreach.health.heartbeat import SchedulerState, scheduler_state
from outreach.lib.clock import utcnow
from outreach.migrate import schema_problem
from outreach.models import Backlink, CrawlJob, Message, ProspectingRun
from outreach.models.health import TickStat

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Readiness:
    """The checks of /readyz: each is "ok" or why not."""

    checks: dict[str, str]

    @property
    def is_ready(self) -> bool:
        return all(value == "ok" for value in self.checks.values())


def readiness(engine: Engine, settings: Settings, *, now: datetime | None = None) -> Readiness:
    """Database reachable, schema at head, a scheduler heartbeat fresh."""
    checks = {"database": "ok", "schema": "ok", "scheduler": "ok"}
    try:
        with engine.connect() as connection:
            checks["schema"] = schema_problem(connection) or "ok"
            if checks["schema"] == "ok":
                with Session(bind=connection) as session:
                    checks["scheduler"] = scheduler_state(session, settings, now=now).problem or "ok"
            else:
                checks["scheduler"] = "unknown until the schema is at head"
    except Exception as exc:  # any failure to reach the database is "not ready", never a 500
        log.warning("readiness: the database is unreachable: %s", str(exc).splitlines()[0] if str(exc) else exc)
        checks = {"database": "unreachable", "schema": "unknown", "scheduler": "unknown"}
    return Readiness(checks)


@dataclass(frozen=True)
class Snapshot:
    """Queue depths, jobs by state and tick totals at one moment."""

    taken_at: datetime
    scheduler: SchedulerState
    revision_problem: str | None
    messages_due: int
    backlinks_due: int
    #: message status -> count
    messages: dict[str, int]
    #: (kind, status) -> count, over crawl jobs and prospecting runs
    jobs: dict[tuple[str, str], int]
    ticks: list[TickStat] = field(default_factory=list)

    @property
    def runs_queued(self) -> int:
        return sum(n for (_kind, status), n in self.jobs.items() if status == "queued")

    @property
    def runs_running(self) -> int:
        return sum(n for (_kind, status), n in self.jobs.items() if status == "running")

    def tick_units(self, tick_id: str) -> int:
        return next((t.units for t in self.ticks if t.tick_id == tick_id), 0)


def snapshot(session: Session, settings: Settings, *, now: datetime | None = None) -> Snapshot:
    """Read every figure in a handful of indexed queries."""
    now = now or utcnow()
    messages_due = session.scalar(select(func.count()).select_from(Message)
                                  .where(Message.status == "scheduled", Message.send_at <= now)) or 0
    backlinks_due = session.scalar(select(func.count()).select_from(Backlink)
                                   .where(Backlink.next_check_at <= now)) or 0
    messages = {status: count for status, count in
                session.execute(select(Message.status, func.count()).group_by(Message.status))}
    jobs: dict[tuple[str, str], int] = {}
    for model in (CrawlJob, ProspectingRun):
        for kind, status, count in session.execute(select(model.kind, model.status, func.count())
                                                   .group_by(model.kind, model.status)):
            jobs[(kind, status)] = jobs.get((kind, status), 0) + count
    ticks = list(session.scalars(select(TickStat).order_by(TickStat.tick_id)))
    connection = session.connection()
    return Snapshot(taken_at=now, scheduler=scheduler_state(session, settings, now=now),
                    revision_problem=schema_problem(connection), messages_due=messages_due,
                    backlinks_due=backlinks_due, messages=messages, jobs=jobs, ticks=ticks)
