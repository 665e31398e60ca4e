"""The one run lifecycle and runner loop: cancel, heartbeat, interruption and endings work the same for every kind."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from flask import Flask
from sqlalchemy import update
from sqlalchemy.orm import Session

from outreach.config import load_settings
from outreach.contacts.runs import start_find
from outreach.crawler.service import start_crawl
from outreach.discovery.prospecting import service as prospecting
from outreach.discovery.search.runs import start_search
from outreach.jobs.ticks import JobContext
from outreach.lib.clock import utcnow
from outreach.models import Campaign
from outreach.runs import lifecycle, runner
from outreach.runs.lifecycle import RunMixin
from outreach.runs.runner import Ending, RunControl
from tests.race import race_rounds

SEARCH = load_settings(None, {"search": {"provider": "brave", "api_key": "k", "endpoint": "http://127.0.0.1:9/"}},
                       environ={})
#: every kind of run, each queued the way its page queues it
KINDS: dict[str, Callable[[Session, Campaign], RunMixin]] = {
    "crawl": lambda db, c: start_crawl(db, ["https://a.test/"], max_pages=5, campaign=c),
    "guest_posts": lambda db, c: prospecting.start_run(db, c, "guest_posts", ["https://a.test/"], max_pages=5),
    "search": lambda db, c: start_search(db, c, "guest_posts", ["widgets"], per_query=5, settings=SEARCH),
    "contacts": lambda db, c: start_find(db, c, "https://a.test/contact"),
}


@pytest.fixture(params=sorted(KINDS))
def queued(request: pytest.FixtureRequest, db: Session, make_campaign: Callable[..., Campaign]) -> RunMixin:
    run = KINDS[request.param](db, make_campaign())
    db.commit()
    return run


def ctx_for(app: Flask, stopping: Callable[[], bool] = lambda: False) -> JobContext:
    state = app.extensions["outreach"]
    return JobContext(settings=state.settings, sessionmaker=state.sessionmaker, secret_box=state.secret_box,
                      stopping=stopping)


def fresh(db: Session, run: RunMixin) -> Any:
    db.expire_all()
    return db.get(type(run), run.id)


def test_a_queued_run_is_cancelled_at_once_and_never_runs(app: Flask, db: Session, queued: RunMixin) -> None:
    lifecycle.request_cancel(db, queued)
    db.commit()
    assert (queued.status, queued.is_cancel_requested, queued.percent) == ("cancelled", True, 100)
    assert runner.run_one(ctx_for(app), type(queued), lambda *_: Ending()) is False
    with pytest.raises(lifecycle.RunFinished, match=f"{type(queued).noun} {queued.id} has already finished"):
        lifecycle.request_cancel(db, queued)


def test_a_running_run_sees_the_cancel_at_its_next_heartbeat_and_ends_cancelled_with_its_results(
        app: Flask, db: Session, queued: RunMixin) -> None:
    model = type(queued)
    seen: list[bool] = []
    saved: list[int] = []

    def work(ctx: JobContext, run: Any, control: RunControl) -> Ending:
        seen.append(control.report())
        with ctx.sessionmaker() as session, session.begin():  # the user presses cancel
            lifecycle.request_cancel(session, session.get(model, run.id))
        seen.append(control.report(**{model.counters[0]: 7}))
        return Ending("done", counters={model.counters[0]: 9}, stopped=control.should_stop(),
                      save=lambda session, done: saved.append(done.id))

    assert runner.run_one(ctx_for(app), model, work) is True
    assert seen == [False, True]
    run = fresh(db, queued)
    assert (run.status, getattr(run, model.counters[0]), saved) == ("cancelled", 9, [run.id])
    assert run.finished_at is not None and run.is_finished


def test_a_run_whose_heartbeat_stopped_is_taken_over_and_its_old_worker_loses_it(app: Flask, db: Session,
                                                                                  queued: RunMixin) -> None:
    model = type(queued)
    run = lifecycle.claim_next(db, model, "gone-host:1")
    db.commit()
    assert (run.id, run.status, run.worker) == (queued.id, "running", "gone-host:1")
    assert lifecycle.heartbeat(db, model, run.id, "gone-host:1", **{model.counters[0]: 3}) == (False, True)
    db.commit()
    ran: list[int] = []

    def work(ctx: JobContext, run: Any, control: RunControl) -> Ending:
        ran.append(run.id)
        return Ending()

    assert runner.run_queued(ctx_for(app), model, work) == 0  # its heartbeat is fresh: still the other's
    interval = app.extensions["outreach"].settings.scheduler.run_heartbeat_seconds
    with time_machine.travel(utcnow() + timedelta(seconds=interval + 1)):
        assert runner.run_queued(ctx_for(app), model, work) == 1
    run = fresh(db, queued)
    assert (ran, run.status, run.worker) == ([queued.id], "done", lifecycle.worker_name())
    # the process that was only stalled learns at its next heartbeat that the run is no longer its own
    assert lifecycle.heartbeat(db, model, run.id, "gone-host:1") == (False, False)


def test_two_workers_taking_over_the_same_stale_run_only_one_wins(app: Flask, db: Session, queued: RunMixin) -> None:
    model = type(queued)
    factory = app.extensions["outreach"].sessionmaker

    def prepare() -> list[int]:
        with factory() as session, session.begin():
            session.execute(update(model).where(model.id == queued.id).values(
                status="running", worker="gone-host:1", heartbeat_at=utcnow() - timedelta(hours=1)))
        return [queued.id]

    def claim(session: Session) -> list[int]:
        run = lifecycle.claim_next(session, model, "racer", stale_after=timedelta(seconds=30))
        return [run.id] if run else []

    race_rounds(factory, prepare, claim, rounds=5)


def test_work_that_raises_fails_the_run_and_the_loop_goes_on(app: Flask, db: Session, queued: RunMixin) -> None:
    def work(ctx: JobContext, run: Any, control: RunControl) -> Ending:
        raise RuntimeError("the disk is full")

    assert runner.run_queued(ctx_for(app), type(queued), work) == 1
    run = fresh(db, queued)
    assert (run.status, run.error) == ("failed", "RuntimeError: the disk is full")


def test_a_run_stopped_by_a_shutdown_goes_back_to_the_queue(app: Flask, db: Session, queued: RunMixin) -> None:
    stopping = [False]

    def work(ctx: JobContext, run: Any, control: RunControl) -> Ending:
        stopping[0] = True  # SIGTERM arrives mid-run
        return Ending(stopped=control.should_stop(), save=lambda *_: pytest.fail("a requeued run saves nothing"))

    assert runner.run_one(ctx_for(app, lambda: stopping[0]), type(queued), work) is True
    run = fresh(db, queued)
    assert (run.status, run.started_at, run.worker) == ("queued", None, "")
    assert run.error == "restarted after the app shut down"


def test_a_shutdown_puts_a_busy_run_back_in_the_queue_before_its_work_ends(app: Flask, db: Session,
                                                                           queued: RunMixin) -> None:
    stopping = threading.Event()
    seen: list[tuple[str, bool]] = []

    def work(ctx: JobContext, run: Any, control: RunControl) -> Ending:
        stopping.set()  # SIGTERM arrives while the work is busy in something long (a slow fetch)
        deadline = time.monotonic() + 5
        while not control.lost and time.monotonic() < deadline:
            time.sleep(0.05)
        seen.append((fresh(db, queued).status, control.should_stop()))
        return Ending(save=lambda *_: pytest.fail("a requeued run ends nothing"))

    assert runner.run_one(ctx_for(app, stopping.is_set), type(queued), work) is True
    assert seen == [("queued", True)]
    assert fresh(db, queued).status == "queued"


@pytest.mark.parametrize("status", ["done", "refused"])
def test_work_ends_the_run_as_it_says(app: Flask, db: Session, queued: RunMixin, status: str) -> None:
    assert runner.run_one(ctx_for(app), type(queued), lambda *_: Ending(status, "why" if status != "done" else ""))
    run = fresh(db, queued)
    assert (run.status, run.percent, run.elapsed_seconds >= 0) == (status, 100, True)
