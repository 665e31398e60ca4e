"""`outreach verify PAGE_URL --target URL [--anchor TEXT] [--json]`: needs no database."""
from __future__ import annotations

import click

from outreach.lib.console import fail, load_settings_or_exit, print_json


@click.command("verify")
@click.argument("page_url")
@click.option("--target", required=True, help="The URL the page should link to.")
@click.option("--anchor", default=None, help="The agreed anchor text (reported as anchor_mismatch when different).")
@click.option("--site", "match_site", is_flag=True, help="Accept a link to any URL on the target's site.")
@click.option("--render", is_flag=True, default=None,
              help="Also check the DOM after JavaScript runs (headless Chromium). "
                   "Default: [backlinks] render_javascript.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def verify(ctx: click.Context, page_url: str, target: str, anchor: str | None, match_site: bool,
           render: bool | None, as_json: bool) -> None:
    """Check that PAGE_URL links to --target, and how much the link is worth."""
    settings = load_settings_or_exit(ctx)
    # imported when the command runs, not with the CLI: `outreach` starts fast
    from outreach.lib.urls import BadURL, ensure_http_url

    try:
        page_url = ensure_http_url(page_url)
        target = ensure_http_url(target)
    except BadURL as exc:
        fail(str(exc))
    from outreach.backlinks.verify import RenderError
    from outreach.backlinks.verify import verify as run_verify

    if render is None:
        render = settings.backlinks.render_javascript
    try:
        result = run_verify(page_url, target, settings, match_mode="site" if match_site else "exact",
                            anchor=anchor, render=render)
    except RenderError as exc:
        fail(str(exc), code=1)
    if as_json:
        print_json(result.to_json())
        return
    status = {"live": "LIVE", "missing": "MISSING", "error": "ERROR", "unknown": "UNKNOWN"}[result.status]
    click.echo(f"{status}  {result.page}")
    if result.final_url and result.final_url != result.page:
        hops = " → ".join(f"{url} ({code})" for url, code in result.redirects)
        click.echo(f"  redirected: {hops} → {result.final_url}")
    click.echo(f"  HTTP {result.http_status if result.http_status is not None else result.error}")
    for link in result.links:
        rel = " ".join(link.rel) or "followed"
        click.echo(f"  link: {link.href}  “{link.anchor}”  rel: {rel}  ({link.dom} HTML)")
    click.echo(f"  follow: {'yes' if result.follow else 'no'}   indexable: {'yes' if result.indexable else 'no'}")
    if result.problems:
        click.echo(f"  problems: {', '.join(result.problems)}")
