"""Load benchmark: 40 logged-in users against 1 and 3 web processes while a crawl and sending run.

    .venv/bin/python bench/load.py [--users 40] [--seconds 60] [--warmup 10] [--think 1,3] [--processes 1,3]

Everything on loopback, and it stops by itself (about 2 minutes of setup plus warmup + seconds per phase):

- a throwaway PostgreSQL database (127.0.0.1:5432) migrated and seeded as bench/ui.py does (100,000
  prospects on as many sites, 200 campaigns, 20,000 contacts, 200,000 timeline entries), 40 more users, and
  a sending campaign whose emails fall due at --send-rate per second through the whole run;
- an aiosmtpd sink (bench/mailworld.py's, in its own process) that accepts every email;
- Debian's nginx serving bench/crawl.py's generated site (and its "external" host); each phase queues a
  crawl of it and cancels it at the phase's end. Politeness as set by --crawl-delay (default 0.1 s between
  requests to a host, 2 at a time: a brisk crawl; 0 lets it take a core of its own);
- one `outreach scheduler` (threads backend): the crawl, the send tick and every other tick;
- per phase, `outreach web --workers N` (N = 1: waitress, 8 threads; N > 1: gunicorn, N processes of 8
  threads), then the users: each logs in through the form (CSRF and all), then reads pages in a fixed mix
  with a think time between requests. Requests of the warm-up are not counted.

It prints, per phase: requests/s, p50/p95/p99, errors (non-2xx/3xx answers and failed requests) overall and
per page, the crawl's pages and the emails sent during the measured seconds; then the dashboard alone (one
user, sequential requests to the last phase's server while the crawl and sending still run). Timings are
wall-clock on a shared machine: the load generator, nginx, PostgreSQL, the crawl and the sink all share its
cores with the web processes (and with whatever else runs there).
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

import crawl as crawl_bench  # noqa: E402  (bench/crawl.py: the generated site and its nginx)
import mailworld  # noqa: E402  (bench/mailworld.py: the sink and the sending campaign)
import ui as ui_bench  # noqa: E402  (bench/ui.py: the database and its seeding)

P95_GOAL_MS = 300.0
DASHBOARD_GOAL_MS = 100.0
SECRET_KEY = "bench-load-secret-key"
#: (page, weight, path for a user's n-th request)
PAGE_MIX: list[tuple[str, int, Callable[[random.Random, dict[str, Any]], str]]] = [
    ("dashboard", 15, lambda r, d: "/"),
    ("board", 20, lambda r, d: f"/campaigns/{r.choice(d['campaigns'])}"),
    ("prospect list", 10, lambda r, d: f"/prospects?page={r.randint(1, 20)}"),
    ("prospect list, filtered", 10, lambda r, d: f"/prospects?stage=contacted&dr_min=30&sort=dr&dir=desc"
                                                 f"&page={r.randint(1, 5)}"),
    ("prospect list, search", 10, lambda r, d: f"/prospects?q=site{r.randint(1, 99_999)}&stage=active"),
    ("prospect page", 25, lambda r, d: f"/prospects/{r.randint(1, d['prospects'])}"),
    ("backlinks", 5, lambda r, d: "/backlinks"),
    ("mail", 5, lambda r, d: "/mail"),
]


@dataclass
class Sample:
    page: str
    ms: float
    ok: bool


@dataclass
class Phase:
    processes: int
    samples: list[Sample] = field(default_factory=list)
    seconds: float = 0.0
    crawled: int = 0
    sent: int = 0
    logins: list[float] = field(default_factory=list)
    login_errors: int = 0
    load_cpu: float = 0.0
    load_average: float = 0.0
    #: CPU seconds used during the measured seconds: the web processes, the scheduler (crawl, sending, ticks),
    #: and the whole machine's busy share
    web_cpu: float = 0.0
    database_cpu: float = 0.0
    scheduler_cpu: float = 0.0
    machine_busy: float = 0.0


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def process_cpu(pids: set[int] | None = None, pgid: int | None = None) -> dict[int, float]:
    """CPU seconds used so far by each process of a process group (a server and its workers) or of `pids`."""
    ticks = os.sysconf("SC_CLK_TCK")
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or (pids is not None and int(entry.name) not in pids):
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if pgid is None or int(fields[2]) == pgid:  # after the name: state, ppid, pgrp, ..., utime, stime
            found[int(entry.name)] = (int(fields[11]) + int(fields[12])) / ticks
    return found


def used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds between two readings (a process that started meanwhile counts from zero)."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def database_pids(factory: Any) -> set[int]:
    """The PostgreSQL backends serving the bench's database (other databases on the server are others' work)."""
    from sqlalchemy import text

    with factory() as session:
        return set(session.scalars(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")))


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU time of the whole machine so far, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def percentile(values: list[float], p: float) -> float:
    return ui_bench.percentile(values, p) if values else float("nan")


# --- the world -----------------------------------------------------------------------------------

def seed_world(url: str, users: int, sink_port: int, messages: int, send_rate: float, workdir: Path) -> dict[str, Any]:
    """bench/ui.py's data set, the load users, and a campaign whose emails fall due through the run."""
    from sqlalchemy import insert, select, update

    from outreach.config import load_settings
    from outreach.db import make_engine, make_sessionmaker
    from outreach.lib.clock import utcnow
    from outreach.lib.secrets import SecretBox
    from outreach.mail.sequences import enroll_prospects
    from outreach.mail.unsubscribe import signing_secret
    from outreach.models import Contact, Message, User

    ui_bench.migrate(url)
    engine = make_engine(url)
    data = ui_bench.seed(engine, 1.0, random.Random(7))
    settings = load_settings(overrides={"app": {"secret_key": SECRET_KEY, "instance_path": str(workdir)},
                                        "database": {"url": url}}, environ={})
    factory = make_sessionmaker(engine)
    with factory() as session:
        # the seeded addresses count as checked: the validation tick would otherwise ask a real resolver
        session.execute(update(Contact).values(status="valid", status_reason="bench", checked_at=utcnow()))
        password_hash = session.scalar(select(User.password_hash).where(User.id == 1))
        now = utcnow()
        session.execute(insert(User), [{"email": f"load{i}@bench.test", "name": f"Load {i}", "role": "member",
                                        "password_hash": password_hash, "is_active": True, "failed_logins": 0,
                                        "created_at": now} for i in range(users)])
        campaign, prospect_ids = mailworld.seed_campaign(session, SecretBox(SECRET_KEY), messages, sink_port,
                                                         name="Load sends", prefix="load-")
        session.commit()
        enroll_prospects(session, campaign, prospect_ids, settings, signing_secret(settings))
        session.commit()
        ids = list(session.scalars(select(Message.id).where(Message.campaign_id == campaign.id).order_by(Message.id)))
        return {**data, "engine": engine, "factory": factory, "message_ids": ids, "send_campaign": campaign.id,
                "prospects": data["counts"]["prospects"]}


def schedule_sends(factory: Any, ids: list[int], rate: float) -> None:
    """Emails fall due from now on at `rate` per second."""
    from sqlalchemy import update

    from outreach.lib.clock import utcnow
    from outreach.models import Message

    start = utcnow()
    with factory() as session:
        for i, message_id in enumerate(ids):
            session.execute(update(Message).where(Message.id == message_id)
                            .values(send_at=start + timedelta(seconds=i / rate)))
        session.commit()


def write_config(path: Path, url: str, workdir: Path, crawl_delay: float) -> None:
    dead_dns = free_port()  # nothing answers there: no lookup leaves the machine
    path.write_text(f"""
[app]
secret_key = "{SECRET_KEY}"
instance_path = "{workdir / 'instance'}"
[database]
url = "{url}"
pool_size = 8
max_overflow = 8
[scheduler]
enabled = false
backend = "threads"
workers = 4
[crawl]
allow_private_addresses = true
per_host_delay = {crawl_delay}
per_host_concurrency = 2
concurrency = 16
timeout = 10.0
respect_robots = false
[dns]
nameservers = ["127.0.0.1"]
port = {dead_dns}
timeout = 0.5
[mail]
outbox_dir = "{workdir / 'outbox'}"
[logging]
level = "INFO"
""")


def outreach(config: Path, *args: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "outreach.cli", "--config", str(config), *args],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def stop(process: subprocess.Popen[bytes] | None, timeout: float = 30) -> None:
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def start_crawl(factory: Any, seed: str, pages: int) -> int:
    from outreach.crawler.service import start_crawl as queue

    with factory() as session:
        job = queue(session, [seed], max_pages=pages)
        session.commit()
        return int(job.id)


def crawled(factory: Any, job_id: int) -> int:
    from outreach.models import CrawlJob

    with factory() as session:
        job = session.get(CrawlJob, job_id)
        return int(job.pages_crawled) if job else 0


def cancel_crawl(factory: Any, job_id: int) -> None:
    from outreach.models import CrawlJob
    from outreach.runs.lifecycle import RunFinished, request_cancel

    with factory() as session:
        job = session.get(CrawlJob, job_id)
        if job is not None:
            with contextlib.suppress(RunFinished):
                request_cancel(session, job)
            session.commit()


def sent(factory: Any) -> int:
    from sqlalchemy import func, select

    from outreach.models import Message

    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(Message).where(Message.status == "sent")) or 0)


# --- the users -----------------------------------------------------------------------------------

_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


async def login(http: Any, base: str, email: str) -> float:
    started = time.perf_counter()
    async with http.get(f"{base}/login") as answer:
        page = await answer.text()
    match = _CSRF.search(page)
    if not match:
        raise RuntimeError("no CSRF token on the login page")
    async with http.post(f"{base}/login", data={"email": email, "password": ui_bench.PASSWORD,
                                                "csrf_token": match.group(1)}, allow_redirects=False) as answer:
        await answer.read()
        if answer.status != 302:
            raise RuntimeError(f"login of {email} answered {answer.status}")
    return (time.perf_counter() - started) * 1000


async def user(n: int, base: str, data: dict[str, Any], phase: Phase, measure_from: float, until: float,
               think: tuple[float, float]) -> None:
    import aiohttp

    rng = random.Random(n)
    names, weights = [p[0] for p in PAGE_MIX], [p[1] for p in PAGE_MIX]
    paths = {p[0]: p[2] for p in PAGE_MIX}
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True), timeout=timeout) as http:
        await asyncio.sleep(rng.uniform(0, 3))  # users arrive over a few seconds
        try:
            phase.logins.append(await login(http, base, f"load{n}@bench.test"))
        except Exception as exc:
            phase.login_errors += 1
            print(f"user {n}: {exc}", file=sys.stderr)
            return
        while time.monotonic() < until:
            await asyncio.sleep(rng.uniform(*think))
            if time.monotonic() >= until:
                break
            page = rng.choices(names, weights)[0]
            started = time.perf_counter()
            ok = False
            try:
                async with http.get(base + paths[page](rng, data), allow_redirects=False) as answer:
                    await answer.read()
                    ok = answer.status < 400
            except Exception:
                ok = False
            if time.monotonic() >= measure_from:
                phase.samples.append(Sample(page, (time.perf_counter() - started) * 1000, ok))


async def run_users(users: int, base: str, data: dict[str, Any], phase: Phase, warmup: float, seconds: float,
                    think: tuple[float, float]) -> None:
    start = time.monotonic()
    measure_from, until = start + 3 + warmup, start + 3 + warmup + seconds
    await asyncio.gather(*(user(n, base, data, phase, measure_from, until, think) for n in range(users)))


async def dashboard_alone(base: str, requests: int) -> list[float]:
    import aiohttp

    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await login(http, base, "load0@bench.test")
        times = []
        for n in range(requests + 3):
            started = time.perf_counter()
            async with http.get(base + "/") as answer:
                await answer.read()
                if answer.status != 200:
                    raise SystemExit(f"the dashboard answered {answer.status}")
            if n >= 3:
                times.append((time.perf_counter() - started) * 1000)
        return times


# --- report --------------------------------------------------------------------------------------

def report(phases: list[Phase], alone: list[float], users: int, think: tuple[float, float]) -> None:
    print(f"\n{users} users, think time {think[0]:g}-{think[1]:g} s, PostgreSQL, 100,000 prospects; "
          f"a crawl and sending run throughout")
    header = (f"{'web':<22} {'page':<24} {'requests':>8} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
              f"{'errors':>6}")
    print(header)
    print("-" * len(header))
    for phase in phases:
        web = f"{phase.processes} process{'es' if phase.processes > 1 else ''}"
        by_page: dict[str, list[Sample]] = defaultdict(list)
        for sample in phase.samples:
            by_page[sample.page].append(sample)
        rows = [("all pages", phase.samples)] + [(name, by_page[name]) for name, _, _ in PAGE_MIX]
        for name, samples in rows:
            ms = [s.ms for s in samples]
            errors = sum(not s.ok for s in samples)
            print(f"{web:<22} {name:<24} {len(samples):>8} {len(samples) / phase.seconds:>7.1f} "
                  f"{percentile(ms, 50):>8.0f} {percentile(ms, 95):>8.0f} {percentile(ms, 99):>8.0f} {errors:>6}")
            web = ""
        print(f"{'':<22} logins: {len(phase.logins)} ok, {phase.login_errors} failed, p50 "
              f"{percentile(phase.logins, 50):.0f} ms; meanwhile the crawl read {phase.crawled} pages "
              f"({phase.crawled / phase.seconds:.0f}/s) and {phase.sent} emails were sent")
        requests = max(1, len(phase.samples))
        print(f"{'':<22} CPU while measured: web {phase.web_cpu / phase.seconds:.2f} cores "
              f"({phase.web_cpu / requests * 1000:.0f} ms a request), its database "
              f"{phase.database_cpu / phase.seconds:.2f} cores, scheduler "
              f"{phase.scheduler_cpu / phase.seconds:.2f} cores, load generator {phase.load_cpu / phase.seconds:.2f}"
              f" cores; the machine "
              f"{phase.machine_busy:.0%} busy, load average {phase.load_average:.1f} on {os.cpu_count()} cores")
    print()
    last = phases[-1]
    worst = max((percentile([s.ms for s in last.samples if s.page == name], 95) for name, _, _ in PAGE_MIX),
                default=float("nan"))
    errors = sum(not s.ok for phase in phases for s in phase.samples) + sum(p.login_errors for p in phases)
    print(f"goal, {last.processes} processes: 0 errors ({'met' if errors == 0 else f'NOT met: {errors}'}), "
          f"p95 of every page < {P95_GOAL_MS:.0f} ms (worst page {worst:.0f} ms: "
          f"{'met' if worst < P95_GOAL_MS else 'NOT met'})")
    if alone:
        p95 = percentile(alone, 95)
        print(f"dashboard alone (one user, {len(alone)} requests over HTTP, crawl and sending still running): "
              f"p50 {percentile(alone, 50):.0f} ms, p95 {p95:.0f} ms: goal < {DASHBOARD_GOAL_MS:.0f} ms "
              f"{'met' if p95 < DASHBOARD_GOAL_MS else 'NOT met'}")


# --- main ----------------------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=40)
    ap.add_argument("--seconds", type=float, default=60.0, help="measured seconds per phase")
    ap.add_argument("--warmup", type=float, default=10.0, help="seconds of load before measuring, per phase")
    ap.add_argument("--think", default="1,3", help="think time between a user's requests: min,max seconds")
    ap.add_argument("--processes", default="1,3", help="web processes per phase")
    ap.add_argument("--send-rate", type=float, default=10.0, help="emails falling due per second")
    ap.add_argument("--crawl-pages", type=int, default=20_000, help="pages of the generated site")
    ap.add_argument("--crawl-delay", type=float, default=0.1,
                    help="[crawl] per_host_delay of the crawl (2 requests per host at a time); 0: as fast as it goes")
    ap.add_argument("--dashboard-requests", type=int, default=15)
    args = ap.parse_args()
    try:
        think = tuple(float(v) for v in args.think.split(","))
        processes = [int(v) for v in args.processes.split(",")]
    except ValueError:
        ap.error("--think is min,max seconds and --processes a list of integers")
    if len(think) != 2 or not 0 <= think[0] <= think[1] or not processes or min(processes) < 1:
        ap.error("--think needs 0 <= min <= max; --processes at least one number >= 1")
    if not 1 <= args.users <= 500 or not 5 <= args.seconds <= 600 or not 0 <= args.warmup <= 120:
        ap.error("--users 1-500, --seconds 5-600, --warmup 0-120")
    if shutil.which("nginx") is None:
        print("nginx is needed (apt-get install -y nginx)", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="outreach-load-"))
    workdir.chmod(0o755)  # nginx's workers read the site
    phase_seconds = 3 + args.warmup + args.seconds
    messages = int(args.send_rate * (len(processes) * (phase_seconds + 15) + 60))
    sink = nginx_pid = scheduler = web = None
    phases: list[Phase] = []
    alone: list[float] = []
    try:
        with ui_bench.database("postgresql", workdir) as url:
            sink = mailworld.SinkProcess()
            t0 = time.monotonic()
            data = seed_world(url, args.users, sink.port, messages, args.send_rate, workdir)
            factory = data["factory"]
            print(f"seeded {data['counts']['prospects']:,} prospects, {args.users} users and {messages:,} emails to "
                  f"send in {time.monotonic() - t0:.0f} s", file=sys.stderr)
            site_port, ext_port = free_port(crawl_bench.SITE_HOST), free_port(crawl_bench.EXT_HOST)
            seed = f"http://{crawl_bench.SITE_HOST}:{site_port}/"
            crawl_bench.generate(workdir / "www", args.crawl_pages, seed.rstrip("/"),
                                 f"http://{crawl_bench.EXT_HOST}:{ext_port}")
            nginx_pid = crawl_bench.start_nginx(workdir / "www", site_port, ext_port)
            config = workdir / "outreach.toml"
            write_config(config, url, workdir, args.crawl_delay)
            schedule_sends(factory, data["message_ids"], args.send_rate)
            scheduler = outreach(config, "scheduler", log=workdir / "scheduler.log")
            for n in processes:
                port = free_port()
                web = outreach(config, "web", "--port", str(port), "--workers", str(n), log=workdir / f"web{n}.log")
                mailworld.wait_ready(port, web, workdir / f"web{n}.log")
                phase = Phase(n)
                job = start_crawl(factory, seed, args.crawl_pages)
                print(f"phase: {n} web process(es), {args.users} users for {args.warmup:g} + {args.seconds:g} s",
                      file=sys.stderr)

                async def measured(phase: Phase = phase, port: int = port, job: int = job,
                                   web_pid: int = web.pid, scheduler_pid: int = scheduler.pid) -> None:
                    marks: list[dict[str, Any]] = []

                    def mark() -> None:
                        busy, total = machine_cpu()
                        marks.append({"crawled": crawled(factory, job), "sent": sent(factory), "busy": busy,
                                      "total": total, "web": process_cpu(pgid=web_pid),
                                      "database": process_cpu(pids=database_pids(factory)),
                                      "scheduler": process_cpu(pgid=scheduler_pid), "load": own_cpu()})

                    async def measuring() -> None:
                        await asyncio.sleep(3 + args.warmup)
                        mark()
                        await asyncio.sleep(args.seconds)
                        mark()

                    await asyncio.gather(measuring(), run_users(args.users, f"http://127.0.0.1:{port}", data, phase,
                                                                args.warmup, args.seconds, think))
                    first, last = marks
                    phase.crawled = int(last["crawled"] - first["crawled"])
                    phase.sent = int(last["sent"] - first["sent"])
                    phase.web_cpu = used(first["web"], last["web"])
                    phase.database_cpu = used(first["database"], last["database"])
                    phase.scheduler_cpu = used(first["scheduler"], last["scheduler"])
                    phase.load_cpu = last["load"] - first["load"]
                    phase.machine_busy = (last["busy"] - first["busy"]) / max(1.0, last["total"] - first["total"])

                asyncio.run(measured())
                phase.seconds, phase.load_average = args.seconds, os.getloadavg()[0]
                phases.append(phase)
                if n == processes[-1]:
                    alone = asyncio.run(dashboard_alone(f"http://127.0.0.1:{port}", args.dashboard_requests))
                cancel_crawl(factory, job)
                stop(web)
                web = None
            stop(scheduler)
            scheduler = None
            data["engine"].dispose()
    finally:
        stop(web)
        stop(scheduler)
        if nginx_pid is not None and nginx_pid.exists():
            os.kill(int(nginx_pid.read_text().strip()), signal.SIGTERM)
        if sink is not None:
            sink.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    report(phases, alone, args.users, think)  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    sys.exit(main())
