"""A crawl job spread over two real Celery workers on PostgreSQL + Redis: each worker process crawls a shard, and the
job's progress and findings stay one job's, the same as a crawl by one process."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from outreach.config import load_settings
from outreach.crawler import jobs
from outreach.db import make_engine, make_sessionmaker
from outreach.jobs.ticks import JobContext
from outreach.lib.secrets import SecretBox
from outreach.migrate import upgrade
from outreach.models.crawl import CrawlShard
from tests.crawler.sites import GeneratedSite
from tests.jobs.test_backends import _redis_up
from tests.runtime.conftest import process_env
from tests.runtime.test_crawl_jobs import KEY, SETTINGS, found, job, queue

ROOT = Path(__file__).resolve().parents[2]
BROKER = "redis://127.0.0.1:6379/10"


@pytest.fixture
def site() -> Iterator[GeneratedSite]:
    generated = GeneratedSite("127.0.0.48", pages=300, delay=0.02)
    yield generated
    generated.close()


def test_two_celery_workers_crawl_one_job_together(pg_url: str, site: GeneratedSite, tmp_path: Path) -> None:
    if not _redis_up():
        if os.environ.get("CI") == "true":
            pytest.fail("Redis on 127.0.0.1:6379 is unreachable")
        pytest.skip("Redis on 127.0.0.1:6379 is unreachable")
    upgrade(pg_url)
    engine = make_engine(pg_url)
    ctx = JobContext(settings=load_settings(overrides={**SETTINGS, "database": {"url": pg_url}}, environ={}),
                     sessionmaker=make_sessionmaker(engine, write=True), secret_box=SecretBox(KEY))
    reference = queue(ctx, site)
    assert jobs.run_one(ctx) is True  # one process, for the findings to expect
    expected = found(ctx, reference)
    site.gets.clear()
    env = process_env(tmp_path, pg_url, PYTHONPATH=str(ROOT), OUTREACH_APP_SECRET_KEY=KEY,
                      OUTREACH_SCHEDULER_BACKEND="celery", OUTREACH_SCHEDULER_BROKER_URL=BROKER,
                      OUTREACH_CRAWL_PROCESSES="2", OUTREACH_CRAWL_ALLOW_PRIVATE_ADDRESSES="true",
                      OUTREACH_CRAWL_PER_HOST_DELAY="0", OUTREACH_CRAWL_CONCURRENCY="4",
                      OUTREACH_CRAWL_PER_HOST_CONCURRENCY="4", OUTREACH_CRAWL_TIMEOUT="5")
    started = []
    try:
        worker = ["worker", "--concurrency", "2"]
        for name, args in (("worker-a", worker), ("worker-b", worker), ("scheduler", ["scheduler"])):
            log = (tmp_path / f"{name}.log").open("wb")
            started.append(subprocess.Popen([sys.executable, "-m", "outreach.cli", *args], env=env, cwd=tmp_path,
                                            stdout=log, stderr=subprocess.STDOUT))
        # both workers consuming before the job is queued: else the first one up may take every shard
        ready_by = time.monotonic() + 120
        while not all(b" ready." in (tmp_path / f"{name}.log").read_bytes() for name in ("worker-a", "worker-b")):
            assert time.monotonic() < ready_by, (tmp_path / "worker-b.log").read_text()[-3000:]
            time.sleep(0.2)
        job_id = queue(ctx, site)
        holders: set[str] = set()
        deadline = time.monotonic() + 180
        while job(ctx, job_id).status in ("queued", "running"):
            assert time.monotonic() < deadline, (tmp_path / "worker-a.log").read_text()[-3000:]
            assert all(p.poll() is None for p in started)
            with ctx.sessionmaker() as session:
                holders |= set(session.scalars(select(CrawlShard.worker).where(CrawlShard.job_id == job_id)))
            time.sleep(0.1)
    finally:
        for process in started:
            process.send_signal(signal.SIGTERM)
        for process in started:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
    done = job(ctx, job_id)
    workers = {f"{os.uname().nodename}:{p.pid}" for p in started[:2]}
    assert holders == workers  # each worker process crawled a shard
    first = job(ctx, reference)
    assert (done.status, done.pages_crawled, done.links_checked, done.broken_found) == (
        "done", first.pages_crawled, first.links_checked, first.broken_found)
    assert found(ctx, job_id) == expected
    assert max(site.page_gets().values()) == 1  # one seen-set: no page fetched by both workers
    engine.dispose()
