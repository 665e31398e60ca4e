from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outreach.lib.urls import BadURL, _normalize, normalize_url, url_origin


@pytest.mark.parametrize(("given", "expected"), [
    ("HTTP://Example.COM/a", "http://example.com/a"),
    ("http://example.com:80/a", "http://example.com/a"),
    ("https://example.com:443/a", "https://example.com/a"),
    ("https://example.com:8443/a", "https://example.com:8443/a"),
    ("http://example.com/a/./b/../c", "http://example.com/a/c"),
    ("http://example.com/../../x", "http://example.com/x"),
    ("http://example.com/a/..", "http://example.com/"),
    ("http://example.com/%7euser/%2f", "http://example.com/~user/%2F"),
    ("http://example.com/a b", "http://example.com/a%20b"),
    ("http://example.com/p?q=%2a#frag", "http://example.com/p?q=%2A"),
    ("http://example.com", "http://example.com/"),
    ("  http://example.com/x  ", "http://example.com/x"),
    ("http://Example.com./", "http://example.com/"),
    ("https://bücher.de/", "https://xn--bcher-kva.de/"),
    ("http://[::1]:8080/", "http://[::1]:8080/"),
])
def test_it_gives_one_spelling_per_url(given: str, expected: str) -> None:
    assert normalize_url(given) == expected


def test_it_is_idempotent() -> None:
    url = "HTTP://Example.com:80/a/../b/%7e?x=%aa#f"
    assert normalize_url(normalize_url(url)) == normalize_url(url)


def test_it_leaves_other_schemes_alone() -> None:
    assert normalize_url("mailto:Someone@Example.com") == "mailto:Someone@Example.com"


def test_it_refuses_a_malformed_port() -> None:
    with pytest.raises(BadURL):
        normalize_url("http://example.com:99999999/")


_PIECES = ["a", "Z", "0", "-", ".", "..", "/", "%", "%7e", "%2F", "?", "#", "=", "&", ":", "@", "~", " ", "ü", "[",
           "'", "+", "!", ";", ","]


@settings(max_examples=400, deadline=None)
@given(host=st.sampled_from(["example.com", "Example.COM", "a-b.c", "127.0.0.2", "x.", "-bad.com", "xn--bcher-kva.de"]),
       port=st.sampled_from(["", ":80", ":443", ":8080", ":0", ":65535", ":65536", ":080"]),
       scheme=st.sampled_from(["http", "https", "HTTP"]),
       path=st.lists(st.sampled_from(_PIECES), max_size=8).map("".join))
def test_the_fast_path_agrees_with_the_full_normalisation(host: str, port: str, scheme: str, path: str) -> None:
    url = f"{scheme}://{host}{port}/{path}"
    try:
        full = _normalize(url)
    except BadURL:
        return
    assert normalize_url(url) == full
    assert normalize_url(full) == full


def test_url_origin_is_scheme_and_host_lower_cased() -> None:
    assert url_origin("HTTP://Ex.com:81/a?b") == "http://ex.com:81"
    assert url_origin("http://ex.com?x=/y") == "http://ex.com"
    assert url_origin("https://ex.com#/frag") == "https://ex.com"
