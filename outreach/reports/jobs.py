"""The monthly report email: each client with report addresses gets last month's report as a PDF, once."""
from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from outreach.accounts.permissions import report_shows_prices
from outreach.backlinks.service import client_settings
from outreach.db import session_scope
from outreach.jobs.claims import claim_rows
from outreach.jobs.ticks import JobContext
from outreach.lib import appmail
from outreach.lib.clock import utcnow
from outreach.models import AnalyticsConnection, Backlink, Client, ClientLinkSettings, ReportDelivery
from outreach.reports import service

log = logging.getLogger(__name__)

#: a failed delivery is tried again on later ticks, up to this many attempts in all
MAX_ATTEMPTS = 3
#: a client whose analytics connection has not pulled last month yet gets its report when the pull is done, or
#: this long into the month at the latest (the pull runs on the 1st, see outreach.analytics.connections)
WAIT_FOR_PULL = timedelta(days=1)
#: a delivery still "sending" this long after its claim was left by a process that died: it is claimed again
#: (building and sending one report takes seconds; the mail timeouts are far shorter)
CLAIM_LEASE = timedelta(minutes=15)


def last_month(now: datetime) -> tuple[date, date]:
    end = date(now.year, now.month, 1) - timedelta(days=1)
    return date(end.year, end.month, 1), end


def send_monthly_reports(ctx: JobContext) -> int:
    """Claim each (client, month), then build, render and send its report; returns emails sent."""
    start, end = last_month(utcnow())
    period = f"{end:%Y-%m}"
    with session_scope(ctx.sessionmaker) as session:
        opted_out = set(session.scalars(select(ClientLinkSettings.client_id)
                                        .where(ClientLinkSettings.is_monthly_report.is_(False))))
        with_links = set(session.scalars(select(Backlink.client_id).distinct()))
        waiting = _waiting_for_pull(session, start) if utcnow() < _month_start(utcnow()) + WAIT_FOR_PULL else set()
        client_ids = [c for c in session.scalars(select(Client.id).where(Client.report_emails != "")
                                                 .order_by(Client.id))
                      if c in with_links and c not in opted_out and c not in waiting]
    sent = 0
    for client_id in client_ids:
        if ctx.stopping():
            break
        if claim_delivery(ctx.sessionmaker, client_id, period) and _deliver(ctx, client_id, period, start, end):
            sent += 1
    return sent


def _month_start(now: datetime) -> datetime:
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _waiting_for_pull(session: Session, month: date) -> set[int]:
    """Clients with an analytics connection that has not stored `month` yet (its referral figures are coming)."""
    return set(session.scalars(select(AnalyticsConnection.client_id).where(
        (AnalyticsConnection.pulled_through.is_(None)) | (AnalyticsConnection.pulled_through < month))))


def claim_delivery(factory: sessionmaker[Session], client_id: int, period: str, now: datetime | None = None) -> bool:
    """Claim (client, month): insert its delivery row (the unique key lets one process in), or move a failed
    delivery, or one a dead process left in "sending" past its lease, back to sending when it has attempts
    left; False when another process has it or it is done."""
    now = now or utcnow()
    try:
        with session_scope(factory) as session:
            session.add(ReportDelivery(client_id=client_id, period=period, status="sending", attempts=1,
                                       claimed_at=now))
        return True
    except IntegrityError:
        pass
    with session_scope(factory) as session:
        return bool(claim_rows(session, ReportDelivery, where=[
            ReportDelivery.client_id == client_id, ReportDelivery.period == period,
            ReportDelivery.attempts < MAX_ATTEMPTS,
            or_(ReportDelivery.status == "failed",
                (ReportDelivery.status == "sending")
                & or_(ReportDelivery.claimed_at.is_(None), ReportDelivery.claimed_at <= now - CLAIM_LEASE))],
            order_by=[ReportDelivery.id], limit=1,
            values={"status": "sending", "attempts": ReportDelivery.attempts + 1, "claimed_at": now}))


def _deliver(ctx: JobContext, client_id: int, period: str, start: date, end: date) -> bool:
    with session_scope(ctx.sessionmaker) as session:
        client = session.get(Client, client_id)
        delivery = session.scalar(select(ReportDelivery).where(ReportDelivery.client_id == client_id,
                                                               ReportDelivery.period == period))
        assert client is not None and delivery is not None
        recipients = [a.strip() for a in client.report_emails.split(",") if a.strip()]
        delivery.recipients = ", ".join(recipients)[:1000]
        report = service.build_report(session, client, date_from=start, date_to=end, show_costs=report_shows_prices(
            None, client_settings(session, client_id).is_costs_in_report))
        try:
            pdf = service.render_pdf(report)
            email = appmail.render("monthly_report", recipients, f"{report.title} — {start:%B %Y}",
                                   report=report, month=f"{start:%B %Y}")
            email.attachments.append(appmail.Attachment(f"links-{period}.pdf", pdf))
            appmail.send(email, ctx.settings)
        except (service.PdfUnavailable, appmail.MailError) as exc:
            log.warning("monthly report of client %s for %s not sent: %s", client_id, period, exc)
            delivery.status, delivery.error = "failed", str(exc)[:500]
            return False
        delivery.status, delivery.sent_at, delivery.error = "sent", utcnow(), ""
        return True
