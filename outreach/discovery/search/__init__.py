"""Search providers: footprint queries through a web-search API, behind one small interface.

A provider turns a query into ranked results (URL, title, snippet). `provider_from_settings` picks
the one named in `[search] provider` with its `api_key` (and an `endpoint` override, which tests and
proxies use). Every request goes through the guarded fetcher.
"""
from __future__ import annotations

from outreach.discovery.search.base import (
    SETUP_HINT,
    SearchError,
    SearchProvider,
    SearchResult,
    footprint_queries,
    provider_from_settings,
    run_queries,
)

__all__ = ["SETUP_HINT", "SearchError", "SearchProvider", "SearchResult", "footprint_queries", "provider_from_settings",
           "run_queries"]
