"""Fixtures for the campaigns part: real export formats and a query counter."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import event

#: copies of the real export formats from the project's shared fixtures (rows are invented)
FORMATS = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture
def formats() -> Path:
    return FORMATS


class QueryCounter:
    def __init__(self) -> None:
        self.count = 0
        self.statements: list[str] = []


@pytest.fixture
def count_queries(app: Flask):  # type: ignore[no-untyped-def]
    """A context manager that counts the SQL statements the app runs inside it."""
    engine = app.extensions["outreach"].engine

    @contextmanager
    def counting() -> Iterator[QueryCounter]:
        counter = QueryCounter()

        def before(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
            counter.count += 1
            counter.statements.append(statement)

        event.listen(engine, "before_cursor_execute", before)
        try:
            yield counter
        finally:
            event.remove(engine, "before_cursor_execute", before)

    return counting
