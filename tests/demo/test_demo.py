"""`outreach demo`: the sample web answers, the sample client is created once, and every strategy finds its
material there, with private addresses allowed for the sample web's sites only."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outreach.crawler.jobs import run_crawl_jobs
from outreach.crawler.service import start_crawl
from outreach.db import make_engine, make_sessionmaker
from outreach.demo.data import CLIENT_NAME, ensure_demo_data
from outreach.demo.web import PLACED_ANCHOR, PLACED_PAGE, SampleWeb, infographic, start_sample_web
from outreach.discovery.prospecting import service as prospecting
from outreach.jobs.ticks import JobContext
from outreach.models import Campaign, Client, Opportunity
from outreach.models.crawl import CrawlFinding, CrawlJob
from outreach.models.mail import CampaignMail, Sequence, Template
from outreach.models.prospecting import Asset
from tests.conftest import free_port
from tests.lib.testweb import TestWeb

FIRST_OCTET = 121  # the tests' sample web lives on 127.0.0.121-126, away from a running demo's .81-.86


@pytest.fixture
def sample() -> Iterator[SampleWeb]:
    web = start_sample_web(0, first_octet=FIRST_OCTET)
    yield web
    web.close()


def get(url: str, data: bytes | None = None) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, data=data, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def guarded(app: Flask, web: SampleWeb) -> JobContext:
    """The app's jobs as `outreach demo` runs them: private addresses refused except the sample web's sites."""
    state = app.extensions["outreach"]
    crawl = {"allow_private_addresses": False, "allow_private_hosts": web.host_ports}
    return JobContext(settings=state.settings.with_(crawl=crawl), sessionmaker=state.sessionmaker,
                      secret_box=state.secret_box)


def test_the_sample_web_answers_each_strategys_pages(sample: SampleWeb) -> None:
    status, page = get(sample.url("resources", "/resources"))
    assert status == 200 and sample.url("dead", "/old-composting-guide").encode() in page
    assert b"seed-catalogue.invalid" in page
    assert get(sample.url("dead", "/old-composting-guide"))[0] == 404
    assert get(sample.url("dead", "/retired-soil-calculator"))[0] == 410
    assert b"pitches@greenthumbmag.test" in get(sample.url("magazine", "/write-for-us"))[1]
    assert get(sample.url("news", "/uploads/soil-chart.png"))[1] == infographic()
    assert get(sample.url("client", "/infographic.png"))[1] == infographic()
    assert b"Acme Garden Co" in get(sample.url("news", "/2026/tool-roundup"))[1]
    assert PLACED_ANCHOR.encode() not in get(sample.url("news", PLACED_PAGE))[1]
    get(sample.url("news", "/_demo/place"), data=b"on=1")  # the button on /_demo
    assert f'href="{sample.url("client", "/guides/composting")}">{PLACED_ANCHOR}'.encode() in get(
        sample.url("news", PLACED_PAGE))[1]
    get(sample.url("news", "/_demo/place"), data=b"on=0")
    assert not sample.placed


def test_the_sample_client_is_created_once_and_follows_the_sample_web(db: Session, sample: SampleWeb) -> None:
    first = ensure_demo_data(db, sample)
    db.commit()
    again = ensure_demo_data(db, sample)
    db.commit()
    assert again == first
    assert db.scalar(select(func.count()).select_from(Client)) == 1
    campaigns = db.scalars(select(Campaign).order_by(Campaign.id)).all()
    assert [c.kind for c in campaigns] == ["broken_links", "guest_posts", "mentions"]
    assert all(c.target_url_list == [sample.url("client", "/guides/composting")] for c in campaigns)
    assert db.scalar(select(func.count()).select_from(Template)) == 3
    assert db.scalar(select(func.count()).select_from(Sequence)) == 3
    assert {m.sequence_id for m in db.scalars(select(CampaignMail))} == set(db.scalars(select(Sequence.id)))
    assets = {a.kind: a for a in db.scalars(select(Asset))}
    assert assets["image"].image_data == infographic() and assets["brand"].brand_names == "Acme Garden Co"
    client = db.scalar(select(Client))
    assert client.name == CLIENT_NAME and client.website == sample.url("client")
    assert sample.url("resources", "/resources") in client.notes


def test_a_crawl_from_the_demo_campaign_finds_the_dead_links_and_other_private_hosts_stay_refused(
        app: Flask, db: Session, sample: SampleWeb) -> None:
    demo = ensure_demo_data(db, sample)
    campaign = db.get(Campaign, demo.campaign_ids["broken_links"])
    job = start_crawl(db, [sample.url("resources", "/resources"), sample.url("blog", "/useful-links")],
                      max_pages=20, campaign=campaign)
    internal = TestWeb("127.0.0.127")  # another service on loopback, not part of the sample web
    internal.page("/", '<a href="/x">x</a>')
    other = start_crawl(db, [internal.url("/")], max_pages=20, campaign=campaign)
    db.commit()
    try:
        ctx = guarded(app, sample)
        assert run_crawl_jobs(ctx) == 2
    finally:
        internal.close()
    db.expire_all()
    assert (db.get(CrawlJob, job.id).status, db.get(CrawlJob, job.id).error) == ("done", "")
    findings = {f.url: (f.reason, f.http_status, f.page_count) for f in db.scalars(select(CrawlFinding))}
    assert findings == {sample.url("dead", "/old-composting-guide"): ("not_found", 404, 2),
                        sample.url("dead", "/retired-soil-calculator"): ("not_found", 410, 2),
                        "http://seed-catalogue.invalid/": ("dns", None, 1)}
    refused = db.get(CrawlJob, other.id)
    assert refused.status == "refused" and "[crawl] allow_private_addresses" in refused.error
    assert internal.hits["/"] == 0


def test_the_guest_post_and_mention_campaigns_find_their_material(app: Flask, db: Session,
                                                                 sample: SampleWeb) -> None:
    demo = ensure_demo_data(db, sample)
    guest = prospecting.start_run(db, db.get(Campaign, demo.campaign_ids["guest_posts"]), "guest_posts",
                                  [sample.url("magazine")], max_pages=10)
    mentions = prospecting.start_run(db, db.get(Campaign, demo.campaign_ids["mentions"]), "mentions",
                                     [sample.url("news")], max_pages=10,
                                     options={"asset_ids": list(demo.asset_ids.values())})
    db.commit()
    ctx = guarded(app, sample)
    for _ in (guest, mentions):
        assert prospecting.run_one(ctx, progress_every=0.05)
    db.expire_all()
    found = {(o.kind, o.page_url) for o in db.scalars(select(Opportunity))}
    assert found == {("guest_post", sample.url("magazine", "/write-for-us")),
                     ("image_mention", sample.url("news", "/2026/soil-study")),
                     ("brand_mention", sample.url("news", "/2026/tool-roundup"))}
    pitch = db.scalar(select(Opportunity).where(Opportunity.kind == "guest_post"))
    assert "pitches@greenthumbmag.test" in str(pitch.details)


def test_outreach_demo_serves_the_app_and_the_sample_web_and_its_crawls_reach_only_the_sample_web(
        tmp_path: Path) -> None:
    port, demo_port = free_port(), free_port("127.0.0.81")
    db_url = f"sqlite:///{tmp_path / 'instance' / 'outreach.db'}"
    env = {**os.environ, "OUTREACH_APP_INSTANCE_PATH": str(tmp_path / "instance"), "OUTREACH_DATABASE_URL": db_url,
           "OUTREACH_CRAWL_PER_HOST_DELAY": "0"}
    env.pop("OUTREACH_CONFIG", None)
    log_path = tmp_path / "demo.log"
    log = log_path.open("w")
    process = subprocess.Popen([sys.executable, "-m", "outreach.cli", "demo", "--port", str(port),
                                "--demo-port", str(demo_port)], cwd=tmp_path, env=env, stdout=log,
                               stderr=subprocess.STDOUT)
    engine = make_engine(db_url)
    try:
        for _ in range(300):
            assert process.poll() is None, log_path.read_text()[-2000:]
            if "Outreach is running" in log_path.read_text():
                break
            time.sleep(0.1)  # waiting for the server to start, not for time to pass
        else:
            raise AssertionError("outreach demo did not start")
        assert get(f"http://127.0.0.1:{port}/login")[0] == 200
        assert get(f"http://127.0.0.81:{demo_port}/resources")[0] == 200
        text = log_path.read_text()
        assert f"http://127.0.0.81:{demo_port}/resources" in text and "Demo: broken links" in text
        with make_sessionmaker(engine)() as session:
            assert session.scalars(select(Client.name)).all() == [CLIENT_NAME]
            campaign = session.scalar(select(Campaign).where(Campaign.kind == "broken_links"))
            sample = start_crawl(session, [f"http://127.0.0.81:{demo_port}/resources"], max_pages=5,
                                 campaign=campaign)
            own = start_crawl(session, [f"http://127.0.0.1:{port}/login"], max_pages=5, campaign=campaign)
            session.commit()
            ids = (sample.id, own.id)
        for _ in range(600):  # the scheduler's crawl tick runs them within seconds
            with make_sessionmaker(engine)() as session:
                jobs = [session.get(CrawlJob, i) for i in ids]
                if all(job.is_finished for job in jobs):
                    break
            time.sleep(0.1)  # waiting for the app's scheduler, which runs on its own clock
        assert [(job.status, job.broken_found) for job in jobs] == [("done", 3), ("refused", 0)]
    finally:
        engine.dispose()
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
        log.close()


def test_a_busy_demo_port_stops_the_demo_with_one_line(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from outreach.cli import main

    with socket.socket() as taken:
        taken.bind(("127.0.0.81", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(main, ["demo", "--demo-port", str(port)],
                                    env={"OUTREACH_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}"})
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"outreach: cannot listen on 127.0.0.81:{port}: the port is in use (is Outreach already running there?); "
        "choose another with --demo-port"]
    assert not (tmp_path / "demo.db").exists()  # nothing was migrated or stored
