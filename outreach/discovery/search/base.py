"""The provider interface, footprint queries and running them."""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode

from outreach.config import SearchSettings
from outreach.lib.http import Fetcher, FetchResult
from outreach.lib.urls import BadURL, ensure_http_url, hostname, normalize_url


@dataclass(frozen=True)
class SearchResult:
    url: str
    title: str
    snippet: str
    position: int
    query: str = ""


class SearchError(Exception):
    """The provider refused or failed: `code` is short and stable (auth, rate_limited, quota, http, network)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class SearchProvider(Protocol):
    name: str

    async def search(self, fetcher: Fetcher, query: str, *, count: int = 10, page: int = 0) -> list[SearchResult]:
        """One page of results for the query (page 0 first); SearchError when the API says no."""
        ...


#: setting value -> (module, class) of the providers we ship
PROVIDERS = {"brave": ("outreach.discovery.search.brave", "BraveSearch"),
             "serpapi": ("outreach.discovery.search.serpapi", "SerpApiSearch"),
             "google_cse": ("outreach.discovery.search.google_cse", "GoogleCustomSearch")}
SETUP_HINT = ('No search provider is configured: add to the config file  [search] provider = "brave" and '
              'api_key = "<your key>" (or provider = "serpapi"), or set OUTREACH_SEARCH_PROVIDER and '
              "OUTREACH_SEARCH_API_KEY; keys come from https://api-dashboard.search.brave.com or "
              "https://serpapi.com/manage-api-key. Meanwhile, export results from any search tool as CSV and "
              "import the file under “Find prospects”.")


def provider_from_settings(search: SearchSettings) -> SearchProvider | None:
    """The configured provider ([search] settings), or None when none is configured (or its key is missing)."""
    import importlib

    name = search.provider
    if not name or not search.api_key:
        return None
    if name not in PROVIDERS:
        raise SearchError("unsupported",
                          f"search provider {name!r} is not supported (use brave, serpapi or google_cse)")
    module, cls = PROVIDERS[name]
    return getattr(importlib.import_module(module), cls)(search.api_key, endpoint=search.endpoint or None)


def footprint_queries(kind: str, keywords: list[str], *, brands: list[str] | None = None,
                      client_site: str = "") -> list[str]:
    """Search phrases that reveal opportunities of this kind for the keywords (or brands)."""
    queries: list[str] = []
    words = [k.strip() for k in keywords if k.strip()]
    if kind == "guest_posts":
        for kw in words:
            queries += [f'"{kw}" "write for us"', f'"{kw}" intitle:"guest post"', f'"{kw}" "guest post guidelines"',
                        f'"{kw}" "submit an article"', f'"{kw}" inurl:contribute']
    elif kind == "resources":
        for kw in words:
            queries += [f'"{kw}" intitle:resources', f'"{kw}" inurl:links', f'"{kw}" "useful links"']
    elif kind == "mentions":
        site = ""
        if client_site:
            try:
                site = hostname(ensure_http_url(client_site))
            except BadURL:
                site = ""
        for brand in brands or []:
            if brand.strip():
                queries.append(f'"{brand.strip()}"' + (f" -site:{site}" if site else ""))
    else:
        raise ValueError(f"unknown footprint kind {kind!r}")
    return list(dict.fromkeys(queries))


async def run_queries(provider: SearchProvider, fetcher: Fetcher, queries: list[str], *, per_query: int = 10,
                      on_query: Callable[[int, int], bool] | None = None) -> tuple[list[SearchResult], list[str]]:
    """Every query's results, the first result per URL kept; errors by query (one line each).

    An authentication or quota error stops the remaining queries (they would fail the same way).
    `on_query(queries done, distinct results so far)` is called after each query; True stops the rest.
    """
    seen: dict[str, SearchResult] = {}
    errors: list[str] = []
    for done, query in enumerate(queries, start=1):
        try:
            results = await provider.search(fetcher, query, count=per_query)
        except SearchError as exc:
            errors.append(f"{query}: {exc}")
            if exc.code in ("auth", "quota"):
                break
            results = []
        for result in results:
            seen.setdefault(result.url, result)
        if on_query is not None and on_query(done, len(seen)) and done < len(queries):
            break
    return list(seen.values()), errors


def get_json(result: FetchResult) -> Any:
    """The JSON body, or None."""
    try:
        return json.loads(result.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None


def clean_url(raw: Any) -> str | None:
    if not isinstance(raw, str):
        return None
    try:
        return normalize_url(ensure_http_url(raw))
    except BadURL:
        return None


def build_url(endpoint: str, params: dict[str, Any]) -> str:
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(params)}"
