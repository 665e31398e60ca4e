"""Tick: pull the analytics connections that are due (monthly), each claimed so it is pulled once."""
from __future__ import annotations

from outreach.analytics import connections
from outreach.db import session_scope
from outreach.jobs.ticks import JobContext

#: connections claimed per tick
BATCH = 20


def pull_due(ctx: JobContext, *, batch: int = BATCH) -> int:
    """Claim due connections, pull their months and store them; returns how many were pulled."""
    with session_scope(ctx.sessionmaker) as session:
        ids = connections.claim_due(session, limit=batch)
    if not ids:
        return 0
    outcomes = connections.pull_claimed(ctx.settings, ctx.sessionmaker, ctx.secret_box, ids)
    return sum(1 for outcome in outcomes if not outcome.error)
