from __future__ import annotations

import pytest

from outreach.lib.urls import BadURL, normalize_url


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
