"""CSV import into a campaign: upload, preview with column mapping, import with a row-by-row report.

A file of up to one chunk of rows is written in the request; a larger one becomes an import run that
a worker writes chunk by chunk while its page shows the progress (outreach.campaigns.imports.runs).
"""
from __future__ import annotations

import json
import re
import secrets
import time
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from outreach.campaigns.imports import runs as import_runs
from outreach.campaigns.imports import service as importer
from outreach.models import Campaign
from outreach.models.prospecting import ProspectingRun
from outreach.web import runs
from outreach.web.auth import campaign_or_404, staff_required
from outreach.web.state import db_session

bp = Blueprint("imports", __name__)

#: uploads waiting for their preview are kept this long
UPLOAD_TTL = 24 * 3600
#: rows shown in the preview table; errors listed on a page
PREVIEW_ROWS = 8
MAX_ERRORS_SHOWN = 500
_TOKEN = re.compile(r"^[0-9a-f]{32}$")


def _upload_dir() -> Path:
    path = import_runs.upload_folder(current_app.instance_path)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _clean_old_uploads(folder: Path) -> None:
    cutoff = time.time() - UPLOAD_TTL
    for path in folder.glob("*"):
        if path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)


def _load_upload(campaign: Campaign, token: str) -> tuple[bytes, dict[str, Any]]:
    """The uploaded bytes and their metadata; 404 unless this user uploaded them for this campaign."""
    if not _TOKEN.match(token):
        abort(404)
    folder = _upload_dir()
    meta_path, data_path = folder / f"{token}.json", folder / f"{token}.csv"
    if not meta_path.exists() or not data_path.exists():
        flash("That upload has expired; please upload the file again.", "error")
        abort(redirect(url_for("imports.upload", campaign_id=campaign.id)))
    meta = json.loads(meta_path.read_text())
    if meta.get("user_id") != current_user.id or meta.get("campaign_id") != campaign.id:
        abort(404)
    return data_path.read_bytes(), meta


def _discard_upload(token: str) -> None:
    folder = _upload_dir()
    for suffix in (".json", ".csv"):
        (folder / f"{token}{suffix}").unlink(missing_ok=True)


@bp.route("/campaigns/<int:campaign_id>/import", methods=["GET", "POST"])
@staff_required
def upload(campaign_id: int) -> str | Response | tuple[str, int]:
    campaign = campaign_or_404(campaign_id, edit=True)
    error = None
    limit_bytes = current_app.config["IMPORT_MAX_CONTENT_LENGTH"]
    if request.method == "POST":
        try:
            file = request.files.get("file")
        except RequestEntityTooLarge:
            return render_template("campaigns/import_upload.html", campaign=campaign, fields=importer.FIELD_LABELS,
                                   limit_mb=limit_bytes // (1024 * 1024), aliases=importer.ALIASES,
                                   error=f"the file is larger than {limit_bytes // (1024 * 1024)} MB; "
                                         "split it and import the parts"), 413
        data = file.read() if file else b""
        if not file or not file.filename:
            error = "choose a CSV file to upload"
        else:
            try:
                importer.parse_csv(data, header_only=True)
            except importer.BadImport as exc:
                error = f"{file.filename}: {exc}"
        if error is None and file is not None:
            folder = _upload_dir()
            _clean_old_uploads(folder)
            token = secrets.token_hex(16)
            (folder / f"{token}.csv").write_bytes(data)
            (folder / f"{token}.json").write_text(json.dumps(
                {"user_id": current_user.id, "campaign_id": campaign.id, "filename": file.filename[:200]}))
            return redirect(url_for("imports.preview", campaign_id=campaign.id, token=token))
    return render_template("campaigns/import_upload.html", campaign=campaign, error=error,
                           fields=importer.FIELD_LABELS, limit_mb=limit_bytes // (1024 * 1024),
                           aliases=importer.ALIASES)


@bp.route("/campaigns/<int:campaign_id>/import/<token>", methods=["GET", "POST"])
@staff_required
def preview(campaign_id: int, token: str) -> str | Response:
    campaign = campaign_or_404(campaign_id, edit=True)
    data, meta = _load_upload(campaign, token)
    parsed = importer.parse_csv(data)
    if request.method == "POST":
        mapping = importer.mapping_from_form(request.form, len(parsed.headers))
    else:
        mapping = importer.guess_mapping(parsed.headers)
    problems = importer.mapping_problems(mapping)
    override_reason = request.form.get("override_reason", "").strip()
    override = request.form.get("override") == "yes"
    override_error = None
    session = db_session()
    plan = importer.plan_import(session, campaign, parsed, mapping) if not problems else None
    if request.method == "POST" and request.form.get("action") == "import" and plan is not None:
        if override and not override_reason:
            override_error = "give a reason for the override; it is recorded on each prospect's timeline"
        else:
            reason = override_reason if override else ""
            writing = len(plan.clean) + (len(plan.conflicted) if reason else 0)
            if writing > importer.WRITE_CHUNK:
                run = import_runs.start_import(session, campaign, token=token, filename=meta["filename"],
                                               mapping=mapping, rows=writing, override_reason=reason,
                                               actor=current_user)
                session.commit()
                return redirect(url_for("imports.run", campaign_id=campaign.id, run_id=run.id))
            result = importer.import_rows(session, campaign, plan, actor=current_user, override_reason=reason,
                                          source=meta["filename"])
            session.commit()
            _discard_upload(token)
            flash(f"Imported {result.imported} prospect{'s' if result.imported != 1 else ''} from "
                  f"{meta['filename']}" + (f"; {len(result.errors)} rows skipped." if result.errors else "."),
                  "success" if result.imported else "warning")
            return render_template("campaigns/import_result.html", campaign=campaign,
                                   result=import_runs.report(result), filename=meta["filename"], run=None)
    return render_template("campaigns/import_preview.html", campaign=campaign, parsed=parsed, mapping=mapping,
                           problems=problems, plan=plan, meta=meta, token=token, fields=importer.FIELD_LABELS,
                           preview_rows=parsed.sample(PREVIEW_ROWS), override=override,
                           override_reason=override_reason, override_error=override_error,
                           max_errors=MAX_ERRORS_SHOWN, write_chunk=importer.WRITE_CHUNK,
                           mapped=[(i, f) for i, f in enumerate(mapping) if f and f != "url"])


def _run_or_404(campaign: Campaign, run_id: int) -> ProspectingRun:
    found = db_session().get(ProspectingRun, run_id)
    if found is None or found.campaign_id != campaign.id or found.kind != "import":
        abort(404)
    return found


@bp.route("/campaigns/<int:campaign_id>/import/runs/<int:run_id>")
@staff_required
def run(campaign_id: int, run_id: int) -> str:
    campaign = campaign_or_404(campaign_id, edit=True)
    found = _run_or_404(campaign, run_id)
    return render_template("campaigns/import_result.html", campaign=campaign, run=found,
                           result=found.results if found.is_finished else None,
                           filename=(found.options or {}).get("filename", ""))


@bp.route("/campaigns/<int:campaign_id>/import/runs/<int:run_id>/progress")
@staff_required
def run_progress(campaign_id: int, run_id: int) -> str | Response:
    campaign = campaign_or_404(campaign_id, edit=True)
    found = _run_or_404(campaign, run_id)
    return runs.progress(found, "campaigns/_import_progress.html", campaign=campaign)


@bp.route("/campaigns/<int:campaign_id>/import/runs/<int:run_id>/cancel", methods=["POST"])
@staff_required
def cancel_run(campaign_id: int, run_id: int) -> Response:
    campaign = campaign_or_404(campaign_id, edit=True)
    found = _run_or_404(campaign, run_id)
    return runs.cancel(found, stopping="Stopping after the rows being written; the rows written so far are kept.",
                       back=url_for("imports.run", campaign_id=campaign.id, run_id=found.id))
