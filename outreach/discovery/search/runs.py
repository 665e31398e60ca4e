"""Footprint searches as runs: queued by the Prospecting tab or the API, run by the `short-runs` tick.

The queries go through the configured provider one by one while the run's page shows how many are
done; the results (first result per URL) are stored on the run and become the seeds of a guest-post
or mention run.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.config import Settings
from outreach.discovery.search.base import (
    SETUP_HINT,
    SearchError,
    footprint_queries,
    provider_from_settings,
    run_queries,
)
from outreach.jobs.ticks import JobContext
from outreach.lib.aio import run_sync
from outreach.lib.clock import utcnow
from outreach.lib.http import Fetcher, FetchSettings
from outreach.models import Campaign, User
from outreach.models.prospecting import Asset, ProspectingRun
from outreach.runs.runner import Ending, RunControl

#: what footprints look for (their results are seeds of this kind of discovery)
FOOTPRINT_KINDS = ("guest_posts", "resources", "mentions")
MAX_QUERIES = 10
MAX_QUERY_LENGTH = 500
MAX_PER_QUERY = 20


class SearchRunError(ValueError):
    """A one-line reason a search was refused; `field` names the input, `code` says it is not configured."""

    def __init__(self, message: str, field: str, code: str = "invalid") -> None:
        super().__init__(message)
        self.field, self.code = field, code


def campaign_queries(session: Session, campaign: Campaign, kind: str) -> list[str]:
    """Ready-made footprints from the campaign's keywords and the client's brand names (at most MAX_QUERIES)."""
    brands = [b for a in session.scalars(select(Asset).where(Asset.client_id == campaign.client_id,
                                                             Asset.kind == "brand")) for b in a.brand_list]
    return footprint_queries(kind, campaign.keyword_list, brands=brands,
                             client_site=campaign.client.website)[:MAX_QUERIES]


def start_search(session: Session, campaign: Campaign, kind: str, queries: list[str], *, per_query: int,
                 settings: Settings, actor: User | None = None) -> ProspectingRun:
    """Queue a footprint search; the worker runs the queries and stores the result URLs on the run."""
    if kind not in FOOTPRINT_KINDS:
        raise SearchRunError(f"kind must be one of: {', '.join(FOOTPRINT_KINDS)}", "kind")
    queries = [q.strip() for q in queries if q.strip()]
    if not queries:
        raise SearchRunError("give at least one query (or add keywords to the campaign for ready-made footprints)",
                             "queries")
    if len(queries) > MAX_QUERIES:
        raise SearchRunError(f"at most {MAX_QUERIES} queries per search, got {len(queries)}", "queries")
    if any(len(q) > MAX_QUERY_LENGTH for q in queries):
        raise SearchRunError(f"a query is longer than {MAX_QUERY_LENGTH} characters", "queries")
    if isinstance(per_query, bool) or not isinstance(per_query, int) or not 1 <= per_query <= MAX_PER_QUERY:
        raise SearchRunError(f"per_query must be an integer from 1 to {MAX_PER_QUERY}", "per_query")
    try:
        provider = provider_from_settings(settings.search)
    except SearchError as exc:
        raise SearchRunError(str(exc), "queries", "search_not_configured") from None
    if provider is None:
        raise SearchRunError(SETUP_HINT, "queries", "search_not_configured")
    run = ProspectingRun(campaign_id=campaign.id, kind="search", seeds=[], max_pages=per_query,
                         options={"search_kind": kind, "queries": queries, "per_query": per_query},
                         created_by_id=actor.id if actor else None, status="queued", created_at=utcnow())
    session.add(run)
    session.flush()
    return run


def search(ctx: JobContext, run: ProspectingRun, control: RunControl) -> Ending:
    """A search run's work: each query through the provider, progress after each one."""
    provider = provider_from_settings(ctx.settings.search)
    if provider is None:
        return Ending("failed", SETUP_HINT)
    options = run.options or {}
    queries, per_query = list(options.get("queries", [])), int(options.get("per_query", 10))

    progress = {"sites_done": 0, "found": 0}

    def on_query(done: int, found: int) -> bool:
        progress.update(sites_done=done, found=found)
        return control.report(**progress)

    async def go() -> Any:
        async with Fetcher(FetchSettings.from_settings(ctx.settings)) as fetcher:
            return await run_queries(provider, fetcher, queries, per_query=per_query, on_query=on_query)

    results, errors = run_sync(go())
    stopped = control.should_stop()

    def save(session: Session, done: ProspectingRun) -> None:
        done.results = {"provider": provider.name, "queries": queries, "errors": errors,
                        "results": [{"url": r.url, "title": r.title, "snippet": r.snippet, "position": r.position,
                                     "query": r.query} for r in results]}

    return Ending("done", counters={**progress, "found": len(results)}, stopped=stopped, save=save)

