"""`outreach discover guest-posts` keeps the CLI contract and stores opportunities with --campaign."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.discovery.guest_web import build
from tests.lib.testweb import TestWeb


@pytest.fixture
def web() -> Iterator[TestWeb]:
    server = TestWeb("127.0.0.35")
    yield server
    server.close()


def outreach(args: list[str], tmp_path: Path, db_url: str = "") -> subprocess.CompletedProcess[str]:
    config = tmp_path / "c.toml"
    config.write_text(f'[database]\nurl = "{db_url or "sqlite:///" + str(tmp_path / "x.db")}"\n\n'
                      "[crawl]\nallow_private_addresses = true\nper_host_delay = 0\ntimeout = 3\n")
    env = {**os.environ, "OUTREACH_CONFIG": str(config)}
    return subprocess.run([sys.executable, "-m", "outreach.cli", *args], capture_output=True, text=True, env=env,
                          timeout=120, cwd=tmp_path)


def test_it_prints_the_targets_as_one_json_object(web: TestWeb, tmp_path: Path) -> None:
    build(web)
    run = outreach(["discover", "guest-posts", web.url("/"), "--max-pages", "5", "--keyword", "widget", "--json"],
                   tmp_path)
    assert run.returncode == 0, run.stderr
    (target,) = json.loads(run.stdout)["targets"]
    assert target["site"] == web.base and target["page"] == web.url("/guidelines")
    assert target["emails"] == ["editor@site.test", "hello@site.test"]
    assert 0 < target["score"] <= 100 and target["score_parts"]["relevance"] > 0


def test_a_refusing_site_is_not_a_target_and_says_why(web: TestWeb, tmp_path: Path) -> None:
    build(web, accepts=False)
    payload = json.loads(outreach(["discover", "guest-posts", web.url("/"), "--json"], tmp_path).stdout)
    assert payload["targets"] == []
    assert "no longer accept guest posts" in payload["rejected"][0]["reasons"][-1]


@pytest.mark.parametrize(("args", "message"), [
    (["ftp://site.test/"], "is not an http(s) URL"),
    (["http://127.0.0.35/", "--max-pages", "0"], "--max-pages must be 1 or more"),
])
def test_bad_input_exits_2_with_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    run = outreach(["discover", "guest-posts", *args, "--json"], tmp_path)
    assert run.returncode == 2 and message in run.stderr and run.stderr.count("\n") == 1


def make_campaign_db(tmp_path: Path) -> str:
    """A migrated SQLite database with one client and campaign (id 1); returns its URL."""
    from sqlalchemy import create_engine, text

    db_url = f"sqlite:///{tmp_path / 'campaign.db'}"
    assert outreach(["db", "upgrade"], tmp_path, db_url).returncode == 0
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO clients (name, website, report_emails, notes, created_at) "
                          "VALUES ('A', '', '', '', '2026-01-01 00:00:00+00')"))
        conn.execute(text("INSERT INTO campaigns (client_id, name, kind, status, target_urls, keywords, created_at) "
                          "VALUES (1, 'C', 'guest_posts', 'active', '', 'widget tools', '2026-01-01 00:00:00+00')"))
    engine.dispose()
    return db_url


def test_with_a_campaign_targets_become_opportunities_scored_by_its_keywords(web: TestWeb, tmp_path: Path) -> None:
    from sqlalchemy import create_engine, text

    build(web)
    db_url = make_campaign_db(tmp_path)
    missing = outreach(["discover", "guest-posts", web.url("/"), "--campaign", "9", "--json"], tmp_path, db_url)
    assert missing.returncode == 2 and "campaign 9 does not exist" in missing.stderr
    run = outreach(["discover", "guest-posts", web.url("/"), "--max-pages", "5", "--campaign", "1", "--json"],
                   tmp_path, db_url)
    assert run.returncode == 0, run.stderr
    payload = json.loads(run.stdout)
    assert payload["stored"] == {"opportunities": 1}
    assert payload["targets"][0]["score_parts"]["relevance"] > 0  # the campaign's keywords were used
    engine = create_engine(db_url)
    with engine.connect() as conn:
        kind, page = conn.execute(text("SELECT kind, page_url FROM opportunities")).one()
    engine.dispose()
    assert (kind, page) == ("guest_post", web.url("/guidelines"))
