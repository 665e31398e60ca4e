"""`outreach user ...`"""
from __future__ import annotations

import click

from outreach.lib.console import command_sessions, fail, load_settings_or_exit


@click.group()
def user() -> None:
    """Manage user accounts."""


@user.command("create")
@click.option("--email", required=True)
@click.option("--name", default="")
@click.option("--role", type=click.Choice(["admin", "member", "client_viewer", "personaliser"]), default="member",
              show_default=True)
@click.option("--client-id", type=int, help="The client a client_viewer may see.")
@click.password_option(help="Prompted for when not given.")
@click.pass_context
def create(ctx: click.Context, email: str, name: str, role: str, client_id: int | None, password: str) -> None:
    """Create a user (the database must be migrated)."""
    # imported when the command runs, not with the CLI: `outreach` starts fast
    from outreach.accounts.service import AccountError, create_user
    from outreach.db import engine_from, session_scope

    settings = load_settings_or_exit(ctx)
    engine = engine_from(settings.database)
    try:
        with session_scope(command_sessions(engine)) as session:
            new_user = create_user(session, email, password, name=name, role=role, client_id=client_id)
            click.echo(f"created {new_user.role} {new_user.email}")
    except AccountError as exc:
        fail(str(exc))
    finally:
        engine.dispose()
