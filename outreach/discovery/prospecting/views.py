"""The Prospecting tab of a campaign (runs, search, contacts, opportunities) and a client's assets."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response

from outreach.accounts import permissions
from outreach.contacts import runs as contact_runs
from outreach.discovery.prospecting import service as prospecting
from outreach.discovery.prospecting.forms import (
    RUN_KIND_LABELS,
    WALK_KIND_LABELS,
    AddForm,
    BrandAssetForm,
    ContactsForm,
    ImageAssetForm,
    RunForm,
    SearchForm,
)
from outreach.discovery.search import runs as searches
from outreach.models import Campaign, Client, Contact, Opportunity
from outreach.models.prospecting import Asset, ProspectingRun
from outreach.web import runs
from outreach.web.auth import campaign_or_404, record_or_404, staff_required
from outreach.web.forms import options
from outreach.web.state import db_session, settings

bp = Blueprint("prospecting", __name__)

KINDS = ("guest_post", "image_mention", "brand_mention")
KIND_LABELS = {"guest_post": "Guest post", "image_mention": "Infographic", "brand_mention": "Brand mention"}
MAX_LISTED = 300
MAX_UPLOAD = 2_000_000


def _client_assets(campaign: Campaign) -> list[Asset]:
    return list(db_session().scalars(select(Asset).where(Asset.client_id == campaign.client_id)
                                     .order_by(Asset.created_at.desc())))


def _run_form(campaign: Campaign) -> RunForm:
    form = RunForm()
    assets = _client_assets(campaign)
    form.asset_ids.choices = options((a.id, f"{a.name} ({'image' if a.kind == 'image' else 'brand'})")
                                     for a in assets)
    if request.endpoint != "prospecting.start_run":  # a fresh form, also under another form's errors
        form.keywords.data = "\n".join(campaign.keyword_list)
        form.kind.data = "mentions" if campaign.kind == "mentions" else "guest_posts"
        form.asset_ids.data = [a.id for a in assets]  # look for all of them unless told otherwise
        searched = _search_run(campaign, request.args.get("seeds_from", ""))
        if searched is not None:  # "use as seeds" on a search's page
            form.seeds.data = "\n".join(r["url"] for r in (searched.results or {}).get("results", []))
            if searched.options.get("search_kind") in WALK_KIND_LABELS:
                form.kind.data = searched.options["search_kind"]
    return form


def _search_run(campaign: Campaign, run_id: str) -> ProspectingRun | None:
    run = db_session().get(ProspectingRun, int(run_id)) if run_id.isdigit() and len(run_id) < 10 else None
    if run is None or run.campaign_id != campaign.id or run.kind != "search":
        return None
    return run


def _search_form(campaign: Campaign, kind: str) -> SearchForm:
    form = SearchForm(formdata=None)
    form.kind.data = kind
    form.queries.data = "\n".join(searches.campaign_queries(db_session(), campaign, kind))
    return form


def _page(campaign: Campaign, **extra: Any) -> str:
    session = db_session()
    runs = session.scalars(select(ProspectingRun).where(ProspectingRun.campaign_id == campaign.id,
                                                        ProspectingRun.kind != "import")
                           .order_by(ProspectingRun.created_at.desc()).limit(10)).all()
    kind = request.args.get("kind") if request.args.get("kind") in KINDS else None
    query = (select(Opportunity).where(Opportunity.campaign_id == campaign.id, Opportunity.kind.in_(
        [kind] if kind else KINDS), Opportunity.status != "dismissed")
             .options(selectinload(Opportunity.site)).order_by(Opportunity.score.desc(), Opportunity.id)
             .limit(MAX_LISTED))
    opportunities = session.scalars(query).all()
    total = session.scalar(select(func.count()).select_from(Opportunity).where(
        Opportunity.campaign_id == campaign.id, Opportunity.kind.in_(KINDS), Opportunity.status != "dismissed"))
    search_kind = "mentions" if campaign.kind == "mentions" else "guest_posts"
    context: dict[str, Any] = {
        "campaign": campaign, "runs": runs, "opportunities": opportunities, "total": total, "kind": kind,
        "kind_labels": KIND_LABELS, "run_kind_labels": RUN_KIND_LABELS, "assets": _client_assets(campaign),
        "provider": settings().search.provider if settings().search.api_key else "",
        "max_listed": MAX_LISTED, "add_form": AddForm(formdata=None),
        "contacts_form": ContactsForm(formdata=None, url=request.args.get("find", "")[:2000]),  # from a prospect
    }
    if permissions.is_staff(current_user):
        context.setdefault("run_form", _run_form(campaign))
        context.setdefault("search_form", _search_form(campaign, search_kind))
    context.update(extra)
    return render_template("prospecting/tab.html", **context)


@bp.route("/campaigns/<int:campaign_id>/prospecting")
@login_required
def tab(campaign_id: int) -> str:
    return _page(campaign_or_404(campaign_id))


@bp.route("/campaigns/<int:campaign_id>/prospecting/runs", methods=["POST"])
@staff_required
def start_run(campaign_id: int) -> str | Response:
    campaign = campaign_or_404(campaign_id, edit=True)
    form = _run_form(campaign)
    if not form.validate_on_submit():
        return _page(campaign, run_form=form)
    urls, problems = prospecting.parse_url_list(form.seeds.data or "")
    upload = request.files.get("url_file")
    if upload is not None and upload.filename:
        raw = upload.read(MAX_UPLOAD + 1)
        if len(raw) > MAX_UPLOAD:
            form.url_file.errors = [f"the file is larger than {MAX_UPLOAD // 1_000_000} MB"]
            return _page(campaign, run_form=form)
        more, more_problems = prospecting.parse_url_list(_decode(raw))
        urls += [u for u in more if u not in urls]
        problems += [f"{upload.filename}: {p}" for p in more_problems]
    sitemaps = []
    if (form.sitemap.data or "").strip():
        found, bad = prospecting.parse_url_list(form.sitemap.data or "")
        if bad:
            form.sitemap.errors = [bad[0].split(": ", 1)[-1]]
            return _page(campaign, run_form=form)
        sitemaps = found
    if problems:
        form.seeds.errors = problems[:10] + ([f"… and {len(problems) - 10} more"] if len(problems) > 10 else [])
        return _page(campaign, run_form=form)
    opts: dict[str, Any] = {"sitemaps": sitemaps}
    if form.kind.data == "guest_posts":
        opts["keywords"] = [k.strip() for k in (form.keywords.data or "").splitlines() if k.strip()]
    else:
        opts["asset_ids"] = list(form.asset_ids.data or [])
    session = db_session()
    try:
        run = prospecting.start_run(session, campaign, form.kind.data, urls, max_pages=form.max_pages.data or 20,
                                    options=opts, actor=current_user)
    except prospecting.ProspectingError as exc:
        getattr(form, exc.field or "seeds", form.seeds).errors = [str(exc)]
        return _page(campaign, run_form=form)
    return _queued(run, f"{RUN_KIND_LABELS[run.kind].lower()} over {len(run.seeds) + len(sitemaps)} source(s)")


def _queued(run: ProspectingRun, what: str) -> Response:
    """Commit the queued run and show its page, where its progress appears."""
    db_session().commit()
    flash(f"Queued: {what}. The page shows its progress.", "success")
    return redirect(url_for("prospecting.run", campaign_id=run.campaign_id, run_id=run.id))


def _decode(raw: bytes) -> str:
    for codec in ("utf-8-sig", "utf-16"):
        try:
            return raw.decode(codec)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")


def _run_or_404(campaign: Campaign, run_id: int) -> ProspectingRun:
    run = db_session().get(ProspectingRun, run_id)
    if run is None or run.campaign_id != campaign.id or run.kind == "import":  # imports have their own page
        abort(404)
    return run


@bp.route("/campaigns/<int:campaign_id>/prospecting/runs/<int:run_id>")
@login_required
def run(campaign_id: int, run_id: int) -> str:
    campaign = campaign_or_404(campaign_id)
    found = _run_or_404(campaign, run_id)
    return render_template("prospecting/run.html", campaign=campaign, run=found, run_kind_labels=RUN_KIND_LABELS,
                           results=permissions.run_results(current_user, found.results))


@bp.route("/campaigns/<int:campaign_id>/prospecting/runs/<int:run_id>/progress")
@login_required
def run_progress(campaign_id: int, run_id: int) -> str | Response:
    campaign = campaign_or_404(campaign_id)
    found = _run_or_404(campaign, run_id)
    return runs.progress(found, "prospecting/_progress.html", campaign=campaign)


@bp.route("/campaigns/<int:campaign_id>/prospecting/runs/<int:run_id>/cancel", methods=["POST"])
@staff_required
def cancel_run(campaign_id: int, run_id: int) -> Response:
    campaign = campaign_or_404(campaign_id, edit=True)
    found = _run_or_404(campaign, run_id)
    return runs.cancel(found, stopping="Stopping after the pages in flight.",
                       back=url_for("prospecting.run", campaign_id=campaign.id, run_id=found.id))


@bp.route("/campaigns/<int:campaign_id>/prospecting/search", methods=["POST"])
@staff_required
def search(campaign_id: int) -> str | Response:
    campaign = campaign_or_404(campaign_id, edit=True)
    form = SearchForm()
    if not form.validate_on_submit():
        return _page(campaign, search_form=form)
    session = db_session()
    try:
        run = searches.start_search(session, campaign, form.kind.data or "guest_posts",
                                    (form.queries.data or "").splitlines(), per_query=form.per_query.data or 10,
                                    settings=settings(), actor=current_user)
    except searches.SearchRunError as exc:
        getattr(form, exc.field, form.queries).errors = [str(exc)]
        return _page(campaign, search_form=form)
    return _queued(run, f"a footprint search of {len(run.options['queries'])} query(ies)")


@bp.route("/campaigns/<int:campaign_id>/prospecting/contacts", methods=["POST"])
@staff_required
def find_contacts(campaign_id: int) -> str | Response:
    campaign = campaign_or_404(campaign_id, edit=True)
    form = ContactsForm()
    if not form.validate_on_submit():
        return _page(campaign, contacts_form=form)
    session = db_session()
    try:
        run = contact_runs.start_find(session, campaign, form.url.data or "", actor=current_user)
    except contact_runs.ContactRunError as exc:
        form.url.errors = [str(exc)]
        return _page(campaign, contacts_form=form)
    return _queued(run, f"reading the contacts of {run.seeds[0]}")


@bp.route("/campaigns/<int:campaign_id>/prospecting/add", methods=["POST"])
@staff_required
def add(campaign_id: int) -> str | Response:
    campaign = campaign_or_404(campaign_id, edit=True)
    form = AddForm()
    if not form.validate_on_submit():
        abort(400)
    ids = [int(i) for i in request.form.getlist("opportunity") if i.isdigit()]
    if not ids:
        flash("Tick the results to add first.", "info")
        return redirect(url_for("prospecting.tab", campaign_id=campaign.id))
    session = db_session()
    result = prospecting.add_as_prospects(session, campaign, ids, actor=current_user,
                                          override_reason=form.override_reason.data or "")
    session.commit()
    if result.added:
        flash(f"Added {len(result.added)} prospect(s) to the board.", "success")
    if result.attached:
        names = ", ".join(sorted({p.site.domain for p in result.attached}))
        flash(f"Already on the board, the opportunity joined their card: {names}.", "info")
    if result.conflicts or result.errors:
        return _page(campaign, add_form=form, conflicts=result.conflicts, add_errors=result.errors)
    return redirect(url_for("prospecting.tab", campaign_id=campaign.id))


@bp.route("/campaigns/<int:campaign_id>/prospecting/<int:opportunity_id>/dismiss", methods=["POST"])
@staff_required
def dismiss(campaign_id: int, opportunity_id: int) -> Response:
    campaign = campaign_or_404(campaign_id, edit=True)
    opportunity = db_session().get(Opportunity, opportunity_id)
    if opportunity is None or opportunity.campaign_id != campaign.id:
        abort(404)
    opportunity.status = "dismissed"
    db_session().commit()
    flash(f"Dismissed {opportunity.page_url}.", "info")
    return redirect(url_for("prospecting.tab", campaign_id=campaign.id))


# --- assets -------------------------------------------------------------------------------------

def _client_or_404(client_id: int) -> Client:
    return record_or_404(db_session().get(Client, client_id))


@bp.route("/clients/<int:client_id>/assets", methods=["GET", "POST"])
@login_required
def assets(client_id: int) -> str | Response:
    client = _client_or_404(client_id)
    image_form, brand_form = ImageAssetForm(prefix="image"), BrandAssetForm(prefix="brand")
    if request.method == "GET":
        image_form.target_url.data = brand_form.target_url.data = client.website
        brand_form.brand_names.data = client.name
    if request.method == "POST":
        if not permissions.can_change(current_user, client):
            abort(403)
        session = db_session()
        which = request.form.get("which")
        try:
            if which == "image" and image_form.validate_on_submit():
                upload = image_form.image.data
                data = upload.read(prospecting.IMAGE_MAX_BYTES + 1) if upload and upload.filename else None
                asset = prospecting.create_image_asset(
                    session, client, name=image_form.name.data or (upload.filename if data else ""),
                    target_url=image_form.target_url.data or "", data=data, image_url=image_form.image_url.data or "",
                    settings=settings(), actor=current_user)
            elif which == "brand" and brand_form.validate_on_submit():
                asset = prospecting.create_brand_asset(session, client, name=brand_form.name.data or "",
                                                       brand_names=brand_form.brand_names.data or "",
                                                       target_url=brand_form.target_url.data or "", actor=current_user)
            else:
                asset = None
        except prospecting.ProspectingError as exc:
            session.rollback()
            form = image_form if which == "image" else brand_form
            getattr(form, exc.field or "target_url", form.target_url).errors = [str(exc)]
            asset = None
        if asset is not None:
            session.commit()
            flash(f"Asset “{asset.name}” saved. Choose it in a campaign's Prospecting tab to find mentions.",
                  "success")
            return redirect(url_for("prospecting.assets", client_id=client.id))
    items = db_session().scalars(select(Asset).where(Asset.client_id == client.id)
                                 .order_by(Asset.created_at.desc())).all()
    campaigns = db_session().scalars(select(Campaign).where(Campaign.client_id == client.id)
                                     .order_by(Campaign.name)).all()
    return render_template("prospecting/assets.html", client=client, assets=items, image_form=image_form,
                           brand_form=brand_form, campaigns=campaigns)


@bp.route("/assets/<int:asset_id>/image")
@login_required
def asset_image(asset_id: int) -> Response:
    asset = db_session().get(Asset, asset_id)
    if asset is None or asset.image_data is None or not permissions.can_see(current_user, asset):
        abort(404)
    response = Response(asset.image_data, mimetype=asset.image_type or "application/octet-stream")
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


@bp.route("/assets/<int:asset_id>/delete", methods=["POST"])
@staff_required
def delete_asset(asset_id: int) -> Response:
    asset = db_session().get(Asset, asset_id)
    if asset is None:
        abort(404)
    client_id = asset.client_id
    db_session().delete(asset)
    db_session().commit()
    flash("Asset deleted.", "info")
    return redirect(url_for("prospecting.assets", client_id=client_id))


@bp.app_template_global()
def site_contacts(site_id: int) -> list[Contact]:
    """Contacts known for a site (for the opportunity rows); none for a client viewer."""
    if not permissions.can_see_internal(current_user):
        return []
    return list(db_session().scalars(select(Contact).where(Contact.site_id == site_id)
                                     .order_by(Contact.is_guessed, Contact.is_role, Contact.email).limit(5)))


@bp.app_template_global()
def setup_hint() -> str:
    return searches.SETUP_HINT
