"""What every `outreach` command shares: the settings (or exit 2), one-line failures, JSON on stdout."""
from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from outreach.config import Settings


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


def print_json(payload: dict[str, Any]) -> None:
    click.echo(json.dumps(payload, ensure_ascii=False))


def command_sessions(engine: Engine) -> sessionmaker[Session]:
    """Sessions for a command that uses the database, with the stage-change subscribers connected (outreach.wiring)."""
    # imported here, not at the top: commands that need no database start fast
    from outreach.db import make_sessionmaker
    from outreach.wiring import connect_subscribers

    connect_subscribers()
    return make_sessionmaker(engine)
