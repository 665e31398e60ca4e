"""The prospecting tick: queued guest-post and mention runs go through the one runner loop."""
from __future__ import annotations

from outreach.discovery import prospecting
from outreach.jobs.ticks import JobContext
from outreach.models.prospecting import WALK_KINDS, ProspectingRun
from outreach.runs import runner


def run_prospecting(ctx: JobContext) -> int:
    return runner.run_queued(ctx, ProspectingRun, prospecting.discover, kinds=WALK_KINDS)
