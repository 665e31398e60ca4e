"""Claiming queued rows: one conditional UPDATE, so two workers never take the same row."""
from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.orm import Session

T = TypeVar("T")


def claim_oldest_queued(session: Session, model: type[T], values: dict[str, Any], *where: Any) -> T | None:
    """Move the oldest row with status "queued" to `values` (which set its new status) and return it.

    `where` narrows the queue (e.g. one kind of run).
    A single UPDATE ... WHERE id = (oldest queued) AND status = 'queued' RETURNING id: on SQLite the
    statement takes the write lock at once instead of upgrading an earlier read; on PostgreSQL a
    racing worker re-checks the status after the row lock and gets nothing (the next tick retries).
    """
    table: Any = model
    oldest = (select(table.id).where(table.status == "queued", *where)
              .order_by(table.created_at, table.id).limit(1).scalar_subquery())
    claimed_id = session.execute(
        update(table).where(table.id == oldest, table.status == "queued").values(**values)
        .returning(table.id)).scalar_one_or_none()
    session.flush()
    if claimed_id is None:
        return None
    return session.get(model, claimed_id, populate_existing=True)
