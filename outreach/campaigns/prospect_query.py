"""Prospect queries: the one home of the filters, search, sort names, pagination, permission filter and
export of every prospect list (the pipeline board, the web lists, the CSV exports and the API). No Flask.

One vocabulary, the API's documented one (see `SORTS` and `parse_filters`): `search`, `stage`, `tag`,
`owner`, `campaign_id`, `client_id`, `min_<metric>`/`max_<metric>`, `sort` (a leading "-" sorts
descending), `page`, `per_page`. The web list's older spellings stay accepted as aliases so bookmarks and
integrations keep working: `q`, `<dr|da|as|traffic>_min`/`_max`, `sort=dr|da|as|traffic|created|updated`
with `dir=desc`.

Search (one meaning everywhere): a case-insensitive substring of the site's domain or the prospect's page
URL, and, for staff only, of the contact's address or name. Tags are not searched (the tag filter names
one exactly); a client viewer's search never looks at contacts and its tag filter is ignored, since
contacts and tags are internal to the agency (outreach.accounts.permissions).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, func, literal, or_, select, union
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, aliased, contains_eager, selectinload
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import NullType

from outreach.accounts import permissions
from outreach.campaigns import metrics as metric_table
from outreach.campaigns import opportunity_context
from outreach.lib.pages import Page, last_page, link_args
from outreach.models import STAGES, Campaign, Client, Contact, Prospect, Site, Tag, User, url_search
from outreach.models.campaigns import ACTIVE_STAGES, prospect_tags

MAX_PER_PAGE = 200
MAX_SEARCH = 200
#: ids are 32-bit integers in PostgreSQL; a larger number can name no record
MAX_ID = 2**31 - 1

#: the metrics a list filters and sorts on (outreach.campaigns.metrics): name (model attribute, API key) -> metric
METRICS = metric_table.BY_NAME
_SITE_METRICS = frozenset(m.name for m in metric_table.SITE_METRICS)
_BY_SHORT = {m.short: m.name for m in metric_table.METRICS if m.short}

#: sort name -> column; ties are broken by the prospect id in the same direction. `created_at` sorts by
#: the id, which is given in creation order and served by the primary key.
SORTS: dict[str, Any] = {
    "created_at": Prospect.id, "updated_at": Prospect.updated_at, "stage_changed_at": Prospect.stage_changed_at,
    "domain": Site.domain, "stage": Prospect.stage, **{m.name: m.column for m in metric_table.METRICS},
    "contact": Contact.email, "owner": User.email, "campaign": Campaign.name,
}
#: older spellings of sort names, still accepted
SORT_ALIASES = {"created": "created_at", "updated": "updated_at", **_BY_SHORT}
#: sorts whose first click shows the highest first
DESCENDING_FIRST = frozenset({"created_at", "updated_at", "stage_changed_at", *METRICS})
DEFAULT_SORT = "created_at"
#: which joined table a sort column needs in the page-of-ids query
_SORT_JOINS = {"domain": "site", **dict.fromkeys(_SITE_METRICS, "site"), "contact": "contact", "owner": "owner",
               "campaign": "campaign"}


@dataclass
class ProspectFilters:
    """What a list asked for; `errors` maps a query parameter to why its value was ignored."""

    search: str = ""
    #: "active", or comma-separated stages, or "" for all
    stage: str = ""
    tag: str = ""
    #: a user id, "me", "none" (unassigned) or "" (anyone)
    owner: str = ""
    campaign_id: int | None = None
    client_id: int | None = None
    #: metric name -> (minimum, maximum), either may be None
    ranges: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    sort: str = DEFAULT_SORT
    desc: bool = True
    page: int = 1
    per_page: int = 50
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def stages(self) -> tuple[str, ...]:
        if self.stage == "active":
            return ACTIVE_STAGES
        return tuple(s for s in self.stage.split(",") if s)

    @property
    def sort_param(self) -> str:
        """The `sort` query parameter of this order ("-domain_rating")."""
        return f"-{self.sort}" if self.desc else self.sort

    @property
    def is_filtered(self) -> bool:
        return bool(self.search or self.stage or self.tag or self.owner
                    or any(v != (None, None) for v in self.ranges.values()))

    def args(self, **changes: Any) -> dict[str, Any]:
        """Query-string arguments that reproduce these filters, with `changes` applied.

        `sort` and `dir` ("desc"/"asc") in `changes` set the order; the result names it the canonical way.
        """
        sort = str(changes.pop("sort", self.sort)).removeprefix("-")
        sort = SORT_ALIASES.get(sort, sort)
        direction = changes.pop("dir", None)
        desc = self.desc if direction is None else direction == "desc"
        out: dict[str, Any] = {"search": self.search, "stage": self.stage, "tag": self.tag, "owner": self.owner,
                               "sort": "" if (sort, desc) == (DEFAULT_SORT, True) else (f"-{sort}" if desc else sort),
                               "per_page": self.per_page if self.per_page != 50 else "", "page": self.page}
        return link_args(out, self.ranges, ("min_{}", "max_{}"), changes)


def parse_filters(args: Mapping[str, str], *, default_per_page: int = 50) -> ProspectFilters:
    """Filters from a query string (the web's or the API's): a bad value is ignored and explained in `errors`,
    under the parameter's name (the API answers 400 with the first one, the web shows it next to the field)."""
    f = ProspectFilters(per_page=min(default_per_page, MAX_PER_PAGE))

    def get(*names: str) -> tuple[str, str]:
        for name in names:
            value = args.get(name)
            if value not in (None, ""):
                return name, str(value).replace("\x00", "").strip()
        return names[0], ""

    name, search = get("search", "q")
    if len(search) > MAX_SEARCH:
        f.errors[name] = f"{name} is longer than {MAX_SEARCH} characters"
    else:
        f.search = search
    name, stage = get("stage")
    unknown = [s for s in stage.split(",") if s.strip() not in STAGES] if stage != "active" else []
    if stage and unknown:
        f.errors[name] = (f"unknown stage {unknown[0].strip()[:40]!r} "
                          f"(expected 'active' or one or more of: {', '.join(STAGES)})")
    else:
        f.stage = ",".join(s.strip() for s in stage.split(",")) if stage != "active" else stage
    f.tag = get("tag")[1].lower()[:60]
    name, owner = get("owner")
    if owner and owner not in ("me", "none") and not (owner.isdigit() and 1 <= int(owner) <= MAX_ID):
        f.errors[name] = "owner must be a user id, 'me' or 'none'"
    else:
        f.owner = owner
    f.campaign_id = _integer(args, "campaign_id", f)
    f.client_id = _integer(args, "client_id", f)
    for m in metric_table.METRICS:
        metric, label, short = m.name, m.label, m.list_key
        low_name, raw_low = get(f"min_{metric}", f"{short}_min", f"{metric}_min")
        high_name, raw_high = get(f"max_{metric}", f"{short}_max", f"{metric}_max")
        low, high = _number(low_name, raw_low, f), _number(high_name, raw_high, f)
        if low is not None and high is not None and low > high:
            f.errors[low_name] = f"{label} minimum is above the maximum"
            low = high = None
        if (low, high) != (None, None):
            f.ranges[metric] = (low, high)
    name, sort = get("sort")
    key = sort.removeprefix("-")
    key = SORT_ALIASES.get(key, key)
    if sort and key not in SORTS:
        f.errors[name] = f"sort must be one of: {', '.join(SORTS)} (a leading '-' sorts descending)"
    elif sort:
        f.sort = key
        f.desc = sort.startswith("-") or get("dir")[1] == "desc"
    f.page = _integer(args, "page", f, maximum=1_000_000) or 1
    f.per_page = _integer(args, "per_page", f, maximum=MAX_PER_PAGE) or f.per_page
    return f


def _integer(args: Mapping[str, str], name: str, f: ProspectFilters, maximum: int = MAX_ID) -> int | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        f.errors[name] = f"{name} must be an integer, not {raw[:40]!r}"
        return None
    if not 1 <= value <= maximum:
        f.errors[name] = f"{name} must be from 1 to {maximum}"
        return None
    return value


def _number(name: str, raw: str, f: ProspectFilters) -> float | None:
    if not raw:
        return None
    try:
        value = float(raw.replace(",", ""))
    except ValueError:
        f.errors[name] = f"{raw[:40]!r} is not a number"
        return None
    if not -1e15 <= value <= 1e15:  # also refuses nan and inf
        f.errors[name] = f"{name} must be a number between -1e15 and 1e15"
        return None
    return value


def without_internal(user: User, f: ProspectFilters) -> ProspectFilters:
    """The filters as a client viewer may use them: a sort on contacts falls back to the default order, as the
    tag filter is ignored (by `conditions`), in every list alike."""
    if permissions.can_see_internal(user) or f.sort not in permissions.INTERNAL_PROSPECT_COLUMNS:
        return f
    return dataclasses.replace(f, sort=DEFAULT_SORT, desc=True)


# --- the WHERE clauses -------------------------------------------------------------------------

def contains(column: Any, term: str, *, ignore_case: bool = False) -> ColumnElement[bool]:
    """`column` contains `term` (lower-cased: for columns stored lower-case, or `ignore_case`), with %, _ and
    \\ taken literally; the ESCAPE clause only when the term needs it (it halves SQLite's LIKE speed)."""
    pattern = like_pattern(term)
    escape = "\\" if pattern != f"%{term.lower()}%" else None
    return column.ilike(pattern, escape=escape) if ignore_case else column.like(pattern, escape=escape)


def like_pattern(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, lower-cased, with %, _ and \\ taken literally (escape "\\")."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").lower() + "%"


def conditions(user: User, f: ProspectFilters, *, site_joined: bool = False) -> list[ColumnElement[bool]]:
    """The WHERE clauses of a prospect list as the user may see it, on the prospects table alone; with
    `site_joined` (a query that joins the sites anyway), the metric ranges test the joined site directly."""
    internal = permissions.can_see_internal(user)
    out: list[ColumnElement[bool]] = []
    visible = permissions.visible_campaign_ids(user)
    if visible is not None:
        out.append(Prospect.campaign_id.in_(visible))
    if f.campaign_id is not None:
        out.append(Prospect.campaign_id == f.campaign_id)
    if f.client_id is not None:
        out.append(Prospect.campaign_id.in_(select(Campaign.id).where(Campaign.client_id == f.client_id)))
    stages = f.stages
    if len(stages) == 1:
        out.append(Prospect.stage == stages[0])
    elif stages:
        out.append(Prospect.stage.in_(stages))
    if f.tag and internal:
        out.append(Prospect.id.in_(
            select(prospect_tags.c.prospect_id).join(Tag, Tag.id == prospect_tags.c.tag_id).where(Tag.name == f.tag)))
    if f.owner == "none":
        out.append(Prospect.owner_id.is_(None))
    elif f.owner == "me":
        out.append(Prospect.owner_id == user.id)
    elif f.owner:
        out.append(Prospect.owner_id == int(f.owner))
    if f.search:
        out.append(search_condition(f.search, contacts=internal))
    metrics = []
    for metric, (low, high) in f.ranges.items():
        column = METRICS[metric].column
        # a page's metrics are on the prospect; a domain's are on the site
        target = metrics if metric in _SITE_METRICS else out
        if low is not None:
            target.append(column >= low)
        if high is not None:
            target.append(column <= high)
    if metrics and site_joined:
        out.extend(metrics)
    elif metrics:
        # EXISTS lets the planner start from the prospects (e.g. by stage) and look each site up
        out.append(select(Site.id).where(Site.id == Prospect.site_id, *metrics).correlate(Prospect).exists())
    return out


#: made once: an alias of the prospects table proxies its every column, a few milliseconds a request
_SEARCH_ALIASES = (aliased(Prospect), aliased(Prospect), aliased(Prospect))


def search_condition(term: str, *, contacts: bool = True) -> ColumnElement[bool]:
    """Prospects whose site domain or page URL, or (with `contacts`) contact address or name, contains `term`
    in any case.

    Domains and contacts: a UNION of index lookups rather than an OR of IN clauses, which no planner turns
    into index lookups; domains and addresses are stored lower-cased, so a plain LIKE with the lower-cased
    pattern matches them without calling lower() on every row (and uses the trigram indexes on
    PostgreSQL); names are matched with ILIKE; page URLs with ASCII case folding (what URLs need) through
    their own index (outreach.models.url_search: trigrams on PostgreSQL, an FTS5 trigram table on SQLite).
    """
    by_site, by_contact, by_page = _SEARCH_ALIASES
    pattern = like_pattern(term)
    branches: list[Select[Any]] = [
        select(by_site.id).where(by_site.site_id.in_(select(Site.id).where(contains(Site.domain, term)))),
        select(by_page.id).where((_page_url_like if pattern == f"%{term.lower()}%" else _page_url_like_escaped)(
            by_page.id, by_page.page_url, literal(pattern))),
    ]
    if contacts:
        branches.append(select(by_contact.id).where(by_contact.contact_id.in_(
            select(Contact.id).where(or_(contains(Contact.email, term),
                                         contains(Contact.name, term, ignore_case=True))))))
    return Prospect.id.in_(union(*branches))


class _page_url_like(FunctionElement[bool]):  # noqa: N801 (used like a function)
    """(id, page_url, pattern): the page URL, in ASCII lower case, is LIKE the lower-cased pattern, through
    the page-URL search index of outreach.models.url_search on either database."""

    type = NullType()  # a Boolean would be compared with 1 on SQLite, and the IN would no longer use the index
    inherit_cache = True
    escape = ""


class _page_url_like_escaped(_page_url_like):  # noqa: N801
    """The same with the pattern's %, _ and \\ escaped by a backslash (an ESCAPE clause slows SQLite's LIKE)."""

    inherit_cache = True
    escape = " ESCAPE '\\'"


@compiles(_page_url_like)
def _page_url_like_sqlite(element: _page_url_like, compiler: Any, **kw: Any) -> str:
    id_column, _url, pattern = (compiler.process(c, **kw) for c in element.clauses)
    return (f"{id_column} IN (SELECT rowid FROM {url_search.FTS_TABLE} "
            f"WHERE {url_search.FTS_TABLE}.page_url LIKE {pattern}{element.escape})")


@compiles(_page_url_like, "postgresql")
def _page_url_like_postgresql(element: _page_url_like, compiler: Any, **kw: Any) -> str:
    _id, url, pattern = (compiler.process(c, **kw) for c in element.clauses)
    return f'lower(({url}) COLLATE "C") LIKE {pattern}{element.escape}'


def _order(f: ProspectFilters) -> tuple[ColumnElement[Any], ...]:
    column = SORTS.get(f.sort, Prospect.id)
    if column is Prospect.id:
        return (Prospect.id.desc() if f.desc else Prospect.id.asc(),)
    return (column.desc().nulls_last() if f.desc else column.asc().nulls_last(),
            Prospect.id.desc() if f.desc else Prospect.id.asc())


def _join_for_sort(query: Select[Any], sort: str) -> Select[Any]:
    join = _SORT_JOINS.get(sort)
    if join == "site":
        return query.join(Prospect.site)
    if join == "contact":
        return query.outerjoin(Prospect.contact)
    if join == "owner":
        return query.outerjoin(Prospect.owner)
    if join == "campaign":
        return query.join(Prospect.campaign)
    return query


# --- lists, board, export ----------------------------------------------------------------------

def page(session: Session, user: User, f: ProspectFilters, *, clamp: bool = False,
         with_campaign: bool = True) -> Page[Prospect]:
    """One page of the prospects the user may see: ids first (on the prospects table, joined only for the
    sort), then the rows with their site, contact, owner, tags and (`with_campaign`) campaign and client.

    The same few queries whatever the number of rows. With `clamp` (the web lists), a page past the end
    shows the last page; without it (the API), it is empty.
    """
    f = without_internal(user, f)
    where = conditions(user, f)
    total = session.scalar(select(func.count()).select_from(Prospect).where(*where)) or 0
    number = min(f.page, last_page(total, f.per_page)) if clamp else f.page
    ids_query = _join_for_sort(select(Prospect.id), f.sort).where(
        *conditions(user, f, site_joined=_SORT_JOINS.get(f.sort) == "site"))
    ids = list(session.scalars(ids_query.order_by(*_order(f)).limit(f.per_page).offset((number - 1) * f.per_page)))
    loads = [selectinload(Prospect.site), selectinload(Prospect.contact), selectinload(Prospect.owner),
             selectinload(Prospect.tags)]
    if with_campaign:
        loads.append(selectinload(Prospect.campaign).selectinload(Campaign.client))
    rows = session.scalars(select(Prospect).where(Prospect.id.in_(ids)).options(*loads)).all()
    by_id = {p.id: p for p in rows}
    return Page(items=[by_id[i] for i in ids if i in by_id], total=total, page=number, per_page=f.per_page)


@dataclass
class Board:
    #: stage -> its first cards, by position
    columns: dict[str, list[Prospect]]
    #: stage -> how many prospects match in it
    totals: dict[str, int]


def board(session: Session, user: User, f: ProspectFilters, *, campaign_id: int, limit: int) -> Board:
    """A campaign's board: the first `limit` cards of each stage that match the search, tag and owner filters
    (the columns are the stages, so stage, metric ranges and sort do not apply)."""
    f = dataclasses.replace(f, stage="", ranges={}, campaign_id=campaign_id, client_id=None)
    where = conditions(user, f)
    # the first cards of each column, whole rows ranked in one pass over the campaign's prospects, with
    # site, contact and owner joined in (select-ins of hundreds of ids, or a second pass, cost more)
    ranked = (select(Prospect, func.row_number().over(partition_by=Prospect.stage,
                                                      order_by=(Prospect.position, Prospect.id)).label("rn"))
              .where(*where).subquery())
    card = aliased(Prospect, ranked)
    query = (select(card).join(card.site).outerjoin(card.contact).outerjoin(card.owner)
             .where(ranked.c.rn <= limit)
             .options(contains_eager(card.site), contains_eager(card.contact), contains_eager(card.owner),
                      selectinload(card.tags))
             .order_by(card.position, card.id))
    columns: dict[str, list[Prospect]] = {}
    for prospect in session.scalars(query):
        columns.setdefault(prospect.stage, []).append(prospect)
    totals = dict(session.execute(select(Prospect.stage, func.count()).where(*where)
                                  .group_by(Prospect.stage)).all())
    return Board(columns=columns, totals={str(k): int(v) for k, v in totals.items()})


CSV_HEADER = ("campaign", "client", "domain", "page_url", "stage", "contact_email", "contact_name",
              "owner", "tags", "domain_rating", "domain_authority", "authority_score",
              "organic_traffic", "created_at", "stage_changed_at", *opportunity_context.CSV_HEADER)


def csv_header(user: User) -> tuple[str, ...]:
    """The export's columns as the user may read them: a client viewer's has no contact or tags."""
    if permissions.can_see_internal(user):
        return CSV_HEADER
    return tuple(c for c in CSV_HEADER if c not in permissions.INTERNAL_PROSPECT_COLUMNS)


def export_query(user: User, f: ProspectFilters) -> Select[Any]:
    """Every prospect of the list (no page), in its order, as plain columns: one SELECT, tags aggregated."""
    f = without_internal(user, f)
    tags = (select(func.aggregate_strings(Tag.name, ", "))
            .select_from(prospect_tags).join(Tag, Tag.id == prospect_tags.c.tag_id)
            .where(prospect_tags.c.prospect_id == Prospect.id).correlate(Prospect).scalar_subquery())
    return (select(Campaign.name, Client.name, Site.domain, Prospect.page_url, Prospect.stage, Contact.email,
                   Contact.name, User.email, tags, Site.domain_rating, Site.domain_authority,
                   Site.authority_score, Site.organic_traffic, Prospect.created_at, Prospect.stage_changed_at,
                   Prospect.id, Prospect.campaign_id, Prospect.site_id)
            .select_from(Prospect).join(Prospect.site).outerjoin(Prospect.contact).outerjoin(Prospect.owner)
            .join(Prospect.campaign).join(Campaign.client)
            .where(*conditions(user, f, site_joined=True)).order_by(*_order(f)))


def csv_rows(session: Session, user: User, f: ProspectFilters) -> Iterator[Sequence[Any]]:
    """The export's rows (columns of `csv_header(user)`), streamed 2,000 at a time, each with its opportunity."""
    internal = permissions.can_see_internal(user)
    keep = [i for i, column in enumerate(CSV_HEADER) if internal or column not in permissions.INTERNAL_PROSPECT_COLUMNS]
    result = session.execute(export_query(user, f).execution_options(yield_per=2000))
    try:
        for chunk in result.partitions():
            contexts = opportunity_context.for_keys(session, [tuple(row[-3:]) for row in chunk])
            for row in chunk:
                *head, tags, dr, da, as_, traffic, created_at, stage_changed_at, prospect_id, _, _ = row
                values = (*[v or "" for v in head], ", ".join(sorted((tags or "").split(", "))).strip(", "),
                          dr, da, as_, traffic, created_at.isoformat(), stage_changed_at.isoformat(),
                          *contexts[prospect_id].csv_values())
                yield values if internal else tuple(values[i] for i in keep)
    finally:
        result.close()
