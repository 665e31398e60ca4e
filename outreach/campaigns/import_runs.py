"""Large CSV imports as runs: queued from the preview, written by a worker chunk by chunk with progress.

An import run is a ProspectingRun of kind "import" (the one table of long runs with claim, heartbeat,
cancel and interruption): `sites_done` counts the rows written, `options["rows"]` the rows to write,
`results` holds the report. The uploaded file stays in the instance folder's imports/ until the run
ends. Each chunk is committed, so an interrupted import keeps what it wrote; importing the file again
skips those rows as duplicates in the campaign. Flask-free: the tick in campaigns/jobs.py runs it.
"""
from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from outreach.campaigns import importer
from outreach.config import Settings
from outreach.jobs.claims import claim_oldest_queued
from outreach.lib.clock import utcnow
from outreach.models import Campaign, User
from outreach.models.prospecting import ProspectingRun

log = logging.getLogger(__name__)

#: a running import whose heartbeat is older than this belonged to a process that stopped
STALE_AFTER = timedelta(minutes=2)
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


def request_cancel(session: Session, run: ProspectingRun) -> None:
    """Stop after the chunk being written (the rows already written stay)."""
    if run.is_finished:
        raise ImportRunError(f"import {run.id} has already finished ({run.status})")
    done = session.execute(update(ProspectingRun).where(ProspectingRun.id == run.id,
                                                        ProspectingRun.status == "queued")
                           .values(status="cancelled", finished_at=utcnow(), is_cancel_requested=True)).rowcount
    if not done:
        run.is_cancel_requested = True
    session.flush()
    session.refresh(run)


def claim_next(session: Session, worker: str) -> ProspectingRun | None:
    now = utcnow()
    return claim_oldest_queued(session, ProspectingRun, {
        "status": "running", "started_at": now, "heartbeat_at": now, "worker": worker, "error": "",
        "sites_done": 0, "found": 0}, ProspectingRun.kind == "import")


def mark_interrupted(session: Session) -> int:
    now = utcnow()
    count = session.execute(
        update(ProspectingRun)
        .where(ProspectingRun.kind == "import", ProspectingRun.status == "running",
               ProspectingRun.heartbeat_at < now - STALE_AFTER)
        .values(status="interrupted", finished_at=now,
                error="the process writing this import stopped; the rows written so far are kept — "
                      "import the file again to add the rest")).rowcount
    session.flush()
    return count


def report(result: importer.ImportResult) -> dict[str, Any]:
    """An import's result as a run's `results` (JSON)."""
    def rows(items: list[importer.RowError]) -> list[dict[str, Any]]:
        return [{"line": e.line, "reason": e.reason, "value": e.value[:300]} for e in items[:MAX_REPORTED]]

    return {"imported": result.imported, "overridden": result.overridden,
            "skipped": len(result.errors), "errors": rows(result.errors),
            "warned": len(result.warnings), "warnings": rows(result.warnings)}


def run_one(factory: sessionmaker[Session], settings: Settings, stopping: Callable[[], bool]) -> bool:
    """Claim one queued import and write it, committing each chunk; False when none was queued."""
    with factory() as session, session.begin():
        run = claim_next(session, f"{socket.gethostname()}:{os.getpid()}")
        if run is None:
            return False
        run_id, options, campaign_id = run.id, dict(run.options or {}), run.campaign_id
        actor_id = run.created_by_id
    path = upload_folder(settings.app.instance_path) / f"{options.get('token', '')}.csv"
    try:
        outcome = _write(factory, run_id, campaign_id, actor_id, options, path, stopping)
    except Exception as exc:
        log.exception("import run %s failed", run_id)
        outcome = ("failed", None, f"{type(exc).__name__}: {exc}")
    status, results, error = outcome
    with factory() as session, session.begin():
        session.execute(update(ProspectingRun).where(ProspectingRun.id == run_id).values(
            status=status, error=error, finished_at=utcnow(), heartbeat_at=utcnow(),
            **({"results": results, "sites_done": results["imported"], "found": results["imported"]}
               if results is not None else {})))
    if status in ("done", "cancelled"):
        for suffix in (".csv", ".json"):
            path.with_suffix(suffix).unlink(missing_ok=True)
    return True


def _write(factory: sessionmaker[Session], run_id: int, campaign_id: int, actor_id: int | None,
           options: dict[str, Any], path: Path, stopping: Callable[[], bool]
           ) -> tuple[str, dict[str, Any] | None, str]:
    if not path.exists():
        return "failed", None, "the uploaded file is gone (uploads are kept for a day); upload it again"
    parsed = importer.parse_csv(path.read_bytes())
    mapping = list(options.get("mapping") or [])
    if len(mapping) != len(parsed.headers) or importer.mapping_problems(mapping):
        return "failed", None, "the column mapping no longer fits the file; upload it again"
    session = factory()
    try:
        campaign = session.get(Campaign, campaign_id)
        if campaign is None:
            return "failed", None, "the campaign was deleted"
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
                return "done", report(result), ""
            session.execute(update(ProspectingRun).where(ProspectingRun.id == run_id).values(
                sites_done=progress.imported, heartbeat_at=utcnow()))
            session.commit()
            cancelled = session.scalar(select(ProspectingRun.is_cancel_requested)
                                       .where(ProspectingRun.id == run_id))
            if cancelled or stopping():
                chunks.close()
                written = importer.ImportResult(imported=progress.imported, overridden=0, errors=[])
                if cancelled:
                    return "cancelled", report(written), ""
                return "interrupted", report(written), (
                    "the app shut down while importing; the rows written so far are kept — "
                    "import the file again to add the rest")
    finally:
        session.close()
