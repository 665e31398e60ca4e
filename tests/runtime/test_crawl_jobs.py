"""Crawl jobs under a real `outreach scheduler` process on SQLite and PostgreSQL: SIGTERM puts the running crawl back
in the queue within 5 s and the process exits; SIGKILL leaves it to be taken over within one heartbeat interval.
Either way the job keeps the findings it had saved, resumes from its saved frontier, ends with the findings of a
crawl never stopped, and fetches no page twice but those in flight."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from outreach.config import load_settings
from outreach.crawler import jobs
from outreach.crawler.service import start_crawl
from outreach.db import make_engine, make_sessionmaker
from outreach.jobs.ticks import JobContext
from outreach.lib.clock import utcnow
from outreach.lib.secrets import SecretBox
from outreach.migrate import upgrade
from outreach.models.crawl import CrawlFinding, CrawlJob, CrawlURL
from tests.crawler.sites import GeneratedSite
from tests.runtime.conftest import process_env

ROOT = Path(__file__).resolve().parents[2]
CONCURRENCY = 4
HEARTBEAT = 3
KEY = "one key shared by every process of the test"
SETTINGS = {"crawl": {"allow_private_addresses": True, "per_host_delay": 0, "concurrency": CONCURRENCY,
                      "per_host_concurrency": CONCURRENCY, "timeout": 5},
            "scheduler": {"run_heartbeat_seconds": HEARTBEAT}, "app": {"secret_key": KEY}}


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        found = f"sqlite:///{tmp_path / 'app.db'}"
    else:
        found = request.getfixturevalue("pg_url")
    upgrade(found)
    return found


@pytest.fixture
def site() -> Iterator[GeneratedSite]:
    generated = GeneratedSite("127.0.0.42", pages=160, delay=0.03)
    yield generated
    generated.close()


@pytest.fixture
def ctx(url: str) -> Iterator[JobContext]:
    settings = load_settings(overrides={**SETTINGS, "database": {"url": url}}, environ={})
    engine = make_engine(url)
    yield JobContext(settings=settings, sessionmaker=make_sessionmaker(engine, write=True), secret_box=SecretBox(KEY))
    engine.dispose()


def queue(ctx: JobContext, site: GeneratedSite) -> int:
    with ctx.sessionmaker() as session, session.begin():
        return start_crawl(session, [site.url("/")], max_pages=1000).id


def job(ctx: JobContext, job_id: int) -> CrawlJob:
    with ctx.sessionmaker() as session:
        return session.get(CrawlJob, job_id)


def found(ctx: JobContext, job_id: int) -> set[tuple[str, tuple[str, ...]]]:
    with ctx.sessionmaker() as session:
        return {(f.url, tuple(sorted(p["page"] for p in f.found_on)))
                for f in session.scalars(select(CrawlFinding).where(CrawlFinding.crawl_job_id == job_id))}


def reference(ctx: JobContext, site: GeneratedSite) -> set[tuple[str, tuple[str, ...]]]:
    """The findings of the same crawl never stopped."""
    job_id = queue(ctx, site)
    assert jobs.run_one(ctx) is True
    assert job(ctx, job_id).status == "done"
    site.gets.clear()
    return found(ctx, job_id)


def start_scheduler(url: str, tmp_path: Path) -> subprocess.Popen[bytes]:
    env = process_env(tmp_path, url, PYTHONPATH=str(ROOT), OUTREACH_APP_SECRET_KEY=KEY,
                      OUTREACH_CRAWL_ALLOW_PRIVATE_ADDRESSES="true", OUTREACH_CRAWL_PER_HOST_DELAY="0",
                      OUTREACH_CRAWL_CONCURRENCY=str(CONCURRENCY),
                      OUTREACH_CRAWL_PER_HOST_CONCURRENCY=str(CONCURRENCY), OUTREACH_CRAWL_TIMEOUT="5",
                      OUTREACH_SCHEDULER_RUN_HEARTBEAT_SECONDS=str(HEARTBEAT))
    log = (tmp_path / "scheduler.log").open("wb")
    return subprocess.Popen([sys.executable, "-m", "outreach.cli", "scheduler"], env=env, cwd=tmp_path, stdout=log,
                            stderr=subprocess.STDOUT)


def wait_for(condition: Callable[[], bool], process: subprocess.Popen[bytes], tmp_path: Path,
             timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError((tmp_path / "scheduler.log").read_text()[-3000:])
        time.sleep(0.02)


def half_way(ctx: JobContext, site: GeneratedSite, job_id: int, tmp_path: Path) -> subprocess.Popen[bytes]:
    """A scheduler process running the job, once it has fetched 40 pages and saved a finding."""
    scheduler = start_scheduler(str(ctx.settings.database.url), tmp_path)
    wait_for(lambda: sum(site.page_gets().values()) >= 40 and bool(found(ctx, job_id)), scheduler, tmp_path)
    return scheduler


def resumed_cleanly(ctx: JobContext, site: GeneratedSite, job_id: int, expected: set[Any]) -> None:
    done = job(ctx, job_id)
    assert done.status == "done" and found(ctx, job_id) == expected
    gets = site.page_gets()
    assert {f"/p/{i}" for i in range(site.pages)} <= set(gets)
    twice = sorted(p for p, n in gets.items() if n > 1)
    # only pages in flight when the process stopped, or finished in the last 20 ms (the batch being written)
    assert len(twice) <= 3 * CONCURRENCY, twice
    with ctx.sessionmaker() as session:  # the job's frontier is gone with its end
        assert session.scalars(select(CrawlURL.id).where(CrawlURL.job_id == job_id)).all() == []


def test_sigterm_puts_the_crawl_back_in_the_queue_within_5_s_and_it_resumes(
        ctx: JobContext, site: GeneratedSite, tmp_path: Path) -> None:
    expected = reference(ctx, site)
    job_id = queue(ctx, site)
    scheduler = half_way(ctx, site, job_id, tmp_path)
    saved = found(ctx, job_id)
    sent = time.monotonic()
    scheduler.send_signal(signal.SIGTERM)
    while job(ctx, job_id).status != "queued":
        assert time.monotonic() - sent < 5, "the crawl was not put back in the queue within 5 s"
        time.sleep(0.05)
    scheduler.wait(timeout=5)
    assert time.monotonic() - sent < 5, "the scheduler took more than 5 s to exit"
    stopped = job(ctx, job_id)
    assert stopped.error == "restarted after the app shut down" and stopped.worker == ""
    assert saved and {url for url, _ in saved} <= {url for url, _ in found(ctx, job_id)}  # kept while queued
    assert jobs.run_one(ctx) is True
    resumed_cleanly(ctx, site, job_id, expected)


def test_a_killed_scheduler_s_crawl_is_taken_over_within_one_heartbeat_interval(
        ctx: JobContext, site: GeneratedSite, tmp_path: Path) -> None:
    expected = reference(ctx, site)
    job_id = queue(ctx, site)
    scheduler = half_way(ctx, site, job_id, tmp_path)
    scheduler.send_signal(signal.SIGKILL)
    scheduler.wait(timeout=10)
    killed_at: datetime = utcnow()
    assert job(ctx, job_id).status == "running" and found(ctx, job_id)  # what it found is kept
    while not jobs.run_one(ctx):  # this process's crawl tick, again and again until the job is taken over
        assert (utcnow() - killed_at).total_seconds() < HEARTBEAT + 2, "not taken over within one heartbeat"
        time.sleep(0.1)
    taken_at = job(ctx, job_id).started_at
    assert taken_at is not None and (taken_at - killed_at).total_seconds() <= HEARTBEAT + 0.5
    resumed_cleanly(ctx, site, job_id, expected)


def test_a_job_crawled_by_two_processes_finds_what_one_finds(ctx: JobContext, site: GeneratedSite) -> None:
    from dataclasses import replace

    expected = reference(ctx, site)
    two = replace(ctx, settings=ctx.settings.with_(crawl={"processes": 2}))
    job_id = queue(two, site)
    assert jobs.run_one(two) is True
    done = job(two, job_id)
    first = job(ctx, job_id - 1)  # the reference job, crawled by one process
    assert (done.status, done.pages_crawled, done.links_checked, done.broken_found) == (
        "done", first.pages_crawled, first.links_checked, first.broken_found)
    assert found(two, job_id) == expected
    assert max(site.page_gets().values()) == 1
