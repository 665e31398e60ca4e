from __future__ import annotations

import asyncio
import os
import threading

import pytest

from outreach.lib.html import ParseLimits, TooComplex, decode_html, off_loop, page_links, parse_page

PAGE = """<!doctype html><html><head><title> Best  tools </title>
<base href=" https://example.com/guides/ ">
<meta name="robots" content="NoIndex, NOFOLLOW"><meta name="googlebot" content="noarchive">
<link rel="canonical" href="/guides/tools">
</head><body>
<!-- <a href="/in-a-comment">hidden</a> -->
<template><a href="/in-a-template">t</a></template>
<a href="  relative.html  ">Relative   link</a>
<a href="/search?a=1&amp;b=2">Entities</a>
<a href="https://Other.example:443/x#top" rel="NoFollow Sponsored">Other</a>
<a href="mailto:editor@example.com?subject=hi">mail</a>
<a href="tel:+123">call</a><a href="javascript:void(0)">js</a><a href="data:text/html,x">data</a>
<a href="/pic"><img src="p.png" alt="A chart"></a>
<map><area href="/area" alt="Region"></map>
<script>document.write('<a href="/from-script">s</a>')</script>
<noscript>Enable scripts</noscript><p>Visible words</p>
</body></html>"""


def test_it_extracts_links_against_the_base_href() -> None:
    page = parse_page(PAGE, "https://example.com/index.html")
    hrefs = [link.href for link in page.links]
    assert hrefs == [
        "https://example.com/guides/relative.html",
        "https://example.com/search?a=1&b=2",
        "https://other.example/x",
        "https://example.com/pic",
        "https://example.com/area",
    ]
    assert page.base_url == "https://example.com/guides/"


def test_it_keeps_anchor_text_rel_and_image_alt() -> None:
    links = {link.href: link for link in parse_page(PAGE, "https://example.com/").links}
    assert links["https://example.com/guides/relative.html"].anchor == "Relative link"
    assert links["https://example.com/guides/relative.html"].raw_href == "  relative.html  "
    assert links["https://other.example/x"].rel == ["nofollow", "sponsored"]
    image = links["https://example.com/pic"]
    assert (image.anchor, image.is_image, image.tag) == ("A chart", True, "a")
    assert links["https://example.com/area"].tag == "area"
    assert links["https://example.com/area"].anchor == "Region"


def test_it_reads_meta_robots_canonical_title_text_and_mailtos() -> None:
    page = parse_page(PAGE, "https://example.com/")
    assert page.title == "Best tools"
    assert page.meta_robots == ["noindex", "nofollow", "noarchive"]
    assert page.canonical == "https://example.com/guides/tools"
    assert page.mailtos == ["editor@example.com"]
    assert "Visible words" in page.text and "Enable scripts" in page.text
    assert "document.write" not in page.text and "hidden" not in page.text


def test_it_ignores_links_inside_comments_only() -> None:
    page = parse_page('<html><body><!-- <a href="/x">x</a> --></body></html>', "http://e.com/")
    assert page.links == []


def test_it_survives_malformed_html() -> None:
    html = '<html><body><a href="/a">one<a href=/b>two</p></div><table><a href="/c"'
    page = parse_page(html, "http://e.com/")
    assert [link.href for link in page.links][:2] == ["http://e.com/a", "http://e.com/b"]


def test_it_decodes_charsets_from_header_bom_and_meta() -> None:
    latin = "<html><body>café</body></html>".encode("latin-1")
    assert "café" in decode_html(latin, "text/html; charset=ISO-8859-1")
    meta = b'<html><head><meta charset="windows-1251"></head><body>' + "привет".encode("cp1251") + b"</body>"
    assert "привет" in decode_html(meta, "text/html")
    bom = b"\xef\xbb\xbf" + "naïve".encode()
    assert decode_html(bom, "text/html; charset=latin-1") == "naïve"


def test_undecodable_bytes_never_raise() -> None:
    assert "\ufffd" in decode_html(b"\xfa\xfb broken", "text/html; charset=utf-8")
    assert decode_html(b"caf\xe9", None) == "café"
    assert decode_html(b"x", "text/html; charset=no-such-charset") == "x"


_TRICKY = [
    PAGE,
    PAGE.replace("<base", "<BASE").replace("NOFOLLOW", "noarchive"),
    '<html><body><a href="/a">one<a href=/b>two</p></div><table><a href="/c"',
    '<p><a href="/x"> <img alt=" Logo\u00a0mark "> </a><a href="/y"><b>Bold</b>\ttext\n</a><a href="#top">top</a>',
    '<meta name="GoogleBot" content="index, NoFollow"><a href="//cdn.example/z">cdn</a><a href="?q=1">q</a>',
    '<a href="http://[bad">bad</a><a href="HTTP://Example.COM:80/./a/../b">norm</a>',
    '<META NAME="&#114;obots" CONTENT="nofollow"><a href="/r">r</a>',
]


@pytest.mark.parametrize("html", _TRICKY)
def test_page_links_gives_the_crawler_the_same_links_anchors_and_nofollow_as_parse_page(html: str) -> None:
    page = parse_page(html, "https://example.com/dir/index.html", with_text=False)
    links, nofollow = page_links(html, "https://example.com/dir/index.html")
    assert links == [(link.href, link.anchor) for link in page.links]
    assert nofollow == ("nofollow" in page.meta_robots)


# --- bounded parsing ---------------------------------------------------------------------------------


def nested(depth: int, inner: str = '<a href="/x">x</a>') -> str:
    return f"<html><body>{'<div>' * depth}{inner}{'</div>' * depth}</body></html>"


@pytest.mark.parametrize("depth", [600, 20_000])  # measured after the parse, and before it (many tags)
def test_a_page_nested_past_the_limit_is_too_complex(depth: int) -> None:
    with pytest.raises(TooComplex, match="nested"):
        page_links(nested(depth), "https://a.example/")
    with pytest.raises(TooComplex, match="nested"):
        parse_page(nested(depth), "https://a.example/")
    assert page_links(nested(600), "https://a.example/", limits=ParseLimits(max_depth=700))[0] == [
        ("https://a.example/x", "x")]


def test_stray_end_tags_do_not_hide_deep_nesting() -> None:
    with pytest.raises(TooComplex):
        page_links("</div>" * 20_000 + nested(20_000), "https://a.example/")


@pytest.mark.parametrize("markup", [
    "<script>" + "<div>" * 20_000 + "</script>", "<!--" + "<div>" * 20_000 + "-->",
    "<svg>" + '<path d="M0"/>' * 20_000 + "</svg>", "<ul>" + "<li><p>item" * 20_000 + "</ul>",
    "<p>" + "line<br>" * 20_000, "<table>" + "<tr><td>cell" * 10_000 + "</table>",
])
def test_elements_that_do_not_nest_are_not_deep(markup: str) -> None:
    page_links(f"<html><body>{markup}</body></html>", "https://a.example/")


def test_a_page_with_more_elements_than_the_limit_is_too_complex() -> None:
    markup = "<html><body>" + "<span>x</span>" * 300 + "</body></html>"
    with pytest.raises(TooComplex, match="elements"):
        page_links(markup, "https://a.example/", limits=ParseLimits(max_nodes=100))
    page_links(markup, "https://a.example/", limits=ParseLimits(max_nodes=400))


def test_a_parse_past_its_time_is_too_complex() -> None:
    with pytest.raises(TooComplex, match="too long"):
        parse_page(nested(10, "x" * 10), "https://a.example/", limits=ParseLimits(timeout=0.0))


def test_a_small_page_is_read_on_the_loop_and_a_larger_one_in_the_pool() -> None:
    def where() -> str:
        return threading.current_thread().name

    async def run() -> tuple[str, str]:
        limits = ParseLimits(workers=3)
        return (await off_loop(limits, "<p>" * 1_000, where),
                await off_loop(limits, b"<p>" * 1_001, where))

    small, large = asyncio.run(run())
    assert small == threading.main_thread().name and large.startswith("pool3")


def test_the_parse_pool_works_in_a_forked_child() -> None:
    async def in_pool() -> str:
        return await off_loop(ParseLimits(workers=2), b"<p>" * 2_000, lambda: threading.current_thread().name)

    assert asyncio.run(in_pool()).startswith("pool2")  # the parent's pool exists before the fork
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover (the child reports through the pipe)
        try:
            os.write(write, asyncio.run(asyncio.wait_for(in_pool(), 10)).encode())
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 100).decode()
    os.waitpid(child, 0)
    assert answer.startswith("pool2")
