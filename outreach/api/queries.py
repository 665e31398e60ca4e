"""What a user may see, and the filtered, paginated read queries of the API. No Flask here."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, false, func, or_, select, true
from sqlalchemy.orm import Session, selectinload

from outreach.accounts import permissions
from outreach.campaigns import metrics as metric_table
from outreach.models import Activity, Campaign, Client, Contact, Prospect, Site, Tag, User

T = TypeVar("T")

#: the sort keys of the prospect list; a leading "-" sorts descending (metrics: outreach.campaigns.metrics,
#: the same names as the web list's)
PROSPECT_SORTS = ("created_at", "updated_at", "stage_changed_at", "domain", "stage", *metric_table.NAMES)
_SITE_METRICS = frozenset(m.name for m in metric_table.SITE_METRICS)


@dataclass
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def paginate(session: Session, query: Select[Any], page: int, per_page: int) -> Page[Any]:
    """One page of the query's rows and the total count (two queries, whatever the table size)."""
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    items = list(session.scalars(query.limit(per_page).offset((page - 1) * per_page)))
    return Page(items, total, page, per_page)


# --- clients and campaigns ---------------------------------------------------------------------

def clients_query(user: User, search: str | None = None) -> Select[tuple[Client]]:
    query = select(Client).where(permissions.client_filter(user, Client.id)).order_by(Client.name, Client.id)
    if search:
        query = query.where(Client.name.icontains(search, autoescape=True))
    return query


def campaigns_query(user: User, *, client_id: int | None = None, status: str | None = None,
                    kind: str | None = None, search: str | None = None) -> Select[tuple[Campaign]]:
    query = (select(Campaign).where(permissions.client_filter(user, Campaign.client_id))
             .order_by(Campaign.created_at.desc(), Campaign.id.desc()))
    if client_id is not None:
        query = query.where(Campaign.client_id == client_id)
    if status:
        query = query.where(Campaign.status == status)
    if kind:
        query = query.where(Campaign.kind == kind)
    if search:
        query = query.where(Campaign.name.icontains(search, autoescape=True))
    return query


# --- prospects ---------------------------------------------------------------------------------

@dataclass
class ProspectFilters:
    campaign_id: int | None = None
    client_id: int | None = None
    stages: list[str] = field(default_factory=list)
    tag: str | None = None
    #: a user id; 0 means "nobody"
    owner_id: int | None = None
    search: str | None = None
    #: metric name -> (minimum, maximum), either may be None
    metric_ranges: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    sort: str = "-created_at"


def prospects_query(user: User, filters: ProspectFilters) -> Select[tuple[Prospect]]:
    """The prospects the user may see that match the filters, with what a listing shows loaded."""
    descending = filters.sort.startswith("-")
    key = filters.sort.lstrip("-")
    query = select(Prospect).options(selectinload(Prospect.site), selectinload(Prospect.contact),
                                     selectinload(Prospect.owner), selectinload(Prospect.tags))
    if _SITE_METRICS.intersection(filters.metric_ranges) or key in ("domain", *_SITE_METRICS):
        query = query.join(Site, Site.id == Prospect.site_id)  # only when a filter or the order needs it
    visible = permissions.visible_campaign_ids(user)
    if visible is not None:
        query = query.where(Prospect.campaign_id.in_(visible))
    if filters.campaign_id is not None:
        query = query.where(Prospect.campaign_id == filters.campaign_id)
    if filters.client_id is not None:
        query = query.where(Prospect.campaign_id.in_(
            select(Campaign.id).where(Campaign.client_id == filters.client_id)))
    if filters.stages:
        query = query.where(Prospect.stage.in_(filters.stages))
    if filters.tag and permissions.can_see_internal(user):
        query = query.where(Prospect.tags.any(Tag.name == filters.tag.strip().lower()))
    if filters.owner_id == 0:
        query = query.where(Prospect.owner_id.is_(None))
    elif filters.owner_id is not None:
        query = query.where(Prospect.owner_id == filters.owner_id)
    if filters.search:
        # IN (subquery) scans sites and contacts once, instead of testing every joined prospect row
        term = filters.search.strip()
        by_contact = Prospect.contact_id.in_(select(Contact.id).where(or_(
            Contact.email.icontains(term, autoescape=True), Contact.name.icontains(term, autoescape=True))))
        query = query.where(or_(
            Prospect.site_id.in_(select(Site.id).where(Site.domain.icontains(term, autoescape=True))),
            by_contact if permissions.can_see_internal(user) else false(),
            Prospect.page_url.icontains(term, autoescape=True)))
    for metric, (low, high) in filters.metric_ranges.items():
        column = metric_table.BY_NAME[metric].column
        if low is not None:
            query = query.where(column >= low)
        if high is not None:
            query = query.where(column <= high)
    column = {"domain": Site.domain, "stage": Prospect.stage, "created_at": Prospect.created_at,
              "updated_at": Prospect.updated_at, "stage_changed_at": Prospect.stage_changed_at,
              **{m.name: m.column for m in metric_table.METRICS}}[key]
    if descending:
        return query.order_by(column.desc().nulls_last(), Prospect.id.desc())
    return query.order_by(column.asc().nulls_last(), Prospect.id.asc())


def prospect_with_details(session: Session, prospect_id: int) -> Prospect | None:
    return session.scalar(select(Prospect).where(Prospect.id == prospect_id)
                          .options(selectinload(Prospect.site), selectinload(Prospect.contact),
                                   selectinload(Prospect.owner), selectinload(Prospect.tags),
                                   selectinload(Prospect.campaign)))


def timeline_query(user: User, prospect_id: int, kind: str | None = None) -> Select[tuple[Activity]]:
    """The prospect's timeline as the user may read it, newest first."""
    kinds = permissions.timeline_kinds(user)
    query = (select(Activity).where(Activity.prospect_id == prospect_id)
             .where(Activity.kind.in_(kinds) if kinds is not None else true())
             .options(selectinload(Activity.user))
             .order_by(Activity.created_at.desc(), Activity.id.desc()))
    if kind:
        query = query.where(Activity.kind == kind)
    return query


# --- contacts ----------------------------------------------------------------------------------

def contacts_query(user: User, *, campaign_id: int | None = None, status: str | None = None,
                   search: str | None = None, domain: str | None = None) -> Select[tuple[Contact]]:
    """Contacts: staff see all (client viewers see none: the endpoints refuse them)."""
    query = select(Contact).options(selectinload(Contact.site)).order_by(Contact.email, Contact.id)
    if not permissions.can_see_internal(user):
        return query.where(false())
    visible = permissions.visible_campaign_ids(user)
    if visible is not None:
        query = query.where(Contact.id.in_(
            select(Prospect.contact_id).where(Prospect.campaign_id.in_(visible))))
    if campaign_id is not None:
        query = query.where(Contact.id.in_(
            select(Prospect.contact_id).where(Prospect.campaign_id == campaign_id)))
    if status:
        query = query.where(Contact.status == status)
    if search:
        query = query.where(or_(Contact.email.icontains(search, autoescape=True),
                                Contact.name.icontains(search, autoescape=True)))
    if domain:
        query = query.where(Contact.site_id.in_(select(Site.id).where(Site.domain == domain.strip().lower())))
    return query


def can_read_contact(session: Session, user: User, contact_id: int) -> bool:
    if not permissions.can_see_internal(user):
        return False
    visible = permissions.visible_campaign_ids(user)
    if visible is None:
        return True
    found = session.scalar(select(Prospect.id).where(Prospect.contact_id == contact_id,
                                                    Prospect.campaign_id.in_(visible)).limit(1))
    return found is not None
