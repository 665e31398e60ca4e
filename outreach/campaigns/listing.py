"""Filtered, sorted, paginated lists of prospects, sites and contacts, and their CSV export.

Flask-free: filters are parsed from any mapping of strings (a request's query string, CLI options)
and turned into SELECTs whose query count per page does not depend on the number of rows.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import CompoundSelect, Select, and_, func, or_, select, union
from sqlalchemy.orm import Session, aliased, contains_eager, selectinload
from sqlalchemy.sql.elements import ColumnElement

from outreach.campaigns import metrics as metric_table
from outreach.campaigns import opportunity_context
from outreach.lib.spreadsheet import formula_safe
from outreach.models import STAGES, Campaign, Client, Contact, Prospect, Site, Tag, User
from outreach.models.campaigns import ACTIVE_STAGES, prospect_tags

PER_PAGE_CHOICES = (25, 50, 100, 200)
#: metric filters and sorts: query-string key (`<key>_min`, `sort=<key>`) -> column, from the one metric table
METRICS = {m.list_key: m.column for m in metric_table.METRICS}
METRIC_LABELS = {m.list_key: m.label for m in metric_table.METRICS}
_SITE_KEYS = frozenset(m.list_key for m in metric_table.SITE_METRICS)


@dataclass
class ListFilters:
    """What the user asked for; `errors` maps a filter name to why its value was ignored."""

    q: str = ""
    stage: str = ""
    tag: str = ""
    #: a user id, "none" for unassigned, or "" for anyone
    owner: str = ""
    campaign_id: int | None = None
    status: str = ""
    ranges: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    sort: str = ""
    desc: bool = False
    page: int = 1
    per_page: int = 50
    errors: dict[str, str] = field(default_factory=dict)

    def args(self, **changes: Any) -> dict[str, Any]:
        """Query-string arguments that reproduce these filters, with `changes` applied."""
        out: dict[str, Any] = {"q": self.q, "stage": self.stage, "tag": self.tag, "owner": self.owner,
                               "status": self.status, "sort": self.sort, "dir": "desc" if self.desc else "",
                               "per_page": self.per_page if self.per_page != 50 else "", "page": self.page}
        for key, (low, high) in self.ranges.items():
            out[f"{key}_min"], out[f"{key}_max"] = _fmt(low), _fmt(high)
        out.update(changes)
        if out.get("page") == 1:
            out["page"] = ""
        return {k: v for k, v in out.items() if v not in ("", None)}

    @property
    def is_filtered(self) -> bool:
        return bool(self.q or self.stage or self.tag or self.owner or self.status
                    or any(v != (None, None) for v in self.ranges.values()))


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if value.is_integer() else str(value)


def parse_filters(args: Mapping[str, str], *, sorts: Sequence[str], default_sort: str,
                  default_desc: bool = False) -> ListFilters:
    """Filters from a query string; a bad value is ignored and explained in `errors`."""
    f = ListFilters(q=args.get("q", "").strip()[:200], tag=args.get("tag", "").strip().lower()[:60],
                    status=args.get("status", "").strip()[:20])
    stage = args.get("stage", "").strip()
    if stage and stage not in STAGES and stage != "active":
        f.errors["stage"] = f"unknown stage {stage!r}"
    elif stage:
        f.stage = stage
    owner = args.get("owner", "").strip()
    if owner and owner != "none" and not owner.isdigit():
        f.errors["owner"] = "choose a user from the list"
    else:
        f.owner = owner
    for key in METRICS:
        low = _number(args, f"{key}_min", f)
        high = _number(args, f"{key}_max", f)
        if low is not None and high is not None and low > high:
            f.errors[f"{key}_min"] = f"{METRIC_LABELS[key]} minimum is above the maximum"
            low = high = None
        f.ranges[key] = (low, high)
    sort = args.get("sort", "")
    f.sort = sort if sort in sorts else default_sort
    direction = args.get("dir", "")
    f.desc = direction == "desc" if sort in sorts else default_desc
    try:
        f.page = max(1, int(args.get("page", "1") or 1))
    except ValueError:
        f.page = 1
    try:
        per_page = int(args.get("per_page", "50") or 50)
    except ValueError:
        per_page = 50
    f.per_page = per_page if per_page in PER_PAGE_CHOICES else 50
    return f


def _number(args: Mapping[str, str], name: str, f: ListFilters) -> float | None:
    raw = args.get(name, "").strip().replace(",", "")
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        f.errors[name] = f"{raw!r} is not a number"
        return None


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").lower() + "%"


def _metric_conditions(f: ListFilters, level: str = "site") -> list[ColumnElement[bool]]:
    """Range conditions on the metrics of one level: "site" (Site columns) or "page" (Prospect columns)."""
    conditions: list[ColumnElement[bool]] = []
    for key, (low, high) in f.ranges.items():
        if (key in _SITE_KEYS) != (level == "site"):
            continue
        column = METRICS[key]
        if low is not None:
            conditions.append(column >= low)
        if high is not None:
            conditions.append(column <= high)
    return conditions


@dataclass
class Page:
    items: list[Any]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def first(self) -> int:
        return 0 if not self.total else (self.page - 1) * self.per_page + 1

    @property
    def last(self) -> int:
        return min(self.total, self.page * self.per_page)


def paginate(session: Session, query: Select[Any], f: ListFilters, *, scalars: bool = True,
             count: Select[tuple[int]] | None = None) -> Page:
    """One page of the query's rows and the total (by `count` when given, else by wrapping the query)."""
    if count is None:
        count = select(func.count()).select_from(query.order_by(None).subquery())
    total = session.scalar(count) or 0
    pages = max(1, -(-total // f.per_page))
    f.page = min(f.page, pages)
    paged = query.limit(f.per_page).offset((f.page - 1) * f.per_page)
    items = list(session.scalars(paged).unique()) if scalars else list(session.execute(paged).all())
    return Page(items=items, total=total, page=f.page, per_page=f.per_page)


# --- prospects ---------------------------------------------------------------------------------

PROSPECT_SORTS = {
    "domain": Site.domain, "stage": Prospect.stage, **METRICS, "contact": Contact.email,
    "owner": User.email, "campaign": Campaign.name, "created": Prospect.id,
    "updated": Prospect.updated_at,
}


def prospect_conditions(f: ListFilters, *, campaign_id: int | None = None, client_ids: Sequence[int] | None = None,
                        internal: bool = True) -> list[ColumnElement[bool]]:
    """The WHERE clauses of a prospect list, on the prospects table alone (sub-selects, no joins).

    Without `internal` (a client viewer's list) the search does not look at contacts and tags do not filter.
    """
    conditions: list[ColumnElement[bool]] = []
    if campaign_id is not None:
        conditions.append(Prospect.campaign_id == campaign_id)
    if client_ids is not None:
        conditions.append(Prospect.campaign_id.in_(select(Campaign.id).where(Campaign.client_id.in_(client_ids))))
    if f.stage == "active":
        conditions.append(Prospect.stage.in_(ACTIVE_STAGES))
    elif f.stage:
        conditions.append(Prospect.stage == f.stage)
    if f.tag and internal:
        conditions.append(Prospect.id.in_(
            select(prospect_tags.c.prospect_id).join(Tag, Tag.id == prospect_tags.c.tag_id)
            .where(Tag.name == f.tag)))
    if f.owner == "none":
        conditions.append(Prospect.owner_id.is_(None))
    elif f.owner:
        conditions.append(Prospect.owner_id == int(f.owner))
    if f.q:
        conditions.append(Prospect.id.in_(search_prospect_ids(f.q, contacts=internal)))
    conditions.extend(_metric_conditions(f, "page"))
    metrics = _metric_conditions(f, "site")
    if metrics:
        # EXISTS lets the planner start from the prospects (e.g. by stage) and look each site up
        conditions.append(select(Site.id).where(Site.id == Prospect.site_id, *metrics).correlate(Prospect).exists())
    return conditions


def search_prospect_ids(q: str, *, contacts: bool = True) -> CompoundSelect[Any] | Select[Any]:
    """Ids of the prospects whose site domain, contact address or contact name (with `contacts`) contains `q`.

    A UNION of two index lookups rather than `site_id IN (...) OR contact_id IN (...)`, which no
    planner turns into index lookups (it tests every prospect). Domains and addresses are stored
    lower-cased, so a plain LIKE with the lower-cased pattern matches them without calling lower()
    on every row; names are matched case-insensitively (ILIKE). Both use the trigram indexes on
    PostgreSQL.
    """
    pattern = _like(q)
    by_site, by_contact = aliased(Prospect), aliased(Prospect)
    on_site = select(by_site.id).where(by_site.site_id.in_(
        select(Site.id).where(Site.domain.like(pattern, escape="\\"))))
    if not contacts:
        return on_site
    return union(
        on_site,
        select(by_contact.id).where(by_contact.contact_id.in_(
            select(Contact.id).where(or_(Contact.email.like(pattern, escape="\\"),
                                         Contact.name.ilike(pattern, escape="\\"))))))


#: which joined table a sort column needs in the page-of-ids query
_SORT_JOINS = {"domain": "site", **dict.fromkeys(_SITE_KEYS, "site"),
               "contact": "contact", "owner": "owner", "campaign": "campaign"}


def prospect_page(session: Session, f: ListFilters, *, campaign_id: int | None = None,
                  client_ids: Sequence[int] | None = None, internal: bool = True) -> Page:
    """One page of prospects: ids first (on the prospects table, joined only for the sort), then the rows.

    The same few queries whatever the number of rows: count, page of ids, the prospects, and one
    select-in each for sites, contacts, owners, campaigns, clients and tags.
    """
    conditions = prospect_conditions(f, campaign_id=campaign_id, client_ids=client_ids, internal=internal)
    total = session.scalar(select(func.count()).select_from(Prospect).where(*conditions)) or 0
    f.page = min(f.page, max(1, -(-total // f.per_page)))
    ids_query = select(Prospect.id).where(*conditions)
    join = _SORT_JOINS.get(f.sort)
    if join == "site":
        ids_query = ids_query.join(Prospect.site)
    elif join == "contact":
        ids_query = ids_query.outerjoin(Prospect.contact)
    elif join == "owner":
        ids_query = ids_query.outerjoin(Prospect.owner)
    elif join == "campaign":
        ids_query = ids_query.join(Prospect.campaign)
    column = PROSPECT_SORTS.get(f.sort, Prospect.id)
    order = column.desc().nulls_last() if f.desc else column.asc().nulls_last()
    ids = list(session.scalars(ids_query.order_by(order, Prospect.id.desc() if f.desc else Prospect.id)
                               .limit(f.per_page).offset((f.page - 1) * f.per_page)))
    rows = session.scalars(select(Prospect).where(Prospect.id.in_(ids)).options(
        selectinload(Prospect.site), selectinload(Prospect.contact), selectinload(Prospect.owner),
        selectinload(Prospect.campaign).selectinload(Campaign.client), selectinload(Prospect.tags))).all()
    by_id = {p.id: p for p in rows}
    return Page(items=[by_id[i] for i in ids if i in by_id], total=total, page=f.page, per_page=f.per_page)


PROSPECT_CSV_HEADER = ("campaign", "client", "domain", "page_url", "stage", "contact_email", "contact_name",
                       "owner", "tags", "domain_rating", "domain_authority", "authority_score",
                       "organic_traffic", "created_at", "stage_changed_at", *opportunity_context.CSV_HEADER)


def prospect_export_query(f: ListFilters, *, campaign_id: int | None = None,
                          client_ids: Sequence[int] | None = None, internal: bool = True) -> Select[Any]:
    """The export's rows as plain columns (no ORM objects): one SELECT, tags aggregated per row."""
    tags = (select(func.aggregate_strings(Tag.name, ", "))
            .select_from(prospect_tags).join(Tag, Tag.id == prospect_tags.c.tag_id)
            .where(prospect_tags.c.prospect_id == Prospect.id).correlate(Prospect).scalar_subquery())
    query = (select(Campaign.name, Client.name, Site.domain, Prospect.page_url, Prospect.stage, Contact.email,
                    Contact.name, User.email, tags, Site.domain_rating, Site.domain_authority,
                    Site.authority_score, Site.organic_traffic, Prospect.created_at, Prospect.stage_changed_at)
             .select_from(Prospect).join(Prospect.site).outerjoin(Prospect.contact).outerjoin(Prospect.owner)
             .join(Prospect.campaign).join(Campaign.client)
             .where(*prospect_conditions(f, campaign_id=campaign_id, client_ids=client_ids, internal=internal)))
    column = PROSPECT_SORTS.get(f.sort, Prospect.id)
    order = column.desc().nulls_last() if f.desc else column.asc().nulls_last()
    return query.order_by(order, Prospect.id.desc() if f.desc else Prospect.id)


def prospect_csv_rows(session: Session, query: Select[Any]) -> Iterator[Sequence[Any]]:
    """Rows for the CSV export, streamed from the database 2,000 at a time, each with its opportunity."""
    result = session.execute(query.add_columns(Prospect.id, Prospect.campaign_id, Prospect.site_id)
                             .execution_options(yield_per=2000))
    try:
        for chunk in result.partitions():
            contexts = opportunity_context.for_keys(session, [tuple(row[-3:]) for row in chunk])
            for row in chunk:
                *head, tags, dr, da, as_, traffic, created_at, stage_changed_at, prospect_id, _, _ = row
                yield (*[v or "" for v in head], ", ".join(sorted((tags or "").split(", "))).strip(", "),
                       dr, da, as_, traffic, created_at.isoformat(), stage_changed_at.isoformat(),
                       *contexts[prospect_id].csv_values())
    finally:
        result.close()


# --- sites and contacts ------------------------------------------------------------------------

SITE_SORTS = {"domain": Site.domain, **{k: c for k, c in METRICS.items() if k in _SITE_KEYS},
              "created": Site.created_at}


def site_query(f: ListFilters, *, client_ids: Sequence[int] | None = None) -> Select[Any]:
    """Rows of (Site, prospect count, active prospect count, contact count)."""
    prospects = (select(func.count()).where(Prospect.site_id == Site.id).correlate(Site).scalar_subquery())
    active = (select(func.count()).where(Prospect.site_id == Site.id, Prospect.stage.in_(ACTIVE_STAGES))
              .correlate(Site).scalar_subquery())
    contacts = (select(func.count()).where(Contact.site_id == Site.id).correlate(Site).scalar_subquery())
    query = select(Site, prospects.label("prospects"), active.label("active"), contacts.label("contacts"))
    if client_ids is not None:
        query = query.where(Site.id.in_(select(Prospect.site_id).join(Campaign)
                                        .where(Campaign.client_id.in_(client_ids))))
    if f.q:
        query = query.where(func.lower(Site.domain).like(_like(f.q), escape="\\"))
    conditions = _metric_conditions(f)
    if conditions:
        query = query.where(and_(*conditions))
    column = SITE_SORTS.get(f.sort, Site.domain)
    order = column.desc().nulls_last() if f.desc else column.asc().nulls_last()
    return query.order_by(order, Site.id)


CONTACT_SORTS = {"email": Contact.email, "name": Contact.name, "status": Contact.status,
                 "domain": Site.domain, "created": Contact.created_at}
CONTACT_STATUSES = ("unchecked", "valid", "invalid", "unknown")


def contact_query(f: ListFilters) -> Select[Any]:
    """Rows of (Contact, prospect count, active prospect count) with the site eager-loaded."""
    prospects = (select(func.count()).where(Prospect.contact_id == Contact.id)
                 .correlate(Contact).scalar_subquery())
    active = (select(func.count()).where(Prospect.contact_id == Contact.id, Prospect.stage.in_(ACTIVE_STAGES))
              .correlate(Contact).scalar_subquery())
    query = (select(Contact, prospects.label("prospects"), active.label("active"))
             .outerjoin(Contact.site).options(contains_eager(Contact.site)))
    if f.q:
        pattern = _like(f.q)
        query = query.where(or_(func.lower(Contact.email).like(pattern, escape="\\"),
                                func.lower(Contact.name).like(pattern, escape="\\")))
    if f.status in CONTACT_STATUSES:
        query = query.where(Contact.status == f.status)
    column = CONTACT_SORTS.get(f.sort, Contact.email)
    order = column.desc().nulls_last() if f.desc else column.asc().nulls_last()
    return query.order_by(order, Contact.id)


# --- CSV ---------------------------------------------------------------------------------------

def csv_line(values: Sequence[Any]) -> str:
    """One CSV line; cells that a spreadsheet would run as a formula are prefixed with a quote."""
    out = io.StringIO()
    csv.writer(out).writerow([_safe_cell(v) for v in values])
    return out.getvalue()


def _safe_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return formula_safe(value) if isinstance(value, str) else value
