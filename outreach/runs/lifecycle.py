"""The one run lifecycle: statuses, claim, heartbeat and progress, cancel, finish, interruption.

Every kind of long job keeps its own table (its own counters and results) and mixes in `RunMixin`
for the lifecycle columns; the verbs here take the model class and do the same for every kind. They
take a Session and flush; the caller commits.

    queued -> running -> done | failed | cancelled | interrupted | refused

"interrupted": the process died mid-run (its heartbeat stopped for `STALE_AFTER`); "refused": bad
input was refused before anything was fetched (`error` says why). A queued run is cancelled at once;
a running one sees the request at its next heartbeat. A run stopped by a clean shutdown goes back
to the queue.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from sqlalchemy import String, Text, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from outreach.jobs.claims import claim_oldest_queued, claim_rows
from outreach.lib.clock import utcnow
from outreach.lib.logs import process_name

STATUSES = ("queued", "running", "done", "failed", "cancelled", "interrupted", "refused")
FINISHED_STATUSES = ("done", "failed", "cancelled", "interrupted", "refused")
#: how a run may end when its work returns
END_STATUSES = ("done", "failed", "cancelled", "refused")
#: a running run whose heartbeat has not moved for this long belongs to a process that died
STALE_AFTER = timedelta(minutes=2)
INTERRUPTED = "the process running this {noun} stopped; start it again"
REQUEUED = "restarted after the app shut down"

R = TypeVar("R", bound="RunMixin")


class RunFinished(ValueError):
    """A one-line reason a finished run cannot be cancelled."""


class RunMixin:
    """The lifecycle columns of a run table, and what can be read from them."""

    #: what the messages call one run of this table ("crawl", "run")
    noun: ClassVar[str] = "run"
    #: counters reset when a run is claimed (its own progress columns)
    counters: ClassVar[tuple[str, ...]] = ()

    if TYPE_CHECKING:
        id: int
    status: Mapped[str] = mapped_column(String(20), default="queued")
    #: set by the cancel button; the running run sees it at its next heartbeat
    is_cancel_requested: Mapped[bool] = mapped_column(default=False)
    #: which process runs it ("host:pid"), for the log and for spotting dead runs
    worker: Mapped[str] = mapped_column(String(200), default="")
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    #: last progress update of a running run; a running run whose heartbeat stopped was interrupted
    heartbeat_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    @property
    def elapsed_seconds(self) -> float:
        if self.started_at is None:
            return 0.0
        end = self.finished_at or self.heartbeat_at or self.started_at
        if not self.is_finished:
            end = max(end, utcnow())
        return max(0.0, (end - self.started_at).total_seconds())

    @property
    def units_total(self) -> int:
        """How many units (sites, queries, ...) the run has to do; 0 when unknown."""
        return 0

    @property
    def units_done(self) -> int:
        return 0

    @property
    def percent(self) -> int:
        """Units done out of the total, as the progress bar's width."""
        if self.is_finished:
            return 100
        total = self.units_total
        return min(100, int(100 * self.units_done / total)) if total else 0


def worker_name() -> str:
    return process_name()


def claim_next(session: Session, model: type[R], worker: str, *, kinds: Sequence[str] | None = None) -> R | None:
    """Claim the oldest queued run (of one of `kinds`, when given) with a conditional update: two workers
    never run the same run."""
    now = utcnow()
    values: dict[str, Any] = {"status": "running", "started_at": now, "heartbeat_at": now, "worker": worker,
                              "error": "", **{name: 0 for name in model.counters}}
    if kinds is None:
        return claim_oldest_queued(session, model, values)
    table: Any = model
    claimed = claim_rows(session, table, where=[table.status == "queued", table.kind.in_(kinds)],
                         order_by=[table.created_at, table.id], limit=1, values=values)
    session.flush()
    return session.get(model, claimed[0], populate_existing=True) if claimed else None


def request_cancel(session: Session, run: RunMixin) -> None:
    """A queued run is cancelled at once; a running one stops at its next heartbeat."""
    model: Any = type(run)
    if run.is_finished:
        raise RunFinished(f"{model.noun} {run.id} has already finished ({run.status})")
    cancelled = session.execute(
        update(model).where(model.id == run.id, model.status == "queued")
        .values(status="cancelled", finished_at=utcnow(), is_cancel_requested=True)).rowcount
    if not cancelled:
        run.is_cancel_requested = True
    session.flush()
    session.refresh(run)


def heartbeat(session: Session, model: type[RunMixin], run_id: int, **counters: int) -> bool:
    """Store the progress counters and the heartbeat of a running run; True when a cancel was requested."""
    table: Any = model
    session.execute(update(table).where(table.id == run_id, table.status == "running")
                    .values(**counters, heartbeat_at=utcnow()))
    session.flush()
    return bool(session.scalar(select(table.is_cancel_requested).where(table.id == run_id)))


def mark_interrupted(session: Session, model: type[RunMixin]) -> int:
    """Running runs whose heartbeat stopped (their process died) become "interrupted"; returns how many."""
    table: Any = model
    now = utcnow()
    count = session.execute(
        update(table).where(table.status == "running", table.heartbeat_at < now - STALE_AFTER)
        .values(status="interrupted", finished_at=now, error=INTERRUPTED.format(noun=model.noun))).rowcount
    session.flush()
    return count


def finish(session: Session, run: RunMixin, status: str, error: str = "", **counters: int) -> None:
    """End a run: done, failed, cancelled or refused, with its last counters."""
    if status not in END_STATUSES:
        raise ValueError(f"a run cannot end {status!r}")
    for name, value in counters.items():
        setattr(run, name, value)
    run.status, run.error, run.finished_at = status, error[:2000], utcnow()
    session.flush()


def requeue(session: Session, run: RunMixin) -> None:
    """Put a run stopped by a clean shutdown back in the queue; it starts over after the restart."""
    run.status, run.started_at, run.heartbeat_at, run.worker = "queued", None, None, ""
    run.error = REQUEUED
    session.flush()
