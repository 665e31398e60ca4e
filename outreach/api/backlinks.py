"""/api/v1 backlinks: the link ledger, each link's checks and events, "check now", and the client report."""
from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for
from sqlalchemy import Select, func, select

from outreach.accounts import permissions
from outreach.accounts.service import audit
from outreach.analytics.service import recent
from outreach.api.common import _body, _campaign, _client, _commit, _created, _paginate, _user
from outreach.api.errors import ApiError, bad_parameter, invalid, not_found
from outreach.api.inputs import MAX_ID, Body, query_choice, query_int
from outreach.api.serialize import when
from outreach.backlinks import reasons, service, terms
from outreach.backlinks.value import signals
from outreach.models import Backlink, BacklinkCheck, BacklinkEvent, Prospect, User
from outreach.models.backlinks import BACKLINK_STATUSES
from outreach.reports import service as reports
from outreach.web.state import db_session

bp = Blueprint("backlinks", __name__)  # nested in the /api/v1 blueprint (api/views.py)

#: the body fields of a backlink; client_id and campaign_id only when creating
FIELDS = ("page_url", "site_url", "target_url", "match_mode", "agreed_anchor", "agreed_rel", "price", "currency",
          "payment_status", "notes", "deadline_at", "render_js")


# --- JSON shapes ---------------------------------------------------------------------------------

def check_json(c: BacklinkCheck) -> dict[str, Any]:
    return {"id": c.id, "checked_at": when(c.checked_at), "page_url": c.page_url, "final_url": c.final_url,
            "http_status": c.http_status, "error": c.error, "status": c.status, "follow": c.follow,
            "indexable": c.indexable, "found_in": c.found_in, "problems": list(c.problems or []),
            "evidence": c.evidence or {}}


def event_json(e: BacklinkEvent) -> dict[str, Any]:
    return {"id": e.id, "kind": e.kind, "text": e.text, "reason": reasons.Reason(e.reason).as_json() if e.reason
            else None, "created_at": when(e.created_at)}


def backlink_json(b: Backlink) -> dict[str, Any]:
    """The link; for a client viewer without the price and the team's notes."""
    internal = permissions.can_see_internal(_user())
    return {"id": b.id, "client_id": b.client_id, "campaign_id": b.campaign_id, "prospect_id": b.prospect_id,
            "page_url": b.page_url, "site_url": b.site_url, "target_url": b.target_url,
            "match_mode": b.match_mode, "agreed_anchor": b.agreed_anchor, "agreed_rel": b.agreed_rel,
            "price": b.price if internal else None, "currency": b.currency if internal else "",
            "payment_status": b.payment_status if internal else None,
            "lost_reason": reasons.Reason(b.lost_reason).as_json() if b.lost_reason else None,
            "notes": b.notes if internal else "",
            "deadline_at": when(b.deadline_at), "render_js": b.render_js,
            "status": b.status, "status_label": terms.status_label(b),
            "unmet_terms": [{**d, "text": terms.sentence(d)} for d in b.unmet_terms or []],
            "consecutive_failures": b.consecutive_failures, "failing_since": when(b.failing_since),
            "failing": terms.failing_label(b),
            "next_check_at": when(b.next_check_at), "last_checked_at": when(b.last_checked_at),
            "first_live_at": when(b.first_live_at), "live_since": when(b.live_since), "lost_at": when(b.lost_at),
            "seen_rel": b.seen_rel.split(), "seen_anchor": b.seen_anchor, "is_follow": b.is_follow,
            "is_indexable": b.is_indexable, "created_at": when(b.created_at),
            "url": url_for("api.backlinks.get_backlink", backlink_id=b.id, _external=True)}


def _detail(b: Backlink) -> dict[str, Any]:
    """The backlink with the evidence of its latest check, its check history and its events (newest first)."""
    session = db_session()
    checks = list(session.scalars(select(BacklinkCheck).where(BacklinkCheck.backlink_id == b.id)
                                  .order_by(BacklinkCheck.id.desc()).limit(50)))
    events = session.scalars(select(BacklinkEvent).where(BacklinkEvent.backlink_id == b.id)
                             .order_by(BacklinkEvent.id.desc()).limit(50))
    traffic = recent(session, [b])
    value = signals(session, [b], {b.id: traffic.link_total(b.id)})[b.id]
    return {**backlink_json(b), "latest_check": check_json(checks[0]) if checks else None,
            "checks": [check_json(c) for c in checks], "events": [event_json(e) for e in events],
            "reasons": [r.as_json() for r in reasons.why(b, checks[0] if checks else None)],
            "value": value.as_json(),
            "referral_months": [{"month": m.isoformat()[:7], "sessions": n}
                                for m, n in zip(traffic.months, traffic.link_series(b.id), strict=True)]
            if value.sessions is not None else []}


# --- lookups and input ---------------------------------------------------------------------------

def _backlink(backlink_id: int, *, edit: bool = False) -> Backlink:
    backlink = db_session().get(Backlink, backlink_id) if backlink_id <= MAX_ID else None
    if not permissions.can_see(_user(), backlink):
        raise not_found("backlink")
    if edit and not permissions.can_change(_user(), backlink):
        raise ApiError(403, "forbidden", "client-viewers have read-only access")
    return backlink


def _deadline(body: Body, default: datetime | None) -> datetime | None:
    """deadline_at: an ISO date (end of that day, UTC) or date-time; null clears it."""
    if "deadline_at" not in body:
        return default
    raw = body.optional_string("deadline_at", max_length=40)
    if raw is None or not raw.strip():
        return None
    raw = raw.strip()
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            return datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=UTC)
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise invalid("deadline_at", "deadline_at must be a date (2026-12-31) or a date-time") from None


def _price(body: Body, default: float | None) -> float | None:
    if "price" not in body:
        return default
    price = body.number("price")
    if price is not None and price < 0:
        raise invalid("price", "price cannot be negative")
    return price


def _flag(body: Body, name: str, default: bool) -> bool:
    value = body.data.get(name, default)
    if not isinstance(value, bool):
        raise invalid(name, f"{name} must be true or false")
    return value


def _service_error(exc: service.BacklinkError) -> ApiError:
    return invalid(exc.field or "body", str(exc))


def _ledger_query(user: User) -> Select[tuple[Backlink]]:
    args = request.args
    query = select(Backlink).order_by(Backlink.created_at.desc(), Backlink.id.desc())
    query = query.where(permissions.client_filter(user, Backlink.client_id))
    client_id = query_int(args, "client_id")
    if client_id is not None:
        query = query.where(Backlink.client_id == client_id)
    campaign_id = query_int(args, "campaign_id")
    if campaign_id is not None:
        query = query.where(Backlink.campaign_id == campaign_id)
    status = query_choice(args, "status", BACKLINK_STATUSES)
    if status:
        query = query.where(Backlink.status == status)
    search = args.get("search", "").strip()
    if len(search) > 200:
        raise bad_parameter("search", "search is longer than 200 characters")
    if search:
        query = query.where(func.lower(Backlink.page_url).contains(search.lower(), autoescape=True)
                            | func.lower(Backlink.target_url).contains(search.lower(), autoescape=True)
                            | func.lower(Backlink.site_url).contains(search.lower(), autoescape=True))
    return query


# --- the ledger ----------------------------------------------------------------------------------

@bp.get("/backlinks")
def list_backlinks() -> dict[str, Any]:
    return _paginate(_ledger_query(_user()), backlink_json)


@bp.post("/backlinks")
def create_backlink() -> tuple[Response, int, dict[str, str]]:
    if not permissions.is_staff(_user()):
        raise ApiError(403, "forbidden", "client-viewers have read-only access")
    body = _body("client_id", "campaign_id", *FIELDS)
    campaign_id = body.integer("campaign_id")
    if campaign_id is not None:
        campaign = _campaign(campaign_id, edit=True)
        client_id = body.integer("client_id") or campaign.client_id
    else:
        client_id = body.integer("client_id", required=True) or 0
    client = _client(client_id, edit=True)
    try:
        backlink = service.create_backlink(
            db_session(), client_id=client.id, campaign_id=campaign_id,
            target_url=body.string("target_url", required=True, max_length=2000),
            page_url=body.string("page_url", max_length=2000), site_url=body.string("site_url", max_length=2000),
            match_mode=body.string("match_mode", default="exact", max_length=10),
            agreed_anchor=body.string("agreed_anchor", max_length=500),
            agreed_rel=body.string("agreed_rel", default="follow", max_length=20),
            price=_price(body, None), currency=body.string("currency", max_length=3),
            payment_status=body.optional_string("payment_status", max_length=10), notes=body.string("notes"),
            deadline_at=_deadline(body, None), render_js=_flag(body, "render_js", False), actor=_user())
    except service.BacklinkError as exc:
        raise _service_error(exc) from None
    _commit()
    return _created(_detail(backlink))


@bp.post("/backlinks/import")
def import_backlinks() -> tuple[Response, int]:
    """Backlinks from CSV text (the web import's columns); one bad row and nothing is created, every bad row named."""
    if not permissions.is_staff(_user()):
        raise ApiError(403, "forbidden", "client-viewers have read-only access")
    body = _body("client_id", "campaign_id", "csv")
    campaign_id = body.integer("campaign_id")
    client_id = body.integer("client_id") or (_campaign(campaign_id).client_id if campaign_id else None)
    if client_id is None:
        raise invalid("client_id", "client_id is required (or give campaign_id)")
    client = _client(client_id)
    text = body.string("csv", required=True, max_length=5_000_000)
    report = service.import_csv(db_session(), text, client_id=client.id, campaign_id=campaign_id, actor=_user())
    if report.errors:
        db_session().rollback()
        line, message = report.errors[0]
        more = f" (and {len(report.errors) - 1} more bad rows)" if len(report.errors) > 1 else ""
        raise ApiError(422, "invalid", f"line {line}: {message}{more}; nothing was imported", "csv",
                       {"refused": [{"line": n, "message": m} for n, m in report.errors]})
    _commit()
    return jsonify({"created": [backlink_json(b) for b in report.created]}), 201


@bp.get("/backlinks/<int:backlink_id>")
def get_backlink(backlink_id: int) -> dict[str, Any]:
    return _detail(_backlink(backlink_id))


@bp.patch("/backlinks/<int:backlink_id>")
def update_backlink(backlink_id: int) -> dict[str, Any]:
    b = _backlink(backlink_id, edit=True)
    body = _body(*FIELDS, "paused")
    paused = _flag(body, "paused", b.status == "paused") if "paused" in body else None
    try:
        service.update_backlink(
            db_session(), b, page_url=body.string("page_url", default=b.page_url, max_length=2000),
            target_url=body.string("target_url", default=b.target_url, max_length=2000),
            site_url=body.string("site_url", default=b.site_url, max_length=2000),
            match_mode=body.string("match_mode", default=b.match_mode, max_length=10),
            agreed_anchor=body.string("agreed_anchor", default=b.agreed_anchor, max_length=500),
            agreed_rel=body.string("agreed_rel", default=b.agreed_rel, max_length=20),
            price=_price(body, b.price), currency=body.string("currency", default=b.currency, max_length=3),
            payment_status=(body.optional_string("payment_status", max_length=10) or "") if "payment_status" in body
            else None, notes=body.string("notes", default=b.notes),
            deadline_at=_deadline(body, b.deadline_at), render_js=_flag(body, "render_js", b.render_js),
            actor=_user())
    except service.BacklinkError as exc:
        db_session().rollback()
        raise _service_error(exc) from None
    if paused is not None:
        service.set_paused(db_session(), b, paused, _user())
    _commit()
    return _detail(b)


@bp.delete("/backlinks/<int:backlink_id>")
def delete_backlink(backlink_id: int) -> tuple[str, int]:
    """Remove a link from the ledger with its checks and events (a promised prospect's link is kept)."""
    b = _backlink(backlink_id, edit=True)
    session = db_session()
    if b.prospect_id is not None:
        stage = session.scalar(select(Prospect.stage).where(Prospect.id == b.prospect_id))
        if stage == "promised":
            # the ledger tick would add it again at once: every promised prospect has its backlink
            raise ApiError(409, "conflict", "this link belongs to a prospect at stage promised; move the prospect "
                                            "on (or pause the link with PATCH paused=true) instead")
    audit(session, _user(), "backlink.delete", "backlink", b.id, {"target": b.target_url, "page": b.page_url})
    session.delete(b)
    _commit()
    return "", 204


@bp.post("/backlinks/<int:backlink_id>/check")
def check_backlink(backlink_id: int) -> tuple[Response, int]:
    """Make the link due now: the next backlink tick checks it (the answer does not wait for the fetch)."""
    b = _backlink(backlink_id, edit=True)
    service.check_now(db_session(), b)
    _commit()
    return jsonify(_detail(b)), 202


# --- the client report ---------------------------------------------------------------------------

@bp.get("/clients/<int:client_id>/report")
def client_report(client_id: int) -> dict[str, Any]:
    """The figures of the web report for a date range (default: the last 90 days)."""
    client = _client(client_id)
    campaign = None
    campaign_id = query_int(request.args, "campaign_id")
    if campaign_id is not None:
        campaign = _campaign(campaign_id)
        if campaign.client_id != client.id:
            raise bad_parameter("campaign_id", "the campaign belongs to another client")
    for name in ("from", "to"):
        raw = request.args.get(name, "")
        if raw and (len(raw) != 10 or not _is_date(raw)):
            raise bad_parameter(name, f"{name} must look like 2026-11-30")
    try:
        start, end = reports.parse_range(request.args.get("from") or None, request.args.get("to") or None)
    except reports.ReportError as exc:
        raise bad_parameter("from", str(exc)) from None
    report = reports.build_report(db_session(), client, campaign=campaign, date_from=start, date_to=end,
                                  show_costs=permissions.report_shows_prices(
                                      _user(), service.client_settings(db_session(), client.id).is_costs_in_report))
    return {
        "client_id": client.id, "campaign_id": campaign.id if campaign else None,
        "from": start.isoformat(), "to": end.isoformat(), "generated_at": when(report.generated_at),
        "won": report.won, "live": report.live, "terms_not_met": report.terms_not_met, "lost": report.lost,
        "pending": report.pending,
        "series": [{"date": day.isoformat(), "live": count} for day, count in report.series],
        "rel_split": [{"rel": rel, "count": count} for rel, count in report.rel_split],
        "anchors": [{"anchor": anchor, "count": count} for anchor, count in report.anchors],
        "domains": [{"domain": domain, "links": links, "live": live} for domain, links, live in report.domains],
        "referral_sessions": report.referral_total if report.traffic.has_data else None,
        "referral_series": [{"month": m.isoformat()[:7], "sessions": n} for m, n in report.traffic.series],
        "top_links": [{"backlink_id": row.backlink.id, "page": row.page, "sessions": n}
                      for row, n in report.top_links],
        "losses_by_reason": [{"code": code, "label": label, "count": n} for code, label, n in report.losses],
        "costs": [c.as_json() for c in report.costs] if report.show_costs else None,
        "links": [{"backlink_id": r.backlink.id, "page": r.page, "domain": r.domain, "target": r.target,
                   "status": r.status, "status_label": r.status_label, "http_status": r.http_status,
                   "rel": r.rel, "follow": r.follow,
                   "indexable": r.indexable, "anchor": r.anchor, "last_checked": r.last_checked,
                   "live_since": r.live_since, "problems": r.problems, "reasons": r.reasons,
                   "referral_sessions": r.sessions,
                   "value": r.signals.as_json() if r.signals else None} for r in report.rows],
    }


def _is_date(raw: str) -> bool:
    try:
        date.fromisoformat(raw)
    except ValueError:
        return False
    return True
