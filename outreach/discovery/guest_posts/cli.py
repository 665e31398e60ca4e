"""`outreach discover guest-posts SEED... [--max-pages N] [--json]`"""
from __future__ import annotations

from typing import Any

import click

from outreach.lib.console import load_settings_or_exit, print_json, seeds_or_exit


@click.command("guest-posts")
@click.argument("seeds", nargs=-1, required=True)
@click.option("--max-pages", type=int, default=20, show_default=True,
              help="Pages fetched per seed site (guidelines-like links first).")
@click.option("--keyword", "keywords", multiple=True,
              help="Campaign keyword for the relevance score (repeatable; default: the campaign's).")
@click.option("--language", default="en", show_default=True, help="Expected language of the sites (en, de, fr…).")
@click.option("--campaign", "campaign_id", type=int,
              help="Also store the targets as opportunities of this campaign (needs a migrated database).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def guest_posts(ctx: click.Context, seeds: tuple[str, ...], max_pages: int, keywords: tuple[str, ...],
                language: str, campaign_id: int | None, as_json: bool) -> None:
    """Find the guest-post guidelines of SEED sites and list the sites that accept guest posts."""
    # imported when the command runs, not with the CLI: `outreach` starts fast
    from outreach.discovery.guest_posts.service import find_guest_post_targets
    from outreach.lib.aio import run_sync
    from outreach.lib.http import Fetcher, FetchSettings

    settings = load_settings_or_exit(ctx)
    urls = seeds_or_exit(seeds, max_pages)
    words = list(keywords)
    if campaign_id is not None:
        from outreach.discovery.prospecting.service import campaign_keywords_or_exit

        words = words or campaign_keywords_or_exit(settings, campaign_id)

    async def run() -> Any:
        async with Fetcher(FetchSettings.from_settings(settings)) as fetcher:
            return await find_guest_post_targets(fetcher, urls, max_pages=max_pages, keywords=words,
                                                 language=language)

    targets, visits = run_sync(run())
    payload: dict[str, Any] = {
        "targets": [t.as_json() for t in targets],
        "pages_crawled": sum(v.pages for v in visits),
        "rejected": [{"site": v.origin, "page": url, "reasons": verdict.reasons}
                     for v in visits if v.accepted is None for url, verdict in v.rejected],
    }
    if campaign_id is not None:
        from outreach.discovery.prospecting.service import store_guest_posts

        payload["stored"] = store_guest_posts(settings, campaign_id, targets)
    if as_json:
        print_json(payload)
        return
    click.echo(f"{payload['pages_crawled']} pages crawled, {len(targets)} sites accept guest posts")
    for t in targets:
        parts = t.score_parts
        relevance = "-" if parts["relevance"] is None else f"{parts['relevance']:.2f}"
        click.echo(f"\n{t.score:5.1f}  {t.page}  (relevance {relevance}, quality {parts['quality']:.2f})")
        if t.emails:
            click.echo(f"       emails: {', '.join(t.emails)}")
        for kind, values in t.verdict.requirements.items():
            click.echo(f"       {kind.replace('_', ' ')}: {' | '.join(values)}")
    for row in payload["rejected"]:
        click.echo(f"\nnot counted: {row['page']}: {row['reasons'][-1]}")
