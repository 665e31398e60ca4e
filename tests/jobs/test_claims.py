"""Claims: the oldest queued row goes to exactly one claimer (crawls, prospecting walks, short runs, imports)."""
from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from sqlalchemy.orm import Session

from outreach.campaigns.imports.runs import start_import
from outreach.config import load_settings
from outreach.contacts.runs import start_find
from outreach.crawler.service import start_crawl
from outreach.discovery.prospecting import service as prospecting
from outreach.discovery.prospecting.jobs import SHORT_WORK
from outreach.discovery.search.runs import start_search
from outreach.models import Campaign
from outreach.models.crawl import CrawlJob
from outreach.models.prospecting import ProspectingRun
from outreach.runs.lifecycle import claim_next
from tests.race import race_rounds


def test_each_queued_job_is_claimed_once_oldest_first(app: Flask, db: Session) -> None:
    first = start_crawl(db, ["http://127.0.0.77/"], max_pages=5)
    second = start_crawl(db, ["http://127.0.0.78/"], max_pages=5)
    db.commit()
    other = app.extensions["outreach"].sessionmaker()
    try:
        got_a = claim_next(db, CrawlJob, "a")
        db.commit()
        got_b = claim_next(other, CrawlJob, "b")
        other.commit()
        assert claim_next(other, CrawlJob, "b") is None
    finally:
        other.close()
    assert (got_a.id, got_a.worker, got_a.status) == (first.id, "a", "running")
    assert (got_b.id, got_b.worker) == (second.id, "b")


def test_two_workers_claiming_crawls_at_once_take_each_once(app: Flask, db: Session) -> None:
    def prepare() -> list[int]:
        jobs = [start_crawl(db, [f"http://127.0.0.77/{i}"], max_pages=5) for i in range(6)]
        db.commit()
        return [job.id for job in jobs]

    def claim(session: Session) -> list[int]:
        job = claim_next(session, CrawlJob, "racer")
        return [job.id] if job else []

    race_rounds(app.extensions["outreach"].sessionmaker, prepare, claim)


def test_two_workers_claiming_prospecting_runs_at_once_take_each_once(
        app: Flask, db: Session, make_campaign: Callable[..., Campaign]) -> None:
    campaign = make_campaign()

    def prepare() -> list[int]:
        runs = [prospecting.start_run(db, campaign, "guest_posts", [f"https://s{i}.example/"], max_pages=5)
                for i in range(6)]
        db.commit()
        return [run.id for run in runs]

    def claim(session: Session) -> list[int]:
        run = claim_next(session, ProspectingRun, "racer")
        return [run.id] if run else []

    race_rounds(app.extensions["outreach"].sessionmaker, prepare, claim)


def test_two_short_run_workers_at_once_take_each_search_and_contact_find_once_and_leave_the_site_walks(
        app: Flask, db: Session, make_campaign: Callable[..., Campaign]) -> None:
    campaign = make_campaign()
    settings = load_settings(None, {"search": {"provider": "brave", "api_key": "k", "endpoint": "http://127.0.0.1:9/"}},
                             environ={})
    walks: list[int] = []

    def prepare() -> list[int]:
        runs = []
        for i in range(4):
            walks.append(prospecting.start_run(db, campaign, "guest_posts", [f"https://s{i}.example/"],
                                               max_pages=5).id)
            runs.append(start_search(db, campaign, "guest_posts", [f"widgets {i}"], per_query=5, settings=settings))
            runs.append(start_find(db, campaign, f"https://s{i}.example/contact"))
        db.commit()
        return [run.id for run in runs]

    def claim(session: Session) -> list[int]:
        run = claim_next(session, ProspectingRun, "racer", kinds=tuple(SHORT_WORK))
        return [run.id] if run else []

    race_rounds(app.extensions["outreach"].sessionmaker, prepare, claim)
    db.expire_all()
    assert {db.get(ProspectingRun, i).status for i in walks} == {"queued"}  # a site walk waits for its own tick


def test_two_import_workers_at_once_take_each_import_once_and_leave_the_other_runs(
        app: Flask, db: Session, make_campaign: Callable[..., Campaign]) -> None:
    campaign = make_campaign()
    others: list[int] = []

    def prepare() -> list[int]:
        runs = []
        for i in range(4):
            others.append(prospecting.start_run(db, campaign, "guest_posts", [f"https://s{i}.example/"],
                                                max_pages=5).id)
            runs.append(start_import(db, campaign, token=f"t{i}", filename=f"f{i}.csv", mapping=["url"], rows=3))
        db.commit()
        return [run.id for run in runs]

    def claim(session: Session) -> list[int]:
        run = claim_next(session, ProspectingRun, "racer", kinds=("import",))
        return [run.id] if run else []

    race_rounds(app.extensions["outreach"].sessionmaker, prepare, claim)
    db.expire_all()
    assert {db.get(ProspectingRun, i).status for i in others} == {"queued"}
