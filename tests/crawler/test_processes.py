"""One crawl over several processes (`--processes N`): the same broken set, linking pairs, counts and exit codes as one
process; one page limit for all; a process that dies stops the others and the crawl resumes from --state."""
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
from tests.crawler.test_resume import env, findings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def site() -> Iterator[GeneratedSite]:
    generated = GeneratedSite("127.0.0.45", pages=300)
    yield generated
    generated.close()


def crawl(site: GeneratedSite, tmp_path: Path, processes: int, *extra: str, **settings: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "outreach.cli", "discover", "broken-links", site.url("/"), "--json",
                           "--max-pages", "1000", "--processes", str(processes), *extra],
                          env={**env(tmp_path), **settings}, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("politeness", ["off", "on"])
def test_one_and_two_processes_find_the_same_broken_links_and_pairs(site: GeneratedSite, tmp_path: Path,
                                                                    politeness: str) -> None:
    # politeness on: a per-host delay, so each host belongs to one process; off: URLs are shared out by hash
    settings = {"OUTREACH_CRAWL_PER_HOST_DELAY": "0.001"} if politeness == "on" else {}
    one = crawl(site, tmp_path, 1, **settings)
    site.gets.clear()
    two = crawl(site, tmp_path, 2, **settings)
    assert findings(two) == findings(one) and len(findings(one)[1]) > 50
    for key in ("pages_crawled", "links_checked", "unknown", "cancelled"):
        assert two[key] == one[key], key
    assert [b["url"] for b in two["broken"]][:3] == [b["url"] for b in one["broken"]][:3]  # most-linked first
    assert max(site.page_gets().values()) == 1  # the seen-set is one: no page fetched by both processes


def test_the_page_limit_is_one_for_every_process(site: GeneratedSite, tmp_path: Path) -> None:
    site.gets.clear()
    data = crawl(site, tmp_path, 2, "--max-pages", "40")
    assert data["pages_crawled"] == 40
    read = [p for p in site.page_gets() if int(p[3:]) < site.pages]  # (a dead link is checked with a GET too)
    assert len(read) <= 39 and max(site.page_gets().values()) == 1  # the other pages were only checked (HEAD)


def test_a_seed_that_answers_nothing_ends_the_same_way(tmp_path: Path) -> None:
    from tests.lib.testweb import closed_port

    seed = f"http://127.0.0.46:{closed_port('127.0.0.46')}/"
    runs = [subprocess.run([sys.executable, "-m", "outreach.cli", "discover", "broken-links", seed, "--json",
                            "--processes", str(n)], env=env(tmp_path), capture_output=True, text=True, timeout=120,
                           cwd=tmp_path) for n in (1, 2)]
    assert runs[0].returncode == runs[1].returncode
    one, two = (json.loads(r.stdout) for r in runs)
    assert (one["broken"], one["pages_crawled"]) == (two["broken"], two["pages_crawled"])


def test_a_process_that_dies_stops_the_others_and_the_crawl_resumes(tmp_path: Path) -> None:
    slow = GeneratedSite("127.0.0.47", pages=200, delay=0.03)
    try:
        reference = crawl(slow, tmp_path, 1)
        state = tmp_path / "crawl.state"
        command = [sys.executable, "-m", "outreach.cli", "discover", "broken-links", slow.url("/"), "--json",
                   "--max-pages", "1000", "--processes", "2", "--state", str(state)]
        process = subprocess.Popen(command, env=env(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   text=True, cwd=tmp_path)
        slow.gets.clear()
        deadline = time.monotonic() + 60
        while sum(slow.page_gets().values()) < 30:
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        children = [int(p) for p in Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()]
        shards = [pid for pid in children if "spawn_main" in Path(f"/proc/{pid}/cmdline").read_text()]
        os.kill(shards[0], signal.SIGKILL)
        _, stderr = process.communicate(timeout=30)
        assert process.returncode == 1
        assert stderr.strip().splitlines()[-1].startswith("outreach: crawl process ")
        assert f"ended with exit code -9; run the same command again to resume from {state}" in stderr
        for pid in shards:  # the other shard was stopped, not left crawling
            assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
        resumed = crawl(slow, tmp_path, 2, "--state", str(state))
        assert findings(resumed) == findings(reference)
    finally:
        slow.close()
