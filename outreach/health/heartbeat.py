"""The scheduler's heartbeat: each scheduler process moves its row every HEARTBEAT_SECONDS while it lives.

If the one scheduler of a deployment dies, nothing is sent or checked any more; its heartbeat going stale
is how /readyz, the Status page and the stale-scheduler alert (outreach.health.alerts) find out.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from outreach.config import HEARTBEAT_SECONDS, Settings
from outreach.lib.clock import utcnow
from outreach.models.health import SchedulerHeartbeat

__all__ = ["HEARTBEAT_SECONDS", "SchedulerState", "beat", "scheduler_state"]

#: rows of schedulers silent this long are deleted by a living one (the Status page shows the others)
FORGET_AFTER = timedelta(days=1)


def beat(session: Session, name: str, started_at: datetime, *, now: datetime | None = None) -> None:
    """Record that the scheduler `name` is alive now (flushed, not committed); a beat ends any stale alert."""
    now = now or utcnow()
    moved = session.execute(update(SchedulerHeartbeat).where(SchedulerHeartbeat.name == name)
                            .values(beat_at=now, stale_alerted_at=None, stale_emailed_at=None)
                            .execution_options(synchronize_session=False)).rowcount
    if not moved:  # the name is this process's own: no other process inserts it
        session.add(SchedulerHeartbeat(name=name, started_at=started_at, beat_at=now))
    session.execute(delete(SchedulerHeartbeat).where(SchedulerHeartbeat.beat_at < now - FORGET_AFTER)
                    .execution_options(synchronize_session=False))
    session.flush()


@dataclass(frozen=True)
class SchedulerState:
    """What the heartbeats say: the newest one, how old it is, and whether that is too old."""

    newest: SchedulerHeartbeat | None
    age_seconds: float | None
    is_fresh: bool
    #: every scheduler seen lately, the most recent first (two living ones: someone started a second)
    schedulers: list[SchedulerHeartbeat]

    @property
    def problem(self) -> str | None:
        """Why the scheduler is not healthy, in a few words; None when it is."""
        if self.newest is None:
            return "no scheduler has recorded a heartbeat yet"
        if not self.is_fresh:
            return f"no scheduler heartbeat for {int(self.age_seconds or 0)} s"
        return None


def scheduler_state(session: Session, settings: Settings, *, now: datetime | None = None) -> SchedulerState:
    now = now or utcnow()
    rows = list(session.scalars(select(SchedulerHeartbeat).order_by(SchedulerHeartbeat.beat_at.desc(),
                                                                    SchedulerHeartbeat.id.desc()).limit(20)))
    if not rows:
        return SchedulerState(None, None, False, [])
    age = max(0.0, (now - rows[0].beat_at).total_seconds())
    return SchedulerState(rows[0], age, age <= settings.health.scheduler_stale_seconds, rows)
