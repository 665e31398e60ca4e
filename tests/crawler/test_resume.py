"""A crawl stopped (SIGTERM) or killed (SIGKILL) half-way resumes from its --state file: the same findings as a
crawl never stopped, and no page fetched twice but those in flight. Real processes, a real site on loopback."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.crawler.sites import GeneratedSite

ROOT = Path(__file__).resolve().parents[2]
CONCURRENCY = 4


@pytest.fixture
def site() -> Iterator[GeneratedSite]:
    generated = GeneratedSite("127.0.0.41", pages=160, delay=0.03)
    yield generated
    generated.close()


def env(tmp_path: Path) -> dict[str, str]:
    values = {k: v for k, v in os.environ.items() if not k.startswith("OUTREACH_")}
    values.update(PYTHONPATH=str(ROOT), OUTREACH_DATABASE_URL=f"sqlite:///{tmp_path / 'unused.db'}",
                  OUTREACH_CRAWL_ALLOW_PRIVATE_ADDRESSES="true", OUTREACH_CRAWL_PER_HOST_DELAY="0",
                  OUTREACH_CRAWL_CONCURRENCY=str(CONCURRENCY), OUTREACH_CRAWL_PER_HOST_CONCURRENCY=str(CONCURRENCY),
                  OUTREACH_CRAWL_TIMEOUT="5")
    return values


def command(site: GeneratedSite, *extra: str) -> list[str]:
    return [sys.executable, "-m", "outreach.cli", "discover", "broken-links", site.url("/"), "--max-pages", "1000",
            "--json", *extra]


def findings(data: dict[str, Any]) -> tuple[set[str], set[tuple[str, str]]]:
    """The broken set and the (linking page, dead URL) pairs of a report."""
    return ({b["url"] for b in data["broken"]},
            {(f["page"], b["url"]) for b in data["broken"] for f in b["found_on"]})


def run_to_end(site: GeneratedSite, tmp_path: Path, *extra: str) -> dict[str, Any]:
    done = subprocess.run(command(site, *extra), env=env(tmp_path), capture_output=True, text=True, timeout=180,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def start_and_stop(site: GeneratedSite, tmp_path: Path, state: Path, signum: int) -> tuple[int, float, str]:
    """Start a crawl with --state, send `signum` once it has fetched 40 pages; its exit code, how long it took to
    exit, and its stderr."""
    log = tmp_path / "first.log"
    with log.open("w") as err:
        process = subprocess.Popen(command(site, "--state", str(state)), env=env(tmp_path), stdout=subprocess.DEVNULL,
                                   stderr=err, cwd=tmp_path)
    deadline = time.monotonic() + 60
    while sum(site.page_gets().values()) < 40:
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "the crawl never got going"
        time.sleep(0.02)
    sent = time.monotonic()
    process.send_signal(signum)
    code = process.wait(timeout=30)
    return code, time.monotonic() - sent, log.read_text()


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM])
def test_a_stopped_crawl_resumes_with_the_same_findings_and_fetches_no_page_twice(
        site: GeneratedSite, tmp_path: Path, signum: int) -> None:
    reference = run_to_end(site, tmp_path)
    site.gets.clear()
    state = tmp_path / "crawl.state"
    code, seconds, stderr = start_and_stop(site, tmp_path, state, signum)
    if signum == signal.SIGTERM:
        assert code == 128 + signal.SIGTERM and seconds < 5
        assert "stopped by SIGTERM after" in stderr and f"resume from {state}" in stderr
    else:
        assert code == -signal.SIGKILL
    first = site.page_gets()
    assert 40 <= sum(first.values()) < 160  # stopped half-way
    resumed = run_to_end(site, tmp_path, "--state", str(state))
    assert findings(resumed) == findings(reference)
    assert resumed["pages_crawled"] == reference["pages_crawled"] and len(findings(reference)[1]) > 20
    gets = site.page_gets()
    twice = sorted(p for p, n in gets.items() if n > 1)
    # only pages in flight when it stopped, or finished in the last 20 ms (the batch being written)
    assert len(twice) <= 3 * CONCURRENCY, twice
    assert {f"/p/{i}" for i in range(site.pages)} <= set(gets)  # and every page was fetched by one run or the other


def test_a_state_file_of_another_crawl_is_refused_in_one_line(site: GeneratedSite, tmp_path: Path) -> None:
    state = tmp_path / "crawl.state"
    run_to_end(site, tmp_path, "--state", str(state))
    done = subprocess.run([sys.executable, "-m", "outreach.cli", "discover", "broken-links", site.url("/p/3"),
                           "--state", str(state)], env=env(tmp_path), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == (f"outreach: --state {state}: it holds a crawl of {site.url('/')} with --max-pages "
                                   "1000; give another file, or delete this one to start over")
