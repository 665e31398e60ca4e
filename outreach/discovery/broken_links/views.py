"""The "Broken links" tab of a campaign: start a crawl, watch it, turn its findings into prospects."""
from __future__ import annotations

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import IntegerField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, NumberRange, Optional

from outreach.accounts import permissions
from outreach.crawler import service
from outreach.discovery.broken_links.store import add_findings_as_prospects, job_findings
from outreach.models import Campaign
from outreach.models.crawl import CrawlFinding, CrawlJob
from outreach.web import runs
from outreach.web.auth import campaign_or_404
from outreach.web.state import db_session

bp = Blueprint("broken_links", __name__)


class CrawlForm(FlaskForm):
    seeds = TextAreaField("Seed URLs", validators=[DataRequired("Give at least one URL to crawl.")],
                          description="Resource pages or sites to crawl, one URL per line. Each is crawled "
                                      "within its own host; every link found is checked.")
    max_pages = IntegerField("Page limit", default=200,
                             validators=[InputRequired("Give a page limit."),
                                         NumberRange(1, service.MAX_PAGES_LIMIT,
                                                     f"Between 1 and {service.MAX_PAGES_LIMIT}.")])


class AddProspectsForm(FlaskForm):
    override_reason = StringField("Override reason", validators=[Optional()],
                                  description="Only needed to add sites that are in another active campaign "
                                              "or on the do-not-contact list.")


def _job_or_404(campaign: Campaign, job_id: int) -> CrawlJob:
    job = db_session().get(CrawlJob, job_id)
    if job is None or job.campaign_id != campaign.id:
        abort(404)
    return job


def _staff() -> bool:
    return permissions.is_staff(current_user)


@bp.route("/campaigns/<int:campaign_id>/broken-links", methods=["GET", "POST"])
@login_required
def page(campaign_id: int) -> tuple[str, int] | Response:
    campaign = campaign_or_404(campaign_id, edit=request.method == "POST")
    session = db_session()
    form = CrawlForm()
    if request.method == "POST" and form.validate_on_submit():
        seeds = [line for line in (form.seeds.data or "").splitlines() if line.strip()]
        try:
            job = service.start_crawl(session, seeds, max_pages=form.max_pages.data or 1, campaign=campaign,
                                      actor=current_user)
        except service.CrawlError as exc:
            form.seeds.errors = [*list(form.seeds.errors), str(exc)]
        else:
            session.commit()
            flash(f"Crawl {job.id} queued: it starts within a few seconds.", "success")
            return redirect(url_for("broken_links.page", campaign_id=campaign.id, job=job.id))
    jobs = list(session.scalars(select(CrawlJob).where(CrawlJob.campaign_id == campaign.id)
                                .order_by(CrawlJob.created_at.desc(), CrawlJob.id.desc()).limit(20)))
    job = None
    if request.args.get("job", "").isdigit():
        job = _job_or_404(campaign, int(request.args["job"]))
    elif jobs:
        job = jobs[0]
    findings = job_findings(session, job) if job is not None else []  # a running crawl saves them as found
    if job is not None and request.method == "GET":
        form.seeds.data, form.max_pages.data = "\n".join(job.seeds), job.max_pages  # ready to run again
    return render_template("broken_links/page.html", campaign=campaign, form=form, jobs=jobs, job=job,
                           findings=findings, add_form=AddProspectsForm(), staff=_staff()), 400 if form.errors else 200


@bp.route("/campaigns/<int:campaign_id>/broken-links/<int:job_id>/progress")
@login_required
def progress(campaign_id: int, job_id: int) -> Response:
    campaign = campaign_or_404(campaign_id)
    job = _job_or_404(campaign, job_id)
    response = make_response(render_template("broken_links/_progress.html", campaign=campaign, job=job,
                                             staff=_staff()))
    if job.is_finished and request.headers.get("HX-Request") and request.args.get("poll"):
        response.headers["HX-Refresh"] = "true"  # show the results table
    return response


@bp.route("/campaigns/<int:campaign_id>/broken-links/<int:job_id>/cancel", methods=["POST"])
@login_required
def cancel(campaign_id: int, job_id: int) -> Response:
    campaign = campaign_or_404(campaign_id, edit=True)
    job = _job_or_404(campaign, job_id)
    return runs.cancel(job, stopping=f"Crawl {job.id} is being cancelled; what it found so far is kept.",
                       back=url_for("broken_links.page", campaign_id=campaign.id, job=job.id))


@bp.route("/campaigns/<int:campaign_id>/broken-links/<int:job_id>/prospects", methods=["POST"])
@login_required
def add_prospects(campaign_id: int, job_id: int) -> Response:
    campaign = campaign_or_404(campaign_id, edit=True)
    job = _job_or_404(campaign, job_id)
    form = AddProspectsForm()
    back = redirect(url_for("broken_links.page", campaign_id=campaign.id, job=job.id))
    if not form.validate_on_submit():
        flash("The form expired; try again.", "error")
        return back
    ids = [int(v) for v in request.form.getlist("finding") if v.isdigit()]
    session = db_session()
    items = list(session.scalars(select(CrawlFinding).where(CrawlFinding.crawl_job_id == job.id,
                                                            CrawlFinding.id.in_(ids)))) if ids else []
    if not items:
        flash("Select at least one dead URL first.", "error")
        return back
    result = add_findings_as_prospects(session, campaign, items, actor=current_user,
                                       override_reason=form.override_reason.data or None)
    session.commit()
    if result.added:
        flash(f"Added {len(result.added)} prospect(s): {', '.join(result.added)}.", "success")
    if result.already:
        flash(f"Already on the board (opportunities attached): {', '.join(sorted(set(result.already)))}.", "info")
    for conflict in result.conflicts:
        flash(f"Not added — {conflict}. Give an override reason to add it anyway.", "warning")
    if not (result.added or result.already or result.conflicts):
        flash("Nothing to add: the selected dead URLs have no linking page on a valid site.", "error")
    return back
