"""Brave Search API (web search): GET /res/v1/web/search, token in X-Subscription-Token."""
from __future__ import annotations

from typing import Any

from outreach.discovery.search.base import SearchError, SearchResult, build_url, clean_url, get_json
from outreach.lib.http import Fetcher

ENDPOINT = "https://api.search.brave.com/res/v1/web/search"


class BraveSearch:
    name = "brave"

    def __init__(self, api_key: str, endpoint: str | None = None) -> None:
        self.api_key = api_key
        self.endpoint = endpoint or ENDPOINT

    async def search(self, fetcher: Fetcher, query: str, *, count: int = 10, page: int = 0) -> list[SearchResult]:
        # Brave's offset counts pages of `count` results (0-9), not results
        url = build_url(self.endpoint, {"q": query, "count": max(1, min(count, 20)), "offset": max(0, min(page, 9))})
        got = await fetcher.fetch(url, headers={"X-Subscription-Token": self.api_key, "Accept": "application/json"},
                                  polite=False)
        if got.status is None:
            raise SearchError("network", f"Brave Search did not answer ({got.error})")
        data = get_json(got)
        if got.status != 200:
            raise _error(got.status, data)
        if not isinstance(data, dict):
            raise SearchError("http", "Brave Search answered something that is not JSON")
        results = []
        for position, item in enumerate((data.get("web") or {}).get("results") or [], start=page * count + 1):
            link = clean_url(item.get("url")) if isinstance(item, dict) else None
            if link:
                results.append(SearchResult(url=link, title=str(item.get("title") or ""),
                                            snippet=str(item.get("description") or ""), position=position,
                                            query=query))
        return results


def _error(status: int, data: Any) -> SearchError:
    """Brave sends `error: {code, detail}` or `errors: [{code, detail}]`: accept both."""
    detail, code = "", ""
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict):
            code, detail = str(err.get("code") or ""), str(err.get("detail") or "")
        elif isinstance(data.get("errors"), list) and data["errors"]:
            first = data["errors"][0]
            if isinstance(first, dict):
                code, detail = str(first.get("code") or ""), str(first.get("detail") or first.get("message") or "")
    text = f"Brave Search: {detail or 'HTTP ' + str(status)}" + (f" ({code})" if code else "")
    if status in (401, 403) or "TOKEN" in code:
        return SearchError("auth", text + " — check [search] api_key")
    if status == 429 or code in ("RATE_LIMITED", "QUOTA_LIMITED"):
        return SearchError("quota" if code == "QUOTA_LIMITED" else "rate_limited", text)
    return SearchError("http", text)
