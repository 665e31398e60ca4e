"""`outreach discover broken-links SEED... [--max-pages N] [--state FILE] [--campaign ID] [--json]`

With `--state FILE` the crawl's frontier, seen-set and findings live in that SQLite file as it runs:
SIGTERM or Ctrl+C stops it within a second or two (exit 128 + the signal), and the same command
run again (even after a SIGKILL) resumes where it was. Without it they live in a temporary file.

A command imports what it uses when it runs, so that the CLI starts fast.
"""
from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from outreach.lib.console import campaign_session, fail, load_settings_or_exit, print_json, seeds_or_exit

if TYPE_CHECKING:
    from outreach.config import Settings


@click.command("broken-links")
@click.argument("seeds", nargs=-1, required=True)
@click.option("--max-pages", type=int, default=100, show_default=True,
              help="Pages crawled on the seeds' hosts (every link found on them is checked).")
@click.option("--campaign", "campaign_id", type=int,
              help="Also store the findings as opportunities of this campaign (needs a migrated database).")
@click.option("--state", "state_path", type=click.Path(dir_okay=False),
              help="Keep the crawl's frontier and findings in this SQLite file: run the same command again "
                   "after a stop, a kill or a crash and it resumes where it was (delete the file to start over).")
@click.option("--processes", type=click.IntRange(1, 256),
              help="Processes sharing the crawl (one global page limit and seen-set)  [default: the number of cores]")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def broken_links(ctx: click.Context, seeds: tuple[str, ...], max_pages: int, campaign_id: int | None,
                 state_path: str | None, processes: int | None, as_json: bool) -> None:
    """Crawl SEED sites and list their dead links, grouped by dead URL (most-linked first)."""
    # imported when the command runs, not with the CLI: `outreach` starts fast
    from outreach.crawler.crawl import Progress, refusal_error, refused_seeds
    from outreach.discovery.broken_links.service import find_broken_links, report
    from outreach.lib.http import FetchSettings

    settings = load_settings_or_exit(ctx)
    urls = seeds_or_exit(seeds, max_pages)
    if campaign_id is not None:
        _campaign_or_exit(settings, campaign_id)
    fetch_settings = FetchSettings.from_settings(settings)
    refused = refused_seeds(urls, fetch_settings)
    if refused:  # a seed the SSRF guard refuses is bad input: say so, crawl nothing, store nothing
        fail(refusal_error(refused))
    interactive = sys.stderr.isatty()
    last = [0.0]

    def on_progress(p: Progress) -> None:
        if interactive and time.monotonic() - last[0] >= 1:
            last[0] = time.monotonic()
            click.echo(f"\r{p.pages_crawled} pages, {p.links_checked} links checked, {p.broken_found} broken, "
                       f"{p.queued} queued", err=True, nl=False)

    stopped_by: list[int] = []
    spec = _state_spec(state_path, urls, max_pages)
    from outreach.crawler.shards import ShardFailed

    with _stopped_by_signals(stopped_by):
        try:
            result = find_broken_links(urls, fetch_settings, max_pages=max_pages, on_progress=on_progress,
                                       should_stop=lambda: bool(stopped_by), spec=spec,
                                       processes=processes or os.cpu_count() or 1)
        except ShardFailed as exc:  # the other processes were stopped; what they found is in the state file
            again = f"run the same command again to resume from {state_path}" if state_path else \
                "nothing was kept (with --state FILE the crawl resumes)"
            fail(f"{exc}; {again}", 1)
    if interactive:
        click.echo("", err=True)
    payload = report(result)
    if campaign_id is not None and not stopped_by:
        payload["stored"] = _store(settings, campaign_id, urls, max_pages, result)
    if as_json:
        print_json(payload)
    else:
        _print_text(payload)
    if stopped_by:
        import signal

        again = (f"run the same command again to resume from {state_path}" if state_path else
                 "nothing was kept (with --state FILE a stopped crawl resumes)")
        fail(f"stopped by {signal.Signals(stopped_by[0]).name} after {payload['pages_crawled']} pages; {again}",
             128 + stopped_by[0])


@contextmanager
def _stopped_by_signals(stopped_by: list[int]) -> Iterator[None]:
    """SIGTERM and SIGINT stop the crawl at its next progress update (what it found is kept) instead of killing it."""
    import signal

    def stop(signum: int, _frame: Any) -> None:
        stopped_by.append(signum)

    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _state_spec(path: str | None, seeds: list[str], max_pages: int) -> Any:
    """Where the crawl's rows are: the --state file, checked to hold this crawl (None without --state: a
    temporary file)."""
    if path is None:
        return None
    from outreach.crawler.shards import StoreSpec
    from outreach.crawler.state import StateMismatch

    spec = StoreSpec(f"sqlite:///{os.path.abspath(path)}", is_state_file=True)
    try:
        engine = spec.engine()
    except Exception as exc:  # not a SQLite file, no permission, ...
        fail(f"--state {path}: cannot be used as a state file ({str(exc).splitlines()[0]})")
    try:
        spec.store(engine).open(seeds, max_pages)
    except StateMismatch as exc:
        fail(f"--state {path}: {exc}; give another file, or delete this one to start over")
    except Exception as exc:  # a file that is not SQLite
        fail(f"--state {path}: cannot be used as a state file ({str(exc).splitlines()[0]})")
    finally:
        engine.dispose()
    return spec


def _campaign_or_exit(settings: Settings, campaign_id: int) -> None:
    with campaign_session(settings, campaign_id):
        pass


def _store(settings: Settings, campaign_id: int, seeds: list[str], max_pages: int, result: Any) -> dict[str, int]:
    from outreach.crawler import service
    from outreach.crawler.crawl import outcome
    from outreach.discovery.broken_links.service import findings
    from outreach.discovery.broken_links.store import add_opportunities, save_findings
    from outreach.runs import lifecycle

    with campaign_session(settings, campaign_id) as (session, campaign):
        job = service.start_crawl(session, seeds, max_pages=max_pages, campaign=campaign)
        job.started_at = job.created_at
        job.worker = lifecycle.worker_name()
        save_findings(session, job, result)
        status, error = outcome(result)
        lifecycle.finish(session, job, status, error, **service.counters_of(result.progress, finished=True))
        made = add_opportunities(session, campaign, findings(result), crawl_job_id=job.id)
        return {"crawl_job": job.id, "opportunities": len(made)}


_UNKNOWN_WHY = {
    "robots_disallowed": "(robots.txt disallows it)",
    "rate_limited": "(the server asked us to slow down; try again later)",
    "blocked": "(a bot challenge answered instead of the page)",
    "too_large": "(the page is larger than [crawl] max_page_bytes: only the links of its first part were followed)",
    "too_complex": "(the page is past [crawl] max_parse_nodes, max_parse_depth or parse_timeout: it was not read)",
}


def _print_text(payload: dict[str, Any]) -> None:
    from outreach.lib.http import blocked_message

    click.echo(f"{payload['pages_crawled']} pages crawled, {payload['links_checked']} links checked, "
               f"{len(payload['broken'])} broken")
    for row in payload["broken"]:
        status = row["status"] if row["status"] is not None else "-"
        click.echo(f"\n{row['url']}  [{row['reason']} {status}]  linked from {len(row['found_on'])} page(s)")
        for source in row["found_on"]:
            anchor = f'  "{source["anchor"]}"' if source["anchor"] else ""
            click.echo(f"    {source['page']}{anchor}")
    for row in payload.get("unknown", []):
        why = f"({blocked_message(row['url'])})" if row["reason"] == "blocked_address" else \
            _UNKNOWN_WHY.get(row["reason"], row["reason"])
        click.echo(f"\ncould not tell: {row['url']}  [{row['reason']}] {why}")
    if "stored" in payload:
        click.echo(f"\nstored as crawl job {payload['stored']['crawl_job']}: "
                   f"{payload['stored']['opportunities']} opportunities")
