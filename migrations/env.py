"""Alembic environment: the URL comes from outreach.migrate, the metadata from outreach.models."""
from __future__ import annotations

from alembic import context

from outreach.db import make_engine
from outreach.models import Base, stage_counts, url_search

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as connection:
        _run(connection)
        if engine.dialect.name == "sqlite":  # foreign keys were off (see _run): no row may point nowhere
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"the migration left rows whose foreign keys point nowhere: {broken[:5]}")
    engine.dispose()


def _run(connection: object) -> None:
    # SQLite rebuilds a table to alter it (copy, DROP, rename): with foreign keys on, the DROP would
    # cascade to every child row (a backlink's checks and events). Off for the run, outside any transaction.
    sqlite = connection.dialect.name == "sqlite"  # type: ignore[attr-defined]
    if sqlite:
        connection.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[attr-defined]
    try:
        _migrate(connection)
    finally:
        if sqlite:
            connection.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[attr-defined]


def _migrate(connection: object) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=True, compare_type=True, include_name=url_search.include_name)
    with context.begin_transaction():
        context.run_migrations()
    # a batch migration that rebuilt `prospects` on SQLite dropped its triggers (search, stage counts) with it
    if set(context.get_context().get_current_heads()) == set(context.script.get_heads()):
        url_search.ensure(connection)  # type: ignore[arg-type]
        stage_counts.ensure(connection)  # type: ignore[arg-type]
        if connection.in_transaction():  # type: ignore[attr-defined]
            connection.commit()  # type: ignore[attr-defined]


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
