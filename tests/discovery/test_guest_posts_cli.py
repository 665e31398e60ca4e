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
