"""The link ledger and its monitoring state machine. Functions flush; the caller commits."""
from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.accounts.service import audit
from outreach.backlinks import reasons, terms
from outreach.backlinks.evidence import WEAK_RELS, CheckResult, FoundLink
from outreach.backlinks.value import clean_currency
from outreach.campaigns.service import move_prospect, record
from outreach.config import BacklinksSettings
from outreach.jobs.claims import claim_rows
from outreach.lib.clock import utcnow
from outreach.lib.urls import BadURL, ensure_http_url, registrable_domain
from outreach.models import (
    Backlink,
    BacklinkCheck,
    BacklinkEvent,
    Campaign,
    Client,
    ClientLinkSettings,
    Prospect,
    User,
)
from outreach.models.backlinks import AGREED_RELS, MATCH_MODES, PAYMENT_STATUSES

#: how long a claimed backlink stays out of the due query; the tick checking it renews the lease while the check
#: runs (outreach.backlinks.jobs), so a killed worker's backlinks are due again within one lease
CLAIM_LEASE = timedelta(seconds=90)
#: columns of the CSV import (page_url may be empty when site_url says where to look)
CSV_COLUMNS = ("page_url", "target_url", "site_url", "match_mode", "agreed_anchor", "agreed_rel", "price",
               "currency", "payment_status", "deadline", "notes", "render_js")
#: events that send the owner an alert email
ALERT_KINDS = ("went_live", "lost", "relive", "rel_changed", "anchor_changed", "became_noindex", "missed",
               "terms_not_met", "terms_met")


class BacklinkError(ValueError):
    """A one-line reason the operation was refused; `field` names the form field when there is one."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# --- the ledger ----------------------------------------------------------------------------------

def create_backlink(session: Session, *, client_id: int, target_url: str, page_url: str = "",
                    site_url: str = "", campaign_id: int | None = None, prospect_id: int | None = None,
                    match_mode: str = "exact", agreed_anchor: str = "", agreed_rel: str = "follow",
                    price: float | str | None = None, currency: str = "", payment_status: str | None = None,
                    notes: str = "", deadline_at: datetime | None = None, render_js: bool = False,
                    actor: User | None = None) -> Backlink:
    """Add a link to the ledger and schedule its first check now."""
    values = _validated(session, client_id=client_id, target_url=target_url, page_url=page_url,
                        site_url=site_url, campaign_id=campaign_id, match_mode=match_mode,
                        agreed_rel=agreed_rel, price=price, currency=currency, payment_status=payment_status)
    if prospect_id is not None:
        prospect = session.get(Prospect, prospect_id)
        if prospect is None or campaign_id is None or prospect.campaign_id != campaign_id:
            raise BacklinkError("the prospect's link must stay in the prospect's campaign", field="campaign_id")
    backlink = Backlink(client_id=client_id, prospect_id=prospect_id, agreed_anchor=agreed_anchor.strip()[:500],
                        notes=notes, deadline_at=deadline_at, render_js=render_js, status="pending",
                        consecutive_failures=0, next_check_at=utcnow(),
                        created_by_id=actor.id if actor else None, **values)
    session.add(backlink)
    session.flush()
    audit(session, actor, "backlink.create", "backlink", backlink.id, {"target": backlink.target_url})
    return backlink


def _validated(session: Session, *, client_id: int, target_url: str, page_url: str, site_url: str,
               campaign_id: int | None, match_mode: str, agreed_rel: str, price: float | str | None,
               currency: str = "", payment_status: str | None = None) -> dict[str, Any]:
    if session.get(Client, client_id) is None:
        raise BacklinkError("choose an existing client", field="client_id")
    if campaign_id is not None:
        campaign = session.get(Campaign, campaign_id)
        if campaign is None or campaign.client_id != client_id:
            raise BacklinkError("the campaign must belong to the client", field="campaign_id")
    target = _url(target_url, "target_url", required=True)
    page = _url(page_url, "page_url")
    site = _url(site_url, "site_url")
    if not page and not site:
        raise BacklinkError("give the page URL, or the site URL to look for the page on", field="page_url")
    if match_mode not in MATCH_MODES:
        raise BacklinkError(f"match mode must be one of {', '.join(MATCH_MODES)}, not {match_mode!r}",
                            field="match_mode")
    if agreed_rel not in AGREED_RELS:
        raise BacklinkError(f"agreed rel must be one of {', '.join(AGREED_RELS)}, not {agreed_rel!r}",
                            field="agreed_rel")
    try:
        code = clean_currency(currency) or _symbol_currency(price)
    except ValueError as exc:
        raise BacklinkError(str(exc), field="currency") from None
    status = (payment_status or "").strip().lower() or None
    if status is not None and status not in PAYMENT_STATUSES:
        raise BacklinkError(f"payment status must be one of {', '.join(PAYMENT_STATUSES)}, not {payment_status!r}",
                            field="payment_status")
    return {"target_url": target, "page_url": page, "site_url": site or _origin(page),
            "campaign_id": campaign_id, "match_mode": match_mode, "agreed_rel": agreed_rel,
            "price": _price(price), "currency": code, "payment_status": status}


def _url(value: str, name: str, required: bool = False) -> str:
    value = (value or "").strip()
    if not value:
        if required:
            raise BacklinkError(f"{name.replace('_', ' ')} is required", field=name)
        return ""
    try:
        return ensure_http_url(value)[:2000]
    except BadURL as exc:
        raise BacklinkError(f"{name.replace('_', ' ')}: {exc}", field=name) from None


#: a price written with its currency's sign says the currency when none is given
_SIGNS = {"$": "USD", "€": "EUR", "£": "GBP"}


def _symbol_currency(price: float | str | None) -> str:
    return _SIGNS.get(price.strip()[:1], "") if isinstance(price, str) and price.strip() else ""


def _price(value: float | str | None) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        price = float(str(value).replace(",", "").strip().lstrip("$€£"))
    except ValueError:
        raise BacklinkError(f"price {value!r} is not a number", field="price") from None
    if price < 0:
        raise BacklinkError("price cannot be negative", field="price")
    return price


def defaults_for_prospect(prospect: Prospect) -> dict[str, str]:
    """Target, page and site URLs to suggest for a prospect's link, as the automatic one on *promised* gets."""
    campaign = prospect.campaign
    targets = campaign.target_url_list or ([campaign.client.website] if campaign.client.website else [""])
    unknown_page = campaign.kind == "guest_posts" or not prospect.page_url
    return {"target_url": targets[0], "page_url": "" if unknown_page else prospect.page_url,
            "site_url": _origin(prospect.page_url) if prospect.page_url else f"https://{prospect.site.domain}/"}


def _origin(url: str) -> str:
    if not url:
        return ""
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{rest.split('/', 1)[0]}/"


def update_backlink(session: Session, backlink: Backlink, *, page_url: str, target_url: str, site_url: str,
                    match_mode: str, agreed_anchor: str, agreed_rel: str, price: float | str | None,
                    notes: str, deadline_at: datetime | None, render_js: bool, currency: str | None = None,
                    payment_status: str | None = None, actor: User | None = None) -> None:
    """Change the link; `currency` and `payment_status` None keep theirs ("" clears them)."""
    values = _validated(session, client_id=backlink.client_id, target_url=target_url, page_url=page_url,
                        site_url=site_url, campaign_id=backlink.campaign_id, match_mode=match_mode,
                        agreed_rel=agreed_rel, price=price,
                        currency=backlink.currency if currency is None else currency,
                        payment_status=backlink.payment_status if payment_status is None else payment_status)
    terms_before = (backlink.agreed_anchor, backlink.agreed_rel, backlink.target_url, backlink.match_mode)
    for name, value in values.items():
        setattr(backlink, name, value)
    backlink.agreed_anchor, backlink.notes = agreed_anchor.strip()[:500], notes
    backlink.deadline_at, backlink.render_js = deadline_at, render_js
    if backlink.status in terms.ON_PAGE and terms_before != (backlink.agreed_anchor, backlink.agreed_rel,
                                                             backlink.target_url, backlink.match_mode):
        backlink.next_check_at = utcnow()  # what was agreed changed: judge the link against it at once
    if backlink.status == "missed" and (deadline_at is None or deadline_at > utcnow()):
        backlink.status = "pending"
        backlink.next_check_at = utcnow()
    session.flush()
    audit(session, actor, "backlink.update", "backlink", backlink.id, {})


def check_now(session: Session, backlink: Backlink) -> None:
    """Make the backlink due at once (a paused or missed one is checked once more as well)."""
    backlink.next_check_at = utcnow()
    session.flush()


def set_paused(session: Session, backlink: Backlink, paused: bool, actor: User | None = None) -> None:
    if paused and backlink.status != "paused":
        backlink.status, backlink.next_check_at = "paused", None
    elif not paused and backlink.status == "paused":
        backlink.status = ("terms_not_met" if backlink.unmet_terms else "live") if backlink.live_since else "pending"
        backlink.next_check_at = utcnow()
    session.flush()
    audit(session, actor, "backlink.pause" if paused else "backlink.resume", "backlink", backlink.id, {})


def on_stage_changed(prospect: Prospect, *, session: Session, old: str, new: str,
                     actor: User | None) -> Backlink | None:
    """On a stage change: a prospect that reaches *promised* gets its backlink in the ledger."""
    if new != "promised":
        return None
    if session.scalar(select(Backlink.id).where(Backlink.prospect_id == prospect.id)) is not None:
        return None
    campaign = session.get(Campaign, prospect.campaign_id)
    assert campaign is not None
    targets = campaign.target_url_list or ([campaign.client.website] if campaign.client.website else [])
    if not targets:
        record(session, prospect, "backlink",
               "No backlink added to the ledger: the campaign has no target URL (add one, then add the link "
               "by hand on the Links tab)", actor)
        return None
    several_sites = len({registrable_domain(t) for t in targets}) > 1
    match_mode = "site" if len(targets) > 1 and not several_sites else "exact"
    # guest posts are not written yet: look for the article on the site; otherwise the link goes on the page
    unknown_page = campaign.kind == "guest_posts" or not prospect.page_url
    backlink = create_backlink(
        session, client_id=campaign.client_id, campaign_id=campaign.id, prospect_id=prospect.id,
        target_url=targets[0], match_mode=match_mode,
        page_url="" if unknown_page else prospect.page_url,
        site_url=_origin(prospect.page_url) if prospect.page_url else f"https://{prospect.site.domain}/",
        actor=actor)
    where = "the page is not known yet; it will be looked for" if unknown_page else backlink.page_url
    record(session, prospect, "backlink", f"Backlink to {backlink.target_url} added to the ledger ({where})",
           actor, {"backlink_id": backlink.id})
    return backlink


def client_settings(session: Session, client_id: int) -> ClientLinkSettings:
    """The client's monitoring settings (unsaved defaults when it has none)."""
    return session.get(ClientLinkSettings, client_id) or ClientLinkSettings(
        client_id=client_id, live_check_days=None, is_monthly_report=True, is_costs_in_report=False)


def set_client_settings(session: Session, client_id: int, *, live_check_days: str | int | None,
                        is_monthly_report: bool, is_costs_in_report: bool | None = None,
                        actor: User | None = None) -> ClientLinkSettings:
    """Re-check interval for live links (blank: the global default), the monthly report email and whether the
    client's report shows prices (None keeps the setting)."""
    days: int | None = None
    if live_check_days not in (None, ""):
        try:
            days = int(str(live_check_days).strip())
        except ValueError:
            raise BacklinkError(f"re-check interval {live_check_days!r} is not a whole number of days",
                                field="live_check_days") from None
        if not 1 <= days <= 90:
            raise BacklinkError("re-check live links every 1 to 90 days", field="live_check_days")
    own = session.get(ClientLinkSettings, client_id)
    if own is None:
        own = ClientLinkSettings(client_id=client_id, is_costs_in_report=False)
        session.add(own)
    own.live_check_days, own.is_monthly_report = days, is_monthly_report
    if is_costs_in_report is not None:
        own.is_costs_in_report = is_costs_in_report
    session.info.pop("backlinks.live_interval", None)
    session.flush()
    audit(session, actor, "client.link_settings", "client", client_id,
          {"live_check_days": days, "monthly_report": is_monthly_report,
           "costs_in_report": own.is_costs_in_report})
    return own


# --- CSV import ----------------------------------------------------------------------------------

@dataclass
class ImportReport:
    created: list[Backlink] = field(default_factory=list)
    #: (line number, one-line reason)
    errors: list[tuple[int, str]] = field(default_factory=list)


def import_csv(session: Session, text: str, *, client_id: int, campaign_id: int | None = None,
               actor: User | None = None) -> ImportReport:
    """Create one backlink per row; if any row is bad, nothing is created and every bad row is reported."""
    report = ImportReport()
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    headers = [h.strip().lower() for h in (reader.fieldnames or [])]
    if "target_url" not in headers:
        report.errors.append((1, "the header row must name at least target_url and page_url or site_url "
                                 f"(columns: {', '.join(CSV_COLUMNS)})"))
        return report
    unknown = [h for h in headers if h not in CSV_COLUMNS]
    if unknown:
        report.errors.append((1, f"unknown column(s) {', '.join(unknown)} (columns: {', '.join(CSV_COLUMNS)})"))
        return report
    parsed: list[dict[str, Any]] = []
    for line, raw in enumerate(reader, start=2):
        row = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k}
        if not any(row.values()):
            continue
        try:
            values = {"target_url": row.get("target_url", ""), "page_url": row.get("page_url", ""),
                      "site_url": row.get("site_url", ""), "match_mode": row.get("match_mode") or "exact",
                      "agreed_rel": row.get("agreed_rel") or "follow", "price": row.get("price") or None,
                      "currency": row.get("currency", ""), "payment_status": row.get("payment_status") or None}
            _validated(session, client_id=client_id, campaign_id=campaign_id, **values)
            values.update(agreed_anchor=row.get("agreed_anchor", ""), notes=row.get("notes", ""),
                          deadline_at=_date(row.get("deadline", "")), render_js=_bool(row.get("render_js", "")))
            parsed.append(values)
        except BacklinkError as exc:
            report.errors.append((line, str(exc)))
    if not parsed and not report.errors:
        report.errors.append((2, "the file has no rows"))
    if report.errors:
        return report
    report.created = [create_backlink(session, client_id=client_id, campaign_id=campaign_id, actor=actor, **values)
                      for values in parsed]
    return report


def _date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        day = datetime.strptime(value[:10], "%Y-%m-%d")
    except ValueError:
        raise BacklinkError(f"deadline {value!r} is not a date like 2026-12-31", field="deadline") from None
    return day.replace(hour=23, minute=59, tzinfo=UTC)


def _bool(value: str) -> bool:
    if value.lower() in ("", "0", "no", "false", "n"):
        return False
    if value.lower() in ("1", "yes", "true", "y"):
        return True
    raise BacklinkError(f"render_js {value!r} must be yes or no", field="render_js")


# --- monitoring: claims and the state machine ---------------------------------------------------

def claim_due(session: Session, *, limit: int, now: datetime | None = None) -> list[int]:
    """Claim up to `limit` due backlinks (their next_check_at becomes now + CLAIM_LEASE: the lease) in one
    statement; a scheduler claiming at the same time takes the next due ones (see claim_rows)."""
    now = now or utcnow()
    return sorted(claim_rows(session, Backlink, where=[Backlink.next_check_at <= now],
                             order_by=[Backlink.next_check_at, Backlink.id], limit=limit,
                             values={"next_check_at": now + CLAIM_LEASE}))


def live_check_interval(session: Session, backlink: Backlink, settings: BacklinksSettings) -> timedelta:
    """The client's own interval, else [backlinks] live_check_days (remembered for the session's lifetime)."""
    cache: dict[int, timedelta] = session.info.setdefault("backlinks.live_interval", {})
    if backlink.client_id not in cache:
        own = session.get(ClientLinkSettings, backlink.client_id)
        days = own.live_check_days if own and own.live_check_days else settings.live_check_days
        cache[backlink.client_id] = timedelta(days=days)
    return cache[backlink.client_id]


def apply_check(session: Session, backlink: Backlink, result: CheckResult, settings: BacklinksSettings,
                *, now: datetime | None = None) -> list[BacklinkEvent]:
    """Store the check with its evidence, move the backlink through its states, and return the events."""
    now = now or utcnow()
    check = BacklinkCheck(backlink_id=backlink.id, checked_at=now, page_url=result.page,
                          final_url=(result.final_url or "")[:2000], http_status=result.http_status,
                          error=(result.error or "")[:40], status=result.status, follow=result.follow,
                          indexable=result.indexable, found_in=result.found_in, problems=list(result.problems),
                          evidence=result.to_json())
    session.add(check)
    events: list[BacklinkEvent] = []

    def event(kind: str, text: str, reason: str = "") -> None:
        events.append(BacklinkEvent(backlink_id=backlink.id, kind=kind, text=text, created_at=now, reason=reason))

    backlink.last_checked_at = now
    pending_every = timedelta(hours=settings.pending_check_hours)
    live_every = live_check_interval(session, backlink, settings)
    if result.is_live:
        _found(backlink, result, event, now)
        backlink.next_check_at = now + live_every
    elif result.status == "unknown":
        # the page answered but could not be read whole: that says nothing about the link, so nothing moves
        # (no failure counted, no "lost" or "missed"); it is looked at again as a failing one would be
        if backlink.status in terms.ON_PAGE:
            backlink.next_check_at = now + min(pending_every, live_every)
        elif backlink.status == "pending":
            backlink.next_check_at = now + pending_every
        elif backlink.status != "missed":
            backlink.next_check_at = now + live_every
        else:
            backlink.next_check_at = None
    else:
        backlink.consecutive_failures += 1
        if backlink.failing_since is None:
            backlink.failing_since = now
        reason = reasons.of_check(result)
        if backlink.status in terms.ON_PAGE:
            failures = backlink.consecutive_failures
            spread = now - backlink.failing_since
            if (failures >= settings.lost_after_failures
                    and spread >= timedelta(hours=settings.lost_after_hours)):
                event("lost", f"Link lost after {failures} failed checks in a row since "
                              f"{backlink.failing_since:%Y-%m-%d %H:%M} UTC: {reason.detail}", reason.code)
                backlink.status, backlink.lost_at, backlink.live_since = "lost", now, None
                backlink.lost_reason = reason.code
                backlink.next_check_at = now + live_every
            else:
                # failing: check again sooner, but it takes N failures over the minimum time to call it lost
                backlink.next_check_at = now + min(pending_every, live_every)
        elif backlink.status == "pending" and backlink.deadline_at is not None and backlink.deadline_at <= now:
            event("missed", f"Link not live by its deadline {backlink.deadline_at:%Y-%m-%d}: {reason.detail}",
                  reason.code)
            backlink.status, backlink.next_check_at, backlink.lost_reason = "missed", None, reason.code
        elif backlink.status in ("pending", "missed"):
            backlink.next_check_at = now + pending_every if backlink.status == "pending" else None
        else:
            backlink.next_check_at = now + live_every
    if events:
        session.flush()  # the check's id, for its events
        for ev in events:
            ev.check_id = check.id
            session.add(ev)
    session.flush()
    _record_on_prospect(session, backlink, events)
    return events


def _found(backlink: Backlink, result: CheckResult, event: Callable[[str, str], None], now: datetime) -> None:
    """The check found the link: live when it is on the agreed terms, else terms_not_met, with what changed."""
    link = terms.compared_link(result, backlink.agreed_anchor, backlink.agreed_rel)
    rel = " ".join(sorted({t for t in link.rel if t in WEAK_RELS})) if link else ""
    anchor = link.anchor if link else ""
    unmet = terms.unmet_terms(result, backlink.agreed_anchor, backlink.agreed_rel)
    was = backlink.status
    on_page = was in terms.ON_PAGE and backlink.live_since is not None
    summary = _summary(result, link)
    unmet_reason = (reasons.degradations(unmet, []) or [reasons.Reason("")])[0].code
    if not unmet:
        if backlink.first_live_at is None:
            met_now = ", now on the agreed terms" if was == "terms_not_met" else ""
            event("went_live", f"Link is live on {result.page}{met_now}" + summary)
            backlink.first_live_at = now
        elif was == "terms_not_met" and on_page:
            event("terms_met", f"Link now meets the agreed terms on {result.page}" + summary)
        elif not on_page:
            event("relive", f"Link is live again on {result.page}" + summary)
    else:
        differs = terms.describe(unmet)
        if not on_page:
            again = "back" if backlink.first_live_at or was == "lost" else "live"
            event("terms_not_met", f"Link is {again} on {result.page} but not on the agreed terms: {differs}",
                  unmet_reason)
        elif was == "live":
            event("terms_not_met", f"Link no longer meets the agreed terms: {differs}", unmet_reason)
        elif unmet != backlink.unmet_terms:
            event("terms_not_met", f"Link still does not meet the agreed terms: {differs}", unmet_reason)
    if on_page:
        # what changed on a link that stays on its page; a change of an agreed term is said by the terms events
        if rel != backlink.seen_rel and backlink.agreed_rel != "follow":
            event("rel_changed", f"rel changed from {backlink.seen_rel or 'followed'} to {rel or 'followed'}",
                  "rel" if rel else "")
        if terms.norm_anchor(anchor) != terms.norm_anchor(backlink.seen_anchor) and not backlink.agreed_anchor.strip():
            event("anchor_changed", f"Anchor changed from “{backlink.seen_anchor}” to “{anchor}”", "anchor")
        if backlink.is_indexable and not result.indexable:
            page_reasons = reasons.degradations([], result.problems)
            event("became_noindex", "The page is no longer indexable: " + (", ".join(
                r.label.lower() for r in page_reasons) or "it answers with an error"),
                page_reasons[0].code if page_reasons else "")
        elif backlink.is_indexable is False and result.indexable:
            event("became_indexable", "The page is indexable again")
    else:
        backlink.live_since, backlink.lost_at = now, None
    backlink.status = "terms_not_met" if unmet else "live"
    backlink.unmet_terms, backlink.lost_reason = unmet, ""
    backlink.consecutive_failures, backlink.failing_since = 0, None
    backlink.seen_rel, backlink.seen_anchor = rel, anchor[:500]
    backlink.is_follow, backlink.is_indexable = result.follow, result.indexable


def attach_page(session: Session, backlink: Backlink, page_url: str, *, now: datetime | None = None) -> None:
    """The article was found on the publisher's site: remember its URL."""
    backlink.page_url = page_url[:2000]
    session.add(BacklinkEvent(backlink_id=backlink.id, kind="page_found", text=f"Found the page: {page_url}",
                              created_at=now or utcnow(), notified_at=now or utcnow()))
    if backlink.prospect_id:
        prospect = session.get(Prospect, backlink.prospect_id)
        if prospect is not None:
            record(session, prospect, "backlink", f"Found the published page: {page_url}", None,
                   {"backlink_id": backlink.id})
    session.flush()


def _record_on_prospect(session: Session, backlink: Backlink, events: list[BacklinkEvent]) -> None:
    if not events or backlink.prospect_id is None:
        return
    prospect = session.get(Prospect, backlink.prospect_id)
    if prospect is None:
        return
    for ev in events:
        record(session, prospect, "backlink", ev.text, None, {"backlink_id": backlink.id, "event": ev.kind})
        # only a link on the agreed terms moves the card to Live (terms_not_met leaves it where it is)
        if ev.kind in ("went_live", "relive", "terms_met") and prospect.stage != "live":
            move_prospect(session, prospect, "live", reason="the link was found live on the agreed terms")
        elif ev.kind == "lost" and prospect.stage != "lost":
            move_prospect(session, prospect, "lost", reason="the link is gone")


def _summary(result: CheckResult, link: FoundLink | None) -> str:
    if link is None:
        return ""
    rel = ", ".join(sorted({t for t in link.rel if t in WEAK_RELS})) or "followed"
    where = " (found only after JavaScript ran)" if result.found_in == "rendered" else ""
    return f" — anchor “{link.anchor}”, {rel}{where}"
