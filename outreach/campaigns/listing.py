"""Filtered, sorted, paginated lists of sites and contacts, and the CSV writer of every export.

Prospect lists have their own module, outreach.campaigns.prospect_query.

Flask-free: filters are parsed from any mapping of strings (a request's query string, CLI options)
and turned into SELECTs whose query count per page does not depend on the number of rows.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session, contains_eager
from sqlalchemy.sql.elements import ColumnElement

from outreach.campaigns import metrics as metric_table
from outreach.campaigns import prospect_query
from outreach.lib import pages
from outreach.lib.pages import Page, link_args
from outreach.lib.spreadsheet import formula_safe
from outreach.models import Campaign, Contact, Prospect, Site
from outreach.models.campaigns import ACTIVE_STAGES

PER_PAGE_CHOICES = (25, 50, 100, 200)
#: metric filters and sorts: query-string key (`<key>_min`, `sort=<key>`) -> column, from the one metric table
METRICS = {m.list_key: m.column for m in metric_table.METRICS}
METRIC_LABELS = {m.list_key: m.label for m in metric_table.METRICS}
_SITE_KEYS = frozenset(m.list_key for m in metric_table.SITE_METRICS)


@dataclass
class ListFilters:
    """What the user asked for; `errors` maps a filter name to why its value was ignored."""

    q: str = ""
    status: str = ""
    ranges: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    sort: str = ""
    desc: bool = False
    page: int = 1
    per_page: int = 50
    errors: dict[str, str] = field(default_factory=dict)

    def args(self, **changes: Any) -> dict[str, Any]:
        """Query-string arguments that reproduce these filters, with `changes` applied."""
        out: dict[str, Any] = {"q": self.q, "status": self.status, "sort": self.sort,
                               "dir": "desc" if self.desc else "",
                               "per_page": self.per_page if self.per_page != 50 else "", "page": self.page}
        return link_args(out, self.ranges, ("{}_min", "{}_max"), changes)

    @property
    def is_filtered(self) -> bool:
        return bool(self.q or self.status or any(v != (None, None) for v in self.ranges.values()))


def parse_filters(args: Mapping[str, str], *, sorts: Sequence[str], default_sort: str,
                  default_desc: bool = False) -> ListFilters:
    """Filters from a query string; a bad value is ignored and explained in `errors`."""
    f = ListFilters(q=args.get("q", "").strip()[:200], status=args.get("status", "").strip()[:20])
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


_like = prospect_query.like_pattern


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


def paginate(session: Session, query: Select[Any], f: ListFilters, *, scalars: bool = True) -> Page[Any]:
    """One page of the query's rows and the total; a page past the end shows the last one."""
    page = pages.paginate(session, query, f.page, f.per_page, clamp=True, scalars=scalars)
    f.page = page.page
    return page


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
    return csv_lines([values])


def csv_lines(rows: Iterable[Sequence[Any]]) -> str:
    """CSV lines, formula-safe as csv_line's."""
    out = io.StringIO()
    csv.writer(out).writerows([_safe_cell(v) for v in values] for values in rows)
    return out.getvalue()


def _safe_cell(value: Any) -> Any:
    if value is None:
        return ""
    if value.__class__ is str:
        return formula_safe(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return formula_safe(value) if isinstance(value, str) else value
