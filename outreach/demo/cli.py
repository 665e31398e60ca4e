"""`outreach demo`: the app, with a sample web on loopback and a sample client pointing at it."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from outreach.demo.web import DEFAULT_PORT, SITES, SampleWeb
from outreach.lib.console import fail, load_settings_or_exit

if TYPE_CHECKING:
    from outreach.config import Settings


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Where the app listens.")
@click.option("--port", default=5000, show_default=True, type=int, help="The app's port.")
@click.option("--demo-port", default=DEFAULT_PORT, show_default=True, type=int,
              help="The sample web's port (its sites are 127.0.0.81 to 127.0.0.86).")
@click.pass_context
def demo(ctx: click.Context, host: str, port: int, demo_port: int) -> None:
    """Try every strategy without your own sites: `outreach run` plus a sample web and a sample client."""
    from outreach.runtime.cli import configure_logging, listen_error, serve_all, upgrade_or_exit

    settings = load_settings_or_exit(ctx)
    web = start_or_exit(demo_port, listen_error)
    configure_logging(settings)
    # the sample web is on loopback: allow exactly its sites, the SSRF guard stays on for every other host
    allowed = list(dict.fromkeys([*settings.crawl.allow_private_hosts, *web.host_ports]))
    settings = settings.with_(crawl={"allow_private_hosts": allowed})
    upgrade_or_exit(settings)
    prepare(settings, web)
    serve_all(ctx, settings, host, port, overrides={"crawl": {"allow_private_hosts": allowed}},
              banner=lambda: click.echo(banner(web, f"http://{host}:{port}/"), err=True))


def start_or_exit(port: int, listen_error: Any) -> SampleWeb:
    from outreach.demo.web import start_sample_web

    try:
        return start_sample_web(port)
    except OSError as exc:
        first = min(octet for octet, _ in SITES.values())
        fail(listen_error(f"127.0.0.{first}", port, exc, "choose another with --demo-port"))
        raise  # fail() exits; this keeps type checkers content


def prepare(settings: Settings, web: SampleWeb) -> None:
    """Store the sample client (idempotently) and vouch for the sample sites' mail domains in this process."""
    from outreach.contacts.validation import vouch_for
    from outreach.db import engine_from, make_sessionmaker, session_scope
    from outreach.demo.data import MAIL_DOMAINS, ensure_demo_data

    engine = engine_from(settings.database)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            ensure_demo_data(session, web)
    finally:
        engine.dispose()
    vouch_for(MAIL_DOMAINS, "a sample site of `outreach demo`: its mail stays in the local outbox")


def banner(web: SampleWeb, app_url: str) -> str:
    from outreach.demo.data import CLIENT_NAME, walkthrough

    sites = "\n".join(f"  {name:<22} {web.url(key)}" for key, (_, name) in SITES.items())
    return (f"\nThe sample web is up:\n{sites}\n\nOpen {app_url} (the first visit creates your admin account), "
            f"then the client “{CLIENT_NAME}”:\n{walkthrough(web)}\n")
