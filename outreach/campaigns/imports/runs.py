"""Large CSV imports as runs: queued from the preview, written by a worker chunk by chunk with progress.

An import run is a ProspectingRun of kind "import", claimed, run, cancelled and interrupted by the one run
lifecycle (outreach.runs): `sites_done` counts the rows written, `options["rows"]` the rows to write,
`results` holds the report. The uploaded file stays in the instance folder's imports/ until the run
ends. Each chunk is committed, so an interrupted import keeps what it wrote; importing the file again
skips those rows as duplicates in the campaign. Flask-free: the tick in imports/jobs.py runs it.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from outreach.campaigns.imports import service as importer
from outreach.jobs.ticks import JobContext
from outreach.lib.clock import utcnow
from outreach.models import Campaign, User
from outreach.models.prospecting import ProspectingRun
from outreach.runs.runner import Ending, RunControl

log = logging.getLogger(__name__)

#: rows with their reasons kept in a run's report (the counts are always complete)
MAX_REPORTED = 500


class ImportRunError(ValueError):
    """Why an import run cannot start or change; one line."""


def upload_folder(instance_path: str | Path) -> Path:
    """Where uploads wait for their preview and their import run."""
    return Path(instance_path) / "imports"


def start_import(session: Session, campaign: Campaign, *, token: str, filename: str, mapping: Sequence[str],
                 rows: int, override_reason: str = "", actor: User | None = None) -> ProspectingRun:
    """Queue the import of an uploaded file (its preview counted `rows` rows to write)."""
    if not rows:
        raise ImportRunError("no row of this file can be imported")
    run = ProspectingRun(campaign_id=campaign.id, kind="import", seeds=[], max_pages=1, status="queued",
                         options={"token": token, "filename": filename[:200], "mapping": list(mapping),
                                  "override_reason": override_reason.strip()[:500], "rows": rows},
                         created_by_id=actor.id if actor else None, created_at=utcnow())
    session.add(run)
    session.flush()
    return run


def report(result: importer.ImportResult) -> dict[str, Any]:
    """An import's result as a run's `results` (JSON)."""
    def rows(items: list[importer.RowError]) -> list[dict[str, Any]]:
        return [{"line": e.line, "reason": e.reason, "value": e.value[:300]} for e in items[:MAX_REPORTED]]

    return {"imported": result.imported, "overridden": result.overridden,
            "skipped": len(result.errors), "errors": rows(result.errors),
            "warned": len(result.warnings), "warnings": rows(result.warnings)}


def write(ctx: JobContext, run: ProspectingRun, control: RunControl) -> Ending:
    """An import run's work (through the one runner loop): plan the uploaded file again, write it chunk by
    chunk, committing each and reporting the rows written as the run's progress."""
    options = dict(run.options or {})
    path = upload_folder(ctx.settings.app.instance_path) / f"{options.get('token', '')}.csv"
    ending = _write(ctx.sessionmaker, run.id, run.campaign_id, run.created_by_id, options, path, control)
    if ending.status in ("done", "cancelled") and not (ending.stopped and not control.cancel_requested):
        for suffix in (".csv", ".json"):
            path.with_suffix(suffix).unlink(missing_ok=True)
    return ending


def _ended(status: str, results: dict[str, Any] | None = None, error: str = "", *, stopped: bool = False) -> Ending:
    def save(session: Session, run: Any) -> None:
        run.results = results

    if results is None:
        return Ending(status, error, stopped=stopped)
    return Ending(status, error, counters={"sites_done": results["imported"], "found": results["imported"]},
                  stopped=stopped, save=save)


def _write(factory: sessionmaker[Session], run_id: int, campaign_id: int, actor_id: int | None,
           options: dict[str, Any], path: Path, control: RunControl) -> Ending:
    if not path.exists():
        return _ended("failed", error="the uploaded file is gone (uploads are kept for a day); upload it again")
    parsed = importer.parse_csv(path.read_bytes())
    mapping = list(options.get("mapping") or [])
    if len(mapping) != len(parsed.headers) or importer.mapping_problems(mapping):
        return _ended("failed", error="the column mapping no longer fits the file; upload it again")
    session = factory()
    try:
        campaign = session.get(Campaign, campaign_id)
        if campaign is None:
            return _ended("failed", error="the campaign was deleted")
        actor = session.get(User, actor_id) if actor_id else None
        plan = importer.plan_import(session, campaign, parsed, mapping)
        chunks = importer.import_chunks(session, campaign, plan, actor=actor,
                                        override_reason=options.get("override_reason", ""),
                                        source=options.get("filename", "CSV"))
        session.execute(update(ProspectingRun).where(ProspectingRun.id == run_id).values(
            options={**options, "rows": sum(1 for r in plan.rows
                                            if not r.conflicts or options.get("override_reason"))}))
        session.commit()
        while True:
            try:
                progress = next(chunks)
            except StopIteration as stop:
                result: importer.ImportResult = stop.value
                session.commit()
                return _ended("done", report(result))
            session.commit()
            if control.report(sites_done=progress.imported):
                # cancelled: the rows written stay; the app stopping: back in the queue, and the rows
                # written are skipped as duplicates when it runs again
                chunks.close()
                written = importer.ImportResult(imported=progress.imported, overridden=0, errors=[])
                return _ended("done", report(written), stopped=True)
    finally:
        session.close()
