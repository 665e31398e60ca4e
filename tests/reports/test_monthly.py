"""The monthly report email: once per client and month, PDF attached, retried after a failure."""
from __future__ import annotations

import email
import email.policy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any

import time_machine
from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from outreach.jobs.ticks import JobContext
from outreach.lib.clock import utcnow
from outreach.models import Backlink, Client, ClientLinkSettings, ReportDelivery
from outreach.reports.jobs import CLAIM_LEASE, MAX_ATTEMPTS, claim_delivery, send_monthly_reports
from tests.conftest import free_port
from tests.race import race_rounds

NOVEMBER_1 = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


def outbox(ctx: JobContext) -> list[email.message.EmailMessage]:
    folder = Path(ctx.settings.mail.outbox_dir)
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
            for p in sorted(folder.glob("*.eml"))] if folder.exists() else []


def _clear(ctx: JobContext) -> None:
    for path in Path(ctx.settings.mail.outbox_dir).glob("*.eml"):
        path.unlink()


def test_it_sends_last_months_report_once_with_the_pdf(db: Session, ctx: JobContext, team: dict[str, Any],
                                                       history: dict[str, Backlink]) -> None:
    _clear(ctx)
    team["client"].report_emails = "boss@acme.test, seo@acme.test"
    team["other_client"].report_emails = ""
    db.commit()
    with time_machine.travel(NOVEMBER_1, tick=False):
        assert send_monthly_reports(ctx) == 1
        assert send_monthly_reports(ctx) == 0
    [message] = outbox(ctx)
    assert message["To"] == "boss@acme.test, seo@acme.test"
    assert message["Subject"] == "Link report: Acme Widgets — October 2026"
    assert "Links won:          2" in message.get_body(("plain",)).get_content()
    [pdf] = list(message.iter_attachments())
    assert pdf.get_filename() == "links-2026-10.pdf" and pdf.get_content().startswith(b"%PDF")
    db.rollback()
    delivery = db.scalar(select(ReportDelivery))
    assert delivery.period == "2026-10" and delivery.status == "sent" and delivery.attempts == 1


def test_a_failed_delivery_is_retried_and_an_opted_out_client_gets_none(
        db: Session, ctx: JobContext, team: dict[str, Any], history: dict[str, Backlink]) -> None:
    _clear(ctx)
    team["client"].report_emails = "boss@acme.test"
    team["other_client"].report_emails = "ceo@other.test"
    db.add(ClientLinkSettings(client_id=team["other_client"].id, is_monthly_report=False))
    db.commit()
    ctx.settings = ctx.settings.with_(alerts={"smtp_host": "127.0.0.1", "smtp_port": free_port()})
    with time_machine.travel(NOVEMBER_1, tick=False):
        assert send_monthly_reports(ctx) == 0
        db.rollback()
        failed = db.scalar(select(ReportDelivery))
        assert failed.status == "failed" and "SMTP" in failed.error
        ctx.settings = ctx.settings.with_(alerts={"smtp_host": ""})
        assert send_monthly_reports(ctx) == 1
    db.rollback()
    db.expire_all()
    deliveries = db.scalars(select(ReportDelivery)).all()
    assert [(d.client_id, d.status, d.attempts) for d in deliveries] == [(team["client"].id, "sent", 2)]
    assert [m["To"] for m in outbox(ctx)] == ["boss@acme.test"]


def test_two_schedulers_claim_each_clients_month_once(app: Flask, db: Session,
                                                      make_client: Callable[..., Client]) -> None:
    """Even rounds claim a new month (inserting its rows), odd rounds retry that month's failed deliveries."""
    factory = app.extensions["outreach"].sessionmaker
    clients = [make_client().id for _ in range(5)]
    rounds = count()
    month = [""]

    def prepare() -> list[tuple[int, str]]:
        i = next(rounds)
        if i % 2 == 0:
            month[0] = f"2026-{i // 2 + 1:02d}"
        else:
            db.execute(update(ReportDelivery).where(ReportDelivery.period == month[0]).values(status="failed"))
            db.commit()
        return [(client_id, month[0]) for client_id in clients]

    def claim(_: Session) -> list[tuple[int, str]]:
        return [(client_id, month[0]) for client_id in clients if claim_delivery(factory, client_id, month[0])]

    race_rounds(factory, prepare, claim)


def test_a_client_with_analytics_gets_its_report_once_last_month_is_pulled(
        db: Session, ctx: JobContext, team: dict[str, Any], history: dict[str, Backlink]) -> None:
    """The pull of last month's referral figures runs on the 1st: the report waits for it (a day at most)."""
    from datetime import date, timedelta

    from outreach.analytics.connections import create_connection

    _clear(ctx)
    team["client"].report_emails = "boss@acme.test"
    team["other_client"].report_emails = ""
    connection = create_connection(db, ctx.secret_box, team["client"], kind="matomo",
                                   base_url="https://matomo.example", site_id="3", token="t")
    connection.pulled_through = date(2026, 9, 1)
    db.commit()
    with time_machine.travel(NOVEMBER_1, tick=False):
        assert send_monthly_reports(ctx) == 0  # October not pulled yet
    connection.pulled_through = date(2026, 10, 1)
    db.commit()
    with time_machine.travel(NOVEMBER_1 + timedelta(hours=1), tick=False):
        assert send_monthly_reports(ctx) == 1
    assert len(outbox(ctx)) == 1


def test_a_failing_pull_holds_the_report_back_for_a_day_at_most(
        db: Session, ctx: JobContext, team: dict[str, Any], history: dict[str, Backlink]) -> None:
    from datetime import timedelta

    from outreach.analytics.connections import create_connection

    _clear(ctx)
    team["client"].report_emails = "boss@acme.test"
    team["other_client"].report_emails = ""
    create_connection(db, ctx.secret_box, team["client"], kind="matomo", base_url="https://matomo.example",
                      site_id="3", token="t")
    db.commit()
    with time_machine.travel(NOVEMBER_1 + timedelta(hours=13), tick=False):
        assert send_monthly_reports(ctx) == 0
    with time_machine.travel(NOVEMBER_1 + timedelta(days=1), tick=False):
        assert send_monthly_reports(ctx) == 1


def test_a_delivery_a_dead_sender_left_sending_is_claimed_again_once_its_lease_ran_out(
        app: Flask, db: Session, make_client: Callable[..., Client]) -> None:
    factory = app.extensions["outreach"].sessionmaker
    clients = [make_client().id for _ in range(5)]
    with time_machine.travel(NOVEMBER_1, tick=False):
        assert all(claim_delivery(factory, client_id, "2026-10") for client_id in clients)
    # the sender died: its deliveries stay "sending", held for the lease, then anyone may take each one once
    with time_machine.travel(NOVEMBER_1 + CLAIM_LEASE - timedelta(seconds=1), tick=False):
        assert not any(claim_delivery(factory, client_id, "2026-10") for client_id in clients)
    db.execute(update(ReportDelivery).values(claimed_at=None))  # rows claimed before claims had a time
    db.commit()

    def left_sending() -> list[int]:
        db.execute(update(ReportDelivery).where(ReportDelivery.claimed_at.is_not(None))
                   .values(claimed_at=utcnow() - CLAIM_LEASE - timedelta(minutes=1), attempts=1))
        db.commit()
        return clients

    def claim(_: Session) -> list[int]:
        return [client_id for client_id in clients if claim_delivery(factory, client_id, "2026-10")]

    race_rounds(factory, left_sending, claim)
    db.expire_all()
    assert {(d.status, d.attempts) for d in db.scalars(select(ReportDelivery))} == {("sending", 2)}
    with time_machine.travel(utcnow() + CLAIM_LEASE + timedelta(minutes=1), tick=False):
        db.execute(update(ReportDelivery).values(attempts=MAX_ATTEMPTS))
        db.commit()
        assert not any(claim_delivery(factory, client_id, "2026-10") for client_id in clients)  # no attempts left
