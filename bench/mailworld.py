"""What the sending benchmarks share (bench/send.py, bench/load.py): an aiosmtpd sink in its own process, and one
sending campaign (a mailbox on that sink with every cap off, a one-step sequence, n prospects with a contact each),
seeded either straight into the database or through the JSON API of a running `outreach run`.
"""
from __future__ import annotations

import json
import multiprocessing
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SENDER = {"name": "Bench box", "from_name": "Sam Sender", "from_email": "sam@agency.test"}
TEMPLATE = {"name": "Pitch", "subject": "Your page on {{ site.domain }}, {{ contact.first_name }}",
            "body_text": "Hi {{ contact.first_name }},\n\nI read {{ prospect.page_url }} and liked it.\n"
                         "{% if site.domain %}Thanks!{% endif %}\n\n{{ sender.name }}"}
#: the prospects' sites and addresses: site{prefix}{i}.test, editor@ that site
SITE = "site{prefix}{i}.test"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def mailbox_values(sink_port: int, imap_cfg: dict[str, Any] | None = None, sent_copy: str = "auto") -> dict[str, Any]:
    """The mailbox's fields (outreach.mail.mailboxes.MailboxInput, and the API's): the sink, no cap, no window."""
    values: dict[str, Any] = dict(
        **SENDER, smtp_host="127.0.0.1", smtp_port=sink_port, smtp_security="none", smtp_username="",
        smtp_password="", daily_cap=0, min_spacing_seconds=0, jitter_seconds=0, window_start_hour=0,
        window_end_hour=24)
    if imap_cfg:
        values.update(imap_host=imap_cfg["host"], imap_port=imap_cfg["port"], imap_security="none",
                      imap_username=imap_cfg["user"], imap_password=imap_cfg["password"], sent_copy=sent_copy)
    return values


def wait_ready(port: int, process: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    """Return once the app served by `process` answers /healthz; exit with its log's end if it ends first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the web process ended ({process.returncode}):\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the web process did not answer /healthz in {timeout:.0f} s")


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
    """aiosmtpd accepting every message, in a process of its own (its CPU is not the sender's); with `imap_cfg` it
    files what it accepts in Sent ("files_sent") or delivers the copy addressed to the mailbox to its INBOX."""

    def __init__(self, imap_cfg: dict[str, Any] | None = None) -> None:
        self.port = free_port()
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
        """Stop the server; (Message-ID, acceptance time) of every message it accepted."""
        self.stop_event.set()
        accepted = self.results.get(timeout=60)
        self.proc.join(10)
        return accepted


# --- the campaign, straight into the database ---------------------------------------------------------

def seed_campaign(session: Any, secret_box: Any, n: int, sink_port: int, *, name: str = "Bench",
                  imap_cfg: dict[str, Any] | None = None, sent_copy: str = "auto",
                  prefix: str = "") -> tuple[Any, list[int]]:
    """A client and an active campaign of n prospects (one site and checked contact each) sending through the sink
    with a one-step sequence; returns the campaign and its prospect ids (nothing enrolled yet; the caller commits)."""
    from outreach.lib.clock import utcnow
    from outreach.mail.mailboxes import MailboxInput, save_mailbox
    from outreach.mail.sequences import configure_campaign, save_sequence, save_template
    from outreach.models import Campaign, Client, Contact, Prospect, Site

    client = Client(name=f"{name} {time.time_ns()}", website="", report_emails="", notes="")
    session.add(client)
    session.flush()
    campaign = Campaign(client_id=client.id, name=name, kind="custom", status="active")
    session.add(campaign)
    session.flush()
    sites = [Site(domain=SITE.format(prefix=prefix, i=i)) for i in range(n)]
    session.add_all(sites)
    session.flush()
    # checked: the validation tick would otherwise ask a resolver about each address
    contacts = [Contact(email=f"editor@{s.domain}", name=f"Editor{i} Person", site_id=s.id, status="valid",
                        status_reason="bench", checked_at=utcnow()) for i, s in enumerate(sites)]
    session.add_all(contacts)
    session.flush()
    prospects = [Prospect(campaign_id=campaign.id, site_id=s.id, contact_id=c.id, page_url=f"https://{s.domain}/",
                          stage="new", position=float(i)) for i, (s, c) in enumerate(zip(sites, contacts, strict=True))]
    session.add_all(prospects)
    mailbox = save_mailbox(session, secret_box, MailboxInput(**mailbox_values(sink_port, imap_cfg, sent_copy),
                                                             window_days="1,2,3,4,5,6,7"))
    template = save_template(session, TEMPLATE["name"], TEMPLATE["subject"], TEMPLATE["body_text"])
    configure_campaign(session, campaign, mailbox.id, save_sequence(session, "One step", [(template.id, 0)]).id)
    session.flush()
    return campaign, [p.id for p in prospects]


# --- the campaign, through the JSON API ------------------------------------------------------------------

class ApiError(RuntimeError):
    pass


@dataclass
class Api:
    """A token holder of a running app's /api/v1."""

    base: str
    token: str

    def call(self, method: str, path: str, body: Any = None, timeout: float = 600) -> Any:
        request = urllib.request.Request(
            f"{self.base}/api/v1{path}", method=method, data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise ApiError(f"{method} {path}: HTTP {exc.code}: {exc.read()[:500]!r}") from None


def admin_token(url: str) -> str:
    """An admin and an API token for them, written into the (migrated) database a running app serves."""
    from outreach.accounts.service import create_api_token, create_user
    from outreach.db import make_engine, make_sessionmaker

    engine = make_engine(url)
    try:
        with make_sessionmaker(engine, write=True)() as session:
            user = create_user(session, f"bench{time.time_ns()}@agency.test", "a long bench password", role="admin")
            _token, secret = create_api_token(session, user, "bench")
            session.commit()
            return secret
    finally:
        engine.dispose()


def seed_campaign_via_api(api: Api, n: int, sink_port: int, *, name: str = "Bench",
                          imap_cfg: dict[str, Any] | None = None, sent_copy: str = "auto") -> tuple[int, list[int]]:
    """seed_campaign() as an integrator does it: client, campaign, mailbox, template, sequence and mail settings,
    then the prospects with their addresses 1,000 a request; returns the campaign id and the prospect ids."""
    client = api.call("POST", "/clients", {"name": f"{name} {time.time_ns()}"})
    campaign = api.call("POST", "/campaigns", {"client_id": client["id"], "name": name})
    mailbox = api.call("POST", "/mailboxes", {**mailbox_values(sink_port, imap_cfg, sent_copy),
                                              "window_days": [1, 2, 3, 4, 5, 6, 7]})
    template = api.call("POST", "/templates", TEMPLATE)
    sequence = api.call("POST", "/sequences", {"name": "One step", "steps": [{"template_id": template["id"],
                                                                             "delay": 0}]})
    api.call("PATCH", f"/campaigns/{campaign['id']}/mail-settings", {"mailbox_id": mailbox["id"],
                                                                    "sequence_id": sequence["id"]})
    ids: list[int] = []
    for start in range(0, n, 1000):
        domains = [SITE.format(prefix=f"c{campaign['id']}-", i=i) for i in range(start, min(n, start + 1000))]
        answer = api.call("POST", f"/campaigns/{campaign['id']}/prospects/bulk", {"prospects": [
            {"url": f"https://{d}/", "email": f"editor@{d}", "contact_name": f"Editor{i} Person"}
            for i, d in enumerate(domains, start)]})
        if answer["meta"]["refused"]:
            raise ApiError(f"bulk prospects refused: {answer['errors'][:3]}")
        ids += [row["id"] for row in answer["created"]]
    return campaign["id"], ids


def enrol_via_api(api: Api, campaign_id: int, prospect_ids: list[int]) -> int:
    """Enrol the prospects 1,000 a request (the API's limit); returns how many were enrolled."""
    enrolled = 0
    for start in range(0, len(prospect_ids), 1000):
        answer = api.call("POST", f"/campaigns/{campaign_id}/enrollments",
                          {"prospect_ids": prospect_ids[start:start + 1000]})
        if answer["refused"]:
            raise ApiError(f"enrolment refused: {answer['refused'][:3]}")
        enrolled += len(answer["enrolled"])
    return enrolled
