"""Rendering a page in Chromium never reaches a private address, not even through a redirect."""
from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

import pytest

import outreach.lib.http as http_lib
from outreach.backlinks.verify import verify
from outreach.config import Settings
from tests.backlinks.conftest import TARGET
from tests.lib.testweb import TestWeb, send

PUBLISHER = "127.0.0.31"  # the `web` fixture's address, which these tests treat as a public one


@pytest.fixture
def internal() -> Iterator[TestWeb]:
    """A service on a private address that a hostile page tries to reach through the renderer."""
    server = TestWeb("127.0.0.32")
    server.fallback = lambda req: send(req, 200, "ok")
    yield server
    server.close()


@pytest.fixture
def guarded(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Private addresses refused, except that the publisher's loopback address counts as public."""
    real = http_lib.is_public_address

    def is_public(address: Any) -> bool:
        return str(ipaddress.ip_address(str(address))) == PUBLISHER or real(address)

    monkeypatch.setattr(http_lib, "is_public_address", is_public)
    return settings.with_(crawl={"allow_private_addresses": False})


def _page(body: str) -> str:
    return f"<!doctype html><html><head><title>Article</title></head><body><p>Intro</p>{body}</body></html>"


@pytest.mark.browser
@pytest.mark.parametrize("tag", ['<script src="/hop.js"></script>', '<iframe src="/hop.js"></iframe>'])
def test_it_never_follows_a_subresource_redirect_to_a_private_address(web: TestWeb, internal: TestWeb,
                                                                      guarded: dict[str, Any], tag: str) -> None:
    web.page("/a", _page(f'<a href="{TARGET}">Widgets</a>{tag}'))
    web.redirect("/hop.js", internal.url("/admin/delete-everything"), status=302)
    result = verify(web.url("/a"), TARGET, guarded, render=True)
    assert result.rendered is True and result.status == "live"
    assert web.hits["/hop.js"] >= 1
    assert not internal.hits


@pytest.mark.browser
def test_it_never_loads_a_private_address_a_script_asks_for(web: TestWeb, internal: TestWeb,
                                                            guarded: dict[str, Any]) -> None:
    web.page("/a", _page(f'<a href="{TARGET}">Widgets</a><script src="/x.js"></script>'))
    web.page("/x.js", f'fetch("{internal.url("/direct")}", {{mode: "no-cors"}});',
             content_type="application/javascript")
    result = verify(web.url("/a"), TARGET, guarded, render=True)
    assert result.rendered is True
    assert not internal.hits
