"""Record ids from URLs and forms: a number no table can hold is "not found", never a database error."""
from __future__ import annotations

from typing import Any

from werkzeug.routing import IntegerConverter

#: the largest id an INTEGER primary key holds on PostgreSQL (SQLite's limit is higher)
MAX_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    """`<int:...>` in routes, bounded so that /campaigns/99999999999999999999 is a 404."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def parse_id(value: object) -> int | None:
    """A positive id from a form or query value, or None when it is missing, not a number or out of range."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        number = int(value.strip())
    else:
        return None
    return number if 0 < number <= MAX_ID else None
