"""Send benchmark: `python bench/send.py [--sizes 1000,10000] [--backends sqlite,postgresql] [--crash 1000 --kills 20]
[--loop 10000] [--paced 3000 --rate 200]`.

1. End to end (the default): `outreach run` (web app and in-process scheduler, default settings) as a subprocess
   on a fresh instance folder and database, driven as an integrator drives it: over the JSON API a client, a
   campaign, a mailbox on a local aiosmtpd sink (in its own process; every cap off), a template, a one-step
   sequence and the prospects with their addresses (bulk, 1,000 a request); then each of --sizes prospects
   enrolled at once (1,000 a request) and timed from the first enrolment request until the sink accepted the
   last message. Prints messages/s (goal: 200 or more) and the CPU the `outreach run` process used.
2. Crash (with --crash): the same through `outreach run` with a Dovecot mailbox (Debian's), SIGKILLed `--kills`
   times while it sends, and started again each time; its own ticks recover what the kills left. Twice: a
   server that files what it accepts in Sent, and one that does not (Outreach files its copy). Reports how many
   messages were ever `unknown` (at most one per kill: the one in flight), how many were resolved without a
   person, and the duplicates at the sink (goal 0).
3. With --loop N: the sender loop alone (Sender.run() in this process on N messages seeded straight into SQLite):
   what the loop costs without the web, the enrolment or the scheduler.
4. With --paced N: N messages due at --rate per second, sent by Sender.run() every 0.2 s; the p99 delay is then
   the latency of keeping up rather than the length of the queue.

Timings are wall-clock on whatever machine runs them: the sink, PostgreSQL and the benchmark share its cores
with `outreach run`; the load average is printed with each figure.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

import mailworld  # noqa: E402  (bench/mailworld.py: the sink and the sending campaign)
from mailworld import Api, SinkProcess  # noqa: E402
from sqlalchemy import func, select, update  # noqa: E402

GOAL_PER_S = 200.0


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) > 1 else (values[0] if values else 0.0)


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) used so far by one process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- `outreach run` as a subprocess ------------------------------------------------------------------------

@contextmanager
def database(backend: str, workdir: Path) -> Iterator[str]:
    import ui as ui_bench  # bench/ui.py: a throwaway SQLite file or PostgreSQL database

    with ui_bench.database(backend, workdir) as url:
        yield url


class Outreach:
    """`outreach run` on an instance folder of its own, started (and SIGKILLed) as a process group."""

    def __init__(self, workdir: Path, url: str, *, scheduler: dict[str, Any] | None = None,
                 mail: dict[str, Any] | None = None, profile: str = "") -> None:
        self.workdir, self.url, self.profile = workdir, url, profile
        self.port = mailworld.free_port()
        self.config = workdir / "outreach.toml"
        self.log = workdir / "outreach.log"
        dead_dns = mailworld.free_port()  # nothing answers there: no lookup leaves the machine
        tables = {"app": {"secret_key": "bench-send-secret-key", "instance_path": str(workdir / "instance")},
                  "database": {"url": url},
                  "scheduler": scheduler or {},
                  "dns": {"nameservers": ["127.0.0.1"], "port": dead_dns, "timeout": 0.2},
                  "mail": {"outbox_dir": str(workdir / "outbox"), **(mail or {})},
                  "logging": {"level": "WARNING"}}
        self.config.write_text("".join(f"[{table}]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items())
                                       for table, values in tables.items()))
        self.process: subprocess.Popen[bytes] | None = None
        self.profiler: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [sys.executable, "-m", "outreach.cli", "--config", str(self.config), "run", "--port", str(self.port)]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        if self.profile:  # every thread of the process, sampled by py-spy until it ends (collapsed stacks)
            self.profiler = subprocess.Popen([shutil.which("py-spy") or "py-spy", "record", "--pid",
                                              str(self.process.pid), "--format", "raw", "--rate", "200",
                                              "--output", self.profile], stdout=subprocess.DEVNULL,
                                             stderr=subprocess.DEVNULL)
        mailworld.wait_ready(self.port, self.process, self.log, timeout=120)

    def cpu(self) -> float:
        return cpu_seconds(self.process.pid) if self.process and self.process.poll() is None else 0.0

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(30)

    def stop(self) -> None:
        """SIGINT (Ctrl+C): the scheduler finishes its current units."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.profiler is not None:
            self.profiler.wait(60)  # py-spy writes its file when the process it samples ends


def wait_for(sink: SinkProcess, count: int, timeout: float, alive: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + timeout
    while sink.count.value < count:
        if time.monotonic() > deadline or not alive():
            return False
        time.sleep(0.005)
    return True


def note_when(sink: SinkProcess, count: int, alive: Callable[[], bool], into: list[float]) -> None:
    """Append to `into` the moment the sink has accepted `count` messages (within 120 s)."""
    if wait_for(sink, count, 120, alive):
        into.append(time.perf_counter())


def end_to_end(backend: str, sizes: list[int], workdir: Path, profile: str = "") -> list[dict[str, Any]]:
    """Enrol each of `sizes` prospects at once through the API of `outreach run`; time until the sink has them."""
    workdir.mkdir(parents=True, exist_ok=True)
    sink = SinkProcess()
    results = []
    with database(backend, workdir) as url:
        app = Outreach(workdir, url, profile=profile)
        try:
            app.start()
            api = Api(app.base, mailworld.admin_token(url))
            started = time.perf_counter()
            campaign_id, prospect_ids = mailworld.seed_campaign_via_api(api, sum(sizes), sink.port)
            print(f"{backend}: {len(prospect_ids):,} prospects created over the API in "
                  f"{time.perf_counter() - started:.1f} s", file=sys.stderr)
            time.sleep(2)  # what the start-up ticks had to do is done
            for size in sizes:
                ids, prospect_ids = prospect_ids[:size], prospect_ids[size:]
                before, cpu_before = sink.count.value, app.cpu()
                alive = lambda: app.process.poll() is None  # type: ignore[union-attr]  # noqa: E731
                first: list[float] = []
                watcher = threading.Thread(target=note_when, args=(sink, before + 1, alive, first))
                started = time.perf_counter()
                watcher.start()  # sending starts while later enrolment requests are still being answered
                enrolled = mailworld.enrol_via_api(api, campaign_id, ids)
                enrol_s = time.perf_counter() - started
                done = wait_for(sink, before + size, 60 + size / 20, alive)
                watcher.join()
                seconds = time.perf_counter() - started
                accepted = sink.count.value - before
                results.append({
                    "backend": backend, "messages": size, "enrolled": enrolled, "accepted": accepted,
                    "complete": done, "enrol_s": round(enrol_s, 2),
                    # the first acceptance: the enrolment of the first 1,000 and the wait for the send tick
                    "first_accepted_s": round(first[0] - started, 2) if first else None, "total_s": round(seconds, 2),
                    "messages_per_s": round(accepted / seconds, 1),
                    # what `outreach run` spent on it (web, scheduler and all), whatever else the machine ran
                    "outreach_cpu_s": round(app.cpu() - cpu_before, 2),
                    "cpu_ms_per_message": round((app.cpu() - cpu_before) / max(1, accepted) * 1000, 2),
                    "load_average": round(os.getloadavg()[0], 1)})
                print(json.dumps(results[-1]), file=sys.stderr)
        finally:
            app.stop()
            accepted_ids = [mid for mid, _ in sink.stop()]
    for result in results:
        result["duplicates_at_sink"] = len(accepted_ids) - len(set(accepted_ids))
    return results


# --- crash ---------------------------------------------------------------------------------------------------

def crash(n: int, kills: int, workdir: Path, filed_by: str) -> dict[str, Any]:
    """SIGKILL `outreach run` `kills` times while it sends n messages, starting it again each time; the Sent folder
    is filed by the server or by Outreach (`filed_by`; the mailbox is left on "auto" and finds out which)."""
    from outreach.db import make_engine, make_sessionmaker
    from outreach.mail import imap
    from outreach.models import Activity
    from outreach.models.mail import Message
    from tests.mail.conftest import IMAP_PASSWORD, IMAP_USER, start_dovecot

    workdir.mkdir(parents=True, exist_ok=True)
    server, stop_dovecot = start_dovecot()
    imap_cfg = {"host": server.host, "port": server.port, "user": IMAP_USER, "password": IMAP_PASSWORD}
    sink = SinkProcess({**imap_cfg, "files_sent": filed_by == "server", "address": mailworld.SENDER["from_email"]})
    rng = random.Random(5)
    url = f"sqlite:///{workdir / 'crash.db'}"
    # every mail tick each second, a claim left by a dead process taken back after 5 s, mailboxes read each minute
    app = Outreach(workdir, url, scheduler={"send_tick_seconds": 1, "poll_tick_seconds": 1,
                                            "reconcile_tick_seconds": 1},
                   mail={"sending_lease_seconds": 5, "poll_minutes": 1})
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    try:
        app.start()
        api = Api(app.base, mailworld.admin_token(url))
        campaign_id, prospect_ids = mailworld.seed_campaign_via_api(api, n, sink.port, imap_cfg=imap_cfg)
        started = time.perf_counter()
        mailworld.enrol_via_api(api, campaign_id, prospect_ids)
        done_kills = 0
        while done_kills < kills and sink.count.value < n:
            # in the middle of sending: after 1 to 50 more messages were accepted, plus 0–20 ms
            target = sink.count.value + rng.randint(1, 50)
            if not wait_for(sink, target, 120, lambda: True):
                break
            time.sleep(rng.uniform(0, 0.02))
            app.kill()
            done_kills += 1
            sink.wait_idle()  # what the dead process handed over is accepted (and filed) or dropped by now
            app.start()

        def left() -> int:
            with factory() as session:
                return int(session.scalar(select(func.count()).select_from(Message).where(
                    Message.status.in_(("scheduled", "sending", "unknown")))) or 0)

        # the ticks of the last process finish the work: sends, the lease, reconciliation (an unknown message
        # whose copy is nowhere goes again SENT_FOLDER_GRACE after its DATA)
        deadline = time.monotonic() + 600
        while left() and time.monotonic() < deadline:
            time.sleep(0.5)
        seconds = time.perf_counter() - started
        app.stop()
        with factory() as session:
            statuses = dict(session.execute(select(Message.message_id, Message.status)).all())
            ever_unknown = {a.details["message_id"] for a in session.scalars(
                select(Activity).where(Activity.kind == "email_unknown"))}
            resent = {a.details["message_id"] for a in session.scalars(
                select(Activity).where(Activity.kind == "email_resend"))}
        conn = imap.connect(server.host, server.port, "none", IMAP_USER, IMAP_PASSWORD, 30)
        filed = imap.in_folder(conn, "Sent", list(statuses))
        imap.logout(conn)
        accepted = sink.stop()
        counts: dict[str, int] = {}
        for mid, _ in accepted:
            counts[mid] = counts.get(mid, 0) + 1
        sent = [m for m, s in statuses.items() if s == "sent"]
        return {"sent_copy_filed_by": filed_by, "messages": n, "kills": done_kills, "seconds": round(seconds, 1),
                "ever_unknown": len(ever_unknown),
                "unknown_resolved_automatically": sum(1 for m in ever_unknown if statuses.get(m) == "sent"),
                "unknown_resolved_as_sent_from_the_sent_folder": len(ever_unknown - resent),
                "unknown_resolved_as_never_accepted_and_resent": len(ever_unknown & resent),
                "left_unknown": sum(1 for s in statuses.values() if s == "unknown"),
                "sent": len(sent), "other": len(statuses) - len(sent),
                "arrived_exactly_once": sum(1 for m in sent if counts.get(m) == 1),
                "duplicates": sum(c - 1 for c in counts.values() if c > 1),
                "sent_but_never_arrived": sum(1 for m in sent if not counts.get(m)),
                "with_a_copy_in_sent": len(filed)}
    finally:
        app.kill()
        if sink.proc.is_alive():
            sink.stop()
        engine.dispose()
        stop_dovecot()


# --- the sender loop alone -----------------------------------------------------------------------------------

def make_world(url: str, workdir: Path, n: int, sink_port: int) -> tuple[Any, Any, float]:
    """A database with one campaign of n prospects enrolled in a one-step sequence; returns the render time."""
    from outreach.config import load_settings
    from outreach.db import Base, make_engine, make_sessionmaker
    from outreach.lib.secrets import SecretBox
    from outreach.mail.sequences import enroll_prospects
    from outreach.mail.unsubscribe import signing_secret
    from outreach.wiring import connect_subscribers

    settings = load_settings(overrides={
        "app": {"secret_key": "bench-secret-key", "instance_path": str(workdir)},
        "database": {"url": url}, "mail": {"outbox_dir": str(workdir / "outbox"), "smtp_timeout": 10.0}},
        environ={})
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    connect_subscribers()  # the first send moves each card to *contacted*
    factory = make_sessionmaker(engine, write=True)  # like a job context
    with factory() as session:
        campaign, prospect_ids = mailworld.seed_campaign(session, SecretBox(settings.app.secret_key), n, sink_port)
        session.commit()
        started = time.perf_counter()
        enroll_prospects(session, campaign, prospect_ids, settings, signing_secret(settings))
        session.commit()
        render_seconds = time.perf_counter() - started
    return settings, factory, render_seconds


def delays(factory: Any, accepted: list[tuple[str, float]]) -> list[float]:
    from outreach.models.mail import Message

    with factory() as session:
        due = {mid: at for mid, at in session.execute(select(Message.message_id, Message.send_at))}
    return [max(0.0, t - due[mid].timestamp()) for mid, t in accepted if mid in due]


def loop(n: int, workdir: Path) -> dict[str, Any]:
    from outreach.lib.secrets import SecretBox
    from outreach.mail.outbox import Sender

    sink = SinkProcess()
    settings, factory, render_seconds = make_world(f"sqlite:///{workdir / 'loop.db'}", workdir, n, sink.port)
    started, cpu_started = time.perf_counter(), time.process_time()
    sent = Sender(settings, factory, SecretBox(settings.app.secret_key)).run()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    accepted = sink.stop()
    d = delays(factory, accepted)
    return {"messages": n, "sent": sent, "accepted": len(accepted), "render_enrol_s": round(render_seconds, 2),
            "send_s": round(seconds, 2), "messages_per_s": round(sent / seconds, 1),
            # the sender's own CPU time: what one worker costs, whatever else the machine is running
            "sender_cpu_s": round(cpu, 2), "messages_per_cpu_s": round(sent / cpu, 1),
            "load_average": round(os.getloadavg()[0], 1),
            "p99_delay_s": round(p99(d), 2), "duplicates": len(accepted) - len({m for m, _ in accepted})}


def paced(n: int, rate: float, workdir: Path) -> dict[str, Any]:
    from outreach.lib.secrets import SecretBox
    from outreach.mail.outbox import Sender
    from outreach.models.mail import Message

    sink = SinkProcess()
    settings, factory, _ = make_world(f"sqlite:///{workdir / 'paced.db'}", workdir, n, sink.port)
    start = datetime.now(UTC) + timedelta(seconds=2 + n / 1000)  # after the rescheduling below
    with factory() as session:
        for i, mid in enumerate(session.scalars(select(Message.id).order_by(Message.id)).all()):
            session.execute(update(Message).where(Message.id == mid)
                            .values(send_at=start + timedelta(seconds=i / rate)))
        session.commit()
    sender_box = SecretBox(settings.app.secret_key)
    end = start + timedelta(seconds=n / rate + 30)
    while datetime.now(UTC) < end:
        Sender(settings, factory, sender_box).run()
        with factory() as session:
            if session.scalar(select(Message.id).where(Message.status == "scheduled").limit(1)) is None:
                break
        time.sleep(0.2)  # the tick interval of this run
    accepted = sink.stop()
    d = delays(factory, accepted)
    return {"messages": n, "rate_per_s": rate, "accepted": len(accepted), "p50_delay_s": round(statistics.median(d), 3),
            "p99_delay_s": round(p99(d), 3)}


def _report(results: dict[str, Any]) -> None:
    rows = [r for key, value in results.items() if key.startswith("end_to_end") for r in value]
    if not rows:
        return
    print(f"\nend to end through `outreach run` (enrolment over the API to SMTP acceptance), goal "
          f"{GOAL_PER_S:.0f} messages/s", file=sys.stderr)
    print(f"{'backend':<11} {'messages':>8} {'enrol s':>8} {'first s':>8} {'total s':>8} {'msg/s':>7} "
          f"{'CPU ms/msg':>10} {'load':>5}  goal", file=sys.stderr)
    for r in rows:
        met = "met" if r["complete"] and r["messages_per_s"] >= GOAL_PER_S else "NOT met"
        print(f"{r['backend']:<11} {r['messages']:>8,} {r['enrol_s']:>8.1f} {r['first_accepted_s'] or 0:>8.1f} "
              f"{r['total_s']:>8.1f} "
              f"{r['messages_per_s']:>7.0f} {r['cpu_ms_per_message']:>10.1f} {r['load_average']:>5.1f}  {met}",
              file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000", help="messages enrolled at once, end to end (empty: skip)")
    parser.add_argument("--backends", default="sqlite,postgresql", help="databases of the end-to-end runs")
    parser.add_argument("--profile", default="", help="sample `outreach run` with py-spy into this file (collapsed "
                        "stacks; one file per backend: the name gets the backend's)")
    parser.add_argument("--crash", type=int, default=0, help="messages in the crash runs (0 skips them)")
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--loop", type=int, default=0, help="messages for the sender loop alone (0 skips it)")
    parser.add_argument("--paced", type=int, default=0, help="messages in the paced run (0 skips it)")
    parser.add_argument("--rate", type=float, default=200.0)
    args = parser.parse_args()
    try:
        sizes = [int(v) for v in args.sizes.split(",") if v.strip()]
    except ValueError:
        parser.error("--sizes is a list of message counts, e.g. 1000,10000")
    backends = [b for b in args.backends.split(",") if b]
    if any(b not in ("sqlite", "postgresql") for b in backends) or any(s < 1 for s in sizes):
        parser.error("--backends takes sqlite and postgresql; --sizes positive counts")
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="outreach-bench-") as tmp:
        workdir = Path(tmp)
        if sizes:
            for backend in backends:
                profile = f"{args.profile}.{backend}" if args.profile else ""
                results[f"end_to_end_{backend}"] = end_to_end(backend, sizes, workdir / f"e2e-{backend}", profile)
        if args.crash:
            for filed_by in ("server", "outreach"):
                key = f"crash_sent_filed_by_{filed_by}"
                results[key] = crash(args.crash, args.kills, workdir / key, filed_by)
                print(json.dumps(results[key]), file=sys.stderr)
        if args.loop:
            results["sender_loop"] = loop(args.loop, workdir)
            print(json.dumps(results["sender_loop"]), file=sys.stderr)
        if args.paced:
            results["paced"] = paced(args.paced, args.rate, workdir)
            print(json.dumps(results["paced"]), file=sys.stderr)
    _report(results)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
