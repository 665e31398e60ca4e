"""Referral traffic: store a source's monthly figures for a client, and match them to the client's links.

A file (or a pull) replaces its source's figures of every month it covers. Matching happens when the figures are
read, so a link added later finds its history:
- a row naming a page matches the link on that page (scheme, "www.", a trailing slash and the query ignored);
- a row naming only a site (GA4's session source, a browser that sent only its origin) matches the link on
  that site when the client has one link there; with several, the site's sessions are counted for the
  client but not split between its links;
- when a source has page rows for a site in a month, its site rows for that month are not used for the site's
  links (the page rows say which page);
- the same visits counted by two tools (GA4 and Plausible on the same site) are not added up: each link, site
  and month takes the larger figure.
Functions flush; the caller commits.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from outreach.accounts.service import audit
from outreach.analytics import ga4, matomo, plausible
from outreach.analytics.rows import BadAnalyticsFile, Parsed, host_key, month_of, page_key, referrer
from outreach.lib.clock import utcnow
from outreach.lib.urls import BadURL, registrable_domain
from outreach.models import Backlink, Client, ReferralTraffic, User
from outreach.models.analytics import SOURCES

SOURCE_LABELS = {"ga4": "Google Analytics 4", "plausible": "Plausible", "matomo": "Matomo"}
#: the largest file an import reads
MAX_FILE_BYTES = 20_000_000


@dataclass
class ImportSummary:
    source: str
    months: list[date]
    #: referrers stored (after adding up the rows that name the same page or site)
    referrers: int
    sessions: int
    #: rows that name no web page or site ("(direct)", "Google")
    skipped: int


def detect(data: bytes) -> str:
    """Which tool wrote the file, from its shape; BadAnalyticsFile when none of them did."""
    if plausible.looks_like(data):
        return "plausible"
    if ga4.looks_like(data):
        return "ga4"
    if matomo.looks_like(data):
        return "matomo"
    raise BadAnalyticsFile("this is not a GA4, Plausible or Matomo export that names referrers and their "
                           "sessions (a GA4 CSV download, Plausible's export zip, Matomo's Websites CSV)")


def parse_file(data: bytes, *, source: str = "", month: date | None = None, filename: str = "") -> Parsed:
    """A file's monthly sessions per referrer; `source` "" detects the tool."""
    if len(data) > MAX_FILE_BYTES:
        raise BadAnalyticsFile(f"the file is larger than {MAX_FILE_BYTES // 1_000_000} MB")
    if not data.strip():
        raise BadAnalyticsFile("the file is empty")
    source = source or detect(data)
    if source == "ga4":
        return ga4.parse(data, month)
    if source == "plausible":
        return plausible.parse(data, month, filename)
    if source == "matomo":
        return matomo.parse(data, month)
    raise BadAnalyticsFile(f"unknown source {source!r} (use one of {', '.join(SOURCES)})")


@dataclass
class _Merged:
    referrer: str
    domain: str
    sessions: int


def store(session: Session, client_id: int, parsed: Parsed) -> ImportSummary:
    """Replace the source's figures of every month the parse covers with its rows."""
    merged: dict[tuple[date, str, str], _Merged] = {}
    for row in parsed.rows:
        ref = referrer(row.referrer)
        if ref is None:
            continue
        key = (month_of(row.month), ref.level, ref.key[:700])
        if key in merged:
            merged[key].sessions += row.sessions  # the same page written two ways ("/a" and "/a/")
        else:
            merged[key] = _Merged(row.referrer[:2000], ref.domain[:255], row.sessions)
    months = sorted({month_of(m) for m in parsed.months} | {k[0] for k in merged})
    if months:
        session.execute(delete(ReferralTraffic).where(ReferralTraffic.client_id == client_id,
                                                      ReferralTraffic.source == parsed.source,
                                                      ReferralTraffic.month.in_(months)))
    session.add_all(ReferralTraffic(client_id=client_id, month=when, source=parsed.source, level=level, key=key,
                                    referrer=m.referrer, domain=m.domain, sessions=m.sessions)
                    for (when, level, key), m in merged.items())
    session.flush()
    return ImportSummary(parsed.source, months, len(merged), sum(m.sessions for m in merged.values()),
                         parsed.skipped)


def import_file(session: Session, client: Client, data: bytes, *, filename: str = "", source: str = "",
                month: date | None = None, actor: User | None = None) -> ImportSummary:
    """Read an export and store it for the client: all of it, or (BadAnalyticsFile) nothing."""
    parsed = parse_file(data, source=source, month=month, filename=filename)
    if not parsed.months:
        raise BadAnalyticsFile("the file has no rows")
    summary = store(session, client.id, parsed)
    audit(session, actor, "analytics.import", "client", client.id,
          {"source": summary.source, "months": [m.isoformat() for m in summary.months],
           "referrers": summary.referrers, "file": filename[:200]})
    return summary


def months_between(first: date, last: date) -> list[date]:
    """The first days of every month from first's to last's."""
    months, current, end = [], month_of(first), month_of(last)
    while current <= end:
        months.append(current)
        current = date(current.year + current.month // 12, current.month % 12 + 1, 1)
    return months


def coverage(session: Session, client_id: int) -> list[tuple[str, date, int, int]]:
    """(source, month, referrers, sessions) of every month stored for the client, newest first."""
    return [(source, month, n, total or 0) for source, month, n, total in session.execute(
        select(ReferralTraffic.source, ReferralTraffic.month, func.count(), func.sum(ReferralTraffic.sessions))
        .where(ReferralTraffic.client_id == client_id)
        .group_by(ReferralTraffic.source, ReferralTraffic.month)
        .order_by(ReferralTraffic.month.desc(), ReferralTraffic.source))]


# --- reading: sessions per link and month ----------------------------------------------------------

@dataclass
class Traffic:
    """Referral sessions of some links over some months (see the module's matching rules)."""

    months: list[date]
    #: backlink id -> month -> sessions attributed to that link (a link with no figure for a month has no entry)
    by_link: dict[int, dict[date, int]] = field(default_factory=dict)
    #: host -> month -> sessions the client got from the site (its links' and, for a site with several links
    #: and only site-level figures, the ones that cannot be split)
    by_site: dict[str, dict[date, int]] = field(default_factory=dict)
    #: hosts with several links whose figures could not be split between them, with those links
    shared: dict[str, list[int]] = field(default_factory=dict)

    def within(self, first: date, last: date) -> Traffic:
        """The same figures for the months from first's to last's only."""
        months = [m for m in self.months if month_of(first) <= m <= month_of(last)]
        keep = set(months)

        def cut(found: dict[date, int]) -> dict[date, int]:
            return {m: n for m, n in found.items() if m in keep}

        by_link = {i: cut(found) for i, found in self.by_link.items() if cut(found)}
        by_site = {h: cut(found) for h, found in self.by_site.items() if cut(found)}
        shared = {h: ids for h, ids in self.shared.items() if h in by_site}
        return Traffic(months, by_link, by_site, shared)

    def link_series(self, backlink_id: int) -> list[int]:
        found = self.by_link.get(backlink_id, {})
        return [found.get(m, 0) for m in self.months]

    def link_total(self, backlink_id: int) -> int | None:
        """Sessions over every month, or None when no source had a figure for the link."""
        found = self.by_link.get(backlink_id)
        return sum(found.values()) if found else None

    @property
    def series(self) -> list[tuple[date, int]]:
        return [(m, sum(site.get(m, 0) for site in self.by_site.values())) for m in self.months]

    @property
    def total(self) -> int:
        return sum(n for _, n in self.series)

    @property
    def has_data(self) -> bool:
        return bool(self.by_site)

    def top_links(self, n: int = 10) -> list[tuple[int, int]]:
        """(backlink id, sessions) of the links that brought the most, most first (none without sessions)."""
        totals = [(i, sum(m.values())) for i, m in self.by_link.items()]
        return sorted([t for t in totals if t[1] > 0], key=lambda t: (-t[1], t[0]))[:n]


@dataclass(frozen=True)
class _Link:
    id: int
    host: str
    key: str
    domain: str


def _links(backlinks: Iterable[Backlink]) -> list[_Link]:
    found = []
    for b in backlinks:
        if not b.page_url:
            continue  # the article is not found yet: nothing can refer from it
        try:
            host = host_key(b.page_url)
            found.append(_Link(b.id, host, page_key(b.page_url), registrable_domain(host)))
        except (BadURL, ValueError):
            continue
    return found


def _host_of_key(key: str) -> str:
    return key.split("/", 1)[0].split("?", 1)[0]


def traffic_for(session: Session, client_id: int, backlinks: Sequence[Backlink], first: date,
                last: date) -> Traffic:
    """Referral sessions of `backlinks` (of one client) in every month from first's to last's."""
    traffic = Traffic(months_between(first, last))
    links = _links(backlinks)
    if not links or not traffic.months:
        return traffic
    rows = session.execute(
        select(ReferralTraffic.source, ReferralTraffic.month, ReferralTraffic.level, ReferralTraffic.key,
               ReferralTraffic.sessions)
        .where(ReferralTraffic.client_id == client_id,
               ReferralTraffic.domain.in_(sorted({link.domain for link in links})),
               ReferralTraffic.month >= traffic.months[0], ReferralTraffic.month <= traffic.months[-1]))
    pages: dict[tuple[str, date, str], int] = {}
    sites: dict[tuple[str, date, str], int] = {}
    paged: set[tuple[str, date, str]] = set()  # (source, month, host) with page rows
    for source, month, level, key, sessions in rows:
        if level == "page":
            pages[(source, month, key)] = sessions
            paged.add((source, month, _host_of_key(key)))
        else:
            sites[(source, month, key)] = sessions
    sources = sorted({k[0] for k in pages} | {k[0] for k in sites})
    by_host: dict[str, list[_Link]] = defaultdict(list)
    for link in links:
        by_host[link.host].append(link)
    for host, host_links in by_host.items():
        for month in traffic.months:
            site_total = None
            for source in sources:
                if (source, month, host) in paged:
                    values = {link.id: pages.get((source, month, link.key), 0) for link in host_links}
                    from_source = sum(values.values())
                elif (source, month, host) in sites:
                    from_source = sites[(source, month, host)]
                    values = {host_links[0].id: from_source} if len(host_links) == 1 else {}
                    if len(host_links) > 1 and from_source:
                        traffic.shared[host] = [link.id for link in host_links]
                else:
                    continue
                for link_id, n in values.items():
                    per_month = traffic.by_link.setdefault(link_id, {})
                    per_month[month] = max(per_month.get(month, 0), n)
                site_total = max(site_total or 0, from_source)
            if site_total is not None:
                traffic.by_site.setdefault(host, {})[month] = max(
                    site_total, sum(traffic.by_link.get(link.id, {}).get(month, 0) for link in host_links))
    return traffic


def recent(session: Session, backlinks: Sequence[Backlink], *, months: int = 12, today: date | None = None
           ) -> Traffic:
    """Referral sessions of links (of one client or several) in the last `months` months, this one included."""
    today = today or utcnow().date()
    index = today.year * 12 + today.month - 1 - (months - 1)
    first = date(index // 12, index % 12 + 1, 1)
    merged = Traffic(months_between(first, today))
    by_client: dict[int, list[Backlink]] = defaultdict(list)
    for b in backlinks:
        by_client[b.client_id].append(b)
    for client_id, links in by_client.items():
        found = traffic_for(session, client_id, links, first, today)
        merged.by_link.update(found.by_link)
        merged.shared.update(found.shared)
        for host, per_month in found.by_site.items():
            into = merged.by_site.setdefault(host, {})
            for month, n in per_month.items():
                into[month] = into.get(month, 0) + n
    return merged
