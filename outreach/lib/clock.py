"""The one clock. Tests move it with time-machine instead of sleeping."""
from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """Give a naive datetime read back from SQLite its UTC zone again."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
