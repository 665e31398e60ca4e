"""Verification against a local test web: every case of the issue's list, through the real fetcher."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from outreach.backlinks.verify import verify
from tests.backlinks.conftest import TARGET
from tests.lib.testweb import TestWeb


def page(body: str, head: str = "") -> str:
    return f"<!doctype html><html><head><title>Article</title>{head}</head><body><p>Intro</p>{body}</body></html>"


def check(web: TestWeb, settings: dict[str, Any], path: str, target: str = TARGET, **kwargs: Any):
    return verify(web.url(path), target, settings, **kwargs)


LINK = f'<a href="{TARGET}">Best widgets</a>'


def test_it_finds_an_exact_link(web: TestWeb, settings: dict[str, Any]) -> None:
    web.page("/a", page(LINK))
    result = check(web, settings, "/a", anchor="best  Widgets")
    assert result.status == "live" and result.http_status == 200
    assert [(link.href, link.anchor, link.rel) for link in result.links] == [(TARGET, "Best widgets", [])]
    assert result.follow and result.indexable and result.problems == []
    assert result.anchor_matches is True and result.found_in == "static"


@pytest.mark.parametrize("href", [
    "http://client.example/product", "https://client.example/product/", "http://client.example/product/",
    "https://CLIENT.Example/product", "https://client.example:443/product", "http://client.example:80/product",
    "https://www.client.example/product",
])
def test_it_matches_scheme_slash_case_and_port_variants(web: TestWeb, settings: dict[str, Any], href: str) -> None:
    web.page("/a", page(f'<a href="{href}">Widgets</a>'))
    result = check(web, settings, "/a")
    assert result.status == "live", href
    assert result.follow


def test_it_does_not_match_another_path_in_exact_mode_but_does_in_site_mode(
        web: TestWeb, settings: dict[str, Any]) -> None:
    web.page("/a", page('<a href="https://client.example/blog/post">Post</a>'))
    assert check(web, settings, "/a").status == "missing"
    site = check(web, settings, "/a", match_mode="site")
    assert site.status == "live" and site.links[0].href == "https://client.example/blog/post"


def test_it_decodes_an_entity_encoded_href(web: TestWeb, settings: dict[str, Any]) -> None:
    web.page("/a", page('<a href="https://client.example/product?a=1&amp;b=2">Widgets</a>'))
    result = check(web, settings, "/a", target="https://client.example/product?a=1&b=2")
    assert result.status == "live"
    assert result.links[0].href == "https://client.example/product?a=1&b=2"


def test_it_resolves_a_relative_href_against_base_href(web: TestWeb, settings: dict[str, Any]) -> None:
    web.page("/a", page('<a href="product">Widgets</a>', head='<base href="https://client.example/">'))
    result = check(web, settings, "/a")
    assert result.status == "live" and result.links[0].href == TARGET


@pytest.mark.parametrize(("href", "target"), [
    ("https://brand.example/?ref=partner", "https://brand.example/?ref=partner"),  # issue 14: root path + query
    ("https://brand.example/?ref=partner", "https://brand.example?ref=partner"),
    ("https://shop.example/?utm_source=blog", "https://shop.example/?utm_source=blog"),
    ("https://host.example/a?b=1", "https://host.example/a?b=1"),
    ("https://brand.example", "https://brand.example/"),
    ("https://brand.example/", "https://brand.example"),
    ("https://brand.example/?utm_source=blog&amp;utm_medium=referral", "https://brand.example/"),
    ("https://brand.example/pricing?fbclid=IwAR2x", "https://brand.example/pricing"),
    ("https://brand.example/?ref=partner&amp;lang=de", "https://brand.example/?lang=de"),
])
def test_a_link_to_a_root_or_with_tracking_parameters_is_found(web: TestWeb, settings: dict[str, Any], href: str,
                                                               target: str) -> None:
    web.page("/a", page(f'<a href="{href}">Brand</a>'))
    result = check(web, settings, "/a", target=target)
    assert result.status == "live", (href, target)
    assert "tracking_differs" not in result.problems


@pytest.mark.parametrize(("href", "target"), [
    ("https://brand.example/", "https://brand.example/?ref=partner"),
    ("https://brand.example/?ref=someone-else", "https://brand.example/?ref=partner"),
])
def test_a_link_without_the_agreed_tracking_parameters_is_live_with_a_problem(
        web: TestWeb, settings: dict[str, Any], href: str, target: str) -> None:
    web.page("/a", page(f'<a href="{href}">Brand</a>'))
    result = check(web, settings, "/a", target=target)
    assert result.status == "live" and "tracking_differs" in result.problems


@pytest.mark.parametrize(("href", "target"), [
    ("https://brand.example/?lang=de", "https://brand.example/"),
    ("https://host.example/a?b=2", "https://host.example/a?b=1"),
    ("https://brand.example/partner", "https://brand.example/?ref=partner"),
])
def test_a_link_with_another_query_is_missing(web: TestWeb, settings: dict[str, Any], href: str, target: str) -> None:
    web.page("/a", page(f'<a href="{href}">Brand</a>'))
    assert check(web, settings, "/a", target=target).status == "missing"


def test_a_query_is_read_in_the_page_charset(web: TestWeb, settings: dict[str, Any]) -> None:
    html = page('<a href="/поиск?q=привет">Поиск</a>').encode("windows-1251")
    web.page("/a", html, content_type="text/html; charset=windows-1251")
    as_chromium = web.url("/%D0%BF%D0%BE%D0%B8%D1%81%D0%BA?q=%EF%F0%E8%E2%E5%F2")  # a.href in Chromium
    result = check(web, settings, "/a", target=as_chromium)
    assert result.status == "live" and result.links[0].href == as_chromium


def test_an_image_link_takes_its_alt_as_anchor(web: TestWeb, settings: dict[str, Any]) -> None:
    web.page("/a", page(f'<a href="{TARGET}"><img src="/logo.png" alt="Acme widget logo"></a>'))
    result = check(web, settings, "/a", anchor="Acme widget logo")
    assert result.status == "live"
    assert result.links[0].anchor == "Acme widget logo" and result.links[0].is_image
    assert "anchor_mismatch" not in result.problems


@pytest.mark.parametrize(("rel", "problem"), [
    ("nofollow", "nofollow"), ("sponsored", "sponsored"), ("ugc", "ugc"), ("nofollow noopener", "nofollow"),
    ("NoFollow", "nofollow"),
])
def test_weak_rel_tokens_are_problems(web: TestWeb, settings: dict[str, Any], rel: str, problem: str) -> None:
    web.page("/a", page(f'<a href="{TARGET}" rel="{rel}">Widgets</a>'))
    result = check(web, settings, "/a")
    assert result.status == "live"
    assert result.follow is False
    assert problem in result.problems
    assert result.links[0].rel == rel.lower().split()


def test_noopener_alone_is_still_followed(web: TestWeb, settings: dict[str, Any]) -> None:
    web.page("/a", page(f'<a href="{TARGET}" rel="noopener noreferrer">Widgets</a>'))
    result = check(web, settings, "/a")
    assert result.follow and result.problems == []


def test_one_followed_link_among_several_makes_it_followed(web: TestWeb, settings: dict[str, Any]) -> None:
    web.page("/a", page(f'<a href="{TARGET}" rel="nofollow">one</a> <a href="{TARGET}/">two</a>'
                        f'<a href="{TARGET}" rel="sponsored">three</a>'))
    result = check(web, settings, "/a")
    assert len(result.links) == 3
    assert result.follow is True and result.problems == []


def test_meta_noindex_makes_the_page_not_indexable(web: TestWeb, settings: dict[str, Any]) -> None:
    web.page("/a", page(LINK, head='<meta name="robots" content="noindex, follow">'))
    result = check(web, settings, "/a")
    assert result.status == "live" and result.follow
    assert result.indexable is False and result.problems == ["noindex"]
    assert result.meta_robots == ["noindex", "follow"]


def test_googlebot_meta_counts_and_page_level_nofollow_too(web: TestWeb, settings: dict[str, Any]) -> None:
    web.page("/a", page(LINK, head='<meta name="googlebot" content="noindex,nofollow">'))
    result = check(web, settings, "/a")
    assert result.follow is False and result.indexable is False
    assert set(result.problems) == {"noindex", "nofollow"}


def test_x_robots_tag_noindex_makes_the_page_not_indexable(web: TestWeb, settings: dict[str, Any]) -> None:
    web.page("/a", page(LINK), X_Robots_Tag="noindex")
    result = check(web, settings, "/a")
    assert result.indexable is False and "noindex" in result.problems
    assert result.x_robots_tag == "noindex"


def test_x_robots_tag_for_another_crawler_does_not_count(web: TestWeb, settings: dict[str, Any]) -> None:
    web.page("/a", page(LINK), X_Robots_Tag="otherbot: noindex")
    assert check(web, settings, "/a").indexable is True


def test_robots_txt_disallow_makes_the_page_not_indexable(web: TestWeb, settings: dict[str, Any]) -> None:
    web.page("/robots.txt", "User-agent: Googlebot\nDisallow: /private/\n\nUser-agent: *\nDisallow: /private/\n",
             content_type="text/plain")
    web.page("/private/a", page(LINK))
    result = check(web, settings, "/private/a")
    assert result.status == "live"
    assert result.robots_allowed_googlebot is False and result.robots_allowed_agent is False
    assert result.indexable is False
    assert "robots_disallowed" in result.problems and "robots_disallowed_agent" in result.problems


def test_robots_txt_that_only_blocks_our_agent_leaves_it_indexable(web: TestWeb, settings: dict[str, Any]) -> None:
    web.page("/robots.txt", "User-agent: OutreachBot\nDisallow: /\n", content_type="text/plain")
    web.page("/a", page(LINK))
    result = check(web, settings, "/a")
    assert result.robots_allowed_googlebot is True and result.robots_allowed_agent is False
    assert result.indexable is True and result.problems == ["robots_disallowed_agent"]


def test_a_canonical_elsewhere_makes_the_page_not_indexable(web: TestWeb, settings: dict[str, Any]) -> None:
    web.page("/a", page(LINK, head='<link rel="canonical" href="https://elsewhere.example/original">'))
    result = check(web, settings, "/a")
    assert result.canonical == "https://elsewhere.example/original"
    assert result.indexable is False and result.problems == ["canonical_elsewhere"]


def test_a_canonical_to_itself_is_fine(web: TestWeb, settings: dict[str, Any]) -> None:
    web.page("/a", page(LINK, head=f'<link rel="canonical" href="{web.url("/a/")}">'))
    result = check(web, settings, "/a")
    assert result.indexable is True and result.problems == []


def test_a_404_is_missing_with_its_status(web: TestWeb, settings: dict[str, Any]) -> None:
    result = check(web, settings, "/gone")
    assert result.status == "missing" and result.http_status == 404
    assert result.indexable is False and {"http_404", "link_missing"} <= set(result.problems)


def test_a_redirect_to_the_home_page_is_reported(web: TestWeb, settings: dict[str, Any]) -> None:
    web.redirect("/old-article", web.url("/"))
    web.page("/", page("<p>Welcome home</p>"))
    result = check(web, settings, "/old-article")
    assert result.redirects == [(web.url("/old-article"), 301)]
    assert result.final_url == web.url("/")
    assert result.status == "missing" and result.indexable is False
    assert {"redirected_home", "link_missing"} <= set(result.problems)


def test_a_redirect_to_the_article_keeps_the_link_live(web: TestWeb, settings: dict[str, Any]) -> None:
    web.redirect("/a", web.url("/articles/a"), status=302)
    web.page("/articles/a", page(LINK))
    result = check(web, settings, "/a")
    assert result.status == "live" and result.final_url == web.url("/articles/a")
    assert result.redirects == [(web.url("/a"), 302)] and result.problems == []


def test_a_removed_link_is_missing(web: TestWeb, settings: dict[str, Any]) -> None:
    web.page("/a", page('<a href="https://someone-else.example/">Other</a>'))
    result = check(web, settings, "/a")
    assert result.status == "missing" and result.links == [] and result.problems == ["link_missing"]
    assert result.indexable is True  # the page itself is fine


def test_a_link_only_in_an_html_comment_is_missing(web: TestWeb, settings: dict[str, Any]) -> None:
    web.page("/a", page(f"<!-- {LINK} --><p>no link here</p>"))
    assert check(web, settings, "/a").status == "missing"


def test_a_link_only_in_noscript_is_found_and_flagged(web: TestWeb, settings: dict[str, Any]) -> None:
    web.page("/a", page(f"<noscript>{LINK}</noscript>"))
    result = check(web, settings, "/a")
    assert result.status == "live" and result.found_in == "static"
    assert "only_in_noscript" in result.problems


def test_a_transient_server_error_is_an_error_not_a_missing_link(web: TestWeb, settings: dict[str, Any]) -> None:
    web.page("/a", page(LINK), status=503)
    web.page("/b", page(LINK), status=429)
    for path, code in (("/a", 503), ("/b", 429)):
        result = check(web, settings, path)
        assert result.status == "error" and result.http_status == code
        assert result.problems == [f"http_{code}"]


def test_no_answer_is_an_error_with_the_reason(settings: dict[str, Any]) -> None:
    result = verify("http://nowhere.invalid/a", TARGET, settings)
    assert result.status == "error" and result.http_status is None
    assert result.error == "dns" and result.problems == ["dns"]


def test_an_agreed_anchor_that_differs_is_a_problem(web: TestWeb, settings: dict[str, Any]) -> None:
    web.page("/a", page(LINK))
    result = check(web, settings, "/a", anchor="cheap widgets")
    assert result.anchor_matches is False and result.problems == ["anchor_mismatch"]


JS_PAGE = page('<div id="slot"></div><script src="/insert.js"></script>')
JS = f"""document.getElementById("slot").innerHTML = '<a href="{TARGET}">Inserted</a>';"""


@pytest.mark.browser
def test_a_link_inserted_by_javascript_is_found_only_with_rendering(web: TestWeb, settings: dict[str, Any]) -> None:
    web.page("/a", JS_PAGE)
    web.page("/insert.js", JS, content_type="application/javascript")
    static = check(web, settings, "/a")
    assert static.status == "missing" and static.rendered is False
    rendered = check(web, settings, "/a", render=True)
    assert rendered.rendered is True and rendered.render_error is None
    assert rendered.status == "live" and rendered.found_in == "rendered"
    assert [(link.anchor, link.dom) for link in rendered.links] == [("Inserted", "rendered")]
    assert "only_after_javascript" in rendered.problems


@pytest.mark.browser
def test_rendering_says_the_static_dom_found_a_link_that_is_in_both(web: TestWeb, settings: dict[str, Any]) -> None:
    web.page("/a", page(LINK))
    result = check(web, settings, "/a", render=True)
    assert result.found_in == "static" and [link.dom for link in result.links] == ["static"]


def run_cli(*args: str, config: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "outreach.cli", "--config", str(config), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_the_cli_prints_one_json_object_per_the_contract(web: TestWeb, config: Path) -> None:
    web.page("/a", page(f'<a href="{TARGET}" rel="nofollow">Widgets</a>',
                        head='<meta name="robots" content="noindex">'))
    done = run_cli("verify", web.url("/a"), "--target", TARGET, "--anchor", "Widgets", "--json", config=config)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["page"] == web.url("/a") and data["final_url"] == web.url("/a") and data["http_status"] == 200
    assert data["status"] == "live" and data["follow"] is False and data["indexable"] is False
    assert data["links"] == [{"href": TARGET, "anchor": "Widgets", "rel": ["nofollow"], "is_image": False,
                              "dom": "static"}]
    assert set(data["problems"]) == {"nofollow", "noindex"}


def test_the_cli_exits_0_for_a_missing_link_and_2_for_a_bad_url(web: TestWeb, config: Path) -> None:
    web.page("/a", page("<p>nothing</p>"))
    done = run_cli("verify", web.url("/a"), "--target", TARGET, "--json", config=config)
    assert done.returncode == 0 and json.loads(done.stdout)["status"] == "missing"
    bad = run_cli("verify", "ftp://x.example/a", "--target", TARGET, "--json", config=config)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.strip().count("\n") == 0 and "not an http(s) URL" in bad.stderr


def test_the_cli_prints_a_readable_summary_without_json(web: TestWeb, config: Path) -> None:
    web.page("/a", page(LINK))
    done = run_cli("verify", web.url("/a"), "--target", TARGET, config=config)
    assert done.returncode == 0
    assert done.stdout.startswith("LIVE") and "Best widgets" in done.stdout
