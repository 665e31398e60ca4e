"""Record ids from user input: a number no table can hold names no record (never a database error)."""
from __future__ import annotations

#: the largest id an INTEGER primary key holds on PostgreSQL (SQLite's limit is higher)
MAX_ID = 2**31 - 1

#: an id no row ever has: what a chosen-but-impossible id becomes, so a service answers "choose an existing ..."
NO_SUCH_ID = -1


def parse_id(value: object) -> int | None:
    """A positive id from a form or query value, or None when it is missing, not a number or out of range."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        number = int(value.strip())
    else:
        return None
    return number if 0 < number <= MAX_ID else None


def chosen_id(value: str | None) -> int | None:
    """A select box's id: None when nothing is chosen ("" or "0"), NO_SUCH_ID when it cannot be an id."""
    raw = (value or "").strip()
    if raw in ("", "0"):
        return None
    return parse_id(raw) or NO_SUCH_ID
