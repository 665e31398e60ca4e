"""/healthz, /readyz, /metrics, the Status page and the stale-scheduler alert, on SQLite and PostgreSQL."""
from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.backlinks.service import create_backlink
from outreach.health import alerts, views
from outreach.health.heartbeat import beat, scheduler_state
from outreach.jobs import tick_stats
from outreach.lib.clock import utcnow
from outreach.migrate import head
from outreach.models import Client, CrawlJob, Notification, SchedulerHeartbeat, User
from tests.conftest import PASSWORD, change_settings
from tests.race import together

TOKEN = "a-metrics-token-of-some-length"


def _beat(db: Session, name: str = "sched-host:101", ago: float = 0.0) -> None:
    now = utcnow() - timedelta(seconds=ago)
    beat(db, name, now, now=now)
    db.commit()


def test_healthz_answers_without_a_login_or_an_admin(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json()["status"] == "ok"
    assert client.get("/").status_code == 302  # every other page still leads to the setup page


def test_readyz_needs_the_schema_at_head_and_a_fresh_scheduler(client: FlaskClient, db: Session, at_head: None
                                                               ) -> None:
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"] == {"database": "ok", "schema": "ok",
                                              "scheduler": "no scheduler has recorded a heartbeat yet"}
    _beat(db)
    response = client.get("/readyz")
    assert (response.status_code, response.get_json()["status"]) == (200, "ready")
    _beat(db, ago=121)  # the same scheduler, silent for longer than [health] scheduler_stale_seconds
    body = client.get("/readyz").get_json()
    assert body["status"] == "not ready" and body["checks"]["scheduler"].startswith("no scheduler heartbeat for 12")


def test_readyz_fails_on_an_unmigrated_database(client: FlaskClient, db: Session, database_url: str) -> None:
    from alembic import command

    from outreach.migrate import alembic_config, revisions

    command.stamp(alembic_config(database_url), revisions()[-2])  # the code is one migration ahead
    _beat(db)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["schema"] == (f"the database is at revision {revisions()[-2]}, "
                                                       f"the code expects {head()}")


def test_metrics_need_the_configured_token(app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    assert client.get("/metrics").status_code == 404  # no token configured: no endpoint
    change_settings(app, monkeypatch, metrics={"token": TOKEN})
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong-token-of-some-length"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def _metrics(client: FlaskClient) -> dict[str, float]:
    from prometheus_client.parser import text_string_to_metric_families

    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    values = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            values[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return values


def test_metrics_show_queues_jobs_and_tick_totals(app: Flask, client: FlaskClient, db: Session, at_head: None,
                                                  make_client: Callable[..., Client],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    change_settings(app, monkeypatch, metrics={"token": TOKEN})
    acme = make_client()
    for n in range(3):
        create_backlink(db, client_id=acme.id, target_url="https://acme.test/", page_url=f"https://pub.test/{n}")
    db.add_all([CrawlJob(seeds=["https://a.test/"]), CrawlJob(seeds=["https://b.test/"]),
                CrawlJob(seeds=["https://c.test/"], status="running", started_at=utcnow(), heartbeat_at=utcnow())])
    db.commit()
    _beat(db, ago=5)
    factory = app.extensions["outreach"].sessionmaker
    tick_stats.record("mail.send", 4, False, 0.5)
    tick_stats.record("mail.send", 2, False, 0.25)
    tick_stats.record("backlinks.check", 0, True, 1.0)
    assert tick_stats.flush(factory) == 2
    tick_stats.record("mail.send", 1, False, 0.5)  # another process adds to the same totals
    tick_stats.flush(factory)

    values = _metrics(client)
    assert values["outreach_backlinks_due"] == 3
    assert values["outreach_messages_due"] == 0
    assert (values["outreach_runs_queued"], values["outreach_runs_running"]) == (2, 1)
    assert values["outreach_jobs{kind=broken_links,state=queued}"] == 2
    assert values["outreach_emails_sent_total"] == 7
    assert values["outreach_tick_runs_total{tick=mail.send}"] == 3
    assert values["outreach_tick_duration_seconds_total{tick=mail.send}"] == 1.25
    assert values["outreach_tick_last_duration_seconds{tick=mail.send}"] == 0.5
    assert values["outreach_tick_errors_total{tick=backlinks.check}"] == 1
    assert values["outreach_backlink_checks_total"] == 0
    assert 5 <= values["outreach_scheduler_heartbeat_age_seconds"] < 60
    assert values["outreach_scheduler_up"] == 1 and values["outreach_schema_at_head"] == 1


def test_a_beat_keeps_one_row_per_scheduler_and_forgets_long_dead_ones(db: Session, app: Flask) -> None:
    _beat(db, "host-a:1", ago=2 * 86400)
    _beat(db, "host-b:2", ago=30)
    _beat(db, "host-b:2")
    settings = app.extensions["outreach"].settings
    state = scheduler_state(db, settings)
    assert [row.name for row in state.schedulers] == ["host-b:2"] and state.is_fresh


def _notes(db: Session) -> int:
    """How many notifications there are now (ending the session's last read: SQLite keeps a snapshot)."""
    db.rollback()
    return len(db.scalars(select(Notification)).all())


def _admins(make_user: Callable[..., User]) -> list[User]:
    return [make_user("boss@agency.test", role="admin"), make_user("ops@agency.test", role="admin"),
            make_user("member@agency.test")]


def test_a_stale_scheduler_alerts_the_admins_once_per_outage(app: Flask, db: Session, empty_outbox: Path,
                                                             make_user: Callable[..., User]) -> None:
    boss, ops, _member = _admins(make_user)
    state = app.extensions["outreach"]
    _beat(db, ago=300)
    assert alerts.watch(state.sessionmaker, state.settings) is None
    notes = db.scalars(select(Notification).order_by(Notification.user_id)).all()
    assert [(n.user_id, n.kind, n.link) for n in notes] == [(boss.id, "scheduler_stale", "/status"),
                                                           (ops.id, "scheduler_stale", "/status")]
    assert notes[0].title == "The scheduler has stopped: no heartbeat for 5 min"
    emails = list(empty_outbox.glob("*.eml"))
    assert len(emails) == 1
    text = emails[0].read_text()
    assert "boss@agency.test, ops@agency.test" in text and "member@agency.test" not in text
    alerts.watch(state.sessionmaker, state.settings)  # the same outage: nothing more
    assert _notes(db) == 2 and len(list(empty_outbox.glob("*.eml"))) == 1

    _beat(db)  # it came back ...
    assert alerts.watch(state.sessionmaker, state.settings) is None
    assert _notes(db) == 2
    with time_machine.travel(utcnow() + timedelta(minutes=10)):  # ... and stopped again: a new alert
        alerts.watch(state.sessionmaker, state.settings)
    assert _notes(db) == 4 and len(list(empty_outbox.glob("*.eml"))) == 2


def test_two_processes_looking_at_once_alert_once(app: Flask, db: Session, empty_outbox: Path,
                                                  make_user: Callable[..., User]) -> None:
    _admins(make_user)
    state = app.extensions["outreach"]
    for attempt in range(5):
        db.execute(SchedulerHeartbeat.__table__.delete())
        db.execute(Notification.__table__.delete())
        db.commit()
        _beat(db, f"host:{attempt}", ago=600)
        together(lambda _i: alerts.watch(state.sessionmaker, state.settings), workers=3)
        assert _notes(db) == 2, f"attempt {attempt}"
    assert len(list(empty_outbox.glob("*.eml"))) == 5


def test_an_email_that_could_not_leave_is_sent_at_the_next_look(app: Flask, db: Session, empty_outbox: Path,
                                                                make_user: Callable[..., User],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import free_port

    _admins(make_user)
    state = app.extensions["outreach"]
    _beat(db, ago=300)
    broken = state.settings.with_(alerts={"smtp_host": "127.0.0.1", "smtp_port": free_port()})  # nobody listens
    alerts.watch(state.sessionmaker, broken)
    assert list(empty_outbox.glob("*.eml")) == []
    alerts.watch(state.sessionmaker, state.settings)
    assert len(list(empty_outbox.glob("*.eml"))) == 1
    assert _notes(db) == 2  # the in-app alert was not repeated


def test_the_status_page_shows_the_heartbeat_to_admins_only(
        app: Flask, db: Session, login: Callable[[User], FlaskClient], make_user: Callable[..., User],
        at_head: None, empty_outbox: Path) -> None:
    admin, _ops, member = _admins(make_user)
    other = app.test_client()
    assert other.post("/login", data={"email": member.email, "password": PASSWORD}).status_code == 302
    assert other.get("/status").status_code == 403
    client = login(admin)
    page = client.get("/status").get_data(as_text=True)
    assert "No scheduler has recorded a heartbeat yet" in page
    assert 'href="/status"' in page  # in the admin's navigation
    _beat(db, "sched-host:77", ago=3)
    page = client.get("/status").get_data(as_text=True)
    assert "running" in page and "sched-host:77" in page and f"Schema at revision {head()}" in page
    _beat(db, "sched-host:77", ago=400)
    page = client.get("/status").get_data(as_text=True)
    assert "No heartbeat for" in page and "400 s" in page
    assert "The admins were alerted in the app and by email" in page
    assert db.scalar(select(Notification.title).where(Notification.user_id == admin.id)).startswith(
        "The scheduler has stopped")


def test_any_page_makes_the_web_process_look_at_the_heartbeat(
        app: Flask, db: Session, client: FlaskClient, make_user: Callable[..., User], empty_outbox: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    _admins(make_user)
    _beat(db, ago=300)
    monkeypatch.setattr(views, "_next_watch", 0.0)
    client.get("/login")
    assert views.last_watch is not None
    views.last_watch.join(timeout=60)
    assert _notes(db) == 2
    client.get("/login")  # the next look is a minute away
    assert _notes(db) == 2
