"""Ticks: check the due backlinks, then send the alerts their changes produced.

A check tick keeps up to `in_flight` checks running. It claims due backlinks as earlier checks finish,
records each result as soon as it is known (results that finish together share a transaction) and renews
the leases of the checks still running. A killed tick loses only its checks in flight, which are due again
within one lease (service.CLAIM_LEASE); a tick told to stop gives them back at once. It goes on while
backlinks are due, for `budget` seconds at most; a worker that runs the next tick meanwhile claims the
next due backlinks (claims skip rows another worker holds), so checking grows with the number of workers.
"""
from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import select

from outreach.backlinks import service
from outreach.backlinks.alerts import send_pending_alerts
from outreach.backlinks.evidence import CheckResult
from outreach.backlinks.find import find_page
from outreach.backlinks.verify import Renderer, RenderError, verify_page
from outreach.config import Settings
from outreach.db import session_scope
from outreach.jobs.claims import move_leases
from outreach.jobs.ticks import JobContext
from outreach.lib.aio import run_sync
from outreach.lib.clock import utcnow
from outreach.lib.http import Fetcher, FetchSettings
from outreach.models import Backlink

log = logging.getLogger(__name__)
T = TypeVar("T")

#: checks running at once in one tick (most wait for the fetcher's connection slots); more are claimed when
#: half of them have finished
IN_FLIGHT = 64
#: seconds a tick goes on claiming while backlinks are due (it then finishes the checks it holds)
TIME_BUDGET = 240.0
#: seconds between renewals of the leases of the checks running (a lease is service.CLAIM_LEASE)
RENEW_EVERY = 20.0
#: a check that crashed (a bug, not a failed fetch: that is a result) is tried again after this long
RETRY_AFTER_CRASH = timedelta(minutes=10)
#: pages rendered in Chromium at the same time
RENDER_CONCURRENCY = 2
#: seconds between looks at the stop flag while checks run
POLL = 0.25


@dataclass(frozen=True)
class Job:
    backlink_id: int
    page_url: str
    site_url: str
    target_url: str
    match_mode: str
    anchor: str
    render: bool

    @classmethod
    def of(cls, backlink: Backlink, settings: Settings) -> Job:
        return cls(backlink.id, backlink.page_url, backlink.site_url, backlink.target_url, backlink.match_mode,
                   backlink.agreed_anchor, settings.backlinks.render_javascript or backlink.render_js)


@dataclass
class Outcome:
    result: CheckResult
    #: set when the page was unknown and was found on the site
    found_page: str | None = None


def check_due(ctx: JobContext, *, in_flight: int = IN_FLIGHT, budget: float = TIME_BUDGET) -> int:
    """Check due backlinks (see the module's docstring) and send the alerts; returns the checks recorded."""
    done = run_sync(_check_due(ctx, max(1, in_flight), budget))
    send_alerts(ctx)
    return done


def send_alerts(ctx: JobContext) -> int:
    return send_pending_alerts(ctx.settings, ctx.sessionmaker)


async def _check_due(ctx: JobContext, in_flight: int, budget: float) -> int:
    ledger = _Ledger(ctx)
    deadline = time.monotonic() + budget
    next_renewal = time.monotonic() + RENEW_EVERY
    running: dict[asyncio.Task[Outcome | None], Job] = {}
    done, more = 0, True
    async with Checker(ctx.settings) as checker:
        try:
            while not ctx.stopping():
                if more and len(running) <= in_flight // 2 and time.monotonic() < deadline:
                    wanted = in_flight - len(running)
                    jobs = await ledger.claim(wanted)
                    more = len(jobs) == wanted  # fewer: nothing else is due now
                    running.update((asyncio.create_task(checker.check(job)), job) for job in jobs)
                if not running:
                    break
                finished, _ = await asyncio.wait(running, timeout=POLL, return_when=asyncio.FIRST_COMPLETED)
                if finished:
                    done += await ledger.record([(running.pop(task), task.result()) for task in finished])
                if time.monotonic() >= next_renewal:
                    next_renewal = time.monotonic() + RENEW_EVERY
                    lost = await ledger.renew(job.backlink_id for job in running.values())
                    for task in [t for t, job in running.items() if job.backlink_id in lost]:
                        task.cancel()
                        del running[task]
        finally:
            if running:  # told to stop (or failing): give back the checks this tick will not finish
                for task in running:
                    task.cancel()
                await asyncio.gather(*running, return_exceptions=True)
                with contextlib.suppress(Exception):
                    await ledger.release(job.backlink_id for job in running.values())
            ledger.close()
    return done


class _Ledger:
    """The database side of one check tick, on one thread of its own: claims, results, leases.

    `held` maps each backlink this tick claimed and has not recorded yet to the lease it set (its
    next_check_at): a result or a renewal is written only where that lease is still in place.
    """

    def __init__(self, ctx: JobContext) -> None:
        self.ctx = ctx
        self.held: dict[int, datetime] = {}
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="backlinks-db")

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        call = functools.partial(contextvars.copy_context().run, fn, *args)  # keeps the job id in the logs
        return await asyncio.get_running_loop().run_in_executor(self._thread, call)

    def close(self) -> None:
        self._thread.shutdown(wait=True)

    async def claim(self, limit: int) -> list[Job]:
        jobs, lease = await self._call(self._claim, limit)
        self.held.update((job.backlink_id, lease) for job in jobs)
        return jobs

    def _claim(self, limit: int) -> tuple[list[Job], datetime]:
        now = utcnow()
        with session_scope(self.ctx.sessionmaker) as session:
            ids = service.claim_due(session, limit=limit, now=now)
            backlinks = session.scalars(select(Backlink).where(Backlink.id.in_(ids)).order_by(Backlink.id)).all()
            return [Job.of(b, self.ctx.settings) for b in backlinks], now + service.CLAIM_LEASE

    async def renew(self, ids: Iterable[int]) -> set[int]:
        """Extend the leases of these checks; returns those this tick no longer holds (another took them)."""
        wanted = {i: self.held[i] for i in ids}
        until = utcnow() + service.CLAIM_LEASE
        try:
            kept = await self._call(self._move, wanted, until)
        except Exception:  # the database is busy or away: the next renewal tries again
            log.exception("renewing the leases of %d backlink checks failed", len(wanted))
            return set()
        self.held.update((i, until) for i in kept)
        for i in set(wanted) - kept:
            del self.held[i]
        return set(wanted) - kept

    async def release(self, ids: Iterable[int]) -> None:
        wanted = {i: self.held.pop(i) for i in ids}
        await self._call(self._move, wanted, utcnow())

    def _move(self, held: dict[int, datetime], until: datetime) -> set[int]:
        with session_scope(self.ctx.sessionmaker) as session:
            return move_leases(session, Backlink.next_check_at, held, until)

    async def record(self, results: list[tuple[Job, Outcome | None]]) -> int:
        """Record finished checks in one transaction; when that fails, one by one."""
        held = {job.backlink_id: self.held.pop(job.backlink_id) for job, _ in results}
        try:
            return await self._call(self._record, results, held)
        except Exception:
            if len(results) == 1:
                log.exception("recording the check of backlink %s failed", results[0][0].backlink_id)
                return 0
            log.exception("recording %d checks together failed; recording them one by one", len(results))
        done = 0
        for result in results:
            try:
                done += await self._call(self._record, [result], held)
            except Exception:
                log.exception("recording the check of backlink %s failed", result[0].backlink_id)
        return done

    def _record(self, results: list[tuple[Job, Outcome | None]], held: dict[int, datetime]) -> int:
        done = 0
        with session_scope(self.ctx.sessionmaker) as session:
            # the write first (on SQLite it takes the lock): only backlinks whose lease is still ours are recorded
            ours = move_leases(session, Backlink.next_check_at,
                               {job.backlink_id: held[job.backlink_id] for job, _ in results},
                               utcnow() + service.CLAIM_LEASE)
            backlinks = {b.id: b for b in session.scalars(
                select(Backlink).where(Backlink.id.in_(ours)).execution_options(populate_existing=True))}
            for job, outcome in results:
                backlink = backlinks.get(job.backlink_id)
                if backlink is None:
                    log.info("backlink %s changed hands during its check; its result is dropped", job.backlink_id)
                    continue
                now = utcnow()
                if outcome is None:
                    backlink.next_check_at = now + RETRY_AFTER_CRASH
                    continue
                if outcome.found_page and not backlink.page_url:
                    service.attach_page(session, backlink, outcome.found_page, now=now)
                service.apply_check(session, backlink, outcome.result, self.ctx.settings.backlinks, now=now)
                done += 1
        return done


class Checker:
    """Checks with one fetcher, and one Chromium started when the first check that renders needs it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._fetcher: Fetcher | None = None
        self._renderer: Renderer | None = None
        self._render_error: str | None = None
        self._render_start = asyncio.Lock()
        self._render_slots = asyncio.Semaphore(RENDER_CONCURRENCY)

    async def __aenter__(self) -> Checker:
        self._fetcher = await Fetcher(FetchSettings.from_settings(self.settings)).__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            if self._renderer is not None:
                await self._renderer.__aexit__(None, None, None)
        finally:
            if self._fetcher is not None:
                await self._fetcher.__aexit__(None, None, None)

    async def _start_renderer(self) -> Renderer | None:
        async with self._render_start:
            if self._renderer is None and self._render_error is None:
                try:
                    self._renderer = await Renderer(self.settings).__aenter__()
                except RenderError as exc:
                    self._render_error = str(exc)
                    log.warning("rendering unavailable: %s", exc)
        return self._renderer

    async def check(self, job: Job) -> Outcome | None:
        """The outcome of one check; None when the check itself crashed (logged)."""
        assert self._fetcher is not None
        try:
            renderer = await self._start_renderer() if job.render else None
            async with self._render_slots if renderer else contextlib.nullcontext():
                if job.page_url:
                    outcome = Outcome(await verify_page(self._fetcher, job.page_url, job.target_url,
                                                        match_mode=job.match_mode, anchor=job.anchor or None,
                                                        renderer=renderer))
                else:
                    found = await find_page(self._fetcher, job.site_url, job.target_url, match_mode=job.match_mode,
                                            anchor=job.anchor or None, renderer=renderer)
                    outcome = Outcome(found, found_page=found.page) if found is not None else Outcome(CheckResult(
                        page=job.site_url, final_url=None, http_status=None, status="missing",
                        problems=["page_not_found"]))
            if job.render and self._render_error:
                outcome.result.render_error = self._render_error
            return outcome
        except Exception:
            log.exception("checking backlink %s failed", job.backlink_id)
            return None


async def run_checks(jobs: list[Job], settings: Settings) -> dict[int, Outcome]:
    """Verify every job with one fetcher (and one Chromium, when any job renders); crashed checks are left out."""
    async with Checker(settings) as checker:
        outcomes = await asyncio.gather(*(checker.check(job) for job in jobs))
    return {job.backlink_id: outcome for job, outcome in zip(jobs, outcomes, strict=True) if outcome is not None}
