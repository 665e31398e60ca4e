"""Verification agrees with Chromium on every link of every page of the saved corpus (tests/fixtures/pages).

Each page's <page>.json holds what headless Chromium made of its links (`a.href`, JavaScript off; recorded by
tests/fixtures/pages/chromium_links.py). The pages are served from loopback with their Content-Type headers, and
for every link Chromium resolved to an http(s) URL, the verifier, given that URL as the target, finds the link
live; and the links the verifier's parser reads off the page are Chromium's, in document order (fragments aside:
a link to a part of a page is a link to the page).
"""
from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from outreach.backlinks.verify import read_page, verify_page
from outreach.config import Settings
from outreach.lib.http import Fetcher, FetchSettings
from tests.lib.testweb import TestWeb, send

CORPUS = Path(__file__).resolve().parent.parent / "fixtures" / "pages"
PAGES: list[dict[str, Any]] = json.loads((CORPUS / "pages.json").read_text(encoding="utf-8"))


def chromium(page: dict[str, Any]) -> dict[str, Any]:
    return json.loads((CORPUS / page["file"].replace(".html", ".json")).read_text(encoding="utf-8"))


def chromium_links(page: dict[str, Any], origin: str) -> list[str]:
    """The http(s) URLs Chromium resolved the page's a[href] and area[href] to, without fragments, in order."""
    hrefs = [link["href"].replace("{origin}", origin) for link in chromium(page)["links"] if link["valid"]]
    return [href.split("#", 1)[0] for href in hrefs if href.startswith(("http://", "https://"))]


@pytest.fixture(scope="module")
def corpus() -> Iterator[TestWeb]:
    server = TestWeb("127.0.0.42")
    # headers and body go out in two writes: without this, each answer waits for a delayed ACK (40 ms)
    server.server.RequestHandlerClass.disable_nagle_algorithm = True  # type: ignore[attr-defined]
    server.page("/robots.txt", "User-agent: *\nAllow: /\n", content_type="text/plain")
    for page in PAGES:
        body, content_type = (CORPUS / page["file"]).read_bytes(), page["content_type"]
        server.routes[page["path"]] = lambda req, body=body, content_type=content_type: send(
            req, 200, body, content_type=content_type)
    yield server
    server.close()


def test_the_corpus_is_large_and_varied() -> None:
    assert len(PAGES) >= 100
    assert all((CORPUS / page["file"].replace(".html", ".json")).exists() for page in PAGES)
    charsets = Counter(chromium(page)["charset"] for page in PAGES)
    assert {"UTF-8", "windows-1252", "windows-1251", "Shift_JIS"} <= set(charsets), charsets
    assert {page["declared_by"] for page in PAGES} >= {"meta", "http-equiv", "header", "header-over-meta", "bom"}
    assert len({page["language"] for page in PAGES}) >= 10 and len({page["kind"] for page in PAGES}) >= 6
    raw = [link["raw"] for page in PAGES for link in chromium(page)["links"]]
    assert sum(1 for page in PAGES if b"<base href" in (CORPUS / page["file"]).read_bytes()) >= 10
    for needle in ("utm_", "ref=", "fbclid", "\\", "xn--", "%", "../", ":80/", ":443/", "#", "javascript:", "mailto:"):
        assert any(needle in href for href in raw), needle
    assert any(href.strip().startswith("//") for href in raw)
    assert any(not href.isascii() for href in raw)


@pytest.mark.parametrize("page", PAGES, ids=[page["file"].removesuffix(".html") for page in PAGES])
def test_verify_agrees_with_chromium_on_every_link(page: dict[str, Any], corpus: TestWeb, settings: Settings) -> None:
    url = corpus.url(page["path"])
    expected = chromium_links(page, corpus.base)
    targets = sorted(set(expected))
    assert targets

    async def run() -> tuple[list[str], list[Any]]:
        async with Fetcher(FetchSettings.from_settings(settings)) as fetcher:
            fetched = await fetcher.fetch(url)
            assert fetched.status == 200, fetched.error
            parsed = read_page(fetched)[2]
            results = await asyncio.gather(*(verify_page(fetcher, url, target) for target in targets))
            return [link.href for link in parsed.links], results

    ours, results = asyncio.run(run())
    assert ours == expected
    for target, result in zip(targets, results, strict=True):
        assert result.status == "live", (target, result.problems)
        assert target in [link.href for link in result.links], target
