"""`outreach traffic import CLIENT_ID FILE`: an analytics export's referral figures for a client."""
from __future__ import annotations

from pathlib import Path

import click

from outreach.lib.console import command_sessions, fail, load_settings_or_exit, print_json


@click.group("traffic")
def traffic() -> None:
    """Referral traffic of the links you won: analytics exports and connections."""


@traffic.command("import")
@click.argument("client_id", type=int)
@click.argument("export", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source", type=click.Choice(["ga4", "plausible", "matomo"]), default=None,
              help="The tool that wrote the file (default: recognised from the file).")
@click.option("--month", default=None, metavar="YYYY-MM", help="The month of a file that does not say it.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def import_traffic(ctx: click.Context, client_id: int, export: Path, source: str | None, month: str | None,
                   as_json: bool) -> None:
    """Import EXPORT (a GA4 CSV, Plausible's export zip, a Matomo Websites CSV) for the client CLIENT_ID."""
    from datetime import date

    from sqlalchemy.exc import SQLAlchemyError

    from outreach.analytics import service
    from outreach.analytics.rows import BadAnalyticsFile
    from outreach.db import make_engine, session_scope
    from outreach.models import Client

    settings = load_settings_or_exit(ctx)
    try:
        first = date.fromisoformat(month + "-01") if month else None
    except ValueError:
        fail(f"--month {month!r} is not like 2026-10")
    engine = make_engine(settings.database.url)
    try:
        with session_scope(command_sessions(engine)) as session:
            client = session.get(Client, client_id)
            if client is None:
                fail(f"client {client_id} does not exist")
            try:
                summary = service.import_file(session, client, export.read_bytes(), filename=export.name,
                                              source=source or "", month=first)
            except BadAnalyticsFile as exc:
                fail(f"{export}: {exc}")
    except SQLAlchemyError as exc:
        fail(f"cannot use the database (run `outreach db upgrade`?): {str(exc).splitlines()[0]}")
    finally:
        engine.dispose()
    months = [m.isoformat()[:7] for m in summary.months]
    if as_json:
        print_json({"client_id": client_id, "source": summary.source, "months": months,
                    "referrers": summary.referrers, "sessions": summary.sessions, "skipped": summary.skipped})
        return
    click.echo(f"{service.SOURCE_LABELS[summary.source]}: {', '.join(months)}: {summary.referrers} referring pages "
               f"and sites, {summary.sessions:,} sessions ({summary.skipped} rows named no web page)")
