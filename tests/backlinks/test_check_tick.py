"""The check tick records each check as it finishes, holds a lease on the checks it runs, and goes on while
backlinks are due. Killed mid-batch (SIGKILL, a real process), what it finished is recorded and the rest is
checked by the next tick once its lease runs out: nothing is checked twice but the checks in flight."""
from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outreach.backlinks import jobs, service
from outreach.backlinks.jobs import check_due
from outreach.jobs.ticks import JobContext
from outreach.lib.clock import utcnow
from outreach.models import Backlink, BacklinkCheck
from tests.backlinks.conftest import TARGET
from tests.jobs.killable import kill, start_tick, wait_until
from tests.lib.testweb import TestWeb, send
from tests.race import together

ARTICLE = f'<html><body><p>Our picks</p><a href="{TARGET}">Acme widgets</a></body></html>'


@pytest.fixture
def gate(web: TestWeb) -> Iterator[threading.Event]:
    """/slow-N pages that answer (with the link) only once the gate is opened."""
    opened = threading.Event()

    def slow(req: http.server.BaseHTTPRequestHandler) -> None:
        opened.wait(60)
        send(req, 200, ARTICLE)

    web.fallback = lambda req: slow(req) if req.path.startswith("/slow-") else send(req, 404, "no")
    yield opened
    opened.set()


def add_backlinks(db: Session, client_id: int, urls: list[str]) -> list[int]:
    ids = [service.create_backlink(db, client_id=client_id, target_url=TARGET, page_url=url).id for url in urls]
    db.commit()
    return ids


def checks_by_backlink(db: Session) -> dict[int, int]:
    db.commit()
    return dict(db.execute(select(BacklinkCheck.backlink_id, func.count()).group_by(BacklinkCheck.backlink_id)).all())


def test_a_killed_tick_keeps_each_finished_check_and_the_next_tick_checks_only_the_rest(
        db: Session, web: TestWeb, gate: threading.Event, ctx: JobContext, make_client: Callable[..., Any],
        tmp_path: Path) -> None:
    for i in range(8):
        web.page(f"/fast-{i}", ARTICLE)
    client = make_client("Acme")
    fast = add_backlinks(db, client.id, [web.url(f"/fast-{i}") for i in range(8)])
    slow_ids = add_backlinks(db, client.id, [web.url(f"/slow-{i}") for i in range(4)])

    settings = ctx.settings
    overrides = {"app": {"secret_key": settings.app.secret_key}, "database": {"url": settings.database.url},
                 "crawl": {"allow_private_addresses": True, "per_host_delay": 0.0, "per_host_concurrency": 16,
                           "timeout": 60.0},
                 "mail": {"outbox_dir": settings.mail.outbox_dir}}
    log = tmp_path / "tick.log"
    process = start_tick("backlinks.check", overrides, log)
    try:
        wait_until(lambda: len(checks_by_backlink(db)) == 8 and all(web.hits[f"/slow-{i}"] for i in range(4)),
                   process, log)
    finally:
        kill(process)
        gate.set()

    assert checks_by_backlink(db) == dict.fromkeys(fast, 1)  # every finished check was recorded
    db.expire_all()
    backlinks = {b.id: b for b in db.scalars(select(Backlink))}
    assert {backlinks[i].status for i in fast} == {"live"}
    for i in slow_ids:  # still held by the dead tick: its lease, not a due time
        assert backlinks[i].status == "pending" and backlinks[i].last_checked_at is None
        assert backlinks[i].next_check_at > backlinks[i].created_at + timedelta(seconds=60)

    with time_machine.travel(utcnow() + service.CLAIM_LEASE + timedelta(seconds=1)):
        assert check_due(ctx) == 4
    assert checks_by_backlink(db) == dict.fromkeys(fast + slow_ids, 1)
    assert [web.hits[f"/fast-{i}"] for i in range(8)] == [1] * 8
    assert [web.hits[f"/slow-{i}"] for i in range(4)] == [2] * 4  # in flight when the tick died, then again


def test_a_tick_renews_the_lease_of_a_long_check_and_keeps_claiming_while_backlinks_are_due(
        db: Session, web: TestWeb, gate: threading.Event, ctx: JobContext, make_client: Callable[..., Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jobs, "RENEW_EVERY", 0.1)
    for i in range(6):
        web.page(f"/fast-{i}", ARTICLE)
    client = make_client("Acme")
    [slow] = add_backlinks(db, client.id, [web.url("/slow-0")])
    fast = add_backlinks(db, client.id, [web.url(f"/fast-{i}") for i in range(6)])

    def watch() -> int:
        leases, give_up = set(), time.monotonic() + 30
        while len(leases) < 3 and time.monotonic() < give_up:  # due, claimed, renewed while the page hangs
            db.commit()
            lease, checked = db.execute(select(Backlink.next_check_at, Backlink.last_checked_at)
                                        .where(Backlink.id == slow)).one()
            if checked is None:  # (the fetch times out after [crawl] timeout; its result is no lease)
                leases.add(lease)
            time.sleep(0.02)
        gate.set()
        return len(leases)

    done, leases = together(lambda i: check_due(ctx, in_flight=2) if i == 0 else watch())
    assert leases == 3
    assert done == 7  # two at a time, claiming again as they finish
    assert checks_by_backlink(db) == dict.fromkeys([slow, *fast], 1)


def test_a_tick_told_to_stop_gives_back_the_checks_it_holds(
        db: Session, web: TestWeb, gate: threading.Event, ctx: JobContext, make_client: Callable[..., Any]) -> None:
    client = make_client("Acme")
    slow = add_backlinks(db, client.id, [web.url(f"/slow-{i}") for i in range(2)])  # two: the host's limit
    ctx.stopping = lambda: all(web.hits[f"/slow-{i}"] for i in range(2))
    started = utcnow()
    assert check_due(ctx) == 0
    assert checks_by_backlink(db) == {}
    db.expire_all()
    for i in slow:
        assert started <= db.get(Backlink, i).next_check_at <= utcnow()  # due again at once


def test_two_ticks_at_once_share_the_due_backlinks_and_check_each_once(
        db: Session, web: TestWeb, ctx: JobContext, make_client: Callable[..., Any]) -> None:
    """Scale-out: a second worker's tick claims the next due backlinks while the first holds its own."""
    for i in range(12):
        web.page(f"/fast-{i}", ARTICLE)
    ids = add_backlinks(db, make_client("Acme").id, [web.url(f"/fast-{i}") for i in range(12)])
    assert sum(together(lambda _: check_due(ctx, in_flight=3))) == 12
    assert checks_by_backlink(db) == dict.fromkeys(ids, 1)
    assert [web.hits[f"/fast-{i}"] for i in range(12)] == [1] * 12
