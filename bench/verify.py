"""Backlink verification benchmark: static checks per second, peak RSS, and the cost of a rendered check.

    .venv/bin/python bench/verify.py [--links 10000] [--hosts 200] [--concurrency 32,64] [--renders 10]

nginx serves 200 publisher hosts (127.0.1.1 ... 127.0.1.200, one port), each with its robots.txt and
articles of realistic size (about 30 KB, 120 links, one of them to the target, some nofollow, some
noindex). Politeness is off (per_host_delay = 0; robots.txt is still read, once per host).

1. engine: the verifier alone (fetch, parse, match, robots) over every link, at each concurrency;
2. tick: the real monitoring tick on a migrated SQLite database holding every link as a due backlink
   (claim, verify, record the check with its evidence, move state, queue events), until none is due;
3. render: one page rendered in headless Chromium (browser start-up reported apart).
Goal: at least 300 static checks/s on this machine.
"""
from __future__ import annotations

import argparse
import asyncio
import copy
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from outreach.backlinks.jobs import Job, run_checks  # noqa: E402
from outreach.config import Settings, load_settings  # noqa: E402

TARGET = "https://client.example/product"
GOAL = 300.0


def article(host: int, n: int) -> str:
    rnd = random.Random(host * 100_000 + n)
    paragraphs = []
    for i in range(40):
        words = " ".join(rnd.choice(("link", "building", "widgets", "guide", "resource", "tools", "best", "review",
                                     "analytics", "marketing", "seo", "content")) for _ in range(90))
        paragraphs.append(f"<p>{words} <a href=\"/post-{rnd.randrange(1000)}\">related {i}</a> "
                          f"<a href=\"https://other{rnd.randrange(500)}.example/page\">source</a> "
                          f"<a href=\"https://ref{i}.example/\">ref</a></p>")
    rel = ("", ' rel="nofollow"', ' rel="sponsored"', ' rel="noopener"')[n % 4]
    paragraphs.insert(rnd.randrange(len(paragraphs)), f'<p>See <a href="{TARGET}"{rel}>Acme widgets</a>.</p>')
    head = '<meta name="robots" content="noindex">' if n % 10 == 0 else ""
    return (f"<!doctype html><html><head><meta charset=utf-8><title>Post {n}</title>{head}"
            f'<link rel="canonical" href="/post-{n}"></head><body><nav><a href="/">Home</a></nav>'
            f"<article>{''.join(paragraphs)}</article></body></html>")


def build_site(root: Path, hosts: int, links: int) -> list[tuple[int, int]]:
    per_host = -(-links // hosts)
    pages = []
    for h in range(1, hosts + 1):
        folder = root / f"h{h}"
        folder.mkdir(parents=True)
        (folder / "robots.txt").write_text("User-agent: *\nDisallow: /private/\n")
        for n in range(per_host):
            if len(pages) == links:
                break
            (folder / f"post-{n}").write_text(article(h, n))
            pages.append((h, n))
    return pages


def start_nginx(root: Path, hosts: int, port: int) -> subprocess.Popen[bytes]:
    servers = "\n".join(
        f"server {{ listen 127.0.1.{h}:{port}; root {root}/h{h}; default_type text/html; "
        f"location / {{ try_files $uri =404; }} }}" for h in range(1, hosts + 1))
    conf = root / "nginx.conf"
    conf.write_text(f"""worker_processes 1; daemon off; pid {root}/nginx.pid; error_log {root}/error.log;
events {{ worker_connections 4096; }}
http {{ access_log off; keepalive_requests 100000; sendfile on; {servers} }}
""")
    process = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(root)], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    import socket

    while time.monotonic() < deadline:
        try:
            socket.create_connection((f"127.0.1.{hosts}", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("nginx did not start")


def settings_for(concurrency: int, workdir: Path) -> Settings:
    return load_settings(overrides={
        "crawl": {"allow_private_addresses": True, "per_host_delay": 0.0, "timeout": 15.0,
                  "concurrency": concurrency, "per_host_concurrency": 4},
        "database": {"url": f"sqlite:///{workdir}/bench.db"},
        "mail": {"outbox_dir": str(workdir / "outbox")},
    }, environ={})


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_engine(jobs: list[Job], settings: Settings, batch: int) -> tuple[float, float, dict[str, int]]:
    """Checks per wall second and per CPU second of this process, in batches as the tick runs them."""
    started, cpu = time.perf_counter(), time.process_time()
    statuses: dict[str, int] = {}
    for start in range(0, len(jobs), batch):
        outcomes = asyncio.run(run_checks(jobs[start:start + batch], settings))
        for outcome in outcomes.values():
            statuses[outcome.result.status] = statuses.get(outcome.result.status, 0) + 1
    n = sum(statuses.values())
    return n / (time.perf_counter() - started), n / (time.process_time() - cpu), statuses


def bench_tick(pages: list[tuple[int, int]], base: str, settings: Settings,
               batch: int) -> tuple[tuple[float, float], tuple[float, float], int]:
    from sqlalchemy import insert, update

    from outreach.backlinks.jobs import check_due
    from outreach.db import make_engine
    from outreach.jobs.ticks import JobContext
    from outreach.lib.clock import utcnow
    from outreach.lib.console import command_sessions
    from outreach.lib.secrets import SecretBox
    from outreach.migrate import upgrade
    from outreach.models import Backlink, Client

    url = settings.database.url
    upgrade(url)
    engine = make_engine(url)
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(insert(Client).values(name="Bench", website="", report_emails="", notes="", created_at=now))
        conn.execute(insert(Backlink), [
            {"client_id": 1, "page_url": base.format(h=h) + f"/post-{n}", "site_url": "", "target_url": TARGET,
             "match_mode": "exact", "agreed_anchor": "Acme widgets", "agreed_rel": "follow", "notes": "",
             "render_js": False, "status": "pending", "consecutive_failures": 0, "next_check_at": now,
             "seen_rel": "", "seen_anchor": "", "created_at": now} for h, n in pages])
    # as the scheduler's jobs get them: write sessions, with the alert and stage-change subscribers connected
    ctx = JobContext(settings=settings, sessionmaker=command_sessions(engine, write=True),
                     secret_box=SecretBox("bench-key"))
    rates = []
    for _ in range(2):  # first checks (every link goes live: an event and an alert each), then re-checks
        started, cpu = time.perf_counter(), time.process_time()
        done = 0
        while True:
            n = check_due(ctx, in_flight=batch)
            if n == 0:
                break
            done += n
        rates.append((done / (time.perf_counter() - started), done / (time.process_time() - cpu)))
        with engine.begin() as conn:
            conn.execute(update(Backlink).values(next_check_at=utcnow()))
    engine.dispose()
    return rates[0], rates[1], done


def bench_render(url: str, settings: Settings, renders: int) -> tuple[float, float]:
    from outreach.backlinks.verify import Renderer, verify_page
    from outreach.lib.http import Fetcher, FetchSettings

    async def run() -> tuple[float, float]:
        async with Fetcher(FetchSettings.from_settings(settings)) as fetcher:
            started = time.perf_counter()
            async with Renderer(settings) as renderer:
                startup = time.perf_counter() - started
                await verify_page(fetcher, url, TARGET, renderer=renderer)  # warm
                started = time.perf_counter()
                for _ in range(renders):
                    result = await verify_page(fetcher, url, TARGET, renderer=renderer)
                    assert result.rendered and result.status == "live", result
                per = (time.perf_counter() - started) / renders
            static_started = time.perf_counter()
            for _ in range(renders):
                await verify_page(fetcher, url, TARGET)
            static = (time.perf_counter() - static_started) / renders
        return startup, per - static

    startup, extra = asyncio.run(run())
    return startup, extra


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=10_000)
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--concurrency", default="32,64")
    parser.add_argument("--batch", type=int, default=1000, help="checks in flight (tick bench), per batch (engine)")
    parser.add_argument("--renders", type=int, default=10)
    args = parser.parse_args()
    if args.renders < 1:
        parser.error("--renders must be 1 or more (a rendered check is timed against a static one)")
    if shutil.which("nginx") is None:
        raise SystemExit("nginx is needed (apt-get install nginx)")
    workdir = Path(tempfile.mkdtemp(prefix="bench-verify-"))
    workdir.chmod(0o755)  # nginx workers run as an unprivileged user
    port = 20000 + os.getpid() % 20000
    base = f"http://127.0.1.{{h}}:{port}"
    try:
        pages = build_site(workdir / "www", args.hosts, args.links)
        nginx = start_nginx(workdir / "www", args.hosts, port)
        try:
            jobs = [Job(i, base.format(h=h) + f"/post-{n}", "", TARGET, "exact", "Acme widgets", False)
                    for i, (h, n) in enumerate(pages)]
            print(f"{len(pages):,} backlinks on {args.hosts} hosts, pages of {len(article(1, 1)) // 1024} KB, "
                  f"politeness off", flush=True)
            asyncio.run(run_checks(jobs[:200], settings_for(32, workdir)))  # warm-up: imports, pools
            print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (shared machine)")
            rows = []
            for concurrency in (int(c) for c in args.concurrency.split(",")):
                rate, per_cpu, statuses = bench_engine(jobs, settings_for(concurrency, workdir), args.batch)
                rows.append(f"engine  concurrency {concurrency:>3}: {rate:7.0f} checks/s  ({per_cpu:.0f} per CPU "
                            f"second) {statuses}  peak RSS so far {peak_rss_mb():.0f} MB")
                print(rows[-1], flush=True)
            concurrency = int(args.concurrency.split(",")[-1])
            first, tick_rate, done = bench_tick(pages, base, copy.deepcopy(settings_for(concurrency, workdir)),
                                                args.batch)
            print(f"tick    concurrency {concurrency:>3}: {first[0]:7.0f} checks/s  ({first[1]:.0f} per CPU second) "
                  f"first checks ({done:,} links go live: check + event + alert each), SQLite, {args.batch} in flight",
                  flush=True)
            print(f"tick    concurrency {concurrency:>3}: {tick_rate[0]:7.0f} checks/s  ({tick_rate[1]:.0f} per CPU "
                  "second) re-checks (check with its evidence recorded, state kept)", flush=True)
            print(f"peak RSS so far {peak_rss_mb():.0f} MB", flush=True)
            startup, extra = bench_render(jobs[1].page_url, settings_for(8, workdir), args.renders)
            print(f"render: Chromium start {startup * 1000:.0f} ms once per tick; a rendered check costs "
                  f"{extra * 1000:.0f} ms more than a static one", flush=True)
            print(f"peak RSS {peak_rss_mb():.0f} MB (this process; Chromium runs in its own processes); "
                  f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
            goal = "met" if tick_rate[0] >= GOAL else "NOT met"
            print(f"goal >= {GOAL:.0f} static checks/s (tick, end to end): {goal}")
        finally:
            nginx.terminate()
            nginx.wait(timeout=10)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
