"""Guest-post targets: classifying guidelines pages (with decoys), requirements, and runs over test webs."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from outreach.discovery.guest_posts.service import classify, find_guest_post_targets, requirements
from outreach.lib.aio import run_sync
from outreach.lib.html import parse_page
from outreach.lib.http import Fetcher
from tests.discovery.guest_web import PAGES, build
from tests.lib.conftest import make_settings
from tests.lib.testweb import TestWeb


def verdict_for(path: str) -> object:
    html = PAGES[path][0]
    return classify(html, parse_page(html, "https://www.site.test" + path))


@pytest.mark.parametrize("path", sorted(PAGES))
def test_it_classifies_each_page(path: str) -> None:
    verdict = verdict_for(path)
    assert verdict.accepts is PAGES[path][1], verdict.reasons


def test_precision_and_recall_over_the_case_set() -> None:
    tp = fp = fn = 0
    for path, (_, expected) in PAGES.items():
        got = verdict_for(path).accepts
        tp += got and expected
        fp += got and not expected
        fn += expected and not got
    assert tp / (tp + fp) == 1.0
    assert tp / (tp + fn) == 1.0


def test_each_decoy_is_rejected_for_its_own_reason() -> None:
    assert "refuses" in verdict_for("/write-for-us-closed").reasons[-1]
    assert "refuses" in verdict_for("/guest-posts-paused").reasons[-1]
    assert "article that mentions guest posting" in verdict_for("/blog/my-first-guest-post").reasons[-1]
    assert "donation page" in verdict_for("/contribute").reasons[-1]
    assert "not a guidelines page" in verdict_for("/about").reasons[-1]


def test_it_extracts_requirements_and_form_urls() -> None:
    verdict = verdict_for("/write-for-us")
    assert verdict.requirements["word_count"] == ["1,200–2,000 words"]
    assert "One do-follow link in the author bio is allowed." in verdict.requirements["links"]
    assert verdict_for("/submit").form_urls == ["https://docs.google.com/forms/d/abc"]
    assert requirements("Topics we cover: widgets and gears. At least 900 words.") == {
        "word_count": ["At least 900 words"], "topics": ["Topics we cover: widgets and gears."]}


@pytest.fixture
def webs() -> Iterator[list[TestWeb]]:
    servers = [TestWeb(f"127.0.0.{31 + i}") for i in range(4)]
    yield servers
    for server in servers:
        server.close()


def run(seeds: list[str], **kwargs: object) -> tuple[list, list]:
    async def go() -> tuple[list, list]:
        async with Fetcher(make_settings()) as fetcher:
            return await find_guest_post_targets(fetcher, seeds, **kwargs)  # type: ignore[arg-type]
    return run_sync(go())


def test_a_run_finds_accepting_sites_by_their_footer_links_and_skips_refusing_ones(webs: list[TestWeb]) -> None:
    good, closed, spammy, offtopic = webs
    build(good)
    build(closed, accepts=False)
    build(spammy, spam=True)
    build(offtopic, extra_text="")
    offtopic.page("/", "<html><body><h1>Knitting news</h1><p>" + "Yarn and needles for knitting. " * 40 +
                  "</p><a href='/guidelines'>Write for us</a></body></html>")
    targets, visits = run([w.url("/") for w in webs], max_pages=5, keywords=["widget tools", "widget repair"])
    by_site = {t.site: t for t in targets}
    assert set(by_site) == {good.base, spammy.base, offtopic.base}
    target = by_site[good.base]
    assert target.page == good.url("/guidelines")
    assert target.emails[:2] == ["editor@site.test", "hello@site.test"]
    assert target.verdict.requirements["word_count"] == ["1,200–2,000 words"]
    # the score shows its parts; relevance and quality order the sites
    assert set(target.score_parts) == {"relevance", "quality", "signals"}
    assert by_site[good.base].score_parts["relevance"] > by_site[offtopic.base].score_parts["relevance"]
    assert by_site[good.base].score_parts["quality"] > by_site[spammy.base].score_parts["quality"]
    assert by_site[spammy.base].score_parts["signals"]["spam"] == 0.0
    assert targets[0].site == good.base
    assert all(v.pages <= 5 for v in visits)


def test_a_site_without_links_to_its_guidelines_is_found_by_the_usual_paths(webs: list[TestWeb]) -> None:
    site = webs[0]
    site.page("/", "<html><body><h1>Home</h1><p>Nothing to see.</p></body></html>")
    site.page("/write-for-us", PAGES["/write-for-us"][0])
    targets, _ = run([site.url("/")], max_pages=6)
    assert [t.page for t in targets] == [site.url("/write-for-us")]
    assert targets[0].score_parts["relevance"] is None  # no keywords: no relevance part
