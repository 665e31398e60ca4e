"""What `outreach web`, `scheduler` and `worker` check before they start, so a rollout fails at once and says why.

Processes of a scale-out deployment share a PostgreSQL database: they must share the secret key too (a
key made per instance folder logs users out of each other's processes and leaves mailbox passwords one
process encrypted unreadable by another). And code newer than the schema answers 500 on every page: the
operator runs `outreach db upgrade` once per rollout, before starting the new processes.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from outreach.lib.console import fail

if TYPE_CHECKING:
    from outreach.config import Settings


def shown_url(url: str) -> str:
    """The database URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    from outreach.db import normalise_url

    try:
        return make_url(normalise_url(url)).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is reported by whoever opens it
        return "(the configured database)"


def is_postgresql(settings: Settings) -> bool:
    return not settings.database.url.startswith("sqlite")


def start_problem(settings: Settings) -> tuple[str, int] | None:
    """Why this process must not start, with its exit code; None when it may."""
    from sqlalchemy.exc import SQLAlchemyError

    from outreach.db import engine_from
    from outreach.migrate import schema_problem

    if is_postgresql(settings) and not settings.app.secret_key:
        return ("app.secret_key is not set: every web, scheduler and worker process on PostgreSQL must share one "
                "(set [app] secret_key or OUTREACH_APP_SECRET_KEY)", 2)
    engine = engine_from(settings.database)
    try:
        with engine.connect() as connection:
            problem = schema_problem(connection)
    except SQLAlchemyError as exc:
        first = str(exc.orig if getattr(exc, "orig", None) else exc).strip().splitlines()
        return f"cannot reach the database at {shown_url(settings.database.url)}: {first[0] if first else exc}", 1
    finally:
        engine.dispose()
    if problem:
        return f"{problem} ({shown_url(settings.database.url)}): run `outreach db upgrade` first", 2
    return None


def check_or_exit(settings: Settings) -> None:
    """Exit with one line when this process must not start."""
    found = start_problem(settings)
    if found is not None:
        fail(*found)
