"""Prospects per campaign and stage without counting prospects: the folded counts plus the changes since.

The database keeps both (outreach.models.stage_counts); `fold` moves the changes into the counts (a tick),
so a read sums a row per campaign and stage plus the few changes of the last minute, whatever the number
of prospects.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, func, select, union_all
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from outreach.models import Campaign
from outreach.models.stage_counts import CampaignStageCount, StageCountChange


def _counted(where: Callable[[Any], ColumnElement[bool]]) -> Any:
    """The folded counts and the pending changes of the campaigns `where` keeps, as (campaign_id, stage, n)."""
    folded = select(CampaignStageCount.campaign_id, CampaignStageCount.stage, CampaignStageCount.prospects.label("n")
                    ).where(where(CampaignStageCount.campaign_id))
    pending = select(StageCountChange.campaign_id, StageCountChange.stage, StageCountChange.delta.label("n")
                     ).where(where(StageCountChange.campaign_id))
    return union_all(folded, pending).subquery()


def by_campaign(session: Session, campaign_ids: list[int]) -> dict[int, dict[str, int]]:
    """campaign id -> stage -> prospects, for these campaigns (stages without prospects left out)."""
    if not campaign_ids:
        return {}
    both = _counted(lambda column: column.in_(campaign_ids))
    counts: dict[int, dict[str, int]] = {}
    for campaign_id, stage, n in session.execute(select(both.c.campaign_id, both.c.stage, func.sum(both.c.n))
                                                 .group_by(both.c.campaign_id, both.c.stage)):
        if n:
            counts.setdefault(campaign_id, {})[stage] = int(n)
    return counts


def by_stage(session: Session, campaign_ids: Select[tuple[int]]) -> dict[str, int]:
    """stage -> prospects, over the campaigns the query selects (a SELECT of campaign ids)."""
    both = _counted(lambda column: column.in_(campaign_ids))
    rows = session.execute(select(both.c.stage, func.sum(both.c.n)).group_by(both.c.stage))
    return {stage: int(n) for stage, n in rows if n}


def fold(session: Session) -> int:
    """Move the pending changes into the counts; returns how many changes were folded.

    The DELETE claims the changes: a fold running at the same time waits for these rows, finds them gone
    and folds only the others. Counts are written in (campaign, stage) order, so two folds never deadlock.
    """
    taken = session.execute(delete(StageCountChange).returning(
        StageCountChange.campaign_id, StageCountChange.stage, StageCountChange.delta)
        .execution_options(synchronize_session=False)).all()
    sums: Counter[tuple[int, str]] = Counter()
    for campaign_id, stage, delta in taken:
        sums[(campaign_id, stage)] += delta
    alive = set(session.scalars(select(Campaign.id).where(Campaign.id.in_({c for c, _ in sums}))))
    rows = [{"campaign_id": c, "stage": s, "prospects": n} for (c, s), n in sorted(sums.items()) if n and c in alive]
    if rows:
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        upsert = dialect.insert(CampaignStageCount).values(rows)
        session.execute(upsert.on_conflict_do_update(
            index_elements=[CampaignStageCount.campaign_id, CampaignStageCount.stage],
            set_={"prospects": CampaignStageCount.prospects + upsert.excluded.prospects}))
    return len(taken)
