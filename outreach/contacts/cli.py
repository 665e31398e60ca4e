"""`outreach contacts find URL... [--json]`"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from outreach.lib.console import campaign_session, fail, load_settings_or_exit, print_json

if TYPE_CHECKING:
    from outreach.config import Settings


@click.group()
def contacts() -> None:
    """Find and check the addresses of sites."""


@contacts.command("find")
@click.argument("urls", nargs=-1, required=True)
@click.option("--max-pages", type=click.IntRange(1, 50),
              help="Pages read per site (default 10): the page, the home page, the contact, about, team and "
                   "write-for-us pages they link to, and the pages those link to one level down.")
@click.option("--allow-domain", "allow_domains", multiple=True,
              help="Also count addresses on this domain (repeatable).")
@click.option("--no-check", is_flag=True, help="Skip the DNS (MX) check.")
@click.option("--campaign", "campaign_id", type=int,
              help="Also store the contacts, and give the campaign's prospect on that site its best address "
                   "(needs a migrated database).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def find(ctx: click.Context, urls: tuple[str, ...], max_pages: int | None, allow_domains: tuple[str, ...],
         no_check: bool, campaign_id: int | None, as_json: bool) -> None:
    """Addresses published on the page and its site's contact pages, with their MX check."""

    # imported when the command runs, not with the CLI: `outreach` starts fast
    from outreach.contacts.finder import MAX_PAGES, find_contacts
    from outreach.contacts.validation import AddressChecker
    from outreach.lib.aio import run_sync
    from outreach.lib.http import BadURL, Fetcher, FetchSettings, check_url

    settings = load_settings_or_exit(ctx)
    try:
        seeds = [check_url(u) for u in urls]
    except BadURL as exc:
        fail(str(exc))
    checker = None if no_check else AddressChecker(settings.dns)
    if campaign_id is not None:
        from outreach.discovery.prospecting.service import campaign_keywords_or_exit

        campaign_keywords_or_exit(settings, campaign_id)  # exits 2 when there is no such campaign

    async def run() -> list[Any]:
        async with Fetcher(FetchSettings.from_settings(settings)) as fetcher:
            return await find_contacts(fetcher, seeds, checker, max_pages=max_pages or MAX_PAGES,
                                       allow_domains=allow_domains)

    sites = run_sync(run())
    if campaign_id is not None:
        _store(settings, campaign_id, sites)
    rows, guessed = [], []
    for site in sites:
        for address in site.addresses:
            verdict = site.verdicts.get(address.email)
            rows.append({"email": address.email, "found_on": address.found_on, "name": address.name or None,
                         "status": verdict.status if verdict else "unknown",
                         "reason": verdict.reason if verdict else "not checked (--no-check)",
                         "confidence": verdict.confidence if verdict else "unknown",
                         "confidence_reason": verdict.confidence_reason if verdict else "not checked (--no-check)",
                         "is_role": address.is_role, "source": address.source, "site": site.url})
        for guess in site.guesses:
            guessed.append({"email": guess.email, "name": guess.name, "pattern": guess.pattern,
                            "basis": guess.basis, "site": site.url, "guessed": True})
    errors = [{"url": s.url, "error": s.error} for s in sites if s.error]
    if as_json:
        print_json({"contacts": rows, "guessed": guessed, "errors": errors})
        return
    for row in rows:
        role = " (role)" if row["is_role"] else ""
        click.echo(f"{row['email']}{role}\t{row['status']}: {row['reason']}\t{row['found_on']}")
    for row in guessed:
        click.echo(f"{row['email']}\tguessed from {row['name']} ({row['basis']})")
    for row in errors:
        click.echo(f"{row['url']}: could not fetch ({row['error']})", err=True)
    if not rows and not guessed:
        click.echo("no addresses found", err=True)


def _store(settings: Settings, campaign_id: int, sites: list[Any]) -> None:
    from sqlalchemy import select

    from outreach.contacts.service import save_site_contacts
    from outreach.lib.urls import BadURL, registrable_domain
    from outreach.models import Prospect, Site

    with campaign_session(settings, campaign_id) as (session, _campaign):
        for site in sites:
            try:
                domain = registrable_domain(site.url)
            except BadURL:
                continue
            prospect = session.scalar(select(Prospect).join(Site).where(Prospect.campaign_id == campaign_id,
                                                                        Site.domain == domain))
            save_site_contacts(session, site, prospect=prospect)
