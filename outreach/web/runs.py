"""What every run's page shares: its progress partial (polled by htmx) and its Cancel button."""
from __future__ import annotations

from typing import Any

from flask import Response, flash, redirect, render_template, request

from outreach.runs import lifecycle
from outreach.runs.lifecycle import RunMixin
from outreach.web.state import db_session


def progress(run: RunMixin, template: str, **context: Any) -> str | Response:
    """The run's progress partial; once the run has ended, htmx is told to reload the page (its results)."""
    if run.is_finished and request.headers.get("HX-Request"):
        response = Response("", status=204)
        response.headers["HX-Refresh"] = "true"
        return response
    return render_template(template, run=run, **context)


def cancel(run: RunMixin, *, stopping: str, back: str) -> Response:
    """Cancel a run: a queued one at once, a running one at its next heartbeat (`stopping` says what is kept)."""
    session = db_session()
    try:
        lifecycle.request_cancel(session, run)
    except lifecycle.RunFinished as exc:
        flash(str(exc), "error")
    else:
        session.commit()
        flash("Cancelled." if run.status == "cancelled" else stopping, "info")
    return redirect(back)
