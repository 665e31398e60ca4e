"""The one runner loop for every kind of run: claim, run the kind's work with heartbeat and cancel, finish.

A kind plugs in a work function: it gets the job context, the claimed run (detached: read its fields,
do not change it) and a `RunControl`, and returns an `Ending`. It reports progress through the control
(which writes the heartbeat and sees a cancel request) and stops early when `control.should_stop()`
says so. The loop ends the run in one transaction with the kind's `save` (results, findings), so a run
is never "done" without what it found.

While the work runs, a thread of the control writes the run's heartbeat three times per
`[scheduler] run_heartbeat_seconds`, whatever the work is doing, so that a run whose heartbeat is
older belongs to a dead process and is taken over (lifecycle.claim_next). When the app stops (SIGTERM),
that thread puts the run back in the queue within a second and tells the work to stop; the loop then
ends nothing. A run taken over by another process is not ended by this one either.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from outreach.jobs.ticks import JobContext
from outreach.lib import logs
from outreach.runs import lifecycle
from outreach.runs.lifecycle import RunMixin

log = logging.getLogger(__name__)
#: how often the heartbeat thread looks whether the app is stopping
STOP_CHECK_SECONDS = 0.5


@dataclass
class Ending:
    """How a run's work ended."""

    #: done, failed, cancelled or refused (a cancel seen while working makes "done" work "cancelled")
    status: str = "done"
    error: str = ""
    #: the last progress counters, stored with the end
    counters: dict[str, int] = field(default_factory=dict)
    #: the work stopped before its end because `should_stop` said so (a cancel, or the app stopping)
    stopped: bool = False
    #: stores what the run found, in the transaction that ends it (kept also when cancelled)
    save: Callable[[Session, Any], None] | None = None


class RunControl:
    """Handed to a run's work: reports progress (the heartbeat) and tells it when to stop."""

    def __init__(self, ctx: JobContext, model: type[RunMixin], run_id: int, worker: str = "") -> None:
        self.ctx, self.model, self.run_id = ctx, model, run_id
        self.worker = worker or lifecycle.worker_name()
        self.cancel_requested = False
        #: the run is no longer this process's: put back in the queue at shutdown, or taken over
        self.lost = False
        self._done = threading.Event()

    def report(self, **counters: int) -> bool:
        """Store the counters and the heartbeat; True when the work should stop (cancelled, or the app stops)."""
        try:
            with self.ctx.sessionmaker() as session, session.begin():
                beat = lifecycle.heartbeat(session, self.model, self.run_id, self.worker, **counters)
            self.cancel_requested |= beat.cancel_requested
            if not beat.held and not self.lost:
                log.warning("%s %s was taken over by another process; stopping", self.model.noun, self.run_id)
                self.lost = True
        except Exception:  # a busy database must not kill the run; the next report retries
            log.exception("could not record progress of %s %s", self.model.noun, self.run_id)
        return self.should_stop()

    def should_stop(self) -> bool:
        return self.cancel_requested or self.lost or self.ctx.stopping()

    def stop_beating(self) -> None:
        """The work is over: `keep_alive` returns."""
        self._done.set()

    def keep_alive(self) -> None:
        """Beat until the work ends (three times per heartbeat interval); give the run back when the app stops."""
        every = self.ctx.settings.scheduler.run_heartbeat_seconds / 3
        last = time.monotonic()
        while not self._done.wait(min(every, STOP_CHECK_SECONDS)):
            if self.ctx.stopping() and not self.lost and not self.cancel_requested:
                try:
                    with self.ctx.sessionmaker() as session, session.begin():
                        given = lifecycle.give_back(session, self.model, self.run_id, self.worker)
                    self.lost = given  # once committed: the work may stop now
                    if self.lost:
                        log.info("%s %s put back in the queue: the app is stopping", self.model.noun, self.run_id)
                except Exception:
                    log.exception("could not put %s %s back in the queue", self.model.noun, self.run_id)
            if time.monotonic() - last >= every and not self.lost:
                last = time.monotonic()
                self.report()

    @asynccontextmanager
    async def reporting(self, counters: Callable[[], dict[str, int]], every: float,
                        on_stop: Callable[[], None]) -> AsyncIterator[None]:
        """While inside, report `counters()` every `every` seconds from a thread; call `on_stop` when to stop."""
        async def beat() -> None:
            while True:
                await asyncio.sleep(every)
                if await asyncio.to_thread(self.report, **counters()):
                    on_stop()

        task = asyncio.create_task(beat())
        try:
            yield
        finally:
            task.cancel()


Work = Callable[[JobContext, Any, RunControl], Ending]


def run_one(ctx: JobContext, model: type[RunMixin], work: Work, *, kinds: Sequence[str] | None = None) -> bool:
    """Claim the oldest queued run of `model` (of `kinds`, when given) and run `work` on it to the end; False
    when none was queued."""
    worker = lifecycle.worker_name()
    stale = timedelta(seconds=ctx.settings.scheduler.run_heartbeat_seconds)
    with ctx.sessionmaker() as session, session.begin():
        run = lifecycle.claim_next(session, model, worker, kinds=kinds, stale_after=stale)
        if run is None:
            return False
        run_id = run.id
        session.expunge(run)
    control = RunControl(ctx, model, run_id, worker)
    beating = threading.Thread(target=control.keep_alive, name=f"heartbeat-{model.noun}-{run_id}", daemon=True)
    beating.start()
    with logs.job(f"{model.noun} {run_id}"):
        try:
            ending = work(ctx, run, control)
        except Exception as exc:
            log.exception("%s %s failed", model.noun, run_id)
            ending = Ending("failed", f"{type(exc).__name__}: {exc}")
        finally:
            control.stop_beating()
            beating.join()
    if control.lost:  # back in the queue, or another process took it over: not this process's to end
        return True
    with ctx.sessionmaker() as session, session.begin():
        current = session.get(model, run_id)
        if current is None:  # deleted with its campaign meanwhile
            return True
        if current.worker != worker or current.status != "running":  # taken over while it was ending
            return True
        if ending.stopped and not current.is_cancel_requested:
            lifecycle.requeue(session, current)  # the app is shutting down: start again after the restart
            return True
        if ending.save is not None:
            ending.save(session, current)
        status = "cancelled" if ending.stopped and ending.status == "done" else ending.status
        lifecycle.finish(session, current, status, ending.error, **ending.counters)
    return True


def run_queued(ctx: JobContext, model: type[RunMixin], work: Work, *, kinds: Sequence[str] | None = None) -> int:
    """The tick of one kind: run queued runs (and take over those of dead processes) until none is left or the
    app is stopping; returns how many ran."""
    done = 0
    while not ctx.stopping() and run_one(ctx, model, work, kinds=kinds):
        done += 1
    return done
