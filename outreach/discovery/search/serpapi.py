"""SerpApi, Google engine: GET /search.json?engine=google&q=..&api_key=..&start=N."""
from __future__ import annotations

from outreach.discovery.search.base import SearchError, SearchResult, build_url, clean_url, get_json
from outreach.lib.http import Fetcher

ENDPOINT = "https://serpapi.com/search.json"


class SerpApiSearch:
    name = "serpapi"

    def __init__(self, api_key: str, endpoint: str | None = None) -> None:
        self.api_key = api_key
        self.endpoint = endpoint or ENDPOINT

    async def search(self, fetcher: Fetcher, query: str, *, count: int = 10, page: int = 0) -> list[SearchResult]:
        count = max(1, min(count, 100))
        url = build_url(self.endpoint, {"engine": "google", "q": query, "api_key": self.api_key,
                                        "num": count, "start": page * count})
        got = await fetcher.fetch(url, headers={"Accept": "application/json"}, polite=False)
        if got.status is None:
            raise SearchError("network", f"SerpApi did not answer ({got.error})")
        data = get_json(got)
        message = str(data.get("error") or "") if isinstance(data, dict) else ""
        if got.status != 200:
            text = f"SerpApi: {message or 'HTTP ' + str(got.status)}"
            if got.status in (401, 403) or "api key" in message.lower():
                raise SearchError("auth", text + " — check [search] api_key")
            if got.status == 429 or "run out of searches" in message.lower():
                raise SearchError("quota", text)
            raise SearchError("http", text)
        if not isinstance(data, dict):
            raise SearchError("http", "SerpApi answered something that is not JSON")
        status = (data.get("search_metadata") or {}).get("status")
        if message and status != "Success":
            raise SearchError("http", f"SerpApi: {message}")
        # "Success" with an error key means: no results for this query
        results = []
        for item in data.get("organic_results") or []:
            link = clean_url(item.get("link")) if isinstance(item, dict) else None
            if link:
                results.append(SearchResult(url=link, title=str(item.get("title") or ""),
                                            snippet=str(item.get("snippet") or ""),
                                            position=int(item.get("position") or len(results) + 1), query=query))
        return results
