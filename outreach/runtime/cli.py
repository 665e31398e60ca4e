"""`outreach run | web | scheduler | worker | db upgrade`."""
from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from outreach.lib.console import command_sessions, fail, load_settings_or_exit

if TYPE_CHECKING:
    from outreach.config import Settings


def configure_logging(settings: Settings) -> None:
    """Every process logs to stderr as [logging] says: time, level, process, request, user and job."""
    from outreach.lib import logs

    logs.configure(settings.logging)


def _job_context(settings: Settings, stop: threading.Event) -> Any:
    # imported when the command runs, not with the CLI: `outreach` starts fast
    from pathlib import Path

    from outreach.db import engine_from
    from outreach.jobs.ticks import JobContext
    from outreach.lib.secrets import SecretBox, load_or_create_secret_key

    secret = settings.app.secret_key or load_or_create_secret_key(Path(settings.app.instance_path))
    engine = engine_from(settings.database)
    return JobContext(settings=settings, sessionmaker=command_sessions(engine, write=True),
                      secret_box=SecretBox(secret), stopping=stop.is_set)


def upgrade_or_exit(settings: Settings) -> None:
    from outreach.migrate import upgrade

    try:
        upgrade(settings.database.url)
    except Exception as exc:  # the database is unreachable or a migration failed
        fail(f"cannot migrate the database at {settings.database.url}: {exc}".splitlines()[0], 1)


def _listen(ctx: click.Context, host: str, port: int, threads: int,
            overrides: dict[str, dict[str, Any]] | None = None) -> Any:
    """The app's server, bound to host:port; exit 2 with one line when the address cannot be used."""
    from waitress import create_server

    from outreach import create_app
    from outreach.config import ConfigError

    try:
        app = create_app(overrides, config_path=ctx.obj.get("config_path"))
    except ConfigError as exc:
        fail(str(exc))
    try:
        # waitress drops X-Forwarded-* by default; with [web] proxy_hops the app's ProxyFix judges them instead
        proxied = app.extensions["outreach"].settings.web.proxy_hops > 0
        return create_server(app, host=host, port=port, threads=threads, ident="outreach",
                             clear_untrusted_proxy_headers=not proxied)
    except OSError as exc:
        fail(listen_error(host, port, exc))


def listen_error(host: str, port: int, exc: OSError,
                 hint: str = "choose another with --port (make run: PORT=8000 make run)") -> str:
    """One line saying why host:port cannot be listened on."""
    import errno

    where = f"cannot listen on {host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return f"{where}: the port is in use (is Outreach already running there?); {hint}"
    if exc.errno == errno.EACCES:
        return f"{where}: permission denied (ports below 1024 need root)"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{where}: this machine has no address {host}"
    return f"{where}: {exc.strerror or exc}"


def _serve(server: Any, host: str, port: int) -> None:
    _freeze_startup_objects()
    click.echo(f"Outreach is running on http://{host}:{port}/  (Ctrl+C stops it)", err=True)
    server.run()


def _freeze_startup_objects() -> None:
    """Keep what start-up built (modules, models, the app) out of the garbage collector's full passes.

    They live as long as the process; scanning them costs a request ~40 ms every few hundred-card
    pages (measured by bench/ui.py). Objects made later are collected as usual.
    """
    import gc

    gc.collect()
    gc.freeze()


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-migrate", is_flag=True, help="Do not apply migrations at start.")
@click.pass_context
def run(ctx: click.Context, host: str, port: int, no_migrate: bool) -> None:
    """Web app, scheduler and workers in one process (the embedded default)."""
    settings = load_settings_or_exit(ctx)
    configure_logging(settings)
    if not no_migrate:
        upgrade_or_exit(settings)
    serve_all(ctx, settings, host, port)


def serve_all(ctx: click.Context, settings: Settings, host: str, port: int, *,
              overrides: dict[str, dict[str, Any]] | None = None, banner: Callable[[], None] | None = None) -> None:
    """Bind the web app, start the scheduler and its workers, and serve until stopped (`run` and `demo`)."""
    server = _listen(ctx, host, port, threads=8, overrides=overrides)  # a busy port stops before anything runs
    stop = threading.Event()
    scheduler = None
    if settings.scheduler.enabled:
        from outreach.jobs.scheduler import build_scheduler

        scheduler = build_scheduler(_job_context(settings, stop))
        scheduler.start()
    try:
        if banner is not None:
            banner()
        _serve(server, host, port)
    finally:
        stop.set()
        if scheduler is not None:
            scheduler.shutdown(wait=True)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 256), help="Threads per process.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 256),
              help="Processes: 1 serves with waitress in this process, more run gunicorn with that many workers.")
@click.pass_context
def web(ctx: click.Context, host: str, port: int, threads: int, workers: int) -> None:
    """Only the web app (run several behind a proxy; never a scheduler inside)."""
    from outreach.runtime.preflight import check_or_exit

    settings = load_settings_or_exit(ctx)
    configure_logging(settings)
    check_or_exit(settings)
    if workers == 1:
        _serve(_listen(ctx, host, port, threads), host, port)
        return
    _check_port_free(host, port)
    from outreach.runtime.gunicorn_server import serve

    click.echo(f"Outreach is running on http://{host}:{port}/ with {workers} gunicorn workers", err=True)
    serve(ctx.obj.get("config_path"), host, port, workers, threads)


def _check_port_free(host: str, port: int) -> None:
    """Exit 2 with one line when host:port cannot be listened on (gunicorn would retry, then print a trace)."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            fail(listen_error(host, port, exc))


@click.command()
@click.pass_context
def scheduler(ctx: click.Context) -> None:
    """Only the scheduler: run exactly one (claims still protect against a second)."""
    from outreach.jobs.scheduler import build_scheduler
    from outreach.runtime.preflight import check_or_exit

    settings = load_settings_or_exit(ctx)
    configure_logging(settings)
    check_or_exit(settings)
    stop = threading.Event()
    sched = build_scheduler(_job_context(settings, stop), blocking=True)

    def _terminate(_signum: int, _frame: Any) -> None:
        stop.set()
        sched.shutdown(wait=True)

    signal.signal(signal.SIGTERM, _terminate)
    click.echo("scheduler started", err=True)
    sched.start()


@click.command()
@click.option("--concurrency", default=4, show_default=True, type=int, help="Threads in this worker.")
@click.pass_context
def worker(ctx: click.Context, concurrency: int) -> None:
    """A worker that runs ticks enqueued by `outreach scheduler` (scheduler.backend = "celery")."""
    from outreach.runtime.preflight import check_or_exit

    settings = load_settings_or_exit(ctx)
    configure_logging(settings)
    if settings.scheduler.backend != "celery":
        fail('`outreach worker` needs scheduler.backend = "celery" (with "threads", `outreach run` does the work)')
    try:
        from outreach.jobs.celery_backend import make_celery, run_worker
    except ImportError:
        fail("the celery backend needs the extra: pip install 'outreach[celery]'")
    check_or_exit(settings)
    stop = threading.Event()
    run_worker(make_celery(settings.scheduler.broker_url), _job_context(settings, stop), concurrency,
               on_shutdown=stop.set)


@click.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@click.pass_context
def db_upgrade(ctx: click.Context, revision: str) -> None:
    """Apply migrations."""
    settings = load_settings_or_exit(ctx)
    from outreach.migrate import upgrade

    try:
        upgrade(settings.database.url, revision)
    except Exception as exc:
        fail(f"migration failed: {exc}".splitlines()[0], 1)
    click.echo(f"database at {settings.database.url} is at {revision}", err=True)
