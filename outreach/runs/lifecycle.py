"""The one run lifecycle: statuses, claim, heartbeat and progress, cancel, finish, interruption.

Every kind of long job keeps its own table (its own counters and results) and mixes in `RunMixin`
for the lifecycle columns; the verbs here take the model class and do the same for every kind. They
take a Session and flush; the caller commits.

    queued -> running -> done | failed | cancelled | interrupted | refused

A running run writes its heartbeat three times per `[scheduler] run_heartbeat_seconds`; one whose
heartbeat is older than that belongs to a process that died, and the next claim of any process takes
it over as if it were queued (a crawl resumes from its saved frontier; other kinds start again). The
process that lost it (it was only stalled) sees so at its next heartbeat and stops without ending it.
"interrupted" is kept for runs of older versions; "refused": bad input was refused before anything
was fetched (`error` says why). A queued run is cancelled at once; a running one sees the request at
its next heartbeat. A run stopped by a clean shutdown goes back to the queue at once.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, TypeVar

from sqlalchemy import String, Text, and_, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from outreach.jobs.claims import claim_rows
from outreach.lib.clock import utcnow
from outreach.lib.logs import process_name

STATUSES = ("queued", "running", "done", "failed", "cancelled", "interrupted", "refused")
FINISHED_STATUSES = ("done", "failed", "cancelled", "interrupted", "refused")
#: how a run may end when its work returns
END_STATUSES = ("done", "failed", "cancelled", "refused")
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


def claim_next(session: Session, model: type[R], worker: str, *, kinds: Sequence[str] | None = None,
               stale_after: timedelta | None = None) -> R | None:
    """Claim the oldest queued run (of one of `kinds`, when given), or with `stale_after` a running one whose
    heartbeat is older (its process died), with a conditional update: two workers never run the same run."""
    now = utcnow()
    values: dict[str, Any] = {"status": "running", "started_at": now, "heartbeat_at": now, "worker": worker,
                              "error": "", **{name: 0 for name in model.counters}}
    table: Any = model
    waiting = table.status == "queued"
    if stale_after is not None:
        waiting = or_(waiting, and_(table.status == "running", table.heartbeat_at < now - stale_after))
    where = [waiting] if kinds is None else [waiting, table.kind.in_(kinds)]
    claimed = claim_rows(session, table, where=where, order_by=[table.created_at, table.id], limit=1, values=values)
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


def heartbeat(session: Session, model: type[RunMixin], run_id: int, worker: str, **counters: int) -> Beat:
    """Store the progress counters and the heartbeat of a run `worker` is running: whether a cancel was
    requested, and whether the run is still this worker's (another took it over, or it was requeued)."""
    table: Any = model
    held = session.execute(update(table).where(table.id == run_id, table.status == "running", table.worker == worker)
                           .values(**counters, heartbeat_at=utcnow())).rowcount == 1
    session.flush()
    return Beat(bool(session.scalar(select(table.is_cancel_requested).where(table.id == run_id))), held)


class Beat(NamedTuple):
    cancel_requested: bool
    held: bool


def give_back(session: Session, model: type[RunMixin], run_id: int, worker: str) -> bool:
    """Put a run this worker holds back in the queue at once (its process is shutting down), unless a cancel
    was requested (the run then ends cancelled); whether it was put back."""
    table: Any = model
    done = session.execute(update(table).where(table.id == run_id, table.status == "running", table.worker == worker,
                                               table.is_cancel_requested.is_(False))
                           .values(status="queued", started_at=None, heartbeat_at=None, worker="",
                                   error=REQUEUED)).rowcount == 1
    session.flush()
    return done


def finish(session: Session, run: RunMixin, status: str, error: str = "", **counters: int) -> None:
    """End a run: done, failed, cancelled or refused, with its last counters."""
    if status not in END_STATUSES:
        raise ValueError(f"a run cannot end {status!r}")
    for name, value in counters.items():
        setattr(run, name, value)
    run.status, run.error, run.finished_at = status, error[:2000], utcnow()
    session.flush()


def requeue(session: Session, run: RunMixin) -> None:
    """Put a run stopped by a clean shutdown back in the queue; a crawl resumes after the restart, others start over."""
    run.status, run.started_at, run.heartbeat_at, run.worker = "queued", None, None, ""
    run.error = REQUEUED
    session.flush()
