"""What every `outreach` command shares: the settings (or exit 2), one-line failures, JSON on stdout."""
from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from outreach.config import Settings
    from outreach.models import Campaign


def load_settings_or_exit(ctx: click.Context) -> Settings:
    """The settings, or exit 2 with the one-line reason."""
    from outreach.config import ConfigError, load_settings  # only the commands that need settings pay for it

    try:
        return load_settings(ctx.obj.get("config_path") if ctx.obj else None)
    except ConfigError as exc:
        fail(str(exc))


def fail(message: str, code: int = 2) -> Any:
    """Print one line to stderr and exit (2: bad usage or input, 1: internal failure)."""
    click.echo(f"outreach: {message}", err=True)
    sys.exit(code)


def seeds_or_exit(seeds: Iterable[str], max_pages: int) -> list[str]:
    """The normalised seed URLs of a discover command, or exit 2 naming the bad seed or page limit."""
    from outreach.crawler.crawl import parse_seeds  # imported when the command runs: `outreach` starts fast
    from outreach.lib.http import BadURL

    try:
        urls = parse_seeds(seeds)
    except BadURL as exc:
        fail(str(exc))
    if max_pages < 1:
        fail(f"--max-pages must be 1 or more, got {max_pages}")
    return urls


def print_json(payload: dict[str, Any]) -> None:
    click.echo(json.dumps(payload, ensure_ascii=False))


def command_sessions(engine: Engine) -> sessionmaker[Session]:
    """Sessions for a command that uses the database, with the stage-change subscribers connected (outreach.wiring)."""
    # imported here, not at the top: commands that need no database start fast
    from outreach.db import make_sessionmaker
    from outreach.wiring import connect_subscribers

    connect_subscribers()
    return make_sessionmaker(engine)


@contextmanager
def campaign_session(settings: Settings, campaign_id: int) -> Iterator[tuple[Session, Campaign]]:
    """A command's session on the database and its campaign, committed at the end; a missing campaign or an
    unmigrated database is one line and exit 2 (the `--campaign ID` of discover, contacts find, import)."""
    from sqlalchemy.exc import SQLAlchemyError  # only the commands that store pay for SQLAlchemy

    from outreach.db import engine_from, session_scope
    from outreach.models import Campaign

    engine = engine_from(settings.database)
    try:
        with session_scope(command_sessions(engine)) as session:
            campaign = session.get(Campaign, campaign_id)
            if campaign is None:
                fail(f"campaign {campaign_id} does not exist")
            yield session, campaign
    except SQLAlchemyError as exc:
        fail(f"cannot use the database (run `outreach db upgrade`?): {str(exc).splitlines()[0]}")
    finally:
        engine.dispose()
