"""Google Custom Search JSON API: GET /customsearch/v1?key=..&cx=..&q=..&start=N (num at most 10).

Closed to new customers and ending on 2027-01-01; kept for teams that still have a key. The search
engine id (cx) goes in the endpoint's query string: endpoint = "https://www.googleapis.com/customsearch/v1?cx=ID".
"""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from outreach.discovery.search.base import SearchError, SearchResult, build_url, clean_url, get_json
from outreach.lib.http import Fetcher

ENDPOINT = "https://www.googleapis.com/customsearch/v1"


class GoogleCustomSearch:
    name = "google_cse"

    def __init__(self, api_key: str, endpoint: str | None = None) -> None:
        self.api_key = api_key
        self.endpoint = endpoint or ENDPOINT
        if not parse_qs(urlsplit(self.endpoint).query).get("cx"):
            raise SearchError("unsupported", "google_cse needs the search engine id in [search] endpoint, e.g. "
                                             f"{ENDPOINT}?cx=YOUR_ENGINE_ID")

    async def search(self, fetcher: Fetcher, query: str, *, count: int = 10, page: int = 0) -> list[SearchResult]:
        count = max(1, min(count, 10))
        start = page * count + 1
        if start + count > 101:
            return []  # the API serves the first 100 results only
        url = build_url(self.endpoint, {"key": self.api_key, "q": query, "num": count, "start": start})
        got = await fetcher.fetch(url, headers={"Accept": "application/json"}, polite=False)
        if got.status is None:
            raise SearchError("network", f"Google Custom Search did not answer ({got.error})")
        data = get_json(got)
        if got.status != 200:
            err = data.get("error") if isinstance(data, dict) else None
            message = str(err.get("message") or "") if isinstance(err, dict) else ""
            text = f"Google Custom Search: {message or 'HTTP ' + str(got.status)}"
            if got.status in (400, 401, 403) and "key" in message.lower():
                raise SearchError("auth", text + " — check [search] api_key")
            if got.status == 429:
                raise SearchError("quota", text)
            raise SearchError("http", text)
        if not isinstance(data, dict):
            raise SearchError("http", "Google Custom Search answered something that is not JSON")
        results = []
        for position, item in enumerate(data.get("items") or [], start=start):
            link = clean_url(item.get("link")) if isinstance(item, dict) else None
            if link:
                results.append(SearchResult(url=link, title=str(item.get("title") or ""),
                                            snippet=str(item.get("snippet") or ""), position=position, query=query))
        return results
