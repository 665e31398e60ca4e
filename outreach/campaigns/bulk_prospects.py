"""Adding many prospects at once (the API's bulk request): every row checked as `service.add_prospect` checks one,
in a few queries whatever their number, then the good ones created together by `prospect_creation`.

A row with a bad URL or address, a site already on the board or earlier in the request, an owner who is not on
the team, or conflicts (another active campaign, the do-not-contact list...) without an override reason is
refused with its reason; the others are created, or none when the caller asks for all or none. Flask-free; it
flushes, the caller commits.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.accounts import permissions
from outreach.campaigns.contact_rules import Conflict, ContactRules, ProspectConflict, check_override
from outreach.campaigns.prospect_creation import NewProspect, create_prospects
from outreach.campaigns.service import metric_values
from outreach.lib import addresses
from outreach.lib.urls import BadURL, ensure_http_url, registrable_domain
from outreach.models import Campaign, Prospect, Site, User

#: the most rows one request may carry
MAX_ROWS = 1000
_CHUNK = 900


@dataclass
class ProspectRow:
    """One prospect to add, as given (the URL and address are checked here)."""

    index: int
    url: str
    email: str | None = None
    contact_name: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    owner_id: int | None = None
    override_reason: str | None = None


@dataclass
class RowError:
    """Why one row was not added (`field` names its bad field; `conflicts` when an override reason is missing)."""

    index: int
    field: str | None
    message: str
    conflicts: list[Conflict] = field(default_factory=list)


@dataclass
class BulkResult:
    #: (row index, new prospect id), in the order given
    created: list[tuple[int, int]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


@dataclass
class _Checked:
    row: ProspectRow
    url: str
    domain: str
    email: str | None


def add_prospects(session: Session, campaign: Campaign, rows: Sequence[ProspectRow], *, actor: User | None = None,
                  all_or_none: bool = False, source: str = "API bulk request") -> BulkResult:
    """Check every row, then create those that passed (none if any failed and `all_or_none`)."""
    if len(rows) > MAX_ROWS:
        raise ValueError(f"at most {MAX_ROWS} prospects per request")
    result = BulkResult()
    checked = _check_rows(rows, result.errors)
    checked = _check_owners(session, checked, result.errors)
    checked = _check_board(session, campaign, checked, result.errors)
    result.errors.sort(key=lambda e: e.index)
    if not checked or (all_or_none and result.errors):
        return result
    new = [NewProspect(url=c.url, domain=c.domain, email=c.email, name=c.row.contact_name.strip()[:200],
                       metrics=metric_values(c.row.metrics), owner_id=c.row.owner_id,
                       conflicts=[x.message for x in conflicts], conflict_keys=[x.key for x in conflicts],
                       override_reason=reason, source=f"{source}, item {c.row.index}")
           for c, conflicts, reason in checked]
    ids = create_prospects(session, campaign, new, actor=actor)
    result.created = [(c.row.index, prospect_id) for (c, _, _), prospect_id in zip(checked, ids, strict=True)]
    return result


def _check_rows(rows: Sequence[ProspectRow], errors: list[RowError]) -> list[_Checked]:
    """The URL, the address and sites repeated within the request."""
    checked: list[_Checked] = []
    first_row: dict[str, int] = {}
    for row in rows:
        try:
            url = ensure_http_url(row.url)
            domain = registrable_domain(url)
        except BadURL as exc:
            errors.append(RowError(row.index, "url", str(exc)))
            continue
        email = None
        if row.email and row.email.strip():
            try:
                email = addresses.normalise_address(row.email)
            except addresses.BadAddress as exc:
                errors.append(RowError(row.index, "email", str(exc)))
                continue
        if domain in first_row:
            errors.append(RowError(row.index, "url", f"{domain} is already item {first_row[domain]} of this request"))
            continue
        first_row[domain] = row.index
        checked.append(_Checked(row, url, domain, email))
    return checked


def _check_owners(session: Session, checked: list[_Checked], errors: list[RowError]) -> list[_Checked]:
    wanted = {c.row.owner_id for c in checked if c.row.owner_id is not None}
    team = set(session.scalars(select(User.id).where(User.id.in_(wanted), User.is_active.is_(True),
                                                     permissions.team_filter()))) if wanted else set()
    kept = []
    for c in checked:
        if c.row.owner_id is not None and c.row.owner_id not in team:
            errors.append(RowError(c.row.index, "owner_id",
                                   "the owner must be an active team member (admin or member)"))
        else:
            kept.append(c)
    return kept


def _check_board(session: Session, campaign: Campaign, checked: list[_Checked], errors: list[RowError]
                 ) -> list[tuple[_Checked, list[Conflict], str]]:
    """Sites already on this board, and the contact rules (conflicts need an override reason)."""
    domains = sorted({c.domain for c in checked})
    site_ids: dict[str, int] = {}
    for start in range(0, len(domains), _CHUNK):
        site_ids.update(session.execute(select(Site.domain, Site.id)
                                        .where(Site.domain.in_(domains[start:start + _CHUNK]))).all())
    on_board = set(session.scalars(select(Prospect.site_id).where(Prospect.campaign_id == campaign.id,
                                                                  Prospect.site_id.in_(site_ids.values())))
                   ) if site_ids else set()
    rules = ContactRules(session, campaign_id=campaign.id).load_domains(
        {d: site_ids.get(d) for d in domains}, [c.email for c in checked if c.email])
    kept = []
    for c in checked:
        site_id = site_ids.get(c.domain)
        if site_id is not None and site_id in on_board:
            errors.append(RowError(c.row.index, "url", f"{c.domain} is already in this campaign"))
            continue
        conflicts = rules.conflicts_at(site_id, c.domain, c.email)
        try:
            reason = check_override(conflicts, c.row.override_reason)
        except ProspectConflict as exc:
            errors.append(RowError(c.row.index, "override_reason",
                                   f"{exc}; send override_reason to add it anyway", exc.conflicts))
            continue
        kept.append((c, conflicts, reason))
    return kept
