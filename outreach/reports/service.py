"""Client reports: what was won, what is live, what was lost, with the evidence; as HTML, CSV and PDF."""
from __future__ import annotations

import csv
import io
import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outreach import paths
from outreach.accounts.service import audit
from outreach.analytics.service import Traffic, traffic_for
from outreach.backlinks import reasons
from outreach.backlinks.evidence import WEAK_RELS
from outreach.backlinks.terms import ON_PAGE, STATUS_BADGES, failing_label, status_label
from outreach.backlinks.value import CostLine, Signals, costs, money, signals
from outreach.lib.clock import utcnow
from outreach.lib.spreadsheet import formula_safe
from outreach.lib.urls import BadURL, registrable_domain
from outreach.models import Backlink, BacklinkCheck, BacklinkEvent, Campaign, Client, ReportShare, User
from outreach.reports.charts import bar_chart_svg, live_chart_svg, month_bars_svg, sparkline_svg

#: longest range a report covers (the chart then has one point per week)
MAX_DAYS = 3 * 366
#: months a link's referral sparkline shows (ending with the report's last month)
SPARK_MONTHS = 12
SHARE_SALT = "report-share"


class ReportError(ValueError):
    """A one-line reason the report or share was refused."""


@dataclass
class LinkRow:
    backlink: Backlink
    page: str
    domain: str
    target: str
    status: str
    #: the status as read: "Live – terms not met: nofollow"
    status_label: str
    #: "failing: 2 failed checks in a row since ..." for a link on its page whose checks fail, else ""
    failing: str
    #: its badge colour (ok, warn, bad)
    badge: str
    http_status: str
    rel: str
    follow: str
    indexable: str
    anchor: str
    last_checked: str
    live_since: str
    problems: str
    #: why it is lost, missed, failing or worth less, in plain words ("Page gone (404/410): HTTP 410")
    reasons: str = ""
    #: referral sessions in the report's range (None: no analytics figure for the link)
    sessions: int | None = None
    #: its monthly referral sessions over the last SPARK_MONTHS months
    sparkline: Markup = field(default_factory=Markup)
    signals: Signals | None = None
    #: "$150 · paid" when the report shows prices, else ""
    price: str = ""

    @property
    def relevance(self) -> str:
        score = self.signals.relevance if self.signals else None
        return "—" if score is None else f"{score:.0f}"

    @property
    def authority(self) -> str:
        found = self.signals.authority if self.signals else []
        return ", ".join(f"{label} {value:g}" if isinstance(value, float) else f"{label} {value:,}"
                         for label, value in found) or "—"


@dataclass
class Report:
    client: Client
    campaign: Campaign | None
    date_from: date
    date_to: date
    generated_at: datetime
    won: int = 0
    live: int = 0
    #: on their pages at the end of the range, but not on the agreed anchor or rel (not counted in live)
    terms_not_met: int = 0
    lost: int = 0
    pending: int = 0
    series: list[tuple[date, int]] = field(default_factory=list)
    rel_split: list[tuple[str, int]] = field(default_factory=list)
    anchors: list[tuple[str, int]] = field(default_factory=list)
    domains: list[tuple[str, int, int]] = field(default_factory=list)
    rows: list[LinkRow] = field(default_factory=list)
    #: referral sessions of the report's links in its months (see outreach.analytics.service)
    traffic: Traffic = field(default_factory=lambda: Traffic([]))
    #: losses in the range by reason: (code, label, count)
    losses: list[tuple[str, str, int]] = field(default_factory=list)
    #: whether prices are shown (the team in the app; a client only when its settings say so)
    show_costs: bool = False
    costs: list[CostLine] = field(default_factory=list)
    #: links without a price (left out of the costs)
    unpriced: int = 0

    @property
    def referral_total(self) -> int:
        return self.traffic.total

    @property
    def referral_chart(self) -> Markup:
        return month_bars_svg(self.traffic.series, label="Referral sessions per month")

    @property
    def top_links(self) -> list[tuple[LinkRow, int]]:
        """The links that brought the most referral sessions in the range, most first."""
        by_id = {row.backlink.id: row for row in self.rows}
        return [(by_id[i], n) for i, n in self.traffic.top_links(10) if i in by_id]

    @property
    def shared_sites(self) -> list[tuple[str, int, int]]:
        """(site, sessions, links) of sites whose figures could not be split between their links."""
        return [(host, sum(self.traffic.by_site.get(host, {}).values()), len(ids))
                for host, ids in sorted(self.traffic.shared.items())]

    @property
    def title(self) -> str:
        scope = f"{self.client.name} · {self.campaign.name}" if self.campaign else self.client.name
        return f"Link report: {scope}"

    @property
    def period(self) -> str:
        return f"{self.date_from:%d %b %Y} – {self.date_to:%d %b %Y}"

    @property
    def chart(self) -> Markup:
        return live_chart_svg(self.series)

    @property
    def rel_chart(self) -> Markup:
        return bar_chart_svg(self.rel_split)


def parse_range(date_from: str | None, date_to: str | None, *, today: date | None = None) -> tuple[date, date]:
    """The report's range from two YYYY-MM-DD strings (default: the last 90 days), or ReportError."""
    today = today or utcnow().date()
    try:
        end = date.fromisoformat(date_to) if date_to else today
        start = date.fromisoformat(date_from) if date_from else end - timedelta(days=89)
    except ValueError:
        raise ReportError("dates must look like 2026-11-30") from None
    if start > end:
        raise ReportError("the start date is after the end date")
    if (end - start).days > MAX_DAYS:
        raise ReportError(f"a report covers at most {MAX_DAYS} days")
    return start, end


def _end_of(day: date) -> datetime:
    return datetime.combine(day, time.max, tzinfo=UTC)


def build_report(session: Session, client: Client, *, campaign: Campaign | None = None,
                 date_from: date, date_to: date, show_costs: bool = False) -> Report:
    """The report's figures; `show_costs` adds prices (see outreach.accounts.permissions.report_shows_prices)."""
    report = Report(client=client, campaign=campaign, date_from=date_from, date_to=date_to, generated_at=utcnow(),
                    show_costs=show_costs)
    query = select(Backlink).where(Backlink.client_id == client.id).order_by(Backlink.id)
    if campaign is not None:
        query = query.where(Backlink.campaign_id == campaign.id)
    backlinks = list(session.scalars(query))
    start, end = datetime.combine(date_from, time.min, tzinfo=UTC), _end_of(date_to)
    ids = [b.id for b in backlinks]
    events: dict[int, list[tuple[datetime, str]]] = {}
    if ids:
        for backlink_id, at, kind in session.execute(
                select(BacklinkEvent.backlink_id, BacklinkEvent.created_at, BacklinkEvent.kind)
                .where(BacklinkEvent.backlink_id.in_(ids), BacklinkEvent.kind.in_(SPELL_KINDS))
                .order_by(BacklinkEvent.created_at, BacklinkEvent.id)):
            events.setdefault(backlink_id, []).append((at, kind))
    latest = _latest_checks(session, ids)
    report.won = sum(1 for b in backlinks if b.first_live_at and start <= b.first_live_at <= end)
    report.lost = sum(1 for spells in events.values() for at, kind in spells if kind == "lost" and start <= at <= end)
    report.live = sum(1 for b in backlinks if _state_at(events.get(b.id, []), end) == "live")
    report.terms_not_met = sum(1 for b in backlinks if _state_at(events.get(b.id, []), end) == "terms_not_met")
    report.pending = sum(1 for b in backlinks if b.status == "pending")
    report.series = _series(backlinks, events, date_from, date_to)
    live_now = [b for b in backlinks if b.status in ON_PAGE]
    rels = Counter()
    for b in live_now:
        tokens = [t for t in b.seen_rel.split() if t in WEAK_RELS]
        if not tokens:
            rels["follow"] += 1
        for token in tokens:
            rels[token] += 1
    report.rel_split = [(name, rels[name]) for name in ("follow", *WEAK_RELS)]
    report.anchors = Counter(b.seen_anchor or "(no text)" for b in backlinks if b.first_live_at).most_common(15)
    domains: dict[str, list[int]] = {}
    for b in backlinks:
        counts = domains.setdefault(_domain(b.page_url or b.site_url), [0, 0])
        counts[0] += 1
        counts[1] += b.status == "live"
    report.domains = sorted(((d, n, live) for d, (n, live) in domains.items()), key=lambda r: (-r[2], -r[1], r[0]))
    report.rows = [_row(b, latest.get(b.id)) for b in backlinks]
    _add_value(session, report, backlinks)
    report.losses = _losses(session, ids, start, end)
    if show_costs:
        report.costs = costs(backlinks, {b.id for b in live_now})
        report.unpriced = sum(1 for b in backlinks if b.price is None)
    return report


def _add_value(session: Session, report: Report, backlinks: list[Backlink]) -> None:
    """Referral sessions (in the range, and a sparkline of the last months), value signals, reasons and prices."""
    spark_from = _months_back(report.date_to, SPARK_MONTHS - 1)
    traffic = traffic_for(session, report.client.id, backlinks, min(report.date_from, spark_from), report.date_to)
    report.traffic = traffic.within(report.date_from, report.date_to)
    sparks = traffic.within(spark_from, report.date_to)
    found = signals(session, backlinks, {b.id: report.traffic.link_total(b.id) for b in backlinks})
    for row in report.rows:
        b = row.backlink
        row.sessions, row.signals = report.traffic.link_total(b.id), found.get(b.id)
        values = sparks.link_series(b.id)
        row.sparkline = sparkline_svg(values, label=f"Referral sessions per month, {sparks.months[0]:%b %Y} to "
                                                    f"{sparks.months[-1]:%b %Y}: {', '.join(map(str, values))}")
        if report.show_costs and b.price is not None:
            row.price = money(b.price, b.currency) + (f" · {b.payment_status}" if b.payment_status else "")


def _months_back(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def _losses(session: Session, ids: list[int], start: datetime, end: datetime) -> list[tuple[str, str, int]]:
    """The range's losses grouped by reason (a loss recorded before reasons were kept: read from its check)."""
    if not ids:
        return []
    rows = session.execute(select(BacklinkEvent.reason, BacklinkCheck)
                           .outerjoin(BacklinkCheck, BacklinkCheck.id == BacklinkEvent.check_id)
                           .where(BacklinkEvent.backlink_id.in_(ids), BacklinkEvent.kind == "lost",
                                  BacklinkEvent.created_at >= start, BacklinkEvent.created_at <= end)).all()
    return reasons.grouped(reason or (reasons.of_check(check).code if check is not None else "")
                           for reason, check in rows)


def _latest_checks(session: Session, ids: list[int]) -> dict[int, BacklinkCheck]:
    if not ids:
        return {}
    newest = (select(BacklinkCheck.backlink_id, func.max(BacklinkCheck.id).label("id"))
              .where(BacklinkCheck.backlink_id.in_(ids)).group_by(BacklinkCheck.backlink_id).subquery())
    checks = session.scalars(select(BacklinkCheck).join(newest, newest.c.id == BacklinkCheck.id))
    return {c.backlink_id: c for c in checks}


#: the events that start or end a link's spells on its page
SPELL_KINDS = ("went_live", "relive", "terms_met", "terms_not_met", "lost")


def _state_at(spells: list[tuple[datetime, str]], moment: datetime) -> str | None:
    """"live", "terms_not_met" or None (not on its page) at that moment, from the link's spell events."""
    state = None
    for at, kind in spells:
        if at > moment:
            break
        state = None if kind == "lost" else ("terms_not_met" if kind == "terms_not_met" else "live")
    return state


def _series(backlinks: list[Backlink], events: dict[int, list[tuple[datetime, str]]], date_from: date,
            date_to: date) -> list[tuple[date, int]]:
    days = (date_to - date_from).days
    step = 1 if days <= 120 else 7
    points = []
    day = date_from
    while day <= date_to:
        moment = _end_of(day)
        points.append((day, sum(1 for b in backlinks if _state_at(events.get(b.id, []), moment) == "live")))
        day += timedelta(days=step)
    if points[-1][0] != date_to:
        moment = _end_of(date_to)
        points.append((date_to, sum(1 for b in backlinks if _state_at(events.get(b.id, []), moment) == "live")))
    return points


def _domain(url: str) -> str:
    try:
        return registrable_domain(url) if url else "(unknown)"
    except BadURL:
        return "(unknown)"


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d") if value else "—"


def _row(b: Backlink, check: BacklinkCheck | None) -> LinkRow:
    live = b.status in ON_PAGE
    http = "—"
    if check is not None:
        http = str(check.http_status) if check.http_status is not None else (check.error or "no answer")
    return LinkRow(
        backlink=b, page=b.page_url or f"(looking on {b.site_url})", domain=_domain(b.page_url or b.site_url),
        target=b.target_url, status=b.status, status_label=status_label(b), failing=failing_label(b),
        badge=STATUS_BADGES.get(b.status, ""), http_status=http,
        # rel and indexability describe a link that is there: for one that is not, they are not shown
        rel=(b.seen_rel or "followed") if live else "—",
        follow=("yes" if b.is_follow else "no") if live else "—",
        indexable=("yes" if b.is_indexable else "no") if live else "—",
        anchor=b.seen_anchor, last_checked=_when(b.last_checked_at), live_since=_when(b.live_since),
        problems=", ".join(check.problems) if check is not None else "",
        reasons="; ".join(r.detail for r in reasons.why(b, check)))


def _short(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


# --- CSV, standalone HTML and PDF -----------------------------------------------------------------

CSV_HEADER = ["page_url", "referring_domain", "target_url", "status", "status_text", "http_status", "rel", "follow",
              "indexable", "anchor", "last_checked", "live_since", "first_live", "lost_at", "problems", "campaign",
              "reason", "referral_sessions", "relevance", "authority"]
#: added when the report shows prices
COST_HEADER = ["price", "currency", "payment_status"]


def report_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER + (COST_HEADER if report.show_costs else []))
    for row in report.rows:
        b = row.backlink
        cost = [b.price, b.currency, b.payment_status] if report.show_costs else []
        writer.writerow([_safe_cell(v) for v in (
            b.page_url, row.domain, b.target_url, b.status,
            row.status_label + (f" ({row.failing})" if row.failing else ""), row.http_status, b.seen_rel, row.follow,
            row.indexable, b.seen_anchor, row.last_checked, row.live_since, _when(b.first_live_at), _when(b.lost_at),
            row.problems, b.campaign.name if b.campaign else "", row.reasons,
            "" if row.sessions is None else row.sessions, "" if row.relevance == "—" else row.relevance,
            "" if row.authority == "—" else row.authority, *cost)])
    return out.getvalue()


def _safe_cell(value: Any) -> str:
    """No spreadsheet formulas from publisher-controlled text (anchors, URLs)."""
    return formula_safe("" if value is None else str(value))


@lru_cache(maxsize=1)
def _env() -> Environment:
    env = Environment(loader=FileSystemLoader(str(paths.TEMPLATES)), undefined=StrictUndefined,
                      autoescape=select_autoescape(["html"]))
    env.globals["money"] = money
    return env


def render_standalone(report: Report, *, pdf: bool = False, links: dict[str, str] | None = None) -> str:
    """The report as one self-contained HTML page (the shared link and the PDF use this)."""
    return _env().get_template("reports/standalone.html").render(report=report, pdf=pdf, links=links or {})


class PdfUnavailable(RuntimeError):
    """WeasyPrint or its system libraries are missing."""


def render_pdf(report: Report) -> bytes:
    """The PDF of the standalone report (WeasyPrint, imported only when a PDF is asked for)."""
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise PdfUnavailable(f"PDF export needs WeasyPrint and its system libraries (pango): {first}") from None
    return HTML(string=render_standalone(report, pdf=True)).write_pdf()


# --- shareable links: signed, expiring, revocable ----------------------------------------------------

def create_share(session: Session, client: Client, *, campaign: Campaign | None, date_from: date, date_to: date,
                 days_valid: int, actor: User | None) -> ReportShare:
    if not 1 <= days_valid <= 365:
        raise ReportError("a shared link is valid for 1 to 365 days")
    share = ReportShare(client_id=client.id, campaign_id=campaign.id if campaign else None,
                        nonce=secrets.token_hex(16), date_from=date_from, date_to=date_to,
                        expires_at=utcnow() + timedelta(days=days_valid),
                        created_by_id=actor.id if actor else None)
    session.add(share)
    session.flush()

    audit(session, actor, "report.share", "client", client.id, {"share_id": share.id, "days": days_valid})
    return share


def share_token(share: ReportShare, secret_key: str) -> str:
    return URLSafeSerializer(secret_key, salt=SHARE_SALT).dumps([share.id, share.nonce])


def share_from_token(session: Session, token: str, secret_key: str) -> ReportShare | None:
    """The share the token names, if the signature holds and it is neither revoked nor expired."""
    try:
        share_id, nonce = URLSafeSerializer(secret_key, salt=SHARE_SALT).loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    share = session.get(ReportShare, share_id) if isinstance(share_id, int) else None
    if share is None or not secrets.compare_digest(share.nonce, str(nonce)):
        return None
    if share.revoked_at is not None or share.expires_at <= utcnow():
        return None
    return share


def revoke_share(session: Session, share: ReportShare, actor: User | None) -> None:
    if share.revoked_at is None:
        share.revoked_at = utcnow()
        session.flush()

        audit(session, actor, "report.revoke", "client", share.client_id, {"share_id": share.id})
