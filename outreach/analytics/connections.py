"""A client's Plausible or Matomo, connected by address and token and pulled once a month.

A pull fetches every complete month after the last one stored (the twelve before it on the first pull) through
the guarded fetcher, and stores them like an imported file. The schedule is data: `next_pull_at` is due on the
1st of each month (PULL_HOUR UTC); a tick claims due connections by setting `claimed_until` a lease ahead in one
statement, so two schedulers never pull the same connection, and "pull now" claims the same way. A failed pull
is tried again RETRY_AFTER later.
Functions flush; the caller commits.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from outreach.accounts.service import audit
from outreach.analytics import matomo, plausible
from outreach.analytics.rows import Parsed, month_of
from outreach.analytics.service import ImportSummary, months_between, store
from outreach.config import Settings
from outreach.db import session_scope
from outreach.jobs.claims import claim_rows
from outreach.lib.aio import run_sync
from outreach.lib.clock import utcnow
from outreach.lib.http import Fetcher, FetchSettings, blocked_message
from outreach.lib.secrets import SecretBox
from outreach.lib.urls import BadURL, ensure_http_url
from outreach.models import AnalyticsConnection, Client, User
from outreach.models.analytics import CONNECTION_KINDS

log = logging.getLogger(__name__)

#: a claimed pull not finished by then (its process died) is due again
CLAIM_LEASE = timedelta(minutes=15)
RETRY_AFTER = timedelta(hours=6)
#: the monthly pull runs on the 1st at this hour (UTC): the month before is complete in every time zone
PULL_HOUR = 14
#: months fetched on a connection's first pull
FIRST_PULL_MONTHS = 12
KIND_LABELS = {"plausible": "Plausible", "matomo": "Matomo"}


class BadConnection(ValueError):
    """A one-line reason the connection was refused; `field` names the form field."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def _validated(kind: str, base_url: str, site_id: str, token: str | None) -> tuple[str, str]:
    if kind not in CONNECTION_KINDS:
        raise BadConnection(f"choose {' or '.join(KIND_LABELS.values())}", "kind")
    try:
        url = ensure_http_url(base_url)[:500]
    except BadURL as exc:
        raise BadConnection(f"address: {exc}", "base_url") from None
    site = site_id.strip()
    if kind == "matomo" and not (site.isascii() and site.isdigit()):
        raise BadConnection("Matomo's site id is a number (idSite, under Administration › Websites)", "site_id")
    if kind == "plausible" and (not site or any(ch.isspace() or ch in "/?#" for ch in site)):
        raise BadConnection("Plausible's site id is the site's domain as Plausible shows it (acme.example)",
                               "site_id")
    if token is not None and (not token.strip() or any(ch in token for ch in "\r\n\0")):
        raise BadConnection("paste the API token (one line)", "token")
    return url, site[:200]


def next_monthly_pull(now: datetime) -> datetime:
    """The 1st of next month at PULL_HOUR UTC."""
    first = date(now.year + now.month // 12, now.month % 12 + 1, 1)
    return datetime.combine(first, time(PULL_HOUR), tzinfo=now.tzinfo)


def create_connection(session: Session, box: SecretBox, client: Client, *, kind: str, base_url: str, site_id: str,
                      token: str, actor: User | None = None) -> AnalyticsConnection:
    url, site = _validated(kind, base_url, site_id, token)
    connection = AnalyticsConnection(client_id=client.id, kind=kind, base_url=url, site_id=site,
                                     token_encrypted=box.encrypt(token.strip()), next_pull_at=utcnow(),
                                     last_error="", created_by_id=actor.id if actor else None)
    session.add(connection)
    session.flush()
    audit(session, actor, "analytics.connect", "client", client.id,
          {"connection_id": connection.id, "kind": kind, "base_url": url, "site_id": site})
    return connection


def update_connection(session: Session, box: SecretBox, connection: AnalyticsConnection, *, base_url: str,
                      site_id: str, token: str = "", actor: User | None = None) -> None:
    """Change the address or site (and the token when one is given: a blank token keeps the stored one)."""
    url, site = _validated(connection.kind, base_url, site_id, token or None)
    if (url, site) != (connection.base_url, connection.site_id):
        connection.pulled_through = None  # another site: pull its history afresh
    connection.base_url, connection.site_id = url, site
    if token:
        connection.token_encrypted = box.encrypt(token.strip())
    connection.next_pull_at, connection.last_error = utcnow(), ""
    session.flush()
    audit(session, actor, "analytics.connection_update", "client", connection.client_id,
          {"connection_id": connection.id, "base_url": url, "site_id": site, "token_changed": bool(token)})


def delete_connection(session: Session, connection: AnalyticsConnection, actor: User | None = None) -> None:
    """Stop pulling (the figures already stored stay)."""
    audit(session, actor, "analytics.disconnect", "client", connection.client_id,
          {"connection_id": connection.id, "kind": connection.kind})
    session.delete(connection)
    session.flush()


# --- claims and pulls -------------------------------------------------------------------------------

def claim_due(session: Session, *, limit: int, now: datetime | None = None,
              connection_id: int | None = None) -> list[int]:
    """Claim up to `limit` due connections that no pull holds (a lease of CLAIM_LEASE) in one statement (see
    claim_rows); with `connection_id`, that one whether due or not ("pull now")."""
    now = now or utcnow()
    free = or_(AnalyticsConnection.claimed_until.is_(None), AnalyticsConnection.claimed_until <= now)
    where = ([AnalyticsConnection.id == connection_id, free] if connection_id is not None
             else [AnalyticsConnection.next_pull_at <= now, free])
    return sorted(claim_rows(session, AnalyticsConnection, where=where,
                             order_by=[AnalyticsConnection.next_pull_at, AnalyticsConnection.id], limit=limit,
                             values={"claimed_until": now + CLAIM_LEASE}))


def months_to_pull(connection: AnalyticsConnection, now: datetime) -> list[date]:
    """Every complete month after the last one stored (at most FIRST_PULL_MONTHS)."""
    last_complete = month_of(now.date()) - timedelta(days=1)
    first = (month_of(connection.pulled_through + timedelta(days=32)) if connection.pulled_through
             else month_of(last_complete - timedelta(days=31 * (FIRST_PULL_MONTHS - 1))))
    months = months_between(first, last_complete) if first <= last_complete else []
    return months[-FIRST_PULL_MONTHS:]


@dataclass
class Pull:
    connection_id: int
    kind: str
    base_url: str
    site_id: str
    token: str
    months: list[date]


@dataclass
class PullOutcome:
    connection_id: int
    summary: ImportSummary | None = None
    error: str = ""


async def fetch(fetcher: Fetcher, pull: Pull) -> Parsed:
    """One connection's months, from its API (PullError or a refused address on failure)."""
    refused = await fetcher.refusal(pull.base_url)
    if refused:
        raise plausible.PullError(blocked_message(pull.base_url))
    module = plausible if pull.kind == "plausible" else matomo
    return await module.pull(fetcher, pull.base_url, pull.site_id, pull.token, pull.months)


def pull_claimed(settings: Settings, factory: sessionmaker[Session], box: SecretBox,
                 ids: list[int]) -> list[PullOutcome]:
    """Pull each claimed connection and record what came back, each in its own transaction."""
    now = utcnow()
    pulls: list[Pull] = []
    outcomes: list[PullOutcome] = []
    with session_scope(factory) as session:
        for connection in session.scalars(select(AnalyticsConnection).where(AnalyticsConnection.id.in_(ids))):
            try:
                token = box.decrypt(connection.token_encrypted)
            except ValueError as exc:
                outcomes.append(PullOutcome(connection.id, error=str(exc)))
                continue
            pulls.append(Pull(connection.id, connection.kind, connection.base_url, connection.site_id, token,
                              months_to_pull(connection, now)))

    async def run() -> list[PullOutcome]:
        done = []
        async with Fetcher(FetchSettings.from_settings(settings)) as fetcher:
            for pull in pulls:
                if not pull.months:
                    done.append(PullOutcome(pull.connection_id, ImportSummary(pull.kind, [], 0, 0, 0)))
                    continue
                try:
                    parsed = await fetch(fetcher, pull)
                except (plausible.PullError, matomo.PullError, ValueError) as exc:
                    done.append(PullOutcome(pull.connection_id, error=str(exc)[:500]))
                    continue
                done.append(PullOutcome(pull.connection_id, _stored(factory, pull, parsed)))
        return done

    outcomes += run_sync(run())
    for outcome in outcomes:
        _record(factory, outcome, now)
    return outcomes


def _stored(factory: sessionmaker[Session], pull: Pull, parsed: Parsed) -> ImportSummary:
    with session_scope(factory) as session:
        connection = session.get(AnalyticsConnection, pull.connection_id)
        if connection is None:  # disconnected meanwhile: keep nothing
            return ImportSummary(pull.kind, [], 0, 0, 0)
        summary = store(session, connection.client_id, parsed)
        connection.pulled_through = max(pull.months)
        return summary


def _record(factory: sessionmaker[Session], outcome: PullOutcome, now: datetime) -> None:
    with session_scope(factory) as session:
        connection = session.get(AnalyticsConnection, outcome.connection_id)
        if connection is None:
            return
        connection.last_pulled_at, connection.claimed_until = utcnow(), None
        if outcome.error:
            log.warning("analytics connection %s: %s", connection.id, outcome.error)
            connection.last_error, connection.next_pull_at = outcome.error[:500], now + RETRY_AFTER
        else:
            connection.last_error, connection.next_pull_at = "", next_monthly_pull(now)


def pull_now(settings: Settings, factory: sessionmaker[Session], box: SecretBox,
             connection_id: int) -> PullOutcome | None:
    """Claim this connection and pull it at once; None when another process is pulling it."""
    with session_scope(factory) as session:
        claimed = claim_due(session, limit=1, connection_id=connection_id)
    if not claimed:
        return None
    return pull_claimed(settings, factory, box, claimed)[0]
