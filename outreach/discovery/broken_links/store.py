"""Broken-link findings in the database: a crawl job's findings, the campaign's opportunities and prospects."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from outreach.campaigns.contact_rules import ProspectConflict
from outreach.campaigns.service import CampaignError, add_prospect, site_for
from outreach.crawler.crawl import CrawlResult
from outreach.discovery.broken_links.service import findings
from outreach.models import Campaign, Opportunity, Prospect, User
from outreach.models.crawl import CrawlFinding, CrawlJob


def save_findings(session: Session, job: CrawlJob, result: CrawlResult) -> int:
    """Store a crawl job's broken links, in place of those saved while it ran; returns how many."""
    session.execute(delete(CrawlFinding).where(CrawlFinding.crawl_job_id == job.id))
    rows = findings(result)
    for row in rows:
        session.add(CrawlFinding(crawl_job_id=job.id, url=row["url"][:2000], reason=row["reason"],
                                 http_status=row["status"], found_on=row["found_on"],
                                 page_count=len(row["found_on"])))
    session.flush()
    return len(rows)


def job_findings(session: Session, job: CrawlJob) -> list[CrawlFinding]:
    """A job's broken links, most-linked first."""
    return list(session.scalars(select(CrawlFinding).where(CrawlFinding.crawl_job_id == job.id)
                                .order_by(CrawlFinding.page_count.desc(), CrawlFinding.url)))


def add_opportunities(session: Session, campaign: Campaign, rows: list[dict[str, Any]], *,
                      crawl_job_id: int | None = None, prospect_ids: dict[str, int] | None = None,
                      actor: User | None = None) -> list[Opportunity]:
    """One broken_link opportunity per (linking page, dead URL); ones already stored are kept, not doubled."""
    existing = {(o.page_url, (o.details or {}).get("dead_url")): o for o in session.scalars(
        select(Opportunity).where(Opportunity.campaign_id == campaign.id, Opportunity.kind == "broken_link"))}
    made: list[Opportunity] = []
    for row in rows:
        anchors_by_page: dict[str, list[str]] = {}
        for source in row["found_on"]:
            anchors_by_page.setdefault(source["page"], []).append(source.get("anchor") or "")
        for page, anchors in anchors_by_page.items():
            prospect_id = (prospect_ids or {}).get(page)
            found = existing.get((page[:2000], row["url"]))
            if found is not None:
                if prospect_id and found.prospect_id is None:
                    found.prospect_id, found.status = prospect_id, "accepted"
                made.append(found)
                continue
            try:
                site = site_for(session, page)
            except CampaignError:
                continue
            opportunity = Opportunity(
                campaign_id=campaign.id, site_id=site.id, page_url=page[:2000], kind="broken_link",
                details={"dead_url": row["url"], "reason": row["reason"], "status": row["status"],
                         "anchors": anchors, "pages_linking": len(row["found_on"])},
                score=float(len(row["found_on"])), status="accepted" if prospect_id else "new",
                prospect_id=prospect_id, crawl_job_id=crawl_job_id)
            session.add(opportunity)
            existing[(page[:2000], row["url"])] = opportunity
            made.append(opportunity)
    session.flush()
    return made


@dataclass
class ProspectsAdded:
    """What "Add as prospects" did: new prospects, sites already on the board, and refusals."""

    added: list[str] = field(default_factory=list)        # domains
    already: list[str] = field(default_factory=list)      # domains already in this campaign
    conflicts: list[str] = field(default_factory=list)    # "domain: reason"
    opportunities: int = 0


def add_findings_as_prospects(session: Session, campaign: Campaign, items: list[CrawlFinding], *,
                              actor: User | None = None, override_reason: str | None = None) -> ProspectsAdded:
    """Put the sites of the pages linking to these dead URLs on the board, each with its opportunities.

    The foundation's rules apply: a site already in the campaign keeps its card; one in another active
    campaign or on the do-not-contact list is refused unless an override reason is given.
    """
    outcome = ProspectsAdded()
    prospect_ids: dict[str, int] = {}
    refused_pages: set[str] = set()
    by_site: dict[int, int] = {}
    for finding in items:
        for source in finding.found_on:
            page = source["page"]
            if page in prospect_ids or page in refused_pages:
                continue
            try:
                site = site_for(session, page)
            except CampaignError:
                refused_pages.add(page)
                continue
            if site.id in by_site:
                prospect_ids[page] = by_site[site.id]
                continue
            existing = session.scalar(select(Prospect).where(Prospect.campaign_id == campaign.id,
                                                             Prospect.site_id == site.id))
            if existing is not None:
                outcome.already.append(site.domain)
                by_site[site.id] = prospect_ids[page] = existing.id
                continue
            try:
                prospect = add_prospect(session, campaign, page, actor=actor, override_reason=override_reason,
                                        source="broken-link findings")
            except ProspectConflict as exc:
                outcome.conflicts.append(f"{site.domain}: {exc}")
                refused_pages.update(s["page"] for f in items for s in f.found_on
                                     if _same_site(session, s["page"], site.id))
                continue
            except CampaignError as exc:
                outcome.conflicts.append(f"{site.domain}: {exc}")
                refused_pages.add(page)
                continue
            outcome.added.append(site.domain)
            by_site[site.id] = prospect_ids[page] = prospect.id
    rows = []
    for finding in items:
        accepted = [s for s in finding.found_on if s["page"] in prospect_ids]
        if accepted:
            rows.append({"url": finding.url, "reason": finding.reason, "status": finding.http_status,
                         "found_on": accepted})
    made = add_opportunities(session, campaign, rows, crawl_job_id=items[0].crawl_job_id if items else None,
                             prospect_ids=prospect_ids, actor=actor)
    outcome.opportunities = len(made)
    return outcome


def _same_site(session: Session, page: str, site_id: int) -> bool:
    try:
        return site_for(session, page).id == site_id
    except CampaignError:
        return False
