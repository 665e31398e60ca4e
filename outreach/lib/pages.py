"""A page of rows with its totals: the one pagination of every list (web, API, exports' previews)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")


@dataclass
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def first(self) -> int:
        """The 1-based position of the first item shown (0 when there is none)."""
        return 0 if not self.total else (self.page - 1) * self.per_page + 1

    @property
    def last(self) -> int:
        return min(self.total, self.page * self.per_page)


def last_page(total: int, per_page: int) -> int:
    return max(1, -(-total // per_page))


def paginate(session: Session, query: Select[Any], page: int, per_page: int, *, clamp: bool = False,
             scalars: bool = True, count: Select[tuple[int]] | None = None) -> Page[Any]:
    """One page of the query's rows and the total count (two queries, whatever the table size).

    With `clamp`, a page past the end shows the last page (the web lists); without it the page is
    empty and says the total (the API, where a client walks the `next` links).
    """
    if count is None:
        count = select(func.count()).select_from(query.order_by(None).subquery())
    total = session.scalar(count) or 0
    if clamp:
        page = min(page, last_page(total, per_page))
    paged = query.limit(per_page).offset((page - 1) * per_page)
    items = list(session.scalars(paged).unique()) if scalars else list(session.execute(paged).all())
    return Page(items, total, page, per_page)


def link_args(values: dict[str, Any], ranges: dict[str, tuple[float | None, float | None]],
              range_names: tuple[str, str], changes: dict[str, Any]) -> dict[str, Any]:
    """The query-string arguments of a list's link: `values`, the numeric ranges (`range_names` formats their
    parameter names from the key, e.g. ("min_{}", "max_{}")), then `changes`; empty values and page 1 left out."""
    out = dict(values)
    for key, (low, high) in ranges.items():
        out[range_names[0].format(key)], out[range_names[1].format(key)] = _number(low), _number(high)
    out.update(changes)
    if out.get("page") == 1:
        out["page"] = ""
    return {k: v for k, v in out.items() if v not in ("", None)}


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if value.is_integer() else str(value)
