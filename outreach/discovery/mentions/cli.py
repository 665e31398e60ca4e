"""`outreach discover mentions SEED... --target URL [--image PATH_OR_URL]... [--brand NAME]... [--json]`"""
from __future__ import annotations

from typing import Any

import click

from outreach.lib.console import fail, load_settings_or_exit, print_json, seeds_or_exit


@click.command("mentions")
@click.argument("seeds", nargs=-1, required=True)
@click.option("--target", required=True, help="The client URL that mentions should link to.")
@click.option("--image", "images", multiple=True, help="The infographic: a file or an http(s) URL (repeatable).")
@click.option("--brand", "brands", multiple=True, help="A brand name to look for (repeatable).")
@click.option("--max-pages", type=int, default=50, show_default=True, help="Pages crawled per seed site.")
@click.option("--campaign", "campaign_id", type=int,
              help="Also store unlinked mentions as opportunities of this campaign (needs a migrated database).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def mentions(ctx: click.Context, seeds: tuple[str, ...], target: str, images: tuple[str, ...],
             brands: tuple[str, ...], max_pages: int, campaign_id: int | None, as_json: bool) -> None:
    """Crawl SEED sites for pages that show the infographic or name the brand, and whether they link back."""
    # imported when the command runs, not with the CLI: `outreach` starts fast
    from outreach.discovery.mentions.service import find_mentions
    from outreach.discovery.prospecting.service import AssetError, load_image_assets
    from outreach.lib.aio import run_sync
    from outreach.lib.http import BadURL, Fetcher, FetchSettings, check_url

    settings = load_settings_or_exit(ctx)
    urls = seeds_or_exit(seeds, max_pages)
    try:
        target_url = check_url(target)
    except BadURL as exc:
        fail(str(exc))
    if not images and not any(b.strip() for b in brands):
        fail("give at least one --image or --brand to look for")
    if campaign_id is not None:
        from outreach.discovery.prospecting.service import campaign_keywords_or_exit

        campaign_keywords_or_exit(settings, campaign_id)  # exits 2 when there is no such campaign

    async def run() -> Any:
        async with Fetcher(FetchSettings.from_settings(settings)) as fetcher:
            assets = await load_image_assets(fetcher, list(images),
                                             warn=lambda m: click.echo(f"outreach: {m}", err=True))
            return await find_mentions(fetcher, urls, target=target_url, images=assets,
                                       brands=[b.strip() for b in brands if b.strip()], max_pages=max_pages)

    try:
        result = run_sync(run())
    except AssetError as exc:
        fail(str(exc))
    payload: dict[str, Any] = {"mentions": [m.as_json() for m in result.mentions],
                               "pages_crawled": result.pages_crawled, "images_checked": result.images_checked}
    if campaign_id is not None:
        from outreach.discovery.prospecting.service import store_mentions

        payload["stored"] = store_mentions(settings, campaign_id, result.mentions)
    if as_json:
        print_json(payload)
        return
    unlinked = [m for m in result.mentions if not m.links_to_target]
    click.echo(f"{result.pages_crawled} pages crawled, {len(result.mentions)} mentions, {len(unlinked)} without a link")
    for m in result.mentions:
        state = "links to target" if m.links_to_target else "NO LINK"
        click.echo(f"\n[{m.kind}] {m.page}  ({state}; {m.match})\n    {m.evidence}")
