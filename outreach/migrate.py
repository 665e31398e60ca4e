"""Apply and inspect Alembic migrations without an alembic.ini."""
from __future__ import annotations

from functools import lru_cache

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from outreach import paths
from outreach.db import normalise_url


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(paths.MIGRATIONS))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at `url` up to `revision`."""
    command.upgrade(alembic_config(url), revision)


def heads(url: str = "sqlite://") -> list[str]:
    return list(ScriptDirectory.from_config(alembic_config(url)).get_heads())


def revisions(url: str = "sqlite://") -> list[str]:
    """All revision ids, oldest first."""
    script = ScriptDirectory.from_config(alembic_config(url))
    return [r.revision for r in reversed(list(script.walk_revisions()))]


@lru_cache(maxsize=1)
def head() -> str:
    """The revision the code expects (one head: tests/test_migrations.py checks)."""
    return heads()[0]


def current(connection: Connection) -> str | None:
    """The revision the database is at; None when it was never migrated."""
    found = MigrationContext.configure(connection).get_current_heads()
    return ", ".join(sorted(found)) if found else None


def schema_problem(connection: Connection) -> str | None:
    """Why the schema is not the one this code expects, in a few words; None when it is at head."""
    revision = current(connection)
    if revision == head():
        return None
    if revision is None:
        return f"the database has no schema (no revision; the code expects {head()})"
    return f"the database is at revision {revision}, the code expects {head()}"
