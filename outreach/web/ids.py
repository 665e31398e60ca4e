"""Record ids in URLs: a number no table can hold is "not found", never a database error."""
from __future__ import annotations

from typing import Any

from werkzeug.routing import IntegerConverter

from outreach.lib.ids import MAX_ID, parse_id

__all__ = ["IdConverter", "parse_id"]


class IdConverter(IntegerConverter):
    """`<int:...>` in routes, bounded so that /campaigns/99999999999999999999 is a 404."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)
