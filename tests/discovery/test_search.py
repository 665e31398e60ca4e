"""Search providers against a local server answering in each API's JSON format (the shared fixtures)."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from outreach.config import SearchSettings
from outreach.discovery.search import (
    SearchError,
    footprint_queries,
    provider_from_settings,
    run_queries,
)
from outreach.discovery.search.brave import BraveSearch
from outreach.discovery.search.serpapi import SerpApiSearch
from outreach.lib.aio import run_sync
from outreach.lib.http import Fetcher
from tests.lib.conftest import make_settings
from tests.lib.testweb import TestWeb, send

#: copies of the shared real-format fixtures (shared/fixtures/formats)
FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.fixture
def api() -> Iterator[TestWeb]:
    """Answers like Brave (/brave) and SerpApi (/serpapi), choosing the fixture by key and query."""
    web = TestWeb("127.0.0.51")
    web.requests: list[dict[str, Any]] = []  # type: ignore[misc]

    def brave(req: Any) -> None:
        params = parse_qs(urlsplit(req.path).query)
        web.requests.append({"params": params, "token": req.headers.get("X-Subscription-Token")})
        if req.headers.get("X-Subscription-Token") != "good-key":
            send(req, 422, fixture("brave-error-422-token.json"), content_type="application/json")
        elif params["q"][0] == "too fast":
            send(req, 429, fixture("brave-error-429.json"), content_type="application/json")
        elif params["q"][0] == "old shape":
            send(req, 429, b'{"errors": [{"code": "QUOTA_LIMITED", "detail": "Monthly quota used."}]}',
                 content_type="application/json")
        else:
            send(req, 200, fixture("brave-web-search.json"), content_type="application/json")

    def serpapi(req: Any) -> None:
        params = parse_qs(urlsplit(req.path).query)
        web.requests.append({"params": params})
        if params["api_key"][0] != "good-key":
            send(req, 401, b'{"error": "Invalid API key. Your API key should be here: https://serpapi.com/manage-api-key"}',
                 content_type="application/json")
        elif params["q"][0] == "no searches left":
            send(req, 429, fixture("serpapi-error.json"), content_type="application/json")
        elif params["q"][0] == "zzqx widget nonexistent":
            send(req, 200, fixture("serpapi-empty.json"), content_type="application/json")
        else:
            send(req, 200, fixture("serpapi-google.json"), content_type="application/json")

    def cse(req: Any) -> None:
        params = parse_qs(urlsplit(req.path).query)
        web.requests.append({"params": params})
        if params["q"][0] == "too many":
            send(req, 429, fixture("google-cse-error-429.json"), content_type="application/json")
        else:
            send(req, 200, fixture("google-cse.json"), content_type="application/json")

    web.routes["/brave"] = brave
    web.routes["/serpapi"] = serpapi
    web.routes["/customsearch/v1"] = cse
    yield web
    web.close()


def search(provider: Any, query: str, **kwargs: Any) -> Any:
    async def go() -> Any:
        async with Fetcher(make_settings()) as fetcher:
            return await provider.search(fetcher, query, **kwargs)
    return run_sync(go())


def test_brave_results_and_request(api: TestWeb) -> None:
    results = search(BraveSearch("good-key", endpoint=api.url("/brave")), 'widget "write for us"', count=20, page=1)
    assert len(results) == 10
    assert results[0].url == "https://www.toolreviews.test/best-widget-tools/"
    assert results[0].title == "The 12 Best Widget Tools for 2025 (Tested)"
    assert results[0].snippet.startswith("We tested 40 widget tools")
    assert results[0].position == 21
    (request,) = api.requests
    assert request["token"] == "good-key"
    assert request["params"] == {"q": ['widget "write for us"'], "count": ["20"], "offset": ["1"]}


@pytest.mark.parametrize(("key", "query", "code", "text"), [
    ("bad-key", "x", "auth", "The provided subscription token is invalid. (SUBSCRIPTION_TOKEN_INVALID)"),
    ("good-key", "too fast", "rate_limited", "Request rate limit exceeded for plan. (RATE_LIMITED)"),
    ("good-key", "old shape", "quota", "Monthly quota used. (QUOTA_LIMITED)"),
])
def test_brave_errors_in_both_shapes(api: TestWeb, key: str, query: str, code: str, text: str) -> None:
    with pytest.raises(SearchError) as caught:
        search(BraveSearch(key, endpoint=api.url("/brave")), query)
    assert caught.value.code == code and text in str(caught.value)


def test_serpapi_results_and_request(api: TestWeb) -> None:
    results = search(SerpApiSearch("good-key", endpoint=api.url("/serpapi")), "widget resources", page=2)
    assert [r.position for r in results] == list(range(1, 11))
    assert results[2].url == "https://makers-club.test/resources"
    (request,) = api.requests
    assert request["params"]["engine"] == ["google"] and request["params"]["start"] == ["20"]


def test_serpapi_empty_result_is_no_results_not_an_error(api: TestWeb) -> None:
    assert search(SerpApiSearch("good-key", endpoint=api.url("/serpapi")), "zzqx widget nonexistent") == []


@pytest.mark.parametrize(("key", "query", "code"), [
    ("bad-key", "x", "auth"), ("good-key", "no searches left", "quota")])
def test_serpapi_errors(api: TestWeb, key: str, query: str, code: str) -> None:
    with pytest.raises(SearchError) as caught:
        search(SerpApiSearch(key, endpoint=api.url("/serpapi")), query)
    assert caught.value.code == code


def test_running_queries_dedupes_urls_and_stops_at_an_auth_error(api: TestWeb) -> None:
    async def go(key: str) -> Any:
        async with Fetcher(make_settings()) as fetcher:
            provider = BraveSearch(key, endpoint=api.url("/brave"))
            return await run_queries(provider, fetcher, ["a", "b", "too fast", "c"])
    results, errors = run_sync(go("good-key"))
    assert len(results) == 10 and len(errors) == 1 and errors[0].startswith("too fast: ")
    results, errors = run_sync(go("bad-key"))
    assert results == [] and len(errors) == 1  # the key is wrong for every query: asked once


def test_the_provider_comes_from_settings() -> None:
    assert provider_from_settings(SearchSettings(provider="", api_key="")) is None
    assert provider_from_settings(SearchSettings(provider="brave", api_key="")) is None
    provider = provider_from_settings(SearchSettings(provider="serpapi", api_key="k"))
    assert isinstance(provider, SerpApiSearch) and provider.endpoint == "https://serpapi.com/search.json"
    with pytest.raises(SearchError, match="needs the search engine id"):
        provider_from_settings(SearchSettings(provider="google_cse", api_key="k"))
    with pytest.raises(SearchError, match="not supported"):
        provider_from_settings(SearchSettings(provider="bing", api_key="k"))


def test_google_custom_search_results_paging_and_quota(api: TestWeb) -> None:
    from outreach.discovery.search.google_cse import GoogleCustomSearch

    provider = GoogleCustomSearch("k", endpoint=api.url("/customsearch/v1?cx=engine1"))
    results = search(provider, "widget resources", page=1)
    assert results and results[0].position == 11 and results[0].url.startswith("http")
    assert api.requests[0]["params"]["cx"] == ["engine1"] and api.requests[0]["params"]["start"] == ["11"]
    assert search(provider, "widget resources", page=10) == []  # past the API's 100 results: not asked
    assert len(api.requests) == 1
    with pytest.raises(SearchError) as caught:
        search(provider, "too many")
    assert caught.value.code == "quota" and "Quota exceeded" in str(caught.value)


def test_footprints() -> None:
    assert footprint_queries("guest_posts", ["widget repair"])[:2] == [
        '"widget repair" "write for us"', '"widget repair" intitle:"guest post"']
    assert footprint_queries("mentions", [], brands=["Acme Analytics"], client_site="https://www.acme.test/") == [
        '"Acme Analytics" -site:www.acme.test']
