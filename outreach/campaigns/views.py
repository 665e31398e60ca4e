"""Dashboard, clients, campaigns, the pipeline board and the prospect page."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import func, select, true
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response

from outreach.accounts import permissions
from outreach.analytics.service import recent
from outreach.campaigns import contact_rules, opportunity_context, prospect_query, service
from outreach.campaigns import metrics as metric_table
from outreach.campaigns.dashboard import STAGE_COLOURS
from outreach.campaigns.dashboard import figures as dashboard_figures
from outreach.campaigns.forms import KIND_LABELS, CampaignForm, ClientForm, ContactForm, NoteForm, ProspectForm
from outreach.contacts.finder import MAX_PAGES
from outreach.contacts.service import WAITING_TIME_LIMIT, FindResult, find_and_save, prospect_start_url
from outreach.lib.ids import chosen_id
from outreach.lib.pages import paginate
from outreach.models import Activity, Backlink, Campaign, Client, Contact, Prospect, Tag, User
from outreach.models.campaigns import prospect_tags
from outreach.web.auth import campaign_or_404, prospect_or_404, record_or_404, staff_required
from outreach.web.forms import error_next_to_field, options
from outreach.web.redirects import safe_next
from outreach.web.state import db_session, settings
from outreach.web.templating import STAGE_LABELS

bp = Blueprint("campaigns", __name__)

#: stages in which a prospect's page offers to add its backlink by hand
LINK_STAGES = ("negotiating", "promised", "live", "lost")
#: campaigns listed per dashboard page (active ones first)
CAMPAIGNS_PER_PAGE = 50




def _visible_clients() -> list[Client]:
    query = select(Client).where(permissions.client_filter(current_user, Client.id)).order_by(Client.name)
    return list(db_session().scalars(query))


@bp.route("/")
@login_required
def dashboard() -> str:
    session = db_session()
    clients = _visible_clients()
    client_ids = [c.id for c in clients]
    staff = permissions.is_staff(current_user)
    #: staff can narrow the dashboard to the campaigns they own
    mine = staff and request.args.get("mine") == "1"
    query = select(Campaign).where(Campaign.client_id.in_(client_ids))
    if mine:
        query = query.where(Campaign.owner_id == current_user.id)
    number = max(1, min(request.args.get("page", 1, type=int) or 1, 100_000))
    campaigns = paginate(session, query.options(selectinload(Campaign.client), selectinload(Campaign.owner))
                         .order_by(Campaign.status, Campaign.created_at.desc(), Campaign.id.desc()),
                         number, CAMPAIGNS_PER_PAGE, clamp=True)
    figures = dashboard_figures(session, campaign_ids=[c.id for c in campaigns.items],
                                campaigns=query, client_ids=client_ids,
                                links_of_campaigns=mine,
                                with_mail=staff and "mail.index" in current_app.view_functions)
    campaigns_per_client = dict(session.execute(
        select(Campaign.client_id, func.count()).where(Campaign.client_id.in_(client_ids))
        .group_by(Campaign.client_id)).all()) if client_ids else {}
    return render_template("campaigns/dashboard.html", clients=clients, campaigns=campaigns, mine=mine,
                           counts=figures.counts, figures=figures, campaigns_per_client=campaigns_per_client,
                           stage_colours=STAGE_COLOURS, kind_labels=KIND_LABELS)


@bp.route("/clients/new", methods=["GET", "POST"])
@staff_required
def new_client() -> str | Response:
    form = ClientForm()
    if form.validate_on_submit():
        session = db_session()
        try:
            client = service.create_client(session, form.name.data or "", website=form.website.data or "",
                                           report_emails=form.report_emails.data or "",
                                           notes=form.notes.data or "", actor=current_user)
        except service.CampaignError as exc:
            error_next_to_field(form, exc, "name")
        else:
            session.commit()
            flash(f"Client {client.name} created. Now create its first campaign.", "success")
            return redirect(url_for("campaigns.new_campaign", client_id=client.id))
    return render_template("campaigns/client_form.html", form=form, client=None)


@bp.route("/clients/<int:client_id>", methods=["GET", "POST"])
@login_required
def client(client_id: int) -> str | Response:
    session = db_session()
    client = record_or_404(session.get(Client, client_id))
    form = ClientForm(obj=client if request.method == "GET" else None)
    if request.method == "POST":
        if not permissions.can_change(current_user, client):
            abort(403)
        if form.validate_on_submit():
            try:
                service.update_client(session, client, name=form.name.data or "",
                                      website=form.website.data or "",
                                      report_emails=form.report_emails.data or "",
                                      notes=form.notes.data or "", actor=current_user)
            except service.CampaignError as exc:
                error_next_to_field(form, exc, "name")
            else:
                session.commit()
                flash("Client saved.", "success")
                return redirect(url_for("campaigns.client", client_id=client.id))
    return render_template("campaigns/client_form.html", form=form, client=client,
                           traffic=recent(session, list(session.scalars(
                               select(Backlink).where(Backlink.client_id == client.id)))))


def _fill_campaign_choices(form: CampaignForm) -> None:
    session = db_session()
    form.client_id.choices = options(
        (c.id, c.name) for c in session.scalars(select(Client).order_by(Client.name)))
    form.owner_id.choices = options([(0, "—")] + [
        (u.id, u.display_name) for u in session.scalars(
            select(User).where(permissions.team_filter(), User.is_active).order_by(User.email))])


@bp.route("/campaigns/new", methods=["GET", "POST"])
@staff_required
def new_campaign() -> str | Response:
    form = CampaignForm()
    del form.status  # a new campaign starts active
    _fill_campaign_choices(form)
    if not form.client_id.choices:
        flash("Add a client first: every campaign belongs to a client.", "info")
        return redirect(url_for("campaigns.new_client"))
    if request.method == "GET":
        form.client_id.data = request.args.get("client_id", type=int)
        form.owner_id.data = current_user.id
    if form.validate_on_submit():
        session = db_session()
        try:
            campaign = service.create_campaign(
                session, form.client_id.data, form.name.data or "", kind=form.kind.data,
                target_urls=form.target_urls.data or "", keywords=form.keywords.data or "",
                owner_id=form.owner_id.data or None, actor=current_user)
        except service.CampaignError as exc:
            error_next_to_field(form, exc, "name")
        else:
            session.commit()
            flash(f"Campaign {campaign.name} created. Add prospects or import a CSV.", "success")
            return redirect(url_for("campaigns.board", campaign_id=campaign.id))
    return render_template("campaigns/campaign_form.html", form=form, campaign=None)


@bp.route("/campaigns/<int:campaign_id>/edit", methods=["GET", "POST"])
@staff_required
def edit_campaign(campaign_id: int) -> str | Response:
    campaign = campaign_or_404(campaign_id, edit=True)
    form = CampaignForm(obj=campaign if request.method == "GET" else None)
    _fill_campaign_choices(form)
    if request.method == "GET":
        form.owner_id.data = campaign.owner_id or 0
    if form.validate_on_submit():
        session = db_session()
        try:
            service.update_campaign(session, campaign, name=form.name.data or "", kind=form.kind.data,
                                    target_urls=form.target_urls.data or "",
                                    keywords=form.keywords.data or "", owner_id=form.owner_id.data or None,
                                    status=form.status.data, actor=current_user)
        except service.CampaignError as exc:
            error_next_to_field(form, exc, "name")
        else:
            session.commit()
            flash("Campaign saved.", "success")
            return redirect(url_for("campaigns.board", campaign_id=campaign.id))
    return render_template("campaigns/campaign_form.html", form=form, campaign=campaign)


#: cards shown per board column; the rest are in the campaign's prospect list
BOARD_COLUMN_LIMIT = 50


@bp.route("/campaigns/<int:campaign_id>")
@login_required
def board(campaign_id: int) -> str:
    campaign = campaign_or_404(campaign_id)
    session = db_session()
    f = prospect_query.parse_filters(request.args)
    internal = permissions.can_see_internal(current_user)
    found = prospect_query.board(session, current_user, f, campaign_id=campaign.id, limit=BOARD_COLUMN_LIMIT)
    columns, totals = found.columns, found.totals
    has_any = bool(totals) or session.scalar(
        select(Prospect.id).where(Prospect.campaign_id == campaign.id).limit(1)) is not None
    users = session.scalars(select(User).where(permissions.team_filter(), User.is_active)
                            .order_by(User.name, User.email)).all()
    tags = session.scalars(select(Tag.name).join(prospect_tags).join(Prospect)
                           .where(Prospect.campaign_id == campaign.id).distinct().order_by(Tag.name)
                           ).all() if internal else []
    # one url_for for all cards: /prospects/<id> and /prospects/<id>/stage
    prefix = url_for("campaigns.prospect", prospect_id=0).removesuffix("0")
    contexts = opportunity_context.for_prospects(session, [p for cards in columns.values() for p in cards])
    return render_template("campaigns/board.html", campaign=campaign, columns=columns, totals=totals, f=f,
                           users=users, tags=tags, has_any=has_any, form=ProspectForm(), kind_labels=KIND_LABELS,
                           prospect_prefix=prefix, summaries={pid: c.summary for pid, c in contexts.items()})


@bp.route("/campaigns/<int:campaign_id>/prospects/new", methods=["GET", "POST"])
@staff_required
def new_prospect(campaign_id: int) -> str | Response:
    campaign = campaign_or_404(campaign_id, edit=True)
    form = ProspectForm()
    conflicts: list[contact_rules.Conflict] = []
    if form.validate_on_submit():
        session = db_session()
        try:
            prospect = service.add_prospect(session, campaign, form.url.data or "", email=form.email.data,
                                            contact_name=form.contact_name.data or "", actor=current_user,
                                            override_reason=form.override_reason.data)
        except contact_rules.ProspectConflict as exc:
            conflicts = exc.conflicts
        except service.CampaignError as exc:
            error_next_to_field(form, exc, "url")
        else:
            session.commit()
            flash(f"{prospect.site.domain} added to the board.", "success")
            return redirect(url_for("campaigns.board", campaign_id=campaign.id))
    return render_template("campaigns/prospect_form.html", campaign=campaign, form=form, conflicts=conflicts)


@bp.route("/prospects/<int:prospect_id>")
@login_required
def prospect(prospect_id: int) -> str:
    return _render_prospect(prospect_or_404(prospect_id), NoteForm())


def _render_prospect(prospect: Prospect, note_form: NoteForm, contact_form: ContactForm | None = None,
                     contact_conflicts: list[str] | None = None, contacts_found: FindResult | None = None) -> str:
    session = db_session()
    internal = permissions.can_see_internal(current_user)
    site_contacts = session.scalars(select(Contact).where(Contact.site_id == prospect.site_id)
                                    .order_by(Contact.is_guessed, Contact.is_role, Contact.email).limit(50)
                                    ).all() if internal else []
    kinds = permissions.timeline_kinds(current_user)
    activities = session.scalars(select(Activity).where(Activity.prospect_id == prospect.id)
                                 .where(Activity.kind.in_(kinds) if kinds is not None else true())
                                 .options(selectinload(Activity.user))
                                 .order_by(Activity.created_at.desc(), Activity.id.desc())).all()
    users = session.scalars(select(User).where(permissions.team_filter(), User.is_active)
                            .order_by(User.email)).all()
    backlinks = session.scalars(select(Backlink).where(Backlink.prospect_id == prospect.id,
                                                       Backlink.client_id == prospect.campaign.client_id)
                                .order_by(Backlink.id.desc())).all()
    return render_template("campaigns/prospect.html", prospect=prospect, campaign=prospect.campaign,
                           opportunity=opportunity_context.for_prospect(session, prospect),
                           activities=activities, note_form=note_form, users=users, backlinks=backlinks,
                           link_stages=LINK_STAGES, site_contacts=site_contacts,
                           contact_form=contact_form or ContactForm(formdata=None),
                           contact_conflicts=contact_conflicts or [], contacts_found=contacts_found,
                           find_pages=MAX_PAGES, find_seconds=int(WAITING_TIME_LIMIT),
                           site_metrics=metric_table.values_of("site", prospect.site),
                           page_metrics=metric_table.values_of("page", prospect))


@bp.post("/prospects/<int:prospect_id>/stage")
@staff_required
def move(prospect_id: int) -> str | Response | tuple[str, int] | tuple[dict[str, object], int]:
    prospect = prospect_or_404(prospect_id, edit=True)
    session = db_session()
    wants_json = request.accept_mimetypes.best == "application/json"
    try:
        changed = service.move_prospect(session, prospect, request.form.get("stage", ""), actor=current_user,
                                        position=request.form.get("position", type=float))
    except service.CampaignError as exc:
        if wants_json:
            return {"error": str(exc)}, 400
        if request.headers.get("HX-Request"):
            return str(exc), 400
        flash(str(exc), "error")
        return redirect(url_for("campaigns.prospect", prospect_id=prospect.id))
    session.commit()
    if wants_json:
        return {"id": prospect.id, "stage": prospect.stage, "position": prospect.position,
                "changed": changed, "label": STAGE_LABELS[prospect.stage]}, 200
    if request.headers.get("HX-Request"):
        return render_template("campaigns/_card.html", p=prospect,
                               summary=opportunity_context.for_prospect(session, prospect).summary)
    flash(f"Moved {prospect.site.domain} to {STAGE_LABELS[prospect.stage]}.", "success")
    return redirect(safe_next(request.form.get("next")) or url_for("campaigns.prospect", prospect_id=prospect.id))


@bp.post("/prospects/<int:prospect_id>/notes")
@staff_required
def add_note(prospect_id: int) -> str | Response:
    prospect = prospect_or_404(prospect_id, edit=True)
    form = NoteForm()
    session = db_session()
    if form.validate_on_submit():
        try:
            service.add_note(session, prospect, form.text.data or "", current_user)
        except service.CampaignError as exc:
            error_next_to_field(form, exc, "text")
        else:
            session.commit()
            flash("Note added.", "success")
            return redirect(url_for("campaigns.prospect", prospect_id=prospect.id))
    elif not (form.text.data or "").strip():
        form.text.errors = ["write something first: the note is empty"]
    return _render_prospect(prospect, form)


@bp.post("/prospects/<int:prospect_id>/contact")
@staff_required
def set_contact(prospect_id: int) -> str | Response | tuple[str, int]:
    prospect = prospect_or_404(prospect_id, edit=True)
    form = ContactForm()
    session = db_session()
    conflicts: list[str] = []
    if form.validate_on_submit():
        try:
            contact = service.set_contact(session, prospect, form.email.data or "", name=form.name.data or "",
                                          actor=current_user, override_reason=form.override_reason.data)
        except contact_rules.ProspectConflict as exc:
            conflicts = [c.message for c in exc.conflicts]
            form.override_reason.errors = ["give a reason to use this address anyway"]
        except service.CampaignError as exc:
            error_next_to_field(form, exc, "name" if exc.field == "contact_name" else "email")
        else:
            session.commit()
            flash(f"{contact.email} is now the contact.", "success")
            return redirect(url_for("campaigns.prospect", prospect_id=prospect.id))
    session.rollback()
    return _render_prospect(prospect, NoteForm(formdata=None), form, conflicts), 400


@bp.post("/prospects/<int:prospect_id>/contacts/find")
@staff_required
def find_contacts(prospect_id: int) -> str:
    """Read the prospect's site now (no transaction is held meanwhile) and show what it publishes."""
    prospect = prospect_or_404(prospect_id, edit=True)
    session = db_session()
    result = find_and_save(session, settings(), prospect_start_url(prospect), prospect=prospect, actor=current_user)
    session.commit()
    return _render_prospect(prospect, NoteForm(formdata=None), contacts_found=result)


@bp.post("/prospects/<int:prospect_id>/details")
@staff_required
def update_details(prospect_id: int) -> Response:
    prospect = prospect_or_404(prospect_id, edit=True)
    session = db_session()
    try:
        service.set_tags(session, prospect, request.form.get("tags", "").split(","), current_user)
        service.assign_owner(session, prospect, chosen_id(request.form.get("owner_id")), current_user)
    except service.CampaignError as exc:
        flash(str(exc), "error")
    else:
        session.commit()
        flash("Saved.", "success")
    return redirect(url_for("campaigns.prospect", prospect_id=prospect.id))
