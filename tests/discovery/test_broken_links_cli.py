"""`outreach discover broken-links` as a user runs it: JSON contract, text output, --campaign, bad input."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.cli import main
from outreach.models import Opportunity
from outreach.models.crawl import CrawlFinding, CrawlJob
from tests.lib.testweb import TestWeb


@pytest.fixture
def site() -> Iterator[TestWeb]:
    web = TestWeb("127.0.0.34")
    web.page("/", '<a href="/gone">Gone</a><a href="/ok">Fine</a><a href="/more">More</a>')
    web.page("/more", '<a href="/gone">Gone again</a><a href="/also-gone">Also gone</a>')
    web.page("/ok", "fine")
    yield web
    web.close()


def config(tmp_path: Path, database_url: str = "sqlite:///unused.db") -> str:
    path = tmp_path / "outreach.toml"
    path.write_text(f'[database]\nurl = "{database_url}"\n\n[crawl]\nallow_private_addresses = true\n'
                    "per_host_delay = 0\ntimeout = 5\n")
    return str(path)


def run(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_it_prints_the_json_contract_most_linked_first(tmp_path: Path, site: TestWeb) -> None:
    result = run("--config", config(tmp_path), "discover", "broken-links", site.url("/"), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["pages_crawled"] == 5
    assert [(b["url"], b["reason"], b["status"]) for b in data["broken"]] == [
        (site.url("/gone"), "not_found", 404), (site.url("/also-gone"), "not_found", 404)]
    assert data["broken"][0]["found_on"] == [{"page": site.url("/"), "anchor": "Gone"},
                                             {"page": site.url("/more"), "anchor": "Gone again"}]


def test_the_page_limit_bounds_the_crawl(tmp_path: Path, site: TestWeb) -> None:
    result = run("--config", config(tmp_path), "discover", "broken-links", site.url("/"), "--max-pages", "1",
                 "--json")
    data = json.loads(result.stdout)
    assert data["pages_crawled"] == 1
    assert site.hits["/more"] == 1 and [m for m, p in site.methods if p == "/more"] == ["HEAD"]


def test_it_prints_a_readable_report(tmp_path: Path, site: TestWeb) -> None:
    result = run("--config", config(tmp_path), "discover", "broken-links", site.url("/"))
    assert result.exit_code == 0
    assert "5 pages crawled" in result.stdout and "2 broken" in result.stdout
    assert f'{site.url("/gone")}  [not_found 404]  linked from 2 page(s)' in result.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["ftp://example.com/"], "'ftp://example.com/' is not an http(s) URL"),
    (["https://example.com/", "--max-pages", "0"], "--max-pages must be 1 or more"),
    (["not a url at all"], "has no valid host name"),
])
def test_bad_input_exits_2_with_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    result = run("--config", config(tmp_path), "discover", "broken-links", *args)
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_seed_the_guard_refuses_exits_2_naming_the_setting_and_crawls_nothing(
        app: Flask, db: Session, tmp_path: Path, team: dict[str, Any], site: TestWeb, database_url: str) -> None:
    path = tmp_path / "guarded.toml"
    path.write_text(f'[database]\nurl = "{database_url}"\n\n[crawl]\nallow_private_addresses = false\n')
    for extra in ([], ["--json"], ["--campaign", str(team["campaign"].id)]):
        result = run("--config", str(path), "discover", "broken-links", site.url("/"), *extra)
        assert result.exit_code == 2 and result.stdout == ""
        assert result.stderr.strip().splitlines() == [
            f"outreach: {site.url('/')} is on a private, loopback or link-local address, which the crawler refuses "
            "(set [crawl] allow_private_addresses = true, or list its host:port in [crawl] allow_private_hosts)"]
    assert site.hits["/"] == 0 and site.hits["/robots.txt"] == 0
    db.commit()
    assert db.scalars(select(CrawlJob)).all() == []
    # the same seed named in allow_private_hosts is crawled, the guard still on for everything else
    path.write_text(f'[database]\nurl = "{database_url}"\n\n[crawl]\nallow_private_addresses = false\n'
                    f'allow_private_hosts = ["{site.host}:{site.port}"]\nper_host_delay = 0\n')
    result = run("--config", str(path), "discover", "broken-links", site.url("/"), "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["pages_crawled"] == 5


def test_a_crawl_that_fetches_no_page_is_stored_as_failed(app: Flask, db: Session, tmp_path: Path,
                                                          team: dict[str, Any], database_url: str) -> None:
    result = run("--config", config(tmp_path, database_url), "discover", "broken-links",
                 "http://no-such-host.invalid/", "--campaign", str(team["campaign"].id), "--json")
    assert result.exit_code == 0, result.output
    db.commit()
    job = db.get(CrawlJob, json.loads(result.stdout)["stored"]["crawl_job"])
    assert (job.status, job.error) == ("failed", "no page could be fetched (http://no-such-host.invalid/: dns)")


def test_campaign_stores_the_crawl_and_opportunities(app: Flask, db: Session, tmp_path: Path, team: dict[str, Any],
                                                     site: TestWeb, database_url: str) -> None:
    campaign = team["campaign"]
    result = run("--config", config(tmp_path, database_url), "discover", "broken-links", site.url("/"),
                 "--campaign", str(campaign.id), "--json")
    assert result.exit_code == 0, result.output
    stored = json.loads(result.stdout)["stored"]
    db.commit()
    job = db.get(CrawlJob, stored["crawl_job"])
    assert job is not None and job.status == "done" and job.campaign_id == campaign.id and job.broken_found == 2
    assert len(db.scalars(select(CrawlFinding)).all()) == 2
    opportunities = db.scalars(select(Opportunity).order_by(Opportunity.page_url, Opportunity.id)).all()
    assert stored["opportunities"] == len(opportunities) == 3  # / -> gone; /more -> gone, also-gone
    assert {o.details["dead_url"] for o in opportunities} == {site.url("/gone"), site.url("/also-gone")}
    assert all(o.kind == "broken_link" and o.crawl_job_id == job.id for o in opportunities)


def test_an_unknown_campaign_is_refused_before_crawling(app: Flask, tmp_path: Path, site: TestWeb,
                                                         database_url: str) -> None:
    result = run("--config", config(tmp_path, database_url), "discover", "broken-links", site.url("/"),
                 "--campaign", "999999")
    assert result.exit_code == 2 and "campaign 999999 does not exist" in result.stderr
    assert site.hits["/"] == 0


def test_a_crawl_without_campaign_does_not_load_sqlalchemy() -> None:
    import subprocess
    import sys

    code = ("import sys, outreach.cli, outreach.discovery.broken_links.cli, outreach.discovery.broken_links.service; "
            "print('sqlalchemy' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
