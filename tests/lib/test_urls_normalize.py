"""normalize_url and resolve_href read URLs as browsers do: checked against ada-url (the WHATWG URL parser that the
standard's own tests are run against) over generated and real-looking URLs."""
from __future__ import annotations

import ada_url
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from outreach.lib.urls import BadURL, _is_normal, link_key, normalize_url, resolve_href, url_origin


@pytest.mark.parametrize(("given", "expected"), [
    ("HTTP://Example.COM/a", "http://example.com/a"),
    ("http://example.com:80/a", "http://example.com/a"),
    ("https://example.com:443/a", "https://example.com/a"),
    ("https://example.com:8443/a", "https://example.com:8443/a"),
    ("http://example.com/a/./b/../c", "http://example.com/a/c"),
    ("http://example.com/../../x", "http://example.com/x"),
    ("http://example.com/a/..", "http://example.com/"),
    ("http://example.com/a/%2e%2E/b", "http://example.com/b"),
    ("http://example.com/%7euser/%2f", "http://example.com/%7euser/%2f"),  # a browser leaves escapes as they are
    ("http://example.com/a b", "http://example.com/a%20b"),
    ("http://example.com/p?q=%2a#frag", "http://example.com/p?q=%2a"),
    ("http://example.com", "http://example.com/"),
    ("https://brand.example?ref=partner", "https://brand.example/?ref=partner"),
    ("  http://example.com/x  ", "http://example.com/x"),
    ("http://Example.com./", "http://example.com./"),
    ("https://bücher.de/", "https://xn--bcher-kva.de/"),
    ("https://straße.de/", "https://xn--strae-oqa.de/"),  # UTS #46 non-transitional, as browsers do
    ("http://[::1]:8080/", "http://[::1]:8080/"),
    ("http://0x7f.1/", "http://127.0.0.1/"),
    ("https:\\\\host.example\\a\\b", "https://host.example/a/b"),
    ("http://example.com/ä?ä", "http://example.com/%C3%A4?%C3%A4"),
    ("http://example.com/?q='x'", "http://example.com/?q=%27x%27"),
])
def test_it_gives_the_spelling_a_browser_gives(given: str, expected: str) -> None:
    assert normalize_url(given) == expected


def test_it_is_idempotent() -> None:
    url = "HTTP://Example.com:80/a/../b/%7e?x=%aa#f"
    assert normalize_url(normalize_url(url)) == normalize_url(url)


def test_it_leaves_other_schemes_alone() -> None:
    assert normalize_url("mailto:Someone@Example.com") == "mailto:Someone@Example.com"


@pytest.mark.parametrize("url", ["http://example.com:99999999/", "http://exa mple.com/", "http://example.123/"])
def test_it_refuses_what_does_not_parse(url: str) -> None:
    with pytest.raises(BadURL):
        normalize_url(url)


@pytest.mark.parametrize(("base", "href", "expected"), [
    ("https://blog.example/posts/2024/x.html", "../about/", "https://blog.example/posts/about/"),
    ("https://blog.example/posts/x.html", "//cdn.example/a.png", "https://cdn.example/a.png"),
    ("https://blog.example/posts/x.html", "/\\evil.example/p", "https://evil.example/p"),
    ("https://blog.example/posts/x.html", "\\\\evil.example\\p", "https://evil.example/p"),
    ("https://blog.example/posts/x.html?page=2", "", "https://blog.example/posts/x.html?page=2"),
    ("https://blog.example/posts/x.html?page=2", "#top", "https://blog.example/posts/x.html?page=2"),
    ("https://blog.example/posts/x.html", "?page=3", "https://blog.example/posts/x.html?page=3"),
    ("https://blog.example/posts/x.html", " \n/a\tb\n ", "https://blog.example/ab"),
    ("https://blog.example/posts/x.html", "/\t/evil.example/p", "https://evil.example/p"),
    ("https://blog.example/posts/x.html", "/\n\\evil.example/p", "https://evil.example/p"),
    ("http://Blog.Example:80?x=/y", "/p", "http://blog.example/p"),
    ("http://u:p@blog.example/a/b", "/p", "http://u:p@blog.example/p"),
    ("https://blog.example/", "HTTPS://WWW.Brand.Example:443/?utm_source=blog", "https://www.brand.example/?utm_source=blog"),
    ("https://blog.example/", "http://münchen.example/straße", "http://xn--mnchen-3ya.example/stra%C3%9Fe"),
    ("https://blog.example/", "javascript:void(0)", None),
    ("https://blog.example/", "mailto:a@b.example", None),
    ("https://blog.example/", "http://exa mple.com/", None),
])
def test_resolve_href_resolves_as_a_browser_does(base: str, href: str, expected: str | None) -> None:
    assert resolve_href(base, href) == expected


@pytest.mark.parametrize(("encoding", "href", "expected"), [
    ("cp1251", "/search?q=привет", "https://news.example/search?q=%EF%F0%E8%E2%E5%F2"),
    ("cp1251", "/привет?q=привет", "https://news.example/%D0%BF%D1%80%D0%B8%D0%B2%D0%B5%D1%82?q=%EF%F0%E8%E2%E5%F2"),
    ("cp1251", "/s?q=日本", "https://news.example/s?q=%26%2326085%3B%26%2326412%3B"),  # not in windows-1251
    ("cp1251", "/s#q=привет", "https://news.example/s"),
    ("cp932", "/s?q=東京", "https://news.example/s?q=%93%8C%8B%9E"),
    ("utf-8", "/s?q=привет", "https://news.example/s?q=%D0%BF%D1%80%D0%B8%D0%B2%D0%B5%D1%82"),
])
def test_a_query_is_encoded_in_the_page_encoding(encoding: str, href: str, expected: str) -> None:
    assert resolve_href("https://news.example/a", href, encoding) == expected


def test_url_origin_is_scheme_and_host_lower_cased() -> None:
    assert url_origin("HTTP://Ex.com:81/a?b") == "http://ex.com:81"
    assert url_origin("http://ex.com?x=/y") == "http://ex.com"
    assert url_origin("https://ex.com#/frag") == "https://ex.com"


# --- link_key: how a found link and a target compare -----------------------------------------------------------

@pytest.mark.parametrize(("target", "href"), [
    ("https://brand.example/?ref=partner", "https://brand.example/?ref=partner"),  # issue 14
    ("https://brand.example/?ref=partner", "https://brand.example?ref=partner"),
    ("https://shop.example/?utm_source=blog", "https://shop.example/?utm_source=blog"),
    ("https://brand.example", "https://brand.example/"),
    ("https://brand.example/", "https://brand.example"),
    ("https://brand.example/", "https://brand.example/?utm_source=blog&utm_medium=referral"),
    ("https://brand.example/", "https://brand.example/?fbclid=IwAR0abc"),
    ("https://brand.example/?ref=partner", "https://brand.example/"),
    ("https://brand.example/?ref=partner", "https://brand.example/?ref=someone-else"),
    ("https://brand.example/", "https://brand.example/?"),
    ("https://host.example/a?b=1", "https://host.example/a?b=1&utm_campaign=x"),
    ("https://host.example/a?b=1", "https://host.example/a/?utm_campaign=x&b=1"),
    ("https://host.example/a", "http://www.host.example/a/#section"),
    ("https://host.example/~user", "https://host.example/%7Euser"),
    ("https://host.example/a%2fb", "https://host.example/a%2Fb"),
    ("https://host.example/a", "https://HOST.example.:443/a"),
    ("https://bücher.example/", "https://xn--bcher-kva.example"),
    ("https://host.example/a|b", "https://host.example/a%7Cb"),  # Chromium escapes "|" in a path, the standard not
])
def test_link_key_matches(target: str, href: str) -> None:
    assert link_key(target) == link_key(href)


@pytest.mark.parametrize(("target", "href"), [
    ("https://brand.example/?ref=partner", "https://brand.example/partner"),
    ("https://host.example/a?b=1", "https://host.example/a?b=2"),
    ("https://host.example/a?b=1", "https://host.example/a"),
    ("https://brand.example/", "https://brand.example/?lang=de"),
    ("https://host.example/a", "https://host.example/b"),
    ("https://host.example/a", "https://host.example:8080/a"),
    ("https://host.example/a", "https://other.example/a"),
    ("https://host.example/a", "https://shop.host.example/a"),
])
def test_link_key_does_not_match(target: str, href: str) -> None:
    assert link_key(target) != link_key(href)


# --- properties against ada-url ----------------------------------------------------------------------------------

_HOSTS = ["example.com", "Example.COM", "www.shop.example", "a-b.c", "127.0.0.2", "127.1", "0x7f.0.0.1", "010.0.0.1",
          "x.", "-bad.com", "xn--bcher-kva.de", "xn--zz.de", "bücher.de", "ＥＸＡＭＰＬＥ.com", "straße.de",
          "a_b.example",
          "[::1]", "[2001:DB8::1]", "localhost", "1.2.3.4.5", "example.123", "exa mple.com", "", "user:pw@host.example",
          "a..b", "ab--cd.example", "xn--.example", "例え.テスト", "%61.example"]
_PORTS = ["", ":80", ":443", ":8080", ":0", ":65535", ":65536", ":080", ":", ":x"]
_PIECES = ["a", "Z", "0", "-", ".", "..", "/", "\\", "%", "%7e", "%2F", "%2e", "%2E%2e", "?", "#", "=", "&", ":", "@",
           "~", " ", "ü", "ß", "[", "]", "'", '"', "+", "!", ";", ",", "{", "}", "^", "|", "`", "<", ">", "\t", "\n",
           "utm_source=x", "ref=p", "é", "東京", "\x00", "\x7f", "\u00a0", "\ufffd", "%zz", "index.html"]
_path = st.lists(st.sampled_from(_PIECES), max_size=10).map("".join)
_scheme = st.sampled_from(["http", "https", "HTTP", "HtTpS"])
_sep = st.sampled_from(["://", ":\\\\", ":/", ":///", "://", "://"])


@st.composite
def urls(draw: st.DrawFn) -> str:
    return (draw(_scheme) + draw(_sep) + draw(st.sampled_from(_HOSTS)) + draw(st.sampled_from(_PORTS)) + "/"
            + draw(_path))


def _ada(url: str, base: str | None = None) -> str | None:
    try:
        href = ada_url.join_url(base, url) if base is not None else ada_url.normalize_url(url)
    except ValueError:
        return None
    return href.split("#", 1)[0] if href.startswith(("http://", "https://")) else None


@settings(max_examples=1500, deadline=None)
@given(url=urls())
@example(url="http://example.com/a/./b")
@example(url="http://xn--zz.de/")
def test_normalize_url_agrees_with_ada(url: str) -> None:
    expected = _ada(url.strip())
    if expected is None:
        with pytest.raises(BadURL):
            normalize_url(url)
    else:
        assert normalize_url(url) == expected


_ASCII_TEXT = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=16)


@settings(max_examples=3000, deadline=None)
@given(host=st.sampled_from(["example.com", "a-b.c", "127.0.0.2", "255.255.255.255", "256.0.0.1", "x.y.z9",
                             "9.example", "xn--zz.de", "0x7f.example", "e.0x7f"]),
       port=st.sampled_from(_PORTS[:7]), scheme=st.sampled_from(["http", "https"]),
       path=st.one_of(_path, _ASCII_TEXT))
@example(host="example.com", port="", scheme="http", path="?'")
@example(host="example.com", port="", scheme="http", path="a/./b")
def test_the_fast_path_only_takes_urls_ada_leaves_as_they_are(host: str, port: str, scheme: str, path: str) -> None:
    url = f"{scheme}://{host}{port}/{path}"
    if _is_normal(url):
        assert _ada(url) == url


_BASES = ["https://blog.example/posts/2024/article.html", "http://127.0.0.1:8080/a/b/?x=1", "https://shop.example",
          "HTTP://Shop.Example:80?x=/y", "http://u:p@blog.example/a/b", "https:\\\\blog.example\\a\\b",
          "https://xn--bcher-kva.de/kategorie/", "http://[::1]:81/dir/page?q#f"]
_HREF_STARTS = ["", "/", "//", "\\", "/\\", "/\t/", "/\n\\", "/\r", "./", "../", "?", "#", "http://", "https://",
                "HTTP://", "https:", "http:\\\\", " ", "\t/", "mailto:", "javascript:", "data:text/html,", "ftp://"]


@settings(max_examples=2000, deadline=None)
@given(base=st.sampled_from(_BASES), start=st.sampled_from(_HREF_STARTS),
       host=st.sampled_from(["", "other.example", "Other.Example:80", "münchen.example", "1.2.3.4"]), path=_path)
def test_resolve_href_agrees_with_ada(base: str, start: str, host: str, path: str) -> None:
    href = start + host + ("/" if host else "") + path
    assert resolve_href(base, href) == _ada(href, base)


_REAL = [
    "https://www.example.com/blog/2023/10/how-to-build-links/?utm_source=newsletter&utm_medium=email#comments",
    "/wiki/Special:Search?search=caf%C3%A9&go=Go", "../../images/logo.png", "//fonts.example.net/css?family=Roboto",
    "https://shop.example/products/blue-widget?variant=123&ref=partner", "?page=2", "#top", "",
    "https://xn--80ak6aa92e.com/", "https://пример.рф/путь?q=поиск", "/a/./b/../c/%2e%2e/d", "http://EXAMPLE.com:80",
    "https://example.com:443/", "https:\\\\example.com\\path", "/search?q=a+b&lang=en", "tel:+15551234567",
    "https://example.com/index.php?option=com_content&view=article&id=42:slug&Itemid=7",
    "https://t.example/r?url=https%3A%2F%2Fbrand.example%2F%3Fref%3Dx", "https://a.example/日本語/ページ?名前=値",
]


@settings(max_examples=300, deadline=None)
@given(base=st.sampled_from(_BASES), href=st.sampled_from(_REAL),
       noise=st.sampled_from(["", " ", "\n", "\t", "  \n"]))
def test_resolve_href_agrees_with_ada_on_real_looking_hrefs(base: str, href: str, noise: str) -> None:
    href = noise + href + noise
    assert resolve_href(base, href) == _ada(href, base)
