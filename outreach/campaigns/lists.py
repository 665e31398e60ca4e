"""Prospect, site and contact lists: filter, search, sort, paginate, bulk actions, CSV export."""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from outreach.accounts import permissions
from outreach.campaigns import listing, prospect_query, service
from outreach.campaigns import metrics as metric_table
from outreach.lib.clock import utcnow
from outreach.lib.ids import parse_id
from outreach.models import Campaign, Prospect, Tag, User
from outreach.web.auth import campaign_or_404, staff_required
from outreach.web.redirects import safe_next
from outreach.web.state import app_state, db_session

bp = Blueprint("lists", __name__)


def _team() -> Sequence[User]:
    return db_session().scalars(select(User).where(permissions.team_filter(), User.is_active)
                                .order_by(User.name, User.email)).all()


def _prospect_filters(campaign: Campaign | None = None) -> prospect_query.ProspectFilters:
    f = prospect_query.without_internal(current_user, prospect_query.parse_filters(request.args))
    if campaign is not None:
        f.campaign_id = campaign.id
    return f


def _render_prospects(campaign: Campaign | None) -> str:
    session = db_session()
    f = _prospect_filters(campaign)
    internal = permissions.can_see_internal(current_user)
    page = prospect_query.page(session, current_user, f, clamp=True)
    f.page = page.page
    tags = session.scalars(select(Tag.name).order_by(Tag.name).limit(500)).all() if internal else []
    endpoint = "lists.campaign_prospects" if campaign else "lists.prospects"
    base_args = {"campaign_id": campaign.id} if campaign else {}
    extra = metric_table.BY_NAME.get(f.sort)  # a sorted metric without its own column gets one
    return render_template("campaigns/prospects.html", campaign=campaign, page=page, f=f, users=_team(),
                           tags=tags, endpoint=endpoint, base_args=base_args, metrics=metric_table.METRICS,
                           extra=extra if extra is not None and not extra.short else None)


@bp.route("/prospects")
@login_required
def prospects() -> str:
    return _render_prospects(None)


@bp.route("/campaigns/<int:campaign_id>/prospects")
@login_required
def campaign_prospects(campaign_id: int) -> str:
    return _render_prospects(campaign_or_404(campaign_id))


def _csv_response(header: Sequence[str], rows: Callable[[Session], Iterator[Sequence[Any]]], name: str) -> Response:
    """Stream rows as CSV from a session of its own (the request's is closed before streaming starts)."""
    factory = app_state().sessionmaker

    def generate() -> Iterator[str]:
        session = factory()
        try:
            yield "\ufeff" + listing.csv_line(header)
            buffer: list[Sequence[Any]] = []
            for row in rows(session):
                buffer.append(row)
                if len(buffer) >= 500:
                    yield listing.csv_lines(buffer)
                    buffer = []
            yield listing.csv_lines(buffer)
        finally:
            session.close()

    filename = f"{name}-{utcnow():%Y%m%d-%H%M}.csv"
    return Response(generate(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"',
                             "Cache-Control": "no-store"})


@bp.route("/prospects/export.csv")
@login_required
def export_prospects() -> Response:
    return _prospect_csv(_prospect_filters(), "prospects")


@bp.route("/campaigns/<int:campaign_id>/prospects/export.csv")
@login_required
def export_campaign_prospects(campaign_id: int) -> Response:
    campaign = campaign_or_404(campaign_id)
    return _prospect_csv(_prospect_filters(campaign), f"campaign-{campaign.id}-prospects")


def _prospect_csv(f: prospect_query.ProspectFilters, name: str) -> Response:
    """The prospects export; a client viewer's has no contact addresses, names or tags."""
    user_id = current_user.id  # the rows are streamed from a session of their own, after the request's

    def rows(session: Session) -> Iterator[Sequence[Any]]:
        user = session.get(User, user_id)
        assert user is not None
        return prospect_query.csv_rows(session, user, f)

    return _csv_response(prospect_query.csv_header(current_user), rows, name)


def _safe_next(target: str | None) -> str:
    return safe_next(target) or url_for("lists.prospects")


@bp.post("/prospects/bulk")
@staff_required
def bulk() -> str | Response:
    session = db_session()
    next_url = _safe_next(request.form.get("next"))
    ids = [n for n in map(parse_id, request.form.getlist("ids")) if n is not None][:1000]
    action = request.form.get("action", "")
    chosen = session.scalars(select(Prospect).where(Prospect.id.in_(ids))
                             .options(selectinload(Prospect.site), selectinload(Prospect.tags),
                                      selectinload(Prospect.campaign))).all()
    chosen = [p for p in chosen if permissions.can_see(current_user, p)]
    value = {"stage": request.form.get("stage", ""), "tag": request.form.get("tag", ""),
             "owner": request.form.get("owner_id", ""), "delete": ""}.get(action, "")
    if action == "delete" and chosen and request.form.get("confirmed") != "yes":
        return render_template("campaigns/confirm_delete.html", prospects=chosen, next_url=next_url)
    try:
        changed = service.bulk_update(session, list(chosen), action, value, current_user)
    except service.CampaignError as exc:
        flash(str(exc), "error")
        return redirect(next_url)
    session.commit()
    verb = {"stage": f"moved to {value}", "tag": f"tagged “{value.strip().lower()}”",
            "owner": "reassigned", "delete": "deleted"}[action]
    flash(f"{changed} of {len(chosen)} selected prospect{'s' if len(chosen) != 1 else ''} {verb}.", "success")
    return redirect(next_url)


# --- sites and contacts -------------------------------------------------------------------------

@bp.route("/sites")
@staff_required
def sites() -> str:
    f = listing.parse_filters(request.args, sorts=list(listing.SITE_SORTS), default_sort="domain")
    page = listing.paginate(db_session(), listing.site_query(f), f, scalars=False)
    return render_template("campaigns/sites.html", page=page, f=f, metrics=metric_table.SITE_METRICS)


@bp.route("/sites/export.csv")
@staff_required
def export_sites() -> Response:
    f = listing.parse_filters(request.args, sorts=list(listing.SITE_SORTS), default_sort="domain")
    query = listing.site_query(f).execution_options(yield_per=1000)

    def rows(session: Session) -> Iterator[Sequence[Any]]:
        for site, prospects, active, contacts in session.execute(query):
            yield (site.domain, site.domain_rating, site.domain_authority, site.authority_score,
                   site.organic_traffic, prospects, active, contacts, site.created_at.isoformat())

    return _csv_response(("domain", "domain_rating", "domain_authority", "authority_score", "organic_traffic",
                          "prospects", "active_prospects", "contacts", "created_at"), rows, "sites")


@bp.route("/contacts")
@staff_required
def contacts() -> str:
    f = listing.parse_filters(request.args, sorts=list(listing.CONTACT_SORTS), default_sort="email")
    page = listing.paginate(db_session(), listing.contact_query(f), f, scalars=False)
    return render_template("campaigns/contacts.html", page=page, f=f, statuses=listing.CONTACT_STATUSES)


@bp.route("/contacts/export.csv")
@staff_required
def export_contacts() -> Response:
    f = listing.parse_filters(request.args, sorts=list(listing.CONTACT_SORTS), default_sort="email")
    query = listing.contact_query(f).execution_options(yield_per=1000)

    def rows(session: Session) -> Iterator[Sequence[Any]]:
        for contact, prospects, active in session.execute(query):
            yield (contact.email, contact.name, contact.site.domain if contact.site else "", contact.status,
                   contact.status_reason, prospects, active, contact.created_at.isoformat())

    return _csv_response(("email", "name", "domain", "status", "status_reason", "prospects",
                          "active_prospects", "created_at"), rows, "contacts")


@bp.app_template_global()
def list_url(endpoint: str, f: listing.ListFilters | prospect_query.ProspectFilters,
             base_args: dict[str, Any] | None = None, **changes: Any) -> str:
    """The URL of a list page with the current filters and some changes (sort, page)."""
    return url_for(endpoint, **(base_args or {}), **f.args(**changes))


@bp.app_template_global()
def sort_url(endpoint: str, f: listing.ListFilters | prospect_query.ProspectFilters, column: str,
             base_args: dict[str, Any] | None = None) -> str:
    desc = not f.desc if f.sort == column else (column in prospect_query.DESCENDING_FIRST
                                               or column in ("dr", "da", "as", "traffic", "created", "updated"))
    return list_url(endpoint, f, base_args, sort=column, dir="desc" if desc else "asc", page=1)

