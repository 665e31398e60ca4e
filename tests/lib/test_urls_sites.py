"""A URL's site: the shortcut for common hosts says exactly what the public suffix list says."""
from __future__ import annotations

import pytest

from outreach.lib import urls


@pytest.mark.parametrize("host", [
    "www.example.com", "a.b.example.co.uk", "example.co.uk", "co.uk", "foo.github.io", "github.io",
    "x.s3.amazonaws.com", "a.b.compute.amazonaws.com", "www.ck", "a.b.ck", "blog.blogspot.com", "site1.example",
    "news.cityherald.example", "deep.sub.domain.test", "x.kawasaki.jp", "city.kawasaki.jp", "foo.bar.appspot.com",
    "a.b.c.d.e.f.org", "xn--bcher-kva.example", "localhost", "127.0.0.1", "example",
])
def test_the_shortcut_agrees_with_the_public_suffix_list(host: str) -> None:
    full = host if urls._is_ip(host) or host == "localhost" else (urls._psl().privatesuffix(host) or host)
    assert urls.registrable_domain(host) == full
    assert urls._shallow_suffixes() is not None  # the shortcut is in use on this version of the list
