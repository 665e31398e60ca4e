"""What a link is worth, side by side: followed, indexable, how relevant discovery found the site, the authority
metrics imported for it, its referral sessions, and what it cost (price, currency, payment status).

Nothing here is invented: a signal nobody measured is None. Prices are the agency's business: they reach a client
only where the client's settings say so (see reports and outreach.accounts.permissions).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outreach.campaigns import metrics as metric_table
from outreach.lib.urls import BadURL, registrable_domain
from outreach.models import Backlink, Opportunity, Prospect, Site

#: the authority metrics shown beside a link, in this order (those imported for its site)
AUTHORITY = ("domain_rating", "domain_authority", "authority_score", "trust_flow", "organic_traffic")
#: common ISO 4217 codes offered by the forms (any three letters are accepted)
CURRENCIES = ("USD", "EUR", "GBP", "AUD", "CAD", "CHF", "SEK", "NOK", "DKK", "PLN", "INR", "JPY")
CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹"}


@dataclass
class Signals:
    follow: bool | None
    indexable: bool | None
    #: discovery's score of the opportunity that made the site a prospect (0-100), None without one
    relevance: float | None
    #: (label, value) of the authority metrics imported for the link's site
    authority: list[tuple[str, Any]] = field(default_factory=list)
    #: referral sessions over the months asked for (None: no analytics figure for the link)
    sessions: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {"follow": self.follow, "indexable": self.indexable, "relevance": self.relevance,
                "authority": {label: value for label, value in self.authority}, "referral_sessions": self.sessions}


def money(amount: float | None, currency: str) -> str:
    """"$150", "€1,200.50", "150 SEK"; "" without an amount."""
    if amount is None:
        return ""
    text = f"{amount:,.2f}".removesuffix(".00")
    symbol = CURRENCY_SYMBOLS.get(currency)
    if symbol:
        return f"{symbol}{text}"
    return f"{text} {currency}".strip()


def clean_currency(value: str | None) -> str:
    """"usd " -> "USD"; ValueError unless three letters (or blank)."""
    code = (value or "").strip().upper()
    if code and not (len(code) == 3 and code.isascii() and code.isalpha()):
        raise ValueError(f"currency {value!r} is not a three-letter code like USD or EUR")
    return code


def _domain(url: str) -> str | None:
    try:
        return registrable_domain(url) if url else None
    except BadURL:
        return None


def signals(session: Session, backlinks: Sequence[Backlink], sessions: dict[int, int | None] | None = None
            ) -> dict[int, Signals]:
    """Every link's signals, in a fixed number of queries whatever their count."""
    prospect_ids = [b.prospect_id for b in backlinks if b.prospect_id]
    relevance: dict[int, float] = {}
    site_of_prospect: dict[int, int] = {}
    if prospect_ids:
        relevance = dict(session.execute(select(Opportunity.prospect_id, func.max(Opportunity.score))
                                         .where(Opportunity.prospect_id.in_(prospect_ids))
                                         .group_by(Opportunity.prospect_id)).all())
        site_of_prospect = dict(session.execute(select(Prospect.id, Prospect.site_id)
                                                .where(Prospect.id.in_(prospect_ids))).all())
    domains = {b.id: _domain(b.page_url or b.site_url) for b in backlinks}
    sites_by_id: dict[int, Site] = {}
    sites_by_domain: dict[str, Site] = {}
    if site_of_prospect:
        sites_by_id = {s.id: s for s in session.scalars(
            select(Site).where(Site.id.in_(set(site_of_prospect.values()))))}
    wanted = {d for d in domains.values() if d}
    if wanted:
        sites_by_domain = {s.domain: s for s in session.scalars(select(Site).where(Site.domain.in_(wanted)))}
    found: dict[int, Signals] = {}
    for b in backlinks:
        site = sites_by_id.get(site_of_prospect.get(b.prospect_id or 0, 0)) or sites_by_domain.get(domains[b.id] or "")
        on_page = b.status in ("live", "terms_not_met")
        authority = [(metric_table.BY_NAME[name].label, getattr(site, name)) for name in AUTHORITY
                     if site is not None and getattr(site, name) is not None]
        found[b.id] = Signals(follow=b.is_follow if on_page else None, indexable=b.is_indexable if on_page else None,
                              relevance=relevance.get(b.prospect_id or 0), authority=authority,
                              sessions=(sessions or {}).get(b.id))
    return found


@dataclass
class CostLine:
    """What the links priced in one currency cost, per live link and per referring domain."""

    currency: str
    spent: float
    priced: int
    live: int
    domains: int

    @property
    def per_live_link(self) -> float | None:
        return self.spent / self.live if self.live else None

    @property
    def per_domain(self) -> float | None:
        return self.spent / self.domains if self.domains else None

    def as_json(self) -> dict[str, Any]:
        return {"currency": self.currency, "spent": round(self.spent, 2), "priced_links": self.priced,
                "live_links": self.live, "referring_domains": self.domains,
                "per_live_link": None if self.per_live_link is None else round(self.per_live_link, 2),
                "per_referring_domain": None if self.per_domain is None else round(self.per_domain, 2)}


def costs(backlinks: Sequence[Backlink], live_ids: set[int]) -> list[CostLine]:
    """Per currency: the sum of the prices (refunded ones left out), and that sum over the links live now and
    over the distinct referring domains of those live links."""
    spent: dict[str, float] = defaultdict(float)
    priced: dict[str, int] = defaultdict(int)
    live: dict[str, int] = defaultdict(int)
    domains: dict[str, set[str]] = defaultdict(set)
    for b in backlinks:
        if b.price is None or b.payment_status == "refunded":
            continue
        spent[b.currency] += b.price
        priced[b.currency] += 1
        if b.id in live_ids:
            live[b.currency] += 1
            domain = _domain(b.page_url or b.site_url)
            if domain:
                domains[b.currency].add(domain)
    return [CostLine(code, spent[code], priced[code], live[code], len(domains[code])) for code in sorted(spent)]
