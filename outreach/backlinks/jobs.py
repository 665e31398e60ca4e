"""Ticks: check the due backlinks, then send the alerts their changes produced."""
from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from sqlalchemy import select

from outreach.backlinks import service
from outreach.backlinks.alerts import send_pending_alerts
from outreach.backlinks.evidence import CheckResult
from outreach.backlinks.find import find_page
from outreach.backlinks.verify import Renderer, RenderError, verify_page
from outreach.config import Settings
from outreach.db import session_scope
from outreach.jobs.ticks import JobContext
from outreach.lib.aio import run_sync
from outreach.lib.clock import utcnow
from outreach.lib.http import Fetcher, FetchSettings
from outreach.models import Backlink

log = logging.getLogger(__name__)

#: backlinks claimed per tick
BATCH = 200
#: results recorded per transaction
APPLY_CHUNK = 200
#: pages rendered in Chromium at the same time
RENDER_CONCURRENCY = 2


@dataclass(frozen=True)
class Job:
    backlink_id: int
    page_url: str
    site_url: str
    target_url: str
    match_mode: str
    anchor: str
    render: bool


@dataclass
class Outcome:
    result: CheckResult
    #: set when the page was unknown and was found on the site
    found_page: str | None = None


def check_due(ctx: JobContext, *, batch: int = BATCH) -> int:
    """Claim due backlinks, verify them concurrently, then record each result in its own transaction."""
    with session_scope(ctx.sessionmaker) as session:
        ids = service.claim_due(session, limit=batch)
        render_all = ctx.settings.backlinks.render_javascript
        jobs = [Job(b.id, b.page_url, b.site_url, b.target_url, b.match_mode, b.agreed_anchor,
                    render_all or b.render_js)
                for b in (session.get(Backlink, i) for i in ids) if b is not None]
    if not jobs:
        send_alerts(ctx)
        return 0

    outcomes = run_sync(run_checks(jobs, ctx.settings))
    done = 0
    for start in range(0, len(jobs), APPLY_CHUNK):
        done += _apply(ctx, [job for job in jobs[start:start + APPLY_CHUNK] if job.backlink_id in outcomes], outcomes)
    send_alerts(ctx)
    return done


def _apply(ctx: JobContext, jobs: list[Job], outcomes: dict[int, Outcome]) -> int:
    """Record a chunk of results in one transaction; if that fails, record them one by one."""
    try:
        return _record(ctx, jobs, outcomes)
    except Exception:
        log.exception("recording %d checks together failed; recording them one by one", len(jobs))
    done = 0
    for job in jobs:
        try:
            done += _record(ctx, [job], outcomes)
        except Exception:
            log.exception("recording the check of backlink %s failed", job.backlink_id)
    return done


def _record(ctx: JobContext, jobs: list[Job], outcomes: dict[int, Outcome]) -> int:
    done = 0
    with session_scope(ctx.sessionmaker) as session:
        backlinks = {b.id: b for b in session.scalars(select(Backlink).where(
            Backlink.id.in_([job.backlink_id for job in jobs])))}
        for job in jobs:
            backlink, outcome = backlinks.get(job.backlink_id), outcomes[job.backlink_id]
            if backlink is None:
                continue
            now = utcnow()
            if outcome.found_page and not backlink.page_url:
                service.attach_page(session, backlink, outcome.found_page, now=now)
            service.apply_check(session, backlink, outcome.result, ctx.settings.backlinks, now=now)
            done += 1
    return done


def send_alerts(ctx: JobContext) -> int:
    return send_pending_alerts(ctx.settings, ctx.sessionmaker)


async def run_checks(jobs: list[Job], settings: Settings) -> dict[int, Outcome]:
    """Verify every job with one fetcher (and one Chromium, when any job renders)."""
    outcomes: dict[int, Outcome] = {}
    renderer: Renderer | None = None
    render_error: str | None = None
    render_slots = asyncio.Semaphore(RENDER_CONCURRENCY)
    async with Fetcher(FetchSettings.from_settings(settings)) as fetcher:
        if any(job.render for job in jobs):
            try:
                renderer = await Renderer(settings).__aenter__()
            except RenderError as exc:
                render_error = str(exc)
                log.warning("rendering unavailable: %s", exc)

        async def one(job: Job) -> None:
            use = renderer if job.render else None
            try:
                async with render_slots if use else contextlib.nullcontext():
                    if job.page_url:
                        result = await verify_page(fetcher, job.page_url, job.target_url, match_mode=job.match_mode,
                                                   anchor=job.anchor or None, renderer=use)
                        outcomes[job.backlink_id] = Outcome(result)
                    else:
                        found = await find_page(fetcher, job.site_url, job.target_url, match_mode=job.match_mode,
                                                anchor=job.anchor or None, renderer=use)
                        if found is None:
                            outcomes[job.backlink_id] = Outcome(CheckResult(
                                page=job.site_url, final_url=None, http_status=None, status="missing",
                                problems=["page_not_found"]))
                        else:
                            outcomes[job.backlink_id] = Outcome(found, found_page=found.page)
                if job.render and render_error:
                    outcomes[job.backlink_id].result.render_error = render_error
            except Exception:
                log.exception("checking backlink %s failed", job.backlink_id)

        try:
            await asyncio.gather(*(one(job) for job in jobs))
        finally:
            if renderer is not None:
                await renderer.__aexit__(None, None, None)
    return outcomes
