"""/api/v1 discovery: broken-link crawl jobs, prospecting runs, a client's assets and a campaign's opportunities."""
from __future__ import annotations

import base64
import binascii
from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from outreach.accounts import permissions
from outreach.api import serialize as out
from outreach.api.common import _body, _campaign, _client, _commit, _created, _paginate, _require_staff, _user
from outreach.api.errors import ApiError, invalid, not_found
from outreach.api.inputs import MAX_ID, Body, query_choice
from outreach.api.serialize import when
from outreach.contacts import runs as contact_runs
from outreach.contacts import service as contacts
from outreach.crawler import service as crawls
from outreach.discovery.broken_links import store as broken_links
from outreach.discovery.prospecting import service as prospecting
from outreach.discovery.search import runs as searches
from outreach.lib.http import BadURL, check_url
from outreach.models import Campaign, Opportunity, Prospect
from outreach.models.campaigns import OPPORTUNITY_KINDS
from outreach.models.crawl import CrawlFinding, CrawlJob
from outreach.models.prospecting import Asset, ProspectingRun
from outreach.runs import lifecycle
from outreach.web.state import db_session, settings

bp = Blueprint("discovery", __name__)  # nested in the /api/v1 blueprint (api/views.py)

OPPORTUNITY_STATUSES = ("new", "accepted", "dismissed")
#: ids per "add as prospects" request
MAX_IDS = 500


# --- JSON shapes ---------------------------------------------------------------------------------

def crawl_job_json(job: CrawlJob) -> dict[str, Any]:
    return {"id": job.id, "campaign_id": job.campaign_id, "kind": job.kind, "seeds": list(job.seeds),
            "max_pages": job.max_pages, "status": job.status, "is_finished": job.is_finished,
            "is_cancel_requested": job.is_cancel_requested,
            "progress": {"pages_crawled": job.pages_crawled, "links_checked": job.links_checked,
                         "broken_found": job.broken_found, "queued_urls": job.queued_urls,
                         "elapsed_seconds": round(job.elapsed_seconds, 3),
                         "pages_per_second": round(job.pages_per_second, 3)},
            "error": job.error, "created_at": when(job.created_at), "started_at": when(job.started_at),
            "finished_at": when(job.finished_at),
            "url": url_for("api.discovery.get_crawl_job", job_id=job.id, _external=True),
            "findings_url": url_for("api.discovery.crawl_findings", job_id=job.id, _external=True)}


def finding_json(f: CrawlFinding) -> dict[str, Any]:
    return {"id": f.id, "url": f.url, "reason": f.reason, "status": f.http_status, "page_count": f.page_count,
            "found_on": [{"page": s.get("page", ""), "anchor": s.get("anchor") or ""} for s in f.found_on]}


def run_json(run: ProspectingRun) -> dict[str, Any]:
    options = run.options or {}
    return {"id": run.id, "campaign_id": run.campaign_id, "kind": run.kind, "seeds": list(run.seeds),
            "sitemaps": list(options.get("sitemaps", [])), "keywords": list(options.get("keywords", [])),
            "asset_ids": list(options.get("asset_ids", [])), "max_pages": run.max_pages, "status": run.status,
            "is_finished": run.is_finished, "is_cancel_requested": run.is_cancel_requested,
            "queries": list(options.get("queries", [])),
            "progress": {"sites": len(run.seeds), "sites_done": run.sites_done, "pages_crawled": run.pages_crawled,
                         "found": run.found, "percent": run.percent,
                         **({"queries": run.units_total, "queries_done": run.units_done} if run.kind == "search"
                            else {})},
            "error": run.error, "created_at": when(run.created_at), "started_at": when(run.started_at),
            "finished_at": when(run.finished_at),
            "url": url_for("api.discovery.get_prospecting_run", run_id=run.id, _external=True),
            "results_url": url_for("api.discovery.prospecting_results", run_id=run.id, _external=True)}


def asset_json(a: Asset) -> dict[str, Any]:
    return {"id": a.id, "client_id": a.client_id, "kind": a.kind, "name": a.name, "target_url": a.target_url,
            "brand_names": a.brand_list, "image_url": a.image_url, "image_sha256": a.image_sha256,
            "image_type": a.image_type, "created_at": when(a.created_at)}


def opportunity_json(o: Opportunity) -> dict[str, Any]:
    """The opportunity; for a client viewer without the contact addresses found with it."""
    details = permissions.opportunity_details(_user(), o.details)
    return {"id": o.id, "campaign_id": o.campaign_id, "kind": o.kind, "status": o.status, "page_url": o.page_url,
            "site": {"id": o.site.id, "domain": o.site.domain}, "score": o.score, "details": details,
            "prospect_id": o.prospect_id, "crawl_job_id": o.crawl_job_id, "created_at": when(o.created_at)}


# --- lookups that enforce the role rules ---------------------------------------------------------

def _crawl_job(job_id: int, *, edit: bool = False) -> CrawlJob:
    job = db_session().get(CrawlJob, job_id) if job_id <= MAX_ID else None
    campaign = db_session().get(Campaign, job.campaign_id) if job is not None and job.campaign_id else None
    if not permissions.can_see(_user(), campaign):
        raise not_found("crawl job")  # a job without a campaign was started from the CLI: not the API's
    if edit:
        _require_staff()
    return job  # type: ignore[return-value]


def _run(run_id: int, *, edit: bool = False) -> ProspectingRun:
    run = db_session().get(ProspectingRun, run_id) if run_id <= MAX_ID else None
    campaign = db_session().get(Campaign, run.campaign_id) if run is not None else None
    if not permissions.can_see(_user(), campaign):
        raise not_found("prospecting run")
    if edit:
        _require_staff()
    return run  # type: ignore[return-value]


def _opportunity(opportunity_id: int, *, edit: bool = False) -> Opportunity:
    opportunity = db_session().get(Opportunity, opportunity_id) if opportunity_id <= MAX_ID else None
    campaign = db_session().get(Campaign, opportunity.campaign_id) if opportunity is not None else None
    if not permissions.can_see(_user(), campaign):
        raise not_found("opportunity")
    if edit:
        _require_staff()
    return opportunity  # type: ignore[return-value]


def _ids(body: Body, name: str) -> list[int]:
    value = body.data.get(name)
    if (not isinstance(value, list) or not value
            or not all(isinstance(i, int) and not isinstance(i, bool) and 1 <= i <= MAX_ID for i in value)):
        raise invalid(name, f"{name} must be a non-empty list of ids")
    if len(value) > MAX_IDS:
        raise invalid(name, f"{name} has more than {MAX_IDS} items")
    return list(dict.fromkeys(value))


def _max_pages(body: Body, default: int) -> int:
    value = body.data.get("max_pages", default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid("max_pages", "max_pages must be an integer")
    return value


def _finished(what: str, message: str) -> ApiError:
    return ApiError(409, "already_finished", message)


def _conflicts(session: Session, message: str, conflicts: list[dict[str, Any]]) -> ApiError:
    """Nothing is added when some sites conflict and no override reason was given: the caller decides."""
    session.rollback()
    return ApiError(409, "conflict", message, "override_reason", {"refused": conflicts})


# --- broken-link crawl jobs ----------------------------------------------------------------------

@bp.get("/campaigns/<int:campaign_id>/crawl-jobs")
def list_crawl_jobs(campaign_id: int) -> dict[str, Any]:
    campaign = _campaign(campaign_id)
    query = (select(CrawlJob).where(CrawlJob.campaign_id == campaign.id)
             .order_by(CrawlJob.created_at.desc(), CrawlJob.id.desc()))
    return _paginate(query, crawl_job_json)


@bp.post("/campaigns/<int:campaign_id>/crawl-jobs")
def start_crawl_job(campaign_id: int) -> tuple[Response, int, dict[str, str]]:
    campaign = _campaign(campaign_id, edit=True)
    body = _body("seeds", "max_pages")
    seeds = body.string_list("seeds", max_items=crawls.MAX_SEEDS)
    if not seeds:
        raise invalid("seeds", "give at least one seed URL")
    try:
        job = crawls.start_crawl(db_session(), seeds, max_pages=_max_pages(body, 500), campaign=campaign,
                                 actor=_user())
    except crawls.CrawlError as exc:
        field = "max_pages" if "page limit" in str(exc) else "seeds"
        raise invalid(field, str(exc)) from None
    _commit()
    return _created(crawl_job_json(job))


@bp.get("/crawl-jobs/<int:job_id>")
def get_crawl_job(job_id: int) -> dict[str, Any]:
    return crawl_job_json(_crawl_job(job_id))


@bp.post("/crawl-jobs/<int:job_id>/cancel")
def cancel_crawl_job(job_id: int) -> dict[str, Any]:
    """A queued job is cancelled at once; a running one stops at its next progress update, keeping its findings."""
    job = _crawl_job(job_id, edit=True)
    try:
        lifecycle.request_cancel(db_session(), job)
    except lifecycle.RunFinished as exc:
        raise _finished("crawl job", str(exc)) from None
    _commit()
    return crawl_job_json(job)


@bp.get("/crawl-jobs/<int:job_id>/findings")
def crawl_findings(job_id: int) -> dict[str, Any]:
    """Dead URLs with every page linking to each, most-linked first."""
    job = _crawl_job(job_id)
    query = (select(CrawlFinding).where(CrawlFinding.crawl_job_id == job.id)
             .order_by(CrawlFinding.page_count.desc(), CrawlFinding.url, CrawlFinding.id))
    return _paginate(query, finding_json)


@bp.post("/crawl-jobs/<int:job_id>/prospects")
def add_findings_as_prospects(job_id: int) -> dict[str, Any]:
    """The sites linking to the chosen dead URLs become prospects, each with its broken-link opportunities."""
    job = _crawl_job(job_id, edit=True)
    body = _body("finding_ids", "override_reason")
    ids = _ids(body, "finding_ids")
    override = body.optional_string("override_reason", max_length=500)
    override = override.strip() if override else None
    session = db_session()
    items = list(session.scalars(select(CrawlFinding).where(CrawlFinding.crawl_job_id == job.id,
                                                            CrawlFinding.id.in_(ids))
                                 .order_by(CrawlFinding.page_count.desc(), CrawlFinding.url)))
    missing = sorted(set(ids) - {f.id for f in items})
    if missing:
        raise invalid("finding_ids", f"not findings of crawl job {job.id}: {', '.join(map(str, missing[:20]))}")
    campaign = session.get(Campaign, job.campaign_id)
    outcome = broken_links.add_findings_as_prospects(session, campaign, items, actor=_user(),
                                                     override_reason=override)  # type: ignore[arg-type]
    if outcome.conflicts and not override:
        refused = [{"site": c.split(": ", 1)[0], "message": c.split(": ", 1)[-1]} for c in outcome.conflicts]
        raise _conflicts(session, f"{len(refused)} site(s) are in another active campaign or on the do-not-contact "
                                  "list; nothing was added; send override_reason to add them anyway", refused)
    _commit()
    return {"added": outcome.added, "already_in_campaign": outcome.already,
            "refused": [{"site": c.split(": ", 1)[0], "message": c.split(": ", 1)[-1]} for c in outcome.conflicts],
            "opportunities": outcome.opportunities}


# --- prospecting runs: guest posts and mentions --------------------------------------------------

@bp.get("/campaigns/<int:campaign_id>/prospecting-runs")
def list_prospecting_runs(campaign_id: int) -> dict[str, Any]:
    campaign = _campaign(campaign_id)
    query = (select(ProspectingRun).where(ProspectingRun.campaign_id == campaign.id)
             .order_by(ProspectingRun.created_at.desc(), ProspectingRun.id.desc()))
    return _paginate(query, run_json)


@bp.post("/campaigns/<int:campaign_id>/prospecting-runs")
def start_prospecting_run(campaign_id: int) -> tuple[Response, int, dict[str, str]]:
    campaign = _campaign(campaign_id, edit=True)
    body = _body("kind", "seeds", "sitemaps", "keywords", "asset_ids", "max_pages")
    kind = body.string("kind", required=True, max_length=20)
    if kind not in ("guest_posts", "mentions"):
        raise invalid("kind", "kind must be guest_posts or mentions")
    urls, problems = prospecting.parse_url_list(body.lines("seeds", max_items=prospecting.MAX_SEEDS + 1))
    if problems:
        raise invalid("seeds", problems[0])
    sitemaps, bad = prospecting.parse_url_list(body.lines("sitemaps", max_items=20))
    if bad:
        raise invalid("sitemaps", bad[0])
    options: dict[str, Any] = {"sitemaps": sitemaps}
    if kind == "guest_posts":
        options["keywords"] = [k.strip() for k in body.string_list("keywords") if k.strip()]
    else:
        options["asset_ids"] = _ids(body, "asset_ids") if "asset_ids" in body else []
    try:
        run = prospecting.start_run(db_session(), campaign, kind, urls, max_pages=_max_pages(body, 20),
                                    options=options, actor=_user())
    except prospecting.ProspectingError as exc:
        raise invalid(exc.field or "seeds", str(exc)) from None
    _commit()
    return _created(run_json(run))


@bp.get("/prospecting-runs/<int:run_id>")
def get_prospecting_run(run_id: int) -> dict[str, Any]:
    return run_json(_run(run_id))


@bp.post("/prospecting-runs/<int:run_id>/cancel")
def cancel_prospecting_run(run_id: int) -> dict[str, Any]:
    run = _run(run_id, edit=True)
    try:
        lifecycle.request_cancel(db_session(), run)
    except lifecycle.RunFinished as exc:
        raise _finished("prospecting run", str(exc)) from None
    _commit()
    return run_json(run)


@bp.get("/prospecting-runs/<int:run_id>/results")
def prospecting_results(run_id: int) -> dict[str, Any]:
    """What the run found (as stored by the worker) and the opportunities it made, to add as prospects."""
    run = _run(run_id)
    kinds = {"guest_posts": ("guest_post",), "mentions": ("image_mention", "brand_mention")}.get(run.kind, ())
    made = db_session().scalars(
        select(Opportunity).where(Opportunity.campaign_id == run.campaign_id, Opportunity.kind.in_(kinds),
                                  Opportunity.details["run_id"].as_integer() == run.id)
        .order_by(Opportunity.score.desc(), Opportunity.id))
    return {"run": run_json(run), "results": permissions.run_results(_user(), run.results),
            "opportunities": [opportunity_json(o) for o in made]}


# --- assets of a client --------------------------------------------------------------------------

@bp.get("/clients/<int:client_id>/assets")
def list_assets(client_id: int) -> dict[str, Any]:
    client = _client(client_id)
    query = select(Asset).where(Asset.client_id == client.id).order_by(Asset.created_at.desc(), Asset.id.desc())
    return _paginate(query, asset_json)


@bp.post("/clients/<int:client_id>/assets")
def create_asset(client_id: int) -> tuple[Response, int]:
    """A brand asset (names to look for), or an image asset from its URL or base64 bytes."""
    client = _client(client_id, edit=True)
    body = _body("kind", "name", "target_url", "brand_names", "image_url", "image_base64")
    kind = body.string("kind", required=True, max_length=10)
    session = db_session()
    try:
        if kind == "brand":
            asset = prospecting.create_brand_asset(
                session, client, name=body.string("name", max_length=200),
                brand_names=body.lines("brand_names", max_items=100),
                target_url=body.string("target_url", required=True, max_length=2000), actor=_user())
        elif kind == "image":
            data = None
            raw = body.string("image_base64", max_length=prospecting.IMAGE_MAX_BYTES * 2)
            if raw:
                try:
                    data = base64.b64decode(raw, validate=True)
                except (binascii.Error, ValueError):
                    raise invalid("image_base64", "image_base64 is not valid base64") from None
            asset = prospecting.create_image_asset(
                session, client, name=body.string("name", max_length=200),
                target_url=body.string("target_url", required=True, max_length=2000), data=data,
                image_url=body.string("image_url", max_length=2000), settings=settings(), actor=_user())
        else:
            raise invalid("kind", "kind must be brand or image")
    except prospecting.ProspectingError as exc:
        session.rollback()
        field = {"image": "image_base64"}.get(exc.field or "", exc.field or "target_url")
        raise invalid(field, str(exc)) from None
    _commit()
    return jsonify(asset_json(asset)), 201


# --- opportunities of a campaign -----------------------------------------------------------------

@bp.get("/campaigns/<int:campaign_id>/opportunities")
def list_opportunities(campaign_id: int) -> dict[str, Any]:
    campaign = _campaign(campaign_id)
    query = (select(Opportunity).where(Opportunity.campaign_id == campaign.id)
             .options(selectinload(Opportunity.site)).order_by(Opportunity.score.desc(), Opportunity.id.desc()))
    kind = query_choice(request.args, "kind", OPPORTUNITY_KINDS)
    if kind:
        query = query.where(Opportunity.kind == kind)
    status = query_choice(request.args, "status", OPPORTUNITY_STATUSES)
    if status:
        query = query.where(Opportunity.status == status)
    return _paginate(query, opportunity_json)


@bp.post("/opportunities/<int:opportunity_id>/dismiss")
def dismiss_opportunity(opportunity_id: int) -> dict[str, Any]:
    opportunity = _opportunity(opportunity_id, edit=True)
    if opportunity.prospect_id is not None:
        raise ApiError(409, "conflict", "this opportunity is already a prospect; delete the prospect instead")
    opportunity.status = "dismissed"
    _commit()
    return opportunity_json(opportunity)


@bp.post("/campaigns/<int:campaign_id>/opportunities/prospects")
def add_opportunities_as_prospects(campaign_id: int) -> dict[str, Any]:
    """Put the chosen opportunities (of any kind) on the campaign's board."""
    campaign = _campaign(campaign_id, edit=True)
    body = _body("opportunity_ids", "override_reason")
    ids = _ids(body, "opportunity_ids")
    override = (body.optional_string("override_reason", max_length=500) or "").strip()
    session = db_session()
    result = prospecting.add_as_prospects(session, campaign, ids, actor=_user(), override_reason=override)
    if result.errors:
        session.rollback()
        first = next(iter(result.errors.items()))
        raise invalid("opportunity_ids", f"opportunity {first[0]}: {first[1]}; nothing was added")
    if result.conflicts and not override:
        raise _conflicts(session, f"{len(result.conflicts)} opportunity(ies) conflict; nothing was added; send "
                                  "override_reason to add them anyway",
                         [{"opportunity_id": i, "message": m} for i, m in result.conflicts.items()])
    _commit()
    placed = list(session.scalars(select(Opportunity).where(Opportunity.id.in_(ids),
                                                            Opportunity.prospect_id.is_not(None))))
    added, attached = {p.id for p in result.added}, {p.id for p in result.attached}
    return {"added": [{"opportunity_id": o.id, "prospect_id": o.prospect_id} for o in placed
                      if o.prospect_id in added],
            "attached": [{"opportunity_id": o.id, "prospect_id": o.prospect_id} for o in placed
                         if o.prospect_id in attached and o.prospect_id not in added],
            "refused": [{"opportunity_id": i, "message": m} for i, m in result.conflicts.items()]}


# --- contacts of a site --------------------------------------------------------------------------

@bp.post("/campaigns/<int:campaign_id>/contacts/find")
def find_contacts(campaign_id: int) -> dict[str, Any]:
    """Read the site now (the page, its home page, their contact, about, team and write-for-us pages and one
    level below), check the addresses and save them.

    Give `url`, or `prospect_id` to start from that prospect's page. The prospect (given, else the
    campaign's prospect on that site) gets the best address as its contact when it has none.
    """
    campaign = _campaign(campaign_id, edit=True)
    body = _body("url", "prospect_id")
    prospect_id, prospect = body.integer("prospect_id"), None
    if prospect_id is not None:
        prospect = db_session().get(Prospect, prospect_id)
        if prospect is None or prospect.campaign_id != campaign.id:
            raise invalid("prospect_id", f"prospect {prospect_id} is not in campaign {campaign.id}")
    if "url" in body or prospect is None:
        try:
            url = check_url(body.string("url", required=True, max_length=2000))
        except BadURL as exc:
            raise invalid("url", str(exc)) from None
    else:
        url = contacts.prospect_start_url(prospect)
    result = contacts.find_and_save(db_session(), settings(), url, prospect=prospect, campaign_id=campaign.id,
                                    actor=_user())
    _commit()
    return {"url": url, "error": result.found.error, "pages_fetched": list(result.found.pages_fetched),
            "stopped_early": result.found.stopped_early,
            "prospect_id": result.prospect.id if result.prospect is not None else None,
            "contacts": [out.contact(c) for c in result.saved]}


@bp.post("/campaigns/<int:campaign_id>/contacts/find-runs")
def start_contacts_run(campaign_id: int) -> tuple[Response, int, dict[str, str]]:
    """Queue Find contacts as a run: the site of `url` is read in the background with no waiting limit; the run
    shows its progress and, when done, the addresses saved at its results_url."""
    campaign = _campaign(campaign_id, edit=True)
    body = _body("url")
    try:
        run = contact_runs.start_find(db_session(), campaign, body.string("url", required=True, max_length=2000),
                                      actor=_user())
    except contact_runs.ContactRunError as exc:
        raise invalid("url", str(exc)) from None
    _commit()
    return _created(run_json(run))


# --- footprint search ----------------------------------------------------------------------------

@bp.post("/campaigns/<int:campaign_id>/search")
def footprint_search(campaign_id: int) -> tuple[Response, int, dict[str, str]]:
    """Queue a footprint search: the queries (given, or built from the campaign's keywords and the client's brand
    assets) go through the configured search provider in the background; the run shows its progress and, when
    done, its result URLs (seeds for a prospecting run) at its results_url."""
    campaign = _campaign(campaign_id, edit=True)
    body = _body("kind", "queries", "per_query")
    kind = body.string("kind", default="guest_posts", max_length=20)
    if kind not in searches.FOOTPRINT_KINDS:
        raise invalid("kind", f"kind must be one of: {', '.join(searches.FOOTPRINT_KINDS)}")
    if "queries" in body:
        queries = body.string_list("queries", max_items=searches.MAX_QUERIES)
    else:
        queries = searches.campaign_queries(db_session(), campaign, kind)
    try:
        run = searches.start_search(db_session(), campaign, kind, queries, per_query=body.data.get("per_query", 10),
                                    settings=settings(), actor=_user())
    except searches.SearchRunError as exc:
        if exc.code == "search_not_configured":
            raise ApiError(409, exc.code, str(exc)) from None
        raise invalid(exc.field, str(exc)) from None
    _commit()
    return _created(run_json(run))
