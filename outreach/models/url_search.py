"""The index that finds prospects by a piece of their page URL: `page_url LIKE '%term%'` without a scan.

PostgreSQL: a GIN trigram index on the URL in ASCII lower case (what the search compares). SQLite: an
FTS5 table with the trigram tokenizer over `prospects.page_url` (external content: it stores only
its index), kept by three triggers. A batch migration that rebuilds `prospects` on SQLite drops those
triggers with the old table, so `ensure` (run after every upgrade and by `create_all`) puts back what
is missing and rebuilds the index from the table when a trigger had gone.

Neither object is in `Base.metadata` (SQLAlchemy has no FTS5 table nor a dialect-only expression
index); `include_name` tells a schema comparison to leave them out.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection

from outreach.db import Base

FTS_TABLE = "prospect_url_search"
PG_INDEX = "ix_prospects_page_url_trgm"
_TRIGGERS = {
    f"{FTS_TABLE}_ai": f"""CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_ai AFTER INSERT ON prospects BEGIN
        INSERT INTO {FTS_TABLE}(rowid, page_url) VALUES (new.id, new.page_url); END""",
    f"{FTS_TABLE}_ad": f"""CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_ad AFTER DELETE ON prospects BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, page_url) VALUES ('delete', old.id, old.page_url); END""",
    f"{FTS_TABLE}_au": f"""CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_au AFTER UPDATE OF page_url ON prospects BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, page_url) VALUES ('delete', old.id, old.page_url);
        INSERT INTO {FTS_TABLE}(rowid, page_url) VALUES (new.id, new.page_url); END""",
}


def ensure(connection: Connection) -> None:
    """Create the page-URL search index where it is missing (and fill it); a no-op when it is whole."""
    if connection.dialect.name == "postgresql":
        connection.execute(text(f'CREATE INDEX IF NOT EXISTS {PG_INDEX} ON prospects '
                                f'USING gin (lower(page_url COLLATE "C") gin_trgm_ops)'))
        return
    if connection.dialect.name != "sqlite":
        return
    names = set(connection.execute(text(
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')")).scalars())
    if "prospects" not in names:
        return
    missing = [name for name in _TRIGGERS if name not in names]
    if FTS_TABLE not in names:
        connection.execute(text(f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(page_url, tokenize='trigram', "
                                f"detail='none', content='prospects', content_rowid='id')"))
        missing = list(_TRIGGERS)
    if not missing:
        return
    for name in missing:
        connection.execute(text(_TRIGGERS[name]))
    # without a trigger the index may have missed rows: read it anew from the table
    connection.execute(text(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')"))


def drop(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"DROP INDEX IF EXISTS {PG_INDEX}"))
    elif connection.dialect.name == "sqlite":
        for name in _TRIGGERS:
            connection.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
        connection.execute(text(f"DROP TABLE IF EXISTS {FTS_TABLE}"))


def include_name(name: str | None, type_: str, _parents: object = None) -> bool:
    """An Alembic `include_name` hook: everything but the FTS5 table, its shadow tables and the trigram
    index, which the models do not declare."""
    return not name or not (name == PG_INDEX or (type_ == "table" and name.startswith(FTS_TABLE)))


def _after_create(target: Any, connection: Connection, **_kw: Any) -> None:
    ensure(connection)


event.listen(Base.metadata, "after_create", _after_create)
