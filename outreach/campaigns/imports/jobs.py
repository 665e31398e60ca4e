"""The import tick: queued CSV imports through the one runner loop (imports of dead processes end interrupted)."""
from __future__ import annotations

from outreach.campaigns.imports import runs as import_runs
from outreach.jobs.ticks import JobContext
from outreach.models.prospecting import ProspectingRun
from outreach.runs import runner


def run_imports(ctx: JobContext) -> int:
    return runner.run_queued(ctx, ProspectingRun, import_runs.write, kinds=("import",))
