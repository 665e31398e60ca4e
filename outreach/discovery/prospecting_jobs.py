"""The prospecting tick: run queued guest-post and mention runs; runs of dead processes are marked."""
from __future__ import annotations

import logging

from outreach.discovery import prospecting
from outreach.jobs.ticks import JobContext

log = logging.getLogger(__name__)


def run_prospecting(ctx: JobContext) -> int:
    """Mark stale running runs interrupted, then run queued ones until none is left or we are stopping."""
    with ctx.sessionmaker() as session, session.begin():
        if prospecting.mark_interrupted(session):
            log.warning("prospecting runs of a stopped process were marked interrupted")
    done = 0
    while not ctx.stopping():
        if not prospecting.run_one(ctx.sessionmaker, ctx.settings, ctx.stopping):
            break
        done += 1
    return done
