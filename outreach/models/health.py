"""What the operator watches: each scheduler's heartbeat, and what every tick has done so far."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from outreach.db import Base


class SchedulerHeartbeat(Base):
    """One row per scheduler process that ever ran: it moves beat_at every few seconds while it lives."""

    __tablename__ = "scheduler_heartbeats"
    __table_args__ = (Index("ix_scheduler_heartbeats_beat_at", "beat_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the process, "host:pid"
    name: Mapped[str] = mapped_column(String(200), unique=True)
    started_at: Mapped[datetime]
    beat_at: Mapped[datetime]
    #: set when the admins were told in the app that this heartbeat went stale; cleared by the next beat
    stale_alerted_at: Mapped[datetime | None]
    #: set when the alert email went out (retried until it does); cleared by the next beat
    stale_emailed_at: Mapped[datetime | None]


class TickStat(Base):
    """Totals of one tick over every process that ran it (counters for /metrics; only ever added to)."""

    __tablename__ = "tick_stats"

    tick_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    runs: Mapped[int] = mapped_column(default=0)
    #: units the tick did: emails sent (mail.send), links checked (backlinks.check), ...
    units: Mapped[int] = mapped_column(default=0)
    #: runs that raised
    errors: Mapped[int] = mapped_column(default=0)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    last_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    last_run_at: Mapped[datetime | None]
