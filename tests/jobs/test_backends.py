"""Ticks run in-process (threads) or on workers fed over Redis (celery)."""
from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator

import pytest

from outreach.config import Settings
from outreach.jobs import schedule, ticks
from outreach.jobs.ticks import JobContext, Tick
from tests.jobs import sample_ticks

SAMPLE = Tick(id="test.sample", func=sample_ticks.touch, seconds=3600)


@pytest.fixture
def sample_tick() -> Iterator[Tick]:
    sample_ticks.RAN.clear()
    sample_ticks.DONE.clear()
    schedule.TICKS.append(SAMPLE)
    yield SAMPLE
    schedule.TICKS.remove(SAMPLE)


def context(marker: str, backend: str = "threads", broker_url: str = "") -> JobContext:
    # the marker travels as the secret key: the tick reads it back from the worker's settings
    settings = Settings().with_(app={"secret_key": marker}, scheduler={"workers": 2, "tick_seconds": 3600,
                                                                       "backend": backend, "broker_url": broker_url})
    return JobContext(settings=settings, sessionmaker=None, secret_box=None)  # type: ignore[arg-type]


def test_the_scheduler_declares_every_tick_with_coalescing(sample_tick: Tick) -> None:
    from outreach.jobs.scheduler import HEARTBEAT_JOB, build_scheduler

    scheduler = build_scheduler(context("x"))
    scheduler.start(paused=True)
    try:
        job = next(j for j in scheduler.get_jobs() if j.id == "test.sample")
        assert job.coalesce is True and job.max_instances == 1 and job.misfire_grace_time == 60
        # every tick, and the scheduler's own heartbeat (which runs in the scheduler whatever the backend)
        assert {j.id for j in scheduler.get_jobs()} == {t.id for t in schedule.TICKS} | {HEARTBEAT_JOB}
        assert {"mail.send", "backlinks.check", "crawl-jobs", "reports.monthly"} < {t.id for t in schedule.TICKS}
    finally:
        scheduler.shutdown(wait=False)


def test_a_failing_tick_is_logged_not_raised(sample_tick: Tick, caplog: pytest.LogCaptureFixture) -> None:
    broken = Tick(id="test.broken", func=sample_ticks.fail)
    assert ticks.run_tick(broken, context("x")) == 0
    assert "tick test.broken failed" in caplog.text


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=2):
            return True
    except OSError:
        return False


def test_a_celery_worker_runs_an_enqueued_tick(sample_tick: Tick) -> None:
    import os

    if not _redis_up():
        if os.environ.get("CI") == "true":
            pytest.fail("Redis on 127.0.0.1:6379 is unreachable")
        pytest.skip("Redis on 127.0.0.1:6379 is unreachable")
    from celery.contrib.testing.worker import start_worker

    from outreach.jobs.celery_backend import enqueue_tick, make_celery, set_worker_context

    broker = "redis://127.0.0.1:6379/15"
    app = make_celery(broker)
    app.conf.task_default_queue = f"outreach-test-{uuid.uuid4().hex[:8]}"
    marker = uuid.uuid4().hex
    set_worker_context(context(marker, "celery", broker))
    with start_worker(app, pool="threads", concurrency=1, perform_ping_check=False, loglevel="WARNING"):
        enqueue_tick(app, sample_tick, expires_seconds=60)
        assert sample_ticks.DONE.wait(30)
    assert [marker] == sample_ticks.RAN
