"""Claiming due rows in one statement: two workers never take the same row, and on PostgreSQL neither waits."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session


def claim_rows(session: Session, model: type[Any], *, where: Sequence[ColumnElement[bool]],
               order_by: Sequence[Any], limit: int | None, values: dict[str, Any]) -> list[int]:
    """Set `values` on the first `limit` rows matching `where` (all when None) and return their ids, in one UPDATE.

    `values` must make a claimed row stop matching `where` (a new status, a lease in the future).
    PostgreSQL picks the rows FOR UPDATE SKIP LOCKED: a worker claiming at the same time takes the
    next rows instead of queueing behind these, and a row another worker claimed and committed meanwhile
    is checked against `where` again and left out. On SQLite the statement starts the transaction
    with the write lock, so a second claimer runs after the first one's commit and sees its result.
    """
    chosen = (select(model.id).where(*where).order_by(*order_by).limit(limit)
              .with_for_update(skip_locked=True).subquery())
    return list(session.scalars(update(model).where(model.id == chosen.c.id).values(**values)
                                .returning(model.id).execution_options(synchronize_session=False)))


def move_leases(session: Session, column: Any, held: Mapping[int, datetime], until: datetime) -> set[int]:
    """Move the lease `column` of each held row to `until`, where it still holds the value this worker set
    (`held`: id -> that value); returns the ids moved. A row missing from the answer was taken over after
    its lease ran out, or changed by someone (a "check now"): this worker no longer holds it.

    A worker renews the leases of the units it is working on (until = now + lease) and gives back those it
    will not finish (until = now: due again at once); a killed worker renews nothing, so its units are due
    again within one lease.
    """
    model = column.class_
    by_value: dict[datetime, list[int]] = {}
    for row_id, value in held.items():
        by_value.setdefault(value, []).append(row_id)
    moved: set[int] = set()
    for value, ids in by_value.items():
        moved.update(session.scalars(update(model).where(model.id.in_(ids), column == value)
                                     .values({column: until}).returning(model.id)
                                     .execution_options(synchronize_session=False)))
    return moved
