"""Infographic and brand mentions: pages that use a client's image or name, and whether they link back.

An image on a page is the asset when its URL is the asset's URL, its bytes are the asset's (sha256),
or it is a resized or recompressed copy: the perceptual hashes (imagehash.phash, 64 bits) differ in
at most PHASH_THRESHOLD (10) bits. Measured on the test set (tests/discovery/images.py): copies
scaled to 50 %, 30 % and 150 %, recompressed as JPEG quality 35 or 60, and a 2 % border crop saved as
WebP are 0–4 bits away; 28 different charts drawn in the same style are 18–36 bits away. Candidate
images come from img src, srcset, lazy data-src / data-srcset / data-lazy-src, <picture><source
srcset> and og:image; they are downloaded through the guarded fetcher with a size cap, and images
too small to be an infographic are skipped by their declared size.

A brand mention is the brand name, as a whole word and in any case, in the visible text: not in
scripts, styles or attributes, and not only inside a link to another site (inside a link to the
target's site it counts, and that link is the attribution). A mention "links to the target" when the
page has any link to the target's registrable domain; the exact target URL is noted separately, and
so is nofollow / sponsored / ugc on the best such link (a weak credit link is still a link).
"""
from __future__ import annotations

import asyncio
import hashlib
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from outreach.discovery.site_walk import WalkProgress, walk_site
from outreach.lib.html import ParsedPage, off_loop
from outreach.lib.http import Fetcher
from outreach.lib.urls import BadURL, link_key, normalize_url, registrable_domain, resolve_href

#: most bits in which two 64-bit perceptual hashes may differ for the images to count as one
PHASH_THRESHOLD = 10
#: images are downloaded up to this size
IMAGE_MAX_BYTES = 10_000_000
#: declared width or height below which an <img> is an icon, not an infographic
MIN_DIMENSION = 48
#: at most this many candidate images are downloaded per page
MAX_IMAGES_PER_PAGE = 30
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff", ".avif")


@dataclass(frozen=True)
class ImageAsset:
    """What an infographic is recognised by."""

    url: str | None
    sha256: str
    phash: str
    label: str = ""


@dataclass
class ImageRef:
    url: str
    where: str  # img | srcset | data-src | picture | og:image


@dataclass
class Mention:
    page: str
    kind: str  # image | brand
    links_to_target: bool
    evidence: str
    #: the page links to the exact target URL (not only to its site)
    links_to_exact_target: bool = False
    #: how an image matched (url, sha256, phash:N) or which brand name was found
    match: str = ""
    asset: str = ""
    #: nofollow / sponsored / ugc on the page's best link to the target (empty: followed, or no link)
    link_rel: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"page": self.page, "kind": self.kind, "links_to_target": self.links_to_target,
                "links_to_exact_target": self.links_to_exact_target, "evidence": self.evidence,
                "match": self.match, "asset": self.asset, "link_rel": self.link_rel}


def image_fingerprint(data: bytes) -> tuple[str, str]:
    """(sha256 hex, phash hex) of image bytes; ValueError when they are not an image Pillow reads."""
    import imagehash
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            phash = str(imagehash.phash(img.convert("RGB")))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ValueError(f"not a readable image ({type(exc).__name__})") from None
    return hashlib.sha256(data).hexdigest(), phash


def phash_distance(a: str, b: str) -> int:
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def _srcset_urls(value: str) -> list[str]:
    urls = []
    for part in value.split(","):
        token = part.strip().split(" ", 1)[0].strip()
        if token:
            urls.append(token)
    return urls


def _too_small(node: LexborNode) -> bool:
    for attr in ("width", "height"):
        raw = (node.attributes.get(attr) or "").strip().rstrip("px")
        if raw.isdigit() and int(raw) < MIN_DIMENSION:
            return True
    return False


def image_candidates(html: str, page: ParsedPage) -> list[ImageRef]:
    """Every image URL the page shows or declares, absolute and normalised, first occurrence kept."""
    tree = LexborHTMLParser(html)
    found: dict[str, ImageRef] = {}

    def add(raw: str | None, where: str) -> None:
        if not raw or raw.strip().lower().startswith(("data:", "javascript:", "blob:")):
            return
        url = resolve_href(page.base_url, raw)
        if url is not None and url not in found:
            found[url] = ImageRef(url, where)

    for node in tree.css("img"):
        if _too_small(node):
            continue
        attrs = node.attributes
        add(attrs.get("src"), "img")
        for attr in ("data-src", "data-lazy-src", "data-original"):
            add(attrs.get(attr), "data-src")
        for attr in ("srcset", "data-srcset"):
            for url in _srcset_urls(attrs.get(attr) or ""):
                add(url, "srcset")
    for node in tree.css("picture source"):
        for attr in ("srcset", "data-srcset"):
            for url in _srcset_urls(node.attributes.get(attr) or ""):
                add(url, "picture")
    for node in tree.css('meta[property="og:image"], meta[name="og:image"], meta[property="og:image:url"]'):
        add(node.attributes.get("content"), "og:image")
    return list(found.values())


class ImageMatcher:
    """Recognises the assets by URL, sha256 or perceptual hash."""

    def __init__(self, assets: Iterable[ImageAsset], threshold: int = PHASH_THRESHOLD) -> None:
        self.assets = list(assets)
        self.threshold = threshold
        self.by_url = {normalize_url(a.url): a for a in self.assets if a.url}
        self.by_sha = {a.sha256: a for a in self.assets}

    def match_url(self, url: str) -> ImageAsset | None:
        return self.by_url.get(url)

    def match_bytes(self, data: bytes) -> tuple[ImageAsset, str] | None:
        sha = hashlib.sha256(data).hexdigest()
        if sha in self.by_sha:
            return self.by_sha[sha], "sha256"
        try:
            _, phash = image_fingerprint(data)
        except ValueError:
            return None
        best: tuple[int, ImageAsset] | None = None
        for asset in self.assets:
            if not asset.phash:
                continue
            distance = phash_distance(phash, asset.phash)
            if distance <= self.threshold and (best is None or distance < best[0]):
                best = (distance, asset)
        return (best[1], f"phash:{best[0]}") if best else None


def _brand_pattern(name: str) -> re.Pattern[str]:
    words = [re.escape(w) for w in name.split()]
    return re.compile(r"(?<![\w])" + r"[\s\u00a0]+".join(words) + r"(?![\w])", re.IGNORECASE)


def brand_text(html: str, page_url: str, target_domain: str | None) -> str:
    """The page's visible text, minus text inside links to sites other than the target's."""
    tree = LexborHTMLParser(html)
    body = tree.body
    if body is None:
        return ""
    for node in body.css("script, style, template, noscript, svg"):
        node.decompose()
    for node in body.css("a[href]"):
        href = (node.attributes.get("href") or "").strip()
        try:
            absolute = urljoin(page_url, href)
            host = urlsplit(absolute).hostname or ""
        except ValueError:
            continue
        if not host or host == (urlsplit(page_url).hostname or ""):
            continue
        if target_domain and _domain(host) == target_domain:
            continue
        node.decompose()
    return re.sub(r"\s+([.,;:!?)])", r"\1", " ".join(body.text(separator=" ").split()))


def find_brand_mentions(text: str, brands: Iterable[str]) -> list[tuple[str, str]]:
    """(brand, snippet around its first occurrence) for every brand named in the text."""
    found = []
    for brand in brands:
        if not brand.strip():
            continue
        match = _brand_pattern(brand.strip()).search(text)
        if match:
            start, end = max(0, match.start() - 80), min(len(text), match.end() + 80)
            snippet = ("…" if start else "") + text[start:end].strip() + ("…" if end < len(text) else "")
            found.append((brand.strip(), snippet))
    return found


def _domain(host_or_url: str) -> str:
    try:
        host = urlsplit(host_or_url).hostname if "://" in host_or_url else host_or_url
        return registrable_domain(host or "")
    except (BadURL, ValueError):
        return ""


def target_links(page: ParsedPage, target: str) -> tuple[bool, bool, list[str]]:
    """(links to the target's site, links to the exact target URL, rel tokens of the best such link).

    A followed link beats a nofollow/sponsored/ugc one, so an empty rel list means a followed link.
    """
    try:
        exact = normalize_url(target)
    except BadURL:
        exact = target
    wanted = link_key(exact)
    target_host = urlsplit(exact).hostname or ""
    domain = _domain(target_host)
    site = exact_hit = False
    rel: list[str] | None = None
    for link in page.links:
        host = urlsplit(link.href).hostname or ""
        if host == target_host or (domain and _domain(host) == domain):
            site = True
            weak = [r for r in link.rel if r in ("nofollow", "sponsored", "ugc")]
            if rel is None or (rel and not weak):
                rel = weak
            if link_key(link.href) == wanted:
                exact_hit = True
    return site, exact_hit, rel or []


@dataclass
class MentionRun:
    mentions: list[Mention] = field(default_factory=list)
    pages_crawled: int = 0
    images_checked: int = 0


async def find_mentions(fetcher: Fetcher, seeds: list[str], *, target: str, images: list[ImageAsset],
                        brands: list[str], max_pages: int = 50, pages: dict[str, list[str]] | None = None,
                        progress: WalkProgress | None = None) -> MentionRun:
    """Walk each seed's site; report pages that show an asset image or name a brand."""
    run = MentionRun()
    matcher = ImageMatcher(images)
    target_domain = _domain(target)
    image_cache: dict[str, tuple[ImageAsset, str] | None] = {}
    lock = asyncio.Lock()

    async def check_image(ref: ImageRef) -> tuple[ImageAsset, str] | None:
        by_url = matcher.match_url(ref.url)
        if by_url is not None:
            return by_url, "url"
        async with lock:
            if ref.url in image_cache:
                return image_cache[ref.url]
        got = await fetcher.fetch(ref.url, max_bytes=IMAGE_MAX_BYTES)
        hit = None
        if got.ok and not got.truncated and (got.content_type.startswith("image/") or
                                             urlsplit(ref.url).path.lower().endswith(IMAGE_EXTENSIONS)):
            run.images_checked += 1
            hit = await asyncio.to_thread(matcher.match_bytes, got.body)
        async with lock:
            image_cache[ref.url] = hit
        return hit

    limits = fetcher.settings.parse

    async def visit(seed: str) -> None:
        async for page in walk_site(fetcher, seed, max_pages=max_pages, pages=(pages or {}).get(seed),
                                    progress=progress):
            run.pages_crawled += 1
            url = page.result.final_url
            site_link, exact, rel = target_links(page.parsed, target)
            if images:
                refs = await off_loop(limits, page.html, image_candidates, page.html, page.parsed)
                refs = refs[:MAX_IMAGES_PER_PAGE]
                hits = await asyncio.gather(*(check_image(r) for r in refs))
                seen_assets: set[str] = set()
                for ref, hit in zip(refs, hits, strict=True):
                    if hit is None or hit[0].sha256 in seen_assets:
                        continue
                    seen_assets.add(hit[0].sha256)
                    run.mentions.append(Mention(page=url, kind="image", links_to_target=site_link,
                                                links_to_exact_target=exact, evidence=ref.url,
                                                match=hit[1], asset=hit[0].label, link_rel=rel))
            if brands:
                text = await off_loop(limits, page.html, brand_text, page.html, url, target_domain)
                for brand, snippet in find_brand_mentions(text, brands):
                    run.mentions.append(Mention(page=url, kind="brand", links_to_target=site_link,
                                                links_to_exact_target=exact, evidence=snippet, match=brand,
                                                asset=brand, link_rel=rel))
        if progress is not None:
            progress.sites_done += 1
            progress.found = len(run.mentions)

    await asyncio.gather(*(visit(s) for s in seeds))
    run.mentions.sort(key=lambda m: (m.links_to_target, m.page, m.kind))
    return run
