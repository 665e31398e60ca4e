"""The prospecting ticks: site walks (guest posts, mentions) and the short runs (footprint searches, contact
finds), each through the one runner loop. The short runs have their own tick so they never wait behind a
long walk, and share one so they take one scheduler thread between them."""
from __future__ import annotations

from typing import Any

from outreach.contacts import runs as contact_runs
from outreach.discovery.prospecting import service as prospecting
from outreach.discovery.search import runs as searches
from outreach.jobs.ticks import JobContext
from outreach.models.prospecting import WALK_KINDS, ProspectingRun
from outreach.runs import runner
from outreach.runs.runner import Ending, RunControl, Work

#: the work of each short kind
SHORT_WORK: dict[str, Work] = {"search": searches.search, "contacts": contact_runs.find}


def run_prospecting(ctx: JobContext) -> int:
    return runner.run_queued(ctx, ProspectingRun, prospecting.discover, kinds=WALK_KINDS)


def _short(ctx: JobContext, run: Any, control: RunControl) -> Ending:
    return SHORT_WORK[run.kind](ctx, run, control)


def run_short(ctx: JobContext) -> int:
    """Queued footprint searches and contact finds, oldest first."""
    return runner.run_queued(ctx, ProspectingRun, _short, kinds=tuple(SHORT_WORK))
