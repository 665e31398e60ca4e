"""Tick: fold the prospects' stage changes into the per-campaign counts the dashboard reads."""
from __future__ import annotations

from outreach.campaigns import stage_counts
from outreach.db import session_scope
from outreach.jobs.ticks import JobContext


def fold_stage_counts(ctx: JobContext) -> int:
    """Returns how many changes were folded (the DELETE that takes them is the claim: see stage_counts.fold)."""
    with session_scope(ctx.sessionmaker) as session:
        return stage_counts.fold(session)
