"""Send benchmark: `python bench/send.py [--messages 10000] [--paced 3000 --rate 200] [--crash 1000 --kills 20]`.

1. Backlog: render (enrol) and send N messages to a local aiosmtpd sink (in its own process) with every cap
   off, on one worker; prints messages/s and the p99 delay between send_at and SMTP acceptance.
2. Paced: messages due at `--rate` per second, sent by ticks every 0.2 s; the p99 delay is then the latency
   of keeping up rather than the length of the queue.
3. Crash (with --crash): SIGKILL the sending process at random moments `--kills` times, reconcile over IMAP
   (Dovecot from Debian) after each, and count Message-IDs at the sink, twice: once with a server that files
   what it accepts in the Sent folder, once with one that does not (Outreach files its copy). Reports how many
   messages were ever `unknown` (at most one per kill: the one in flight), how many of those the Sent folder
   resolved without a person, and the duplicates (0).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select, update

from outreach.config import Settings, as_dict, load_settings
from outreach.db import Base, make_engine, make_sessionmaker
from outreach.lib.secrets import SecretBox
from outreach.mail.mailboxes import MailboxInput, save_mailbox
from outreach.mail.outbox import Sender, recover_stale
from outreach.mail.sequences import configure_campaign, enroll_prospects, save_sequence, save_template
from outreach.mail.unsubscribe import signing_secret
from outreach.models import Campaign, Client, Contact, Prospect, Site
from outreach.models.mail import Message
from outreach.wiring import connect_subscribers


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the sink, in its own process --------------------------------------------------------------------

def _sink(port: int, ready: Any, results: Any, stop: Any, imap_cfg: dict[str, Any] | None, busy: Any,
          count: Any) -> None:
    import email
    import imaplib

    from aiosmtpd.controller import Controller

    accepted: list[tuple[str, float]] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            busy.value += 1
            try:
                mid = email.message_from_bytes(envelope.content).get("Message-ID", "").strip("<> ")
                # like most providers, what is accepted is filed in Sent before the answer; or it is not, and a
                # copy to the mailbox itself (Outreach's own record) is delivered to its INBOX like any message
                folder = "Sent" if imap_cfg and imap_cfg["files_sent"] else \
                    "INBOX" if imap_cfg and imap_cfg["address"] in envelope.rcpt_tos else None
                if folder:
                    conn = imaplib.IMAP4(imap_cfg["host"], imap_cfg["port"])  # type: ignore[index]
                    conn.login(imap_cfg["user"], imap_cfg["password"])  # type: ignore[index]
                    conn.append(folder, None, None, envelope.content)
                    conn.logout()
                accepted.append((mid, time.time()))
                count.value += 1
                return "250 2.0.0 OK"
            finally:
                busy.value -= 1

    controller = Controller(Handler(), hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()
    results.put(accepted)


class SinkProcess:
    def __init__(self, imap_cfg: dict[str, Any] | None = None) -> None:
        self.port = _free_port()
        ctx = multiprocessing.get_context("spawn")
        self.ready, self.stop_event, self.results = ctx.Event(), ctx.Event(), ctx.Queue()
        #: messages the server is handling right now (a killed client leaves the server finishing its part)
        self.busy = ctx.Value("i", 0)
        #: messages accepted so far
        self.count = ctx.Value("i", 0)
        self.proc = ctx.Process(target=_sink, args=(self.port, self.ready, self.results, self.stop_event, imap_cfg,
                                                    self.busy, self.count))
        self.proc.start()
        self.ready.wait(20)

    def wait_idle(self) -> None:
        deadline = time.monotonic() + 60
        while self.busy.value and time.monotonic() < deadline:
            time.sleep(0.01)

    def stop(self) -> list[tuple[str, float]]:
        self.stop_event.set()
        accepted = self.results.get(timeout=60)
        self.proc.join(10)
        return accepted


# --- setup -------------------------------------------------------------------------------------

def make_world(url: str, workdir: Path, n: int, sink_port: int, imap_cfg: dict[str, Any] | None = None,
               sent_copy: str = "auto") -> tuple[Settings, Any, float]:
    """A database with one campaign of n prospects enrolled in a one-step sequence; returns render time."""
    settings = load_settings(overrides={
        "app": {"secret_key": "bench-secret-key", "instance_path": str(workdir)},
        "database": {"url": url}, "mail": {"outbox_dir": str(workdir / "outbox"), "smtp_timeout": 10.0}},
        environ={})
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    connect_subscribers()  # the first send moves each card to *contacted*
    factory = make_sessionmaker(engine, write=True)  # like a job context
    box = SecretBox(settings.app.secret_key)
    with factory() as session:
        client = Client(name=f"Bench {time.time()}")
        session.add(client)
        session.flush()
        campaign = Campaign(client_id=client.id, name="Bench", kind="custom", status="active")
        session.add(campaign)
        session.flush()
        sites = [Site(domain=f"site{i}.test") for i in range(n)]
        session.add_all(sites)
        session.flush()
        contacts = [Contact(email=f"editor@site{i}.test", name=f"Editor{i} Person", site_id=s.id)
                    for i, s in enumerate(sites)]
        session.add_all(contacts)
        session.flush()
        prospects = [Prospect(campaign_id=campaign.id, site_id=s.id, contact_id=c.id, page_url=f"https://{s.domain}/",
                              stage="new", position=float(i)) for i, (s, c) in enumerate(zip(sites, contacts,
                                                                                              strict=True))]
        session.add_all(prospects)
        values: dict[str, Any] = dict(
            name="Bench box", from_name="Sam Sender", from_email="sam@agency.test", smtp_host="127.0.0.1",
            smtp_port=sink_port, smtp_security="none", smtp_username="", smtp_password="", daily_cap=0,
            min_spacing_seconds=0, jitter_seconds=0, window_days="1,2,3,4,5,6,7", window_start_hour=0,
            window_end_hour=24)
        if imap_cfg:
            values.update(imap_host=imap_cfg["host"], imap_port=imap_cfg["port"], imap_security="none",
                          imap_username=imap_cfg["user"], imap_password=imap_cfg["password"], sent_copy=sent_copy)
        mailbox = save_mailbox(session, box, MailboxInput(**values))
        template = save_template(session, "Pitch", "Your page on {{ site.domain }}, {{ contact.first_name }}",
                                 "Hi {{ contact.first_name }},\n\nI read {{ prospect.page_url }} and liked it.\n"
                                 "{% if site.domain %}Thanks!{% endif %}\n\n{{ sender.name }}")
        sequence = save_sequence(session, "One step", [(template.id, 0)])
        configure_campaign(session, campaign, mailbox.id, sequence.id)
        session.commit()
        started = time.perf_counter()
        enroll_prospects(session, campaign, [p.id for p in prospects], settings, signing_secret(settings))
        session.commit()
        render_seconds = time.perf_counter() - started
    return settings, factory, render_seconds


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) > 1 else (values[0] if values else 0.0)


def delays(factory: Any, accepted: list[tuple[str, float]]) -> list[float]:
    with factory() as session:
        due = {mid: at for mid, at in session.execute(select(Message.message_id, Message.send_at))}
    return [max(0.0, t - due[mid].timestamp()) for mid, t in accepted if mid in due]


# --- the three runs ----------------------------------------------------------------------------

def backlog(n: int, workdir: Path) -> dict[str, Any]:
    sink = SinkProcess()
    settings, factory, render_seconds = make_world(f"sqlite:///{workdir / 'backlog.db'}", workdir, n, sink.port)
    started, cpu_started = time.perf_counter(), time.process_time()
    sent = Sender(settings, factory, SecretBox(settings.app.secret_key)).run()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    accepted = sink.stop()
    d = delays(factory, accepted)
    return {"messages": n, "sent": sent, "accepted": len(accepted), "render_enrol_s": round(render_seconds, 2),
            "send_s": round(seconds, 2), "messages_per_s": round(sent / seconds, 1),
            # the sender's own CPU time: what one worker costs, whatever else the machine is running
            "sender_cpu_s": round(cpu, 2), "messages_per_cpu_s": round(sent / cpu, 1),
            "load_average": os.getloadavg()[0],
            "p99_delay_s": round(p99(d), 2), "duplicates": len(accepted) - len({m for m, _ in accepted})}


def paced(n: int, rate: float, workdir: Path) -> dict[str, Any]:
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


def crash(n: int, kills: int, workdir: Path, filed_by: str) -> dict[str, Any]:
    """SIGKILL the sender `kills` times while it sends n messages; the Sent folder is filed by the server or by
    Outreach (`filed_by`)."""
    from outreach.mail import imap
    from outreach.mail.outbox import reconcile_unknown
    from outreach.models import Activity
    from outreach.models.mail import Mailbox
    from tests.mail.conftest import IMAP_PASSWORD, IMAP_USER, start_dovecot

    server, stop_dovecot = start_dovecot()
    imap_cfg = {"host": server.host, "port": server.port, "user": IMAP_USER, "password": IMAP_PASSWORD}
    sink = SinkProcess({**imap_cfg, "files_sent": filed_by == "server", "address": "sam@agency.test"})
    rng = random.Random(5)
    try:
        settings, factory, _ = make_world(f"sqlite:///{workdir / f'crash-{filed_by}.db'}", workdir, n, sink.port,
                                          imap_cfg, sent_copy="never" if filed_by == "server" else "always")
        done_kills = rounds = 0
        recovered: dict[str, int] = {}
        started = time.perf_counter()
        while True:
            rounds += 1
            proc = subprocess.Popen([sys.executable, "-m", "outreach.mail.crashable", json.dumps(as_dict(settings))],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if done_kills < kills:
                # in the middle of sending: after 1 to 50 more messages were accepted, plus 0–20 ms
                threading.Thread(target=_kill_while_sending, args=(proc, sink, sink.count.value + rng.randint(1, 50),
                                                                   rng.uniform(0, 0.02))).start()
            proc.wait(600)
            if proc.returncode == -signal.SIGKILL:
                done_kills += 1
            sink.wait_idle()  # what the dead sender handed over is accepted (and filed) or dropped by now
            with factory() as session:
                # the reconcile tick once the sending lease ran out; no grace: the sink was waited for
                for key, value in recover_stale(session, settings, lease_seconds=0).items():
                    recovered[key] = recovered.get(key, 0) + value
                session.commit()
                mailbox = session.scalars(select(Mailbox)).one()
                conn = imap.connect(server.host, server.port, "none", IMAP_USER, IMAP_PASSWORD, 30)
                reconcile_unknown(session, conn, mailbox, settings, signing_secret(settings), grace=timedelta(0))
                imap.logout(conn)
                left = session.scalar(select(Message.id).where(Message.status.in_(("scheduled", "sending",
                                                                                   "unknown"))).limit(1))
            if left is None or rounds > kills + 20:
                break
        seconds = time.perf_counter() - started
        from outreach.jobs.ticks import JobContext
        from outreach.mail.jobs import poll_mailboxes

        # the polls move the copies that came back through INBOX to Sent (up to 500 a poll), then every message
        # should have one there
        conn = imap.connect(server.host, server.port, "none", IMAP_USER, IMAP_PASSWORD, 30)
        with factory() as session:
            ids = list(session.scalars(select(Message.message_id)))
        for _ in range(len(ids) // 500 + 1):
            with factory() as session:
                session.execute(update(Mailbox).values(next_poll_at=None))
                session.commit()
            poll_mailboxes(JobContext(settings, factory, SecretBox(settings.app.secret_key)))
        filed = imap.in_folder(conn, "Sent", ids)
        imap.logout(conn)
        accepted = sink.stop()
        with factory() as session:
            statuses = dict(session.execute(select(Message.message_id, Message.status)).all())
            ever_unknown = {a.details["message_id"] for a in session.scalars(
                select(Activity).where(Activity.kind == "email_unknown"))}
            resent = {a.details["message_id"] for a in session.scalars(
                select(Activity).where(Activity.kind == "email_resend"))}
        counts: dict[str, int] = {}
        for mid, _ in accepted:
            counts[mid] = counts.get(mid, 0) + 1
        sent = [m for m, s in statuses.items() if s == "sent"]
        return {"sent_copy_filed_by": filed_by, "messages": n, "kills": done_kills, "restarts": rounds,
                "seconds": round(seconds, 1),
                # left `sending` by a kill: before DATA (rescheduled) / during or after DATA (unknown)
                "claimed_before_data_rescheduled": recovered.get("rescheduled", 0),
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
        stop_dovecot()


def _kill_while_sending(proc: subprocess.Popen[bytes], sink: SinkProcess, accepted: int, extra: float) -> None:
    while proc.poll() is None and sink.count.value < accepted:
        time.sleep(0.001)
    time.sleep(extra)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--paced", type=int, default=3000, help="messages in the paced run (0 skips it)")
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--crash", type=int, default=0, help="messages in the crash run (0 skips it)")
    parser.add_argument("--kills", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="outreach-bench-") as tmp:
        workdir = Path(tmp)
        results: dict[str, Any] = {"backlog": backlog(args.messages, workdir)}
        print(json.dumps(results["backlog"]), file=sys.stderr)
        if args.paced:
            results["paced"] = paced(args.paced, args.rate, workdir)
            print(json.dumps(results["paced"]), file=sys.stderr)
        if args.crash:
            for filed_by in ("server", "outreach"):
                results[f"crash_sent_filed_by_{filed_by}"] = crash(args.crash, args.kills, workdir, filed_by)
                print(json.dumps(results[f"crash_sent_filed_by_{filed_by}"]), file=sys.stderr)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
