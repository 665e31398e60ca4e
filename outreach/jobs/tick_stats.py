"""Totals of every tick (runs, units done, errors, seconds), kept in memory and added to `tick_stats` in batches.

Ticks run in the scheduler (threads backend) or in Celery workers, never in the web process that serves
/metrics, so the totals live in the database. A process adds what it counted at most every FLUSH_SECONDS
(an atomic "+=" upsert, safe from any number of processes), not once per run: most runs find nothing to do
and would otherwise each write a row. What a killed process had not flushed yet is lost; it is a metric.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from outreach.lib.clock import utcnow
from outreach.models.health import TickStat

log = logging.getLogger(__name__)
FLUSH_SECONDS = 10.0


@dataclass
class _Counts:
    runs: int = 0
    units: int = 0
    errors: int = 0
    seconds: float = 0.0
    last_seconds: float = 0.0
    last_run_at: datetime | None = None


_lock = threading.Lock()
_pending: dict[str, _Counts] = {}
_last_flush = time.monotonic()


def record(tick_id: str, units: int, failed: bool, seconds: float) -> None:
    """Count one run of a tick in this process."""
    with _lock:
        counts = _pending.setdefault(tick_id, _Counts())
        counts.runs += 1
        counts.units += units
        counts.errors += int(failed)
        counts.seconds += seconds
        counts.last_seconds, counts.last_run_at = seconds, utcnow()


def flush(factory: sessionmaker[Session]) -> int:
    """Add what this process counted to the table; returns how many ticks were written."""
    global _last_flush
    with _lock:
        batch = dict(_pending)
        _pending.clear()
        _last_flush = time.monotonic()
    if not batch:
        return 0
    try:
        with factory() as session, session.begin():
            for tick_id, counts in sorted(batch.items()):  # one order in every process: no deadlock
                session.execute(_upsert(session.get_bind().dialect.name, tick_id, counts))
    except Exception:
        log.exception("could not store the tick totals; they are counted again with the next batch")
        with _lock:
            for tick_id, counts in batch.items():
                _merge(_pending.setdefault(tick_id, _Counts()), counts)
        return 0
    return len(batch)


def flush_if_due(factory: sessionmaker[Session]) -> None:
    """Flush when the last one is FLUSH_SECONDS old (called after each run)."""
    if time.monotonic() - _last_flush >= FLUSH_SECONDS:
        flush(factory)


def _merge(into: _Counts, counts: _Counts) -> None:
    into.runs += counts.runs
    into.units += counts.units
    into.errors += counts.errors
    into.seconds += counts.seconds
    if into.last_run_at is None or (counts.last_run_at and counts.last_run_at > into.last_run_at):
        into.last_seconds, into.last_run_at = counts.last_seconds, counts.last_run_at


def _upsert(dialect: str, tick_id: str, counts: _Counts) -> Insert:
    """INSERT ... ON CONFLICT DO UPDATE adding the counts: one atomic statement whoever else adds at once."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = TickStat.__table__
    statement = insert(table).values(tick_id=tick_id, runs=counts.runs, units=counts.units, errors=counts.errors,
                                     seconds=counts.seconds, last_seconds=counts.last_seconds,
                                     last_run_at=counts.last_run_at)
    return statement.on_conflict_do_update(index_elements=[table.c.tick_id], set_={
        "runs": table.c.runs + statement.excluded.runs,
        "units": table.c.units + statement.excluded.units,
        "errors": table.c.errors + statement.excluded.errors,
        "seconds": table.c.seconds + statement.excluded.seconds,
        "last_seconds": statement.excluded.last_seconds,
        "last_run_at": statement.excluded.last_run_at,
    })
