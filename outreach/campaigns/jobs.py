"""The import tick: write queued CSV imports; imports of dead processes are marked interrupted."""
from __future__ import annotations

import logging

from outreach.campaigns import import_runs
from outreach.jobs.ticks import JobContext

log = logging.getLogger(__name__)

def run_imports(ctx: JobContext) -> int:
    """Mark stale running imports interrupted, then write queued ones until none is left or we are stopping."""
    with ctx.sessionmaker() as session, session.begin():
        if import_runs.mark_interrupted(session):
            log.warning("imports of a stopped process were marked interrupted")
    done = 0
    while not ctx.stopping():
        if not import_runs.run_one(ctx.sessionmaker, ctx.settings, ctx.stopping):
            break
        done += 1
    return done
