"""Real mail servers on loopback: an aiosmtpd sink with fault injection and a Dovecot IMAP server."""
from __future__ import annotations

import asyncio
import email
import imaplib
import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from sqlalchemy.orm import Session

from outreach.jobs.ticks import JobContext
from outreach.mail.mailboxes import MailboxInput, save_mailbox
from outreach.mail.sequences import configure_campaign, save_sequence, save_template
from outreach.models import Campaign, Prospect
from outreach.models.mail import Mailbox, Sequence
from tests.conftest import free_port

IMAP_USER = "sender"
IMAP_PASSWORD = "imap-secret-pass"


# --- SMTP sink -----------------------------------------------------------------------------------

@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message_id: str
    data: bytes

    @property
    def message(self) -> email.message.Message:
        return email.message_from_bytes(self.data)


@dataclass
class Sink:
    host: str
    port: int
    received: list[Received] = field(default_factory=list)
    #: faults to apply to the next DATA commands, in order: "421", "450", "451", "452", "554" (a permanent
    #: refusal), "block" (550 5.7.1: the server refuses the sender), "drop" (accept, then lose the connection),
    #: "abort" (lose it without accepting), "hang"
    data_faults: list[str] = field(default_factory=list)
    #: recipients refused at RCPT TO with this reply
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    #: called with each accepted message before the reply goes out
    on_accept: Callable[[Received], None] | None = None
    hang_event: threading.Event = field(default_factory=threading.Event)
    #: DATA commands being handled right now (a client killed mid-send leaves the server finishing its part)
    busy: int = 0

    def ids(self) -> Counter[str]:
        return Counter(r.message_id for r in self.received)

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received if address in r.rcpt_tos]

    def wait_idle(self, timeout: float = 30) -> None:
        """Wait until the server has finished with every message it was given (accepted and filed, or not)."""
        deadline = time.monotonic() + timeout
        while self.busy and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not self.busy, "the SMTP sink is still handling a message"


class _Handler:
    def __init__(self, sink: Sink) -> None:
        self.sink = sink

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,  # noqa: N802
                          rcpt_options: list[str]) -> str:
        reply = self.sink.rcpt_replies.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.sink.busy += 1
        try:
            return await self._data(server, envelope)
        finally:
            self.sink.busy -= 1

    async def _data(self, server: Any, envelope: Any) -> str:
        fault = self.sink.data_faults.pop(0) if self.sink.data_faults else None
        if fault and (fault[0] in "45" or fault == "block"):
            return {"421": "421 4.3.2 Service shutting down", "450": "450 4.2.1 Mailbox busy",
                    "451": "451 4.3.0 Local error", "452": "452 4.3.1 Insufficient storage",
                    "554": "554 5.6.0 Message content rejected",
                    "block": "550 5.7.1 Service unavailable; client host blocked"}.get(fault, f"{fault} error")
        if fault == "abort":
            server.transport.abort()
            return "451 never seen"
        msg = email.message_from_bytes(envelope.content)
        received = Received(envelope.mail_from, list(envelope.rcpt_tos),
                            msg.get("Message-ID", "").strip("<> "), envelope.content)
        self.sink.received.append(received)
        if self.sink.on_accept:
            await asyncio.get_running_loop().run_in_executor(None, self.sink.on_accept, received)
        if fault == "drop":
            server.transport.abort()
            return "250 OK"
        if fault == "hang":
            await asyncio.get_running_loop().run_in_executor(None, self.sink.hang_event.wait, 30)
            return "250 OK"
        return "250 2.0.0 OK"


def delivers_to(sink: Sink, imap: Dovecot, address: str, *, files_sent: bool = False) -> None:
    """Make the sink behave like a provider whose own mailbox is `address` on `imap`: a message with `address`
    among its recipients lands in INBOX, and with `files_sent` every accepted message is filed in Sent, both
    before the server answers 250."""
    def accept(received: Received) -> None:
        if files_sent:
            imap.append("Sent", received.data)
        if address in received.rcpt_tos:
            imap.append("INBOX", received.data)

    sink.on_accept = accept


@pytest.fixture
def smtp_sink() -> Iterator[Sink]:
    host = "127.0.0.1"
    sink = Sink(host, free_port())
    controller = Controller(_Handler(sink), hostname=host, port=sink.port, ready_timeout=10)
    controller.start()
    try:
        yield sink
    finally:
        sink.hang_event.set()
        controller.stop()


# --- Dovecot -------------------------------------------------------------------------------------

@dataclass
class Dovecot:
    host: str
    port: int
    home: Path

    def connect(self) -> imaplib.IMAP4:
        conn = imaplib.IMAP4(self.host, self.port, timeout=10)
        conn.login(IMAP_USER, IMAP_PASSWORD)
        return conn

    def append(self, folder: str, raw: bytes) -> None:
        conn = self.connect()
        try:
            typ, data = conn.append(folder, None, None, raw)
            assert typ == "OK", data
        finally:
            conn.logout()

    def clear(self) -> None:
        conn = self.connect()
        try:
            for folder in ("INBOX", "Sent"):
                conn.select(folder)
                conn.store("1:*", "+FLAGS.SILENT", r"(\Deleted)")
                conn.expunge()
        except imaplib.IMAP4.error:
            pass
        finally:
            conn.logout()


def start_dovecot() -> tuple[Dovecot, Callable[[], None]]:
    """A Dovecot IMAP server on loopback in a temp dir, and the function that stops it."""
    if shutil.which("dovecot") is None:
        raise RuntimeError("dovecot is not installed (apt-get install dovecot-imapd)")
    base = Path(tempfile.mkdtemp(prefix="outreach-dovecot-"))  # pytest's own temp root is 0700
    os.chmod(base, 0o755)
    home = base / "home"
    home.mkdir()
    os.chown(home, 65534, 65534)
    port = free_port()
    hashed = subprocess.run(["doveadm", "pw", "-s", "SHA512-CRYPT", "-p", IMAP_PASSWORD], check=True,
                            capture_output=True, text=True).stdout.strip()
    (base / "passwd").write_text(f"{IMAP_USER}:{hashed}:65534:65534::{home}\n")
    conf = base / "dovecot.conf"
    conf.write_text(f"""
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
listen = 127.0.0.1
protocols = imap
ssl = no
disable_plaintext_auth = no
default_login_user = dovenull
default_internal_user = dovecot
auth_mechanisms = plain login
passdb {{
  driver = passwd-file
  args = scheme=SHA512-CRYPT {base}/passwd
}}
userdb {{
  driver = passwd-file
  args = {base}/passwd
}}
mail_location = maildir:~/Maildir
namespace inbox {{
  inbox = yes
  mailbox Sent {{
    special_use = \\Sent
    auto = create
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
""")
    out = open(base / "stdout.log", "wb")  # noqa: SIM115 (the daemon keeps it open)
    subprocess.run(["dovecot", "-c", str(conf)], check=True, stdout=out, stderr=out)
    server = Dovecot("127.0.0.1", port, home)
    deadline = time.monotonic() + 20
    while True:
        try:
            server.connect().logout()
            break
        except (OSError, imaplib.IMAP4.error):
            if time.monotonic() > deadline:
                raise RuntimeError((base / "dovecot.log").read_text() if (base / "dovecot.log").exists()
                                   else "dovecot did not start") from None
            time.sleep(0.1)

    def stop() -> None:
        pid = (base / "run" / "master.pid").read_text().strip()
        subprocess.run(["kill", pid], check=False)
        out.close()
        shutil.rmtree(base, ignore_errors=True)

    return server, stop


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    server, stop = start_dovecot()
    try:
        yield server
    finally:
        stop()


@pytest.fixture
def imap_server(dovecot: Dovecot) -> Iterator[Dovecot]:
    dovecot.clear()
    yield dovecot
    dovecot.clear()


# --- the app side --------------------------------------------------------------------------------

@pytest.fixture
def job_context(app: Flask) -> JobContext:
    state = app.extensions["outreach"]
    return JobContext(settings=state.settings, sessionmaker=state.sessionmaker, secret_box=state.secret_box)


@pytest.fixture
def make_mailbox(app: Flask, db: Session) -> Callable[..., Mailbox]:
    def make(sink: Sink | None = None, imap: Dovecot | None = None, **overrides: Any) -> Mailbox:
        values: dict[str, Any] = dict(
            name=f"Box {uuid.uuid4().hex[:6]}", from_name="Sam Sender", from_email="sam@agency.test",
            smtp_host=sink.host if sink else "127.0.0.1", smtp_port=sink.port if sink else 2525,
            smtp_security="none", smtp_username="", smtp_password="", daily_cap=0, min_spacing_seconds=0,
            jitter_seconds=0, window_days="1,2,3,4,5,6,7", window_start_hour=0, window_end_hour=24)
        if imap:
            values.update(imap_host=imap.host, imap_port=imap.port, imap_security="none", imap_username=IMAP_USER,
                          imap_password=IMAP_PASSWORD, imap_sent_folder="Sent")
        values.update(overrides)
        mailbox = save_mailbox(db, app.extensions["outreach"].secret_box, MailboxInput(**values))
        db.commit()
        return mailbox

    return make


@pytest.fixture
def make_sequence(db: Session) -> Callable[..., Sequence]:
    def make(steps: list[tuple[str, str, int]] | None = None) -> Sequence:
        steps = steps or [("Hello {{ contact.first_name }}", "Hi {{ contact.first_name }},\nI like {{ site.domain }}.",
                           0),
                          ("ignored", "Just following up, {{ contact.first_name }}.", 3)]
        ids = []
        for subject, body, delay in steps:
            template = save_template(db, f"T {uuid.uuid4().hex[:6]}", subject, body)
            ids.append((template.id, delay))
        sequence = save_sequence(db, f"Seq {uuid.uuid4().hex[:6]}", ids)
        db.commit()
        return sequence

    return make


@pytest.fixture
def outreach_campaign(db: Session, make_campaign: Callable[..., Campaign], make_prospect: Callable[..., Prospect],
                      make_sequence: Callable[..., Sequence]) -> Callable[..., tuple[Campaign, list[Prospect]]]:
    """A campaign with a sequence, a mailbox (or the local outbox) and n prospects with contacts."""

    def make(mailbox: Mailbox | None = None, n: int = 2, sequence: Sequence | None = None
             ) -> tuple[Campaign, list[Prospect]]:
        campaign = make_campaign()
        prospects = [make_prospect(campaign, f"https://site{i}-{uuid.uuid4().hex[:6]}.test/links",
                                   email=f"ann{i}.{uuid.uuid4().hex[:4]}@site{i}.test", contact_name=f"Ann{i} Lee")
                     for i in range(n)]
        configure_campaign(db, campaign, mailbox.id if mailbox else None, (sequence or make_sequence()).id)
        db.commit()
        return campaign, prospects

    return make
