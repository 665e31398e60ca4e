"""Prospecting operations: assets, discovery runs (queued, claimed, run with progress), opportunities.

Verbs take a Session and flush; the request, CLI command or job commits. A run is queued by the web
page (or the API) and run by the `prospecting-runs` tick through the one runner loop
(outreach.runs.runner): claimed once, its progress counters and heartbeat written while it runs.
"""
from __future__ import annotations

import csv
import gzip
import hashlib
import io
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.campaigns.contact_rules import ProspectConflict
from outreach.campaigns.service import CampaignError, add_prospect, contact_for, record, site_for
from outreach.config import Settings
from outreach.contacts.extraction import is_role_address
from outreach.contacts.finder import check_addresses
from outreach.contacts.validation import AddressChecker
from outreach.discovery.guest_posts.service import find_guest_post_targets
from outreach.discovery.mentions.service import IMAGE_MAX_BYTES, ImageAsset, Mention, find_mentions, image_fingerprint
from outreach.discovery.site_walk import WalkProgress
from outreach.jobs.ticks import JobContext
from outreach.lib.aio import run_sync
from outreach.lib.clock import utcnow
from outreach.lib.console import campaign_session
from outreach.lib.http import Fetcher, FetchSettings, fetch_one
from outreach.lib.urls import BadURL, ensure_http_url, normalize_url, registrable_domain
from outreach.models import Campaign, Client, Opportunity, Prospect, Site, User
from outreach.models.prospecting import WALK_KINDS, Asset, ProspectingRun
from outreach.runs import runner
from outreach.runs.runner import Ending, RunControl
from outreach.workspace.service import with_workspace

log = logging.getLogger(__name__)

MAX_SEEDS = 200
MAX_PAGES_PER_SITE = 500
SITEMAP_MAX_URLS = 5000
IMAGE_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp",
               "BMP": "image/bmp", "TIFF": "image/tiff"}


class ProspectingError(ValueError):
    """A one-line reason an operation was refused; `field` names the form field when there is one."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


AssetError = ProspectingError


# --- seeds: typed, pasted, CSV, search exports ------------------------------------------------

def parse_url_list(text: str) -> tuple[list[str], list[str]]:
    """URLs from pasted text or a CSV export (a url/link/address column, else any cell that is a URL).

    Returns (normalised URLs in order, one-line problems by row). Rows without a URL are reported,
    never silently dropped.
    """
    urls: list[str] = []
    problems: list[str] = []
    lines = text.lstrip("\ufeff").splitlines()
    if not lines:
        return urls, problems
    first = lines[0]
    is_csv = ("," in first or "\t" in first or ";" in first) and not first.strip().lower().startswith("http")
    if is_csv:
        try:
            dialect = csv.Sniffer().sniff(first, delimiters=",\t;")
        except csv.Error:
            dialect = csv.excel  # type: ignore[assignment]
        rows = list(csv.reader(io.StringIO("\n".join(lines)), dialect))
        header = [h.strip().lower() for h in rows[0]]
        column = next((header.index(name) for name in ("url", "link", "page url", "address", "source url",
                                                        "referring page url", "target url", "domain")
                       if name in header), None)
        body = rows[1:]
        start = 2
    else:
        column, body, start = None, [[line] for line in lines], 1
    for number, row in enumerate(body, start=start):
        cells = [row[column]] if column is not None and column < len(row) else row
        value = next((c.strip() for c in cells if c.strip() and ("." in c or "://" in c) and " " not in c.strip()), "")
        if not value:
            if any(c.strip() for c in row):
                problems.append(f"row {number}: no URL in it")
            continue
        try:
            url = normalize_url(ensure_http_url(value))
        except BadURL as exc:
            problems.append(f"row {number}: {exc}")
            continue
        if url not in urls:
            urls.append(url)
    return urls, problems


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def group_by_site(urls: Iterable[str]) -> tuple[list[str], dict[str, list[str]]]:
    """One seed per host (the first URL seen on it) and the other URLs of that host as extra pages."""
    seeds: list[str] = []
    by_origin: dict[str, str] = {}
    pages: dict[str, list[str]] = {}
    for url in urls:
        origin = origin_of(url)
        if origin not in by_origin:
            by_origin[origin] = url
            seeds.append(url)
        else:
            pages.setdefault(by_origin[origin], []).append(url)
    return seeds, pages


async def expand_sitemap(fetcher: Fetcher, url: str, limit: int = SITEMAP_MAX_URLS) -> list[str]:
    """Page URLs listed in a sitemap (following a sitemap index; gzip accepted), at most `limit`."""
    found: list[str] = []
    queue, seen = [url], set()
    while queue and len(found) < limit and len(seen) < 50:
        current = queue.pop(0)
        if current in seen:
            continue
        seen.add(current)
        got = await fetcher.fetch(current)
        if not got.ok:
            continue
        body = got.body
        if body[:2] == b"\x1f\x8b":
            try:
                body = gzip.decompress(body)[: fetcher.settings.max_bytes]
            except (OSError, EOFError):
                continue
        try:
            root = ElementTree.fromstring(body)
        except ElementTree.ParseError:
            continue
        is_index = root.tag.endswith("sitemapindex")
        for loc in root.iter():
            if not loc.tag.endswith("loc") or not (loc.text or "").strip():
                continue
            try:
                value = normalize_url(ensure_http_url(loc.text.strip()))
            except BadURL:
                continue
            if is_index:
                queue.append(value)
            elif value not in found:
                found.append(value)
                if len(found) >= limit:
                    break
    return found


# --- assets ----------------------------------------------------------------------------------

def _image_type(data: bytes) -> str:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            return IMAGE_TYPES.get(img.format or "", "application/octet-stream")
    except Exception:  # image_fingerprint has already said it is readable
        return "application/octet-stream"


def create_image_asset(session: Session, client: Client, *, name: str, target_url: str, data: bytes | None,
                       image_url: str = "", settings: Settings | None = None,
                       actor: User | None = None) -> Asset:
    """An infographic asset from uploaded bytes or from its URL (downloaded through the guarded fetcher)."""
    target = _target(target_url)
    image_url = image_url.strip()
    if image_url:
        try:
            image_url = normalize_url(ensure_http_url(image_url))
        except BadURL as exc:
            raise ProspectingError(f"image URL: {exc}", field="image_url") from None
    if not data:
        if not image_url:
            raise ProspectingError("upload the infographic or give its URL", field="image")
        if settings is None:
            raise ProspectingError("cannot download the image here", field="image_url")

        got = fetch_one(image_url, FetchSettings.from_settings(settings), max_bytes=IMAGE_MAX_BYTES)
        if not got.ok:
            raise ProspectingError(f"could not download {image_url}: {got.error or got.status}", field="image_url")
        if got.truncated:
            raise ProspectingError(f"the image is larger than {IMAGE_MAX_BYTES // 1_000_000} MB", field="image_url")
        data = got.body
    if len(data) > IMAGE_MAX_BYTES:
        raise ProspectingError(f"the image is larger than {IMAGE_MAX_BYTES // 1_000_000} MB", field="image")
    try:
        sha, phash = image_fingerprint(data)
    except ValueError as exc:
        raise ProspectingError(f"the file is {exc}", field="image") from None
    asset = Asset(client_id=client.id, kind="image", name=(name.strip() or "Infographic")[:200], target_url=target,
                  image_url=image_url[:2000], image_sha256=sha, image_phash=phash, image_type=_image_type(data),
                  image_data=data, created_by_id=actor.id if actor else None)
    session.add(asset)
    session.flush()
    return asset


def create_brand_asset(session: Session, client: Client, *, name: str, brand_names: str, target_url: str,
                       actor: User | None = None) -> Asset:
    target = _target(target_url)
    names = [n.strip() for n in brand_names.replace(",", "\n").splitlines() if n.strip()]
    if not names:
        raise ProspectingError("give at least one brand name", field="brand_names")
    if any(len(n) < 3 for n in names):
        raise ProspectingError("a brand name needs at least 3 characters", field="brand_names")
    asset = Asset(client_id=client.id, kind="brand", name=(name.strip() or names[0])[:200], target_url=target,
                  brand_names="\n".join(dict.fromkeys(names)), created_by_id=actor.id if actor else None)
    session.add(asset)
    session.flush()
    return asset


def _target(target_url: str) -> str:
    try:
        return normalize_url(ensure_http_url(target_url))
    except BadURL as exc:
        raise ProspectingError(f"target URL: {exc}", field="target_url") from None


def image_asset_of(asset: Asset) -> ImageAsset:
    return ImageAsset(url=asset.image_url or None, sha256=asset.image_sha256, phash=asset.image_phash,
                      label=asset.name)


async def load_image_assets(fetcher: Fetcher, sources: list[str],
                            warn: Callable[[str], None] | None = None) -> list[ImageAsset]:
    """Image assets from files or http(s) URLs (downloaded through the fetcher); AssetError names a bad one.

    Bytes Pillow cannot read still match by URL and sha256 (with a warning), not by perceptual hash.
    """
    assets = []
    for source in sources:
        if source.lower().startswith(("http://", "https://")):
            got = await fetcher.fetch(source, max_bytes=IMAGE_MAX_BYTES)
            if not got.ok or got.truncated:
                raise AssetError(f"could not download the image {source}: {got.error or got.status}")
            data, url = got.body, normalize_url(source)
        else:
            try:
                data = Path(source).read_bytes()
            except OSError as exc:
                raise AssetError(f"cannot read the image {source}: {exc.strerror}") from None
            url = None
        try:
            sha, phash = image_fingerprint(data)
        except ValueError as exc:
            sha, phash = hashlib.sha256(data).hexdigest(), ""
            if warn:
                warn(f"{source} is {exc}: matching it by URL and exact bytes only")
        assets.append(ImageAsset(url=url, sha256=sha, phash=phash, label=os.path.basename(urlsplit(source).path)))
    return assets


# --- runs ------------------------------------------------------------------------------------

def start_run(session: Session, campaign: Campaign, kind: str, urls: list[str], *, max_pages: int,
              options: dict[str, Any] | None = None, actor: User | None = None) -> ProspectingRun:
    """Queue a guest-post or mention run over the given URLs (one seed per site; sitemaps expand later)."""
    if kind not in ("guest_posts", "mentions"):
        raise ProspectingError(f"unknown kind of run {kind!r}", field="kind")
    options = dict(options or {})
    if not urls and not options.get("sitemaps"):
        raise ProspectingError("give at least one seed URL, a list of URLs or a sitemap", field="seeds")
    if len(urls) > MAX_SEEDS:
        raise ProspectingError(f"at most {MAX_SEEDS} URLs per run, got {len(urls)}", field="seeds")
    if not 1 <= max_pages <= MAX_PAGES_PER_SITE:
        raise ProspectingError(f"pages per site must be between 1 and {MAX_PAGES_PER_SITE}, got {max_pages}",
                               field="max_pages")
    if kind == "mentions":
        assets = [session.get(Asset, i) for i in options.get("asset_ids", [])]
        if not assets or any(a is None or a.client_id != campaign.client_id for a in assets):
            raise ProspectingError("choose at least one of this client's assets", field="asset_ids")
    seeds, pages = group_by_site(urls)
    options["pages"] = pages
    run = ProspectingRun(campaign_id=campaign.id, kind=kind, seeds=seeds, options=options, max_pages=max_pages,
                         created_by_id=actor.id if actor else None, status="queued", created_at=utcnow())
    session.add(run)
    session.flush()
    return run


@dataclass
class RunOutcome:
    results: dict[str, Any]
    guest_targets: list[Any]
    mentions: list[Mention]


async def execute(run: ProspectingRun, settings: Settings, assets: list[Asset],
                  metrics: dict[str, dict[str, float]], progress: WalkProgress,
                  campaign_keywords: list[str]) -> RunOutcome:
    """Do the run's crawl (no database access here)."""

    options = run.options or {}
    seeds, pages = list(run.seeds), {k: list(v) for k, v in (options.get("pages") or {}).items()}
    async with Fetcher(FetchSettings.from_settings(settings)) as fetcher:
        for sitemap in options.get("sitemaps", []):
            listed = await expand_sitemap(fetcher, sitemap)
            more_seeds, more_pages = group_by_site(listed)
            for seed in more_seeds:
                if origin_of(seed) not in {origin_of(s) for s in seeds}:
                    seeds.append(seed)
                    pages[seed] = more_pages.get(seed, [])
                else:
                    mine = next(s for s in seeds if origin_of(s) == origin_of(seed))
                    pages.setdefault(mine, []).extend([seed, *more_pages.get(seed, [])])
        if run.kind == "guest_posts":
            keywords = options.get("keywords") or campaign_keywords
            targets, visits = await find_guest_post_targets(
                fetcher, seeds, max_pages=run.max_pages, keywords=keywords, language=options.get("language", "en"),
                metrics=metrics, pages=pages, progress=progress)
            await check_target_emails(targets, settings)
            results = {"seeds": seeds, "targets": [t.as_json() for t in targets],
                       "rejected": [{"site": v.origin, "page": url, "reasons": verdict.reasons}
                                    for v in visits if v.accepted is None for url, verdict in v.rejected],
                       "no_guidelines": [v.origin for v in visits if v.accepted is None and not v.rejected]}
            return RunOutcome(results, targets, [])
        images = [image_asset_of(a) for a in assets if a.kind == "image"]
        brands = [b for a in assets if a.kind == "brand" for b in a.brand_list]
        target = options.get("target") or next((a.target_url for a in assets), "")
        found = await find_mentions(fetcher, seeds, target=target, images=images, brands=brands,
                                    max_pages=run.max_pages, pages=pages, progress=progress)
        results = {"seeds": seeds, "target": target, "mentions": [m.as_json() for m in found.mentions],
                   "images_checked": found.images_checked}
        return RunOutcome(results, [], found.mentions)


async def check_target_emails(targets: list[Any], settings: Settings) -> None:
    """Check the targets' addresses (syntax, MX) and keep the verdicts with each target."""

    emails = [e for t in targets for e in t.emails]
    if not emails:
        return
    verdicts = await check_addresses(AddressChecker(settings.dns), emails)
    for target in targets:
        target.email_checks = {e: {"status": verdicts[e].status, "reason": verdicts[e].reason,
                                   "is_role": verdicts[e].is_role} for e in target.emails if e in verdicts}


def discover(ctx: JobContext, run: ProspectingRun, control: RunControl, progress_every: float = 1.0) -> Ending:
    """A guest-post or mention run's work: walk the seed sites, then store what they found as opportunities."""
    with ctx.sessionmaker() as session:
        campaign = session.get(Campaign, run.campaign_id)
        assets = [a for a in (session.get(Asset, i) for i in (run.options or {}).get("asset_ids", [])) if a]
        for asset in assets:
            session.expunge(asset)
        keywords = campaign.keyword_list if campaign else []
        metrics = _metrics_by_origin(session, run.seeds)
        settings = with_workspace(session, ctx.settings)  # whether address checks probe for catch-all
    progress = WalkProgress()

    def counters() -> dict[str, int]:
        return {"pages_crawled": progress.pages, "sites_done": progress.sites_done, "found": progress.found}

    def stop() -> None:
        progress.stop_requested = True

    async def main() -> RunOutcome:
        async with control.reporting(counters, progress_every, stop):
            return await execute(run, settings, assets, metrics, progress, keywords)

    outcome = run_sync(main())

    def save(session: Session, done: ProspectingRun) -> None:
        campaign = session.get(Campaign, done.campaign_id)
        made = []
        if campaign is not None:
            if done.kind == "guest_posts":
                made = add_guest_post_opportunities(session, campaign, outcome.guest_targets, run_id=done.id)
            else:
                made = add_mention_opportunities(session, campaign, outcome.mentions, run_id=done.id)
        done.results = {**outcome.results, "opportunities": len(made)}

    found = len(outcome.guest_targets) if run.kind == "guest_posts" else len(outcome.mentions)
    return Ending("done", counters={**counters(), "found": found}, stopped=progress.stop_requested, save=save)


def run_one(ctx: JobContext, progress_every: float = 1.0) -> bool:
    """Claim one queued guest-post or mention run and do it to the end; False when nothing was queued."""
    return runner.run_one(ctx, ProspectingRun, partial(discover, progress_every=progress_every), kinds=WALK_KINDS)


def _metrics_by_origin(session: Session, seeds: list[str]) -> dict[str, dict[str, float]]:

    out: dict[str, dict[str, float]] = {}
    for seed in seeds:
        try:
            domain = registrable_domain(seed)
        except BadURL:
            continue
        site = session.scalar(select(Site).where(Site.domain == domain))
        if site is not None:
            values = {k: getattr(site, k) for k in ("domain_rating", "domain_authority", "authority_score")}
            out[origin_of(seed)] = {k: float(v) for k, v in values.items() if v is not None}
    return out


# --- opportunities and prospects ----------------------------------------------------------------

def _upsert_opportunity(session: Session, campaign: Campaign, kind: str, page_url: str, details: dict[str, Any],
                        score: float) -> Opportunity | None:
    try:
        site = site_for(session, page_url)
    except CampaignError:
        return None
    existing = session.scalar(select(Opportunity).where(Opportunity.campaign_id == campaign.id,
                                                        Opportunity.kind == kind, Opportunity.page_url == page_url))
    if existing is not None:
        existing.details, existing.score = details, score
        return existing
    opportunity = Opportunity(campaign_id=campaign.id, site_id=site.id, page_url=page_url[:2000], kind=kind,
                              details=details, score=score, status="new")
    session.add(opportunity)
    return opportunity


def add_guest_post_opportunities(session: Session, campaign: Campaign, targets: Iterable[Any], *,
                                 run_id: int | None = None) -> list[Opportunity]:
    """Accepting sites become opportunities; their addresses become the site's contacts (one per address)."""
    made = []
    for target in targets:
        details = {**target.details(), "run_id": run_id, "site": target.site}
        opportunity = _upsert_opportunity(session, campaign, "guest_post", target.page, details, target.score)
        if opportunity is not None:
            made.append(opportunity)
            _save_target_contacts(session, opportunity, target)
    session.flush()
    return made


def _save_target_contacts(session: Session, opportunity: Opportunity, target: Any) -> None:

    session.flush()
    site = session.get(Site, opportunity.site_id)
    for email in target.emails:
        try:
            with session.begin_nested():
                contact = contact_for(session, email, site=site, found_on=target.page)
        except CampaignError:
            continue
        contact.is_guessed = False
        contact.is_role = is_role_address(contact.email)
        if contact.site_id is None and site is not None:
            contact.site_id = site.id
        check = (getattr(target, "email_checks", None) or {}).get(email)
        if check:
            contact.status, contact.status_reason = check["status"], check["reason"][:300]
            contact.checked_at = utcnow()


def add_mention_opportunities(session: Session, campaign: Campaign, mentions: Iterable[Mention], *,
                              run_id: int | None = None) -> list[Opportunity]:
    """Unlinked mentions become opportunities (a page that links to the target already is a win, not a lead)."""
    made = []
    for mention in mentions:
        if mention.links_to_target:
            continue
        kind = "image_mention" if mention.kind == "image" else "brand_mention"
        details = {**mention.as_json(), "run_id": run_id}
        opportunity = _upsert_opportunity(session, campaign, kind, mention.page, details, 0.0)
        if opportunity is not None:
            made.append(opportunity)
    session.flush()
    return made


@dataclass
class AddResult:
    added: list[Prospect]
    conflicts: dict[int, str]
    errors: dict[int, str]
    #: the site already had a card in this campaign: the opportunity joined it
    attached: list[Prospect] = field(default_factory=list)


_KIND_NAMES = {"broken_link": "Broken link", "guest_post": "Guest post", "image_mention": "Image mention",
               "brand_mention": "Brand mention"}


def add_as_prospects(session: Session, campaign: Campaign, opportunity_ids: Iterable[int], *,
                     actor: User | None = None, override_reason: str = "") -> AddResult:
    """Put the chosen opportunities on the board; conflicts are reported (and need the override reason).

    An opportunity on a site that already has a card in this campaign joins that card.
    """
    result = AddResult([], {}, {})
    for opportunity_id in opportunity_ids:
        opportunity = session.get(Opportunity, opportunity_id)
        if opportunity is None or opportunity.campaign_id != campaign.id:
            result.errors[opportunity_id] = "not an opportunity of this campaign"
            continue
        if opportunity.prospect_id is not None:
            result.errors[opportunity_id] = "already a prospect"
            continue
        existing = _card_of_site(session, campaign, opportunity.page_url)
        if existing is not None:
            opportunity.prospect_id, opportunity.status = existing.id, "accepted"
            record(session, existing, "opportunity",
                   f"{_KIND_NAMES.get(opportunity.kind, opportunity.kind)} opportunity: {opportunity.page_url}", actor,
                   {"opportunity_id": opportunity.id})
            result.attached.append(existing)
            continue
        emails = (opportunity.details or {}).get("emails") or []
        try:
            with session.begin_nested():
                prospect = add_prospect(session, campaign, opportunity.page_url, email=emails[0] if emails else None,
                                        actor=actor, override_reason=override_reason or None,
                                        source=f"{_KIND_NAMES.get(opportunity.kind, opportunity.kind).lower()} finding")
        except ProspectConflict as exc:
            result.conflicts[opportunity_id] = str(exc)
            continue
        except CampaignError as exc:
            result.errors[opportunity_id] = str(exc)
            continue
        opportunity.prospect_id, opportunity.status = prospect.id, "accepted"
        result.added.append(prospect)
    session.flush()
    return result


def _card_of_site(session: Session, campaign: Campaign, page_url: str) -> Prospect | None:
    """The campaign's card of this page's site (looked up without creating the site: a refusal adds nothing)."""
    try:
        domain = registrable_domain(ensure_http_url(page_url))
    except BadURL:
        return None  # add_prospect says why
    return session.scalar(select(Prospect).join(Site, Site.id == Prospect.site_id)
                          .where(Prospect.campaign_id == campaign.id, Site.domain == domain))


# --- CLI helpers (the discover commands' --campaign) ----------------------------------------------

def campaign_keywords_or_exit(settings: Settings, campaign_id: int) -> list[str]:

    with campaign_session(settings, campaign_id) as (_session, campaign):
        return campaign.keyword_list


def _store(settings: Settings, campaign_id: int, add: Callable[[Session, Campaign], list[Opportunity]]
           ) -> dict[str, int]:

    with campaign_session(settings, campaign_id) as (session, campaign):
        return {"opportunities": len(add(session, campaign))}


def store_guest_posts(settings: Settings, campaign_id: int, targets: list[Any]) -> dict[str, int]:
    return _store(settings, campaign_id, lambda s, c: add_guest_post_opportunities(s, c, targets))


def store_mentions(settings: Settings, campaign_id: int, mentions: list[Mention]) -> dict[str, int]:
    return _store(settings, campaign_id, lambda s, c: add_mention_opportunities(s, c, mentions))
