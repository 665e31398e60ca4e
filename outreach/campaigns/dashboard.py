"""The campaigns dashboard's figures: stage counts per listed campaign and a summary, in a fixed number of queries."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from markupsafe import Markup
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from outreach.campaigns import stage_counts
from outreach.lib.clock import utcnow
from outreach.models import Backlink, Campaign, Message
from outreach.models.campaigns import ACTIVE_STAGES, STAGES
from outreach.reports.charts import stacked_bar_svg

#: one colour per stage, the same hues as the stage badges (campaigns.css)
STAGE_COLOURS = {
    "new": "#98a2b3", "qualified": "#3538cd", "contacted": "#6941c6", "replied": "#f79009",
    "negotiating": "#dc6803", "promised": "#32d583", "live": "#087443",
    "lost": "#f04438", "declined": "#fda29b", "bounced": "#b42318", "unsubscribed": "#912018",
}


@dataclass
class Figures:
    """What the dashboard shows: per-campaign stage counts and the user's summary."""

    #: campaign id -> stage -> prospects
    counts: dict[int, dict[str, int]]
    #: stage -> prospects, across the active campaigns
    stages: Counter[str] = field(default_factory=Counter)
    #: backlink status -> links, across the visible clients
    links: dict[str, int] = field(default_factory=dict)
    #: scheduled emails due before the end of today (UTC) in the active campaigns; None: not asked for
    due_today: int | None = None

    @property
    def in_progress(self) -> int:
        return sum(self.stages[s] for s in ACTIVE_STAGES)

    def funnel(self, campaign_id: int, labels: dict[str, str]) -> Markup:
        counts = self.counts.get(campaign_id, {})
        return stacked_bar_svg([(labels[s], counts.get(s, 0), STAGE_COLOURS[s]) for s in STAGES],
                               label="Prospects per stage")


def figures(session: Session, *, campaign_ids: list[int], campaigns: Select[tuple[Campaign]], client_ids: list[int],
            with_mail: bool, links_of_campaigns: bool = False) -> Figures:
    """Stage counts of the campaigns listed (`campaign_ids`: one page of them), the stage summary of the active
    ones among all `campaigns` (both from outreach.campaigns.stage_counts: no prospect is counted), links per
    status and the emails due today: at most 4 queries.

    Links are counted over the clients' whole ledger, or with `links_of_campaigns` over the campaigns' links only.
    """
    result = Figures(stage_counts.by_campaign(session, campaign_ids))
    campaign_ids_query = campaigns.with_only_columns(Campaign.id).order_by(None)
    active_ids = campaign_ids_query.where(Campaign.status == "active")
    if client_ids:
        result.stages.update(stage_counts.by_stage(session, active_ids))
    links = select(Backlink.status, func.count()).where(Backlink.client_id.in_(client_ids))
    if links_of_campaigns:
        links = links.where(Backlink.campaign_id.in_(campaign_ids_query))
    if client_ids:
        result.links = dict(session.execute(links.group_by(Backlink.status)).all())
    if with_mail:
        tomorrow = datetime.combine(utcnow().date() + timedelta(days=1), time(0), tzinfo=UTC)
        result.due_today = session.scalar(
            select(func.count()).select_from(Message)
            .where(Message.status == "scheduled", Message.send_at < tomorrow,
                   Message.campaign_id.in_(active_ids))) or 0
    return result
