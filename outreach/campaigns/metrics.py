"""Imported SEO metrics: the one table of what an export can carry, where it is stored, how lists use it.

A metric of the whole domain (DR, DA, AS, TF, CF, spam score, organic traffic, referring domains) is
stored on the Site, shared by every campaign and overwritten by the newest import. A metric of one
page (UR, PA, the page's Authority Score, Trust and Citation Flow, traffic, referring domains,
external links) and what describes the link on it (title, anchor, target) are stored on the Prospect:
the page is the prospect's page, and another campaign may have picked another page of the same site.

`name` is at once the model attribute, the CSV import field, the API key (`sort=-trust_flow`,
`min_trust_flow`) and the web list's key (`sort=trust_flow`, `trust_flow_min`). The four metrics the
web list knew before keep their short keys there (`dr`, `da`, `as`, `traffic`) as `list_key`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from outreach.models import Prospect, Site


@dataclass(frozen=True)
class Metric:
    name: str
    #: short label for column heads and cards ("DR")
    label: str
    #: what it is and where it comes from ("Domain Rating (Ahrefs)")
    title: str
    #: "site" (stored on Site) or "page" (stored on Prospect)
    level: str
    high: float = 100
    is_integer: bool = False
    #: the web list's query-string key, when it predates this table
    short: str = ""

    @property
    def column(self) -> Any:
        return getattr(Site if self.level == "site" else Prospect, self.name)

    @property
    def list_key(self) -> str:
        return self.short or self.name


#: integer columns hold 32 bits on PostgreSQL
COUNT = float(2**31 - 1)

METRICS: tuple[Metric, ...] = (
    Metric("domain_rating", "DR", "Domain Rating (Ahrefs)", "site", short="dr"),
    Metric("domain_authority", "DA", "Domain Authority (Moz)", "site", short="da"),
    Metric("authority_score", "AS", "Authority Score (Semrush)", "site", short="as"),
    Metric("trust_flow", "TF", "Trust Flow (Majestic)", "site"),
    Metric("citation_flow", "CF", "Citation Flow (Majestic)", "site"),
    Metric("spam_score", "Spam", "Spam Score (Moz)", "site"),
    Metric("organic_traffic", "Traffic", "Organic traffic of the domain", "site", COUNT, True, short="traffic"),
    Metric("referring_domains", "RD", "Referring domains of the domain", "site", COUNT, True),
    Metric("url_rating", "UR", "URL Rating of the page (Ahrefs)", "page"),
    Metric("page_authority", "PA", "Page Authority (Moz)", "page"),
    Metric("page_authority_score", "Page AS", "Page Authority Score (Semrush)", "page"),
    Metric("page_trust_flow", "Page TF", "Trust Flow of the page (Majestic)", "page"),
    Metric("page_citation_flow", "Page CF", "Citation Flow of the page (Majestic)", "page"),
    Metric("page_traffic", "Page traffic", "Organic traffic of the page", "page", COUNT, True),
    Metric("page_referring_domains", "Page RD", "Referring domains of the page", "page", COUNT, True),
    Metric("external_links", "Ext. links", "External links on the page", "page", COUNT, True),
    Metric("links_to_target", "Links to you", "Links from this site to the target", "page", COUNT, True),
)
BY_NAME: dict[str, Metric] = {m.name: m for m in METRICS}
SITE_METRICS: tuple[Metric, ...] = tuple(m for m in METRICS if m.level == "site")
PAGE_METRICS: tuple[Metric, ...] = tuple(m for m in METRICS if m.level == "page")
NAMES: tuple[str, ...] = tuple(BY_NAME)


def by_list_key(key: str) -> Metric | None:
    """The metric a web list's query-string key names (`dr` or `domain_rating`, `trust_flow`)."""
    return BY_NAME.get(key) or next((m for m in METRICS if m.short == key), None)


def values_of(metric_level: str, record: Any) -> list[tuple[Metric, Any]]:
    """The (metric, value) pairs of a Site or Prospect that are known, in table order."""
    return [(m, getattr(record, m.name)) for m in METRICS
            if m.level == metric_level and getattr(record, m.name) is not None]
