"""Infographic and brand mentions over a test web with decoys; precision and recall per case set."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from outreach.discovery.mentions.service import (
    PHASH_THRESHOLD,
    ImageAsset,
    MentionRun,
    find_mentions,
    image_fingerprint,
    phash_distance,
)
from outreach.lib.aio import run_sync
from outreach.lib.http import Fetcher
from tests.discovery.images import chart, copies, encode, logo
from tests.lib.conftest import make_settings
from tests.lib.testweb import TestWeb

ORIGINAL = chart(1)
ASSET_BYTES = encode(ORIGINAL)
BRAND = "Acme Analytics"


@pytest.fixture
def client_site() -> Iterator[TestWeb]:
    web = TestWeb("127.0.0.42")
    web.page("/infographic.png", ASSET_BYTES, content_type="image/png")
    web.page("/", "<html><body>Acme Analytics home</body></html>")
    yield web
    web.close()


def html(body: str, head: str = "") -> str:
    return f"<html><head><title>t</title>{head}</head><body>{body}</body></html>"


def build(web: TestWeb, client: TestWeb) -> tuple[set[tuple[str, str, bool]], set[tuple[str, str, bool]]]:
    """The test web; returns the expected (page, kind, links_to_target) sets for images and brands."""
    target_link = f'<a href="{client.url("/pricing")}">source</a>'
    for name, data in copies(ORIGINAL).items():
        web.page(f"/img/{name}", data, content_type="image/webp" if name.endswith("webp") else "image/png")
    web.page("/img/copy.png", ASSET_BYTES, content_type="image/png")
    web.page("/img/other-chart.png", encode(chart(9)), content_type="image/png")
    web.page("/img/logo@2x.png", encode(logo()), content_type="image/png")
    web.page("/img/fallback.png", encode(chart(12)), content_type="image/png")
    pages = {
        # images that are the asset
        "/hotlinked": html(f'<img src="{client.url("/infographic.png")}">'),
        "/rehosted": html(f'<img src="/img/copy.png"> {target_link}'),
        "/lazy": html('<img src="data:image/gif;base64,R0lGOD" data-src="/img/half.png">'),
        "/srcset": html('<img src="/img/other-chart.png" srcset="/img/small.jpg 300w, /img/big.png 900w">'),
        "/picture": html('<picture><source srcset="/img/cropped.webp"><img src="/img/fallback.png"></picture>'),
        "/og": html("<p>A post.</p>", '<meta property="og:image" content="/img/q35.jpg">'),
        # image decoys
        "/other-chart": html('<img src="/img/other-chart.png">'),
        "/logo": html('<img src="/img/logo@2x.png" width="32" height="32">'),
        # brands
        "/brand-text": html(f"<p>We measured it with {BRAND}, which was easy.</p>"),
        "/brand-linked": html(f'<p>Thanks to <a href="{client.url("/")}">{BRAND}</a>.</p>'),
        "/brand-lowercase": html("<p>acme   analytics helped.</p>"),
        # brand decoys
        "/brand-script": html(f"<script>var vendor = '{BRAND}';</script><p>Nothing here.</p>"),
        "/brand-other-link": html(f'<p>Read <a href="https://reviews.test/acme">{BRAND}</a> reviews.</p>'),
        "/brand-partial": html("<p>AcmeAnalytics and Acme Analyticsville are not it.</p>"),
        "/brand-attribute": html(f'<img src="/img/fallback.png" alt="{BRAND}" title="{BRAND}">'),
    }
    links = "".join(f'<a href="{path}">{path}</a>' for path in pages)
    web.page("/", html(f"<h1>Blog</h1>{links}"))
    for path, body in pages.items():
        web.page(path, body)
    u = web.url
    images = {(u("/hotlinked"), "image", False), (u("/rehosted"), "image", True), (u("/lazy"), "image", False),
              (u("/srcset"), "image", False), (u("/picture"), "image", False), (u("/og"), "image", False)}
    brands = {(u("/brand-text"), "brand", False), (u("/brand-linked"), "brand", True),
              (u("/brand-lowercase"), "brand", False)}
    return images, brands


@pytest.fixture
def web() -> Iterator[TestWeb]:
    server = TestWeb("127.0.0.41")
    yield server
    server.close()


def asset() -> ImageAsset:
    sha, phash = image_fingerprint(ASSET_BYTES)
    return ImageAsset(url=None, sha256=sha, phash=phash, label="chart")


def run(seed: str, target: str, **kwargs: object) -> MentionRun:
    async def go() -> MentionRun:
        async with Fetcher(make_settings()) as fetcher:
            return await find_mentions(fetcher, [seed], target=target, **kwargs)  # type: ignore[arg-type]
    return run_sync(go())


def precision_recall(got: set, expected: set) -> tuple[float, float]:
    tp = len(got & expected)
    return (tp / len(got) if got else 1.0), (tp / len(expected) if expected else 1.0)


def test_it_finds_image_and_brand_mentions_and_only_those(web: TestWeb, client_site: TestWeb) -> None:
    images, brands = build(web, client_site)
    hotlink = ImageAsset(url=client_site.url("/infographic.png"), sha256="0" * 64, phash="0" * 16, label="hot")
    result = run(web.url("/"), client_site.url("/"), images=[asset(), hotlink], brands=[BRAND], max_pages=30)
    got = {(m.page, m.kind, m.links_to_target) for m in result.mentions}
    assert precision_recall({g for g in got if g[1] == "image"}, images) == (1.0, 1.0)
    assert precision_recall({g for g in got if g[1] == "brand"}, brands) == (1.0, 1.0)


def test_each_match_says_how_it_matched_and_shows_its_evidence(web: TestWeb, client_site: TestWeb) -> None:
    build(web, client_site)
    hotlink = ImageAsset(url=client_site.url("/infographic.png"), sha256="0" * 64, phash="0" * 16, label="hot")
    result = run(web.url("/"), client_site.url("/"), images=[asset(), hotlink], brands=[BRAND], max_pages=30)
    by_page = {m.page.rsplit("/", 1)[1]: m for m in result.mentions}
    assert by_page["hotlinked"].match == "url"
    assert by_page["rehosted"].match == "sha256"
    assert by_page["rehosted"].evidence == web.url("/img/copy.png")
    assert by_page["lazy"].match.startswith("phash:")
    assert by_page["srcset"].evidence in (web.url("/img/small.jpg"), web.url("/img/big.png"))
    assert by_page["picture"].evidence == web.url("/img/cropped.webp")
    assert "We measured it with Acme Analytics" in by_page["brand-text"].evidence
    assert by_page["brand-linked"].links_to_target and by_page["brand-linked"].links_to_exact_target
    assert by_page["brand-linked"].evidence == "Thanks to Acme Analytics."
    assert by_page["rehosted"].links_to_target and not by_page["rehosted"].links_to_exact_target


def test_the_exact_target_and_a_weak_link_are_noted(web: TestWeb, client_site: TestWeb) -> None:
    web.page("/", html(f'<p>{BRAND} made <a href="{client_site.url("/tool")}">this</a>.</p>'))
    (mention,) = run(web.url("/"), client_site.url("/tool"), images=[], brands=[BRAND], max_pages=1).mentions
    assert mention.links_to_target and mention.links_to_exact_target and mention.link_rel == []
    web.page("/", html(f'<p>{BRAND} made <a rel="nofollow ugc" href="{client_site.url("/")}">this</a>.</p>'))
    (mention,) = run(web.url("/"), client_site.url("/tool"), images=[], brands=[BRAND], max_pages=1).mentions
    assert mention.links_to_target and not mention.links_to_exact_target and mention.link_rel == ["nofollow", "ugc"]


def test_the_documented_threshold_separates_copies_from_other_charts() -> None:
    _, original = image_fingerprint(ASSET_BYTES)
    for data in copies(ORIGINAL).values():
        assert phash_distance(original, image_fingerprint(data)[1]) <= PHASH_THRESHOLD
    for seed in range(2, 30):
        assert phash_distance(original, image_fingerprint(encode(chart(seed)))[1]) > PHASH_THRESHOLD


def test_images_are_downloaded_once_and_non_images_are_ignored(web: TestWeb, client_site: TestWeb) -> None:
    web.page("/img/not-an-image.png", "<html>oops</html>", content_type="image/png")
    web.page("/a", html('<img src="/img/not-an-image.png">'))
    web.page("/", html('<a href="/a">a</a><img src="/img/not-an-image.png">'))
    result = run(web.url("/"), client_site.url("/"), images=[asset()], brands=[], max_pages=5)
    assert result.mentions == []
    assert web.hits["/img/not-an-image.png"] == 1
