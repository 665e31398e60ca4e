"""Emails the app sends about itself (alerts, reports): a .txt + .html template pair, sent after commit.

Sent through the [alerts] SMTP settings; with no smtp_host they are written as .eml files to
[mail] outbox_dir, which is also how tests read them.
"""
from __future__ import annotations

import os
import re
import smtplib
import ssl
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_string
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from email.utils import formatdate, make_msgid
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from outreach import paths
from outreach.config import MailSettings, Settings

#: the names send() gives the files it writes (campaign emails are named "<id>-<Message-ID>.eml" instead)
_FILE_NAME = re.compile(r"[0-9a-f]{32}\.eml")
#: enough of a file to hold its headers
_HEAD_BYTES = 64 * 1024


class MailError(RuntimeError):
    """The email could not be handed to the SMTP server (the caller retries later)."""


@dataclass
class Attachment:
    filename: str
    content: bytes
    mimetype: str = "application/pdf"


@dataclass
class AppEmail:
    to: list[str]
    subject: str
    text: str
    html: str
    attachments: list[Attachment] = field(default_factory=list)


@lru_cache(maxsize=1)
def _env() -> Environment:
    return Environment(loader=FileSystemLoader(str(paths.TEMPLATES)), undefined=StrictUndefined,
                       autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)


def render(name: str, to: list[str], subject: str, **context: Any) -> AppEmail:
    """Render templates/emails/<name>.txt and .html into an email."""
    env = _env()
    context = {"subject": subject, **context}
    return AppEmail(to=to, subject=subject, text=env.get_template(f"emails/{name}.txt").render(**context),
                    html=env.get_template(f"emails/{name}.html").render(**context))


def one_line(text: str) -> str:
    """Header text on one line: a client name or page title with a line break in it would otherwise
    make the email package refuse the message (ValueError), and so the alert or report never leave."""
    return " ".join("".join(ch if ch.isprintable() or ch.isspace() else " " for ch in text).split())


def build_message(email: AppEmail, from_email: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = from_email
    message["To"] = ", ".join(email.to)
    message["Subject"] = one_line(email.subject)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=from_email.rsplit("@", 1)[-1] or "localhost")
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    for item in email.attachments:
        maintype, subtype = item.mimetype.split("/", 1)
        message.add_attachment(item.content, maintype=maintype, subtype=subtype, filename=item.filename)
    return message


def send(email: AppEmail, settings: Settings) -> None:
    """Send through [alerts] SMTP, or write to [mail] outbox_dir when no SMTP host is set."""
    alerts = settings.alerts
    message = build_message(email, alerts.from_email)
    if not alerts.smtp_host:
        outbox = Path(settings.mail.outbox_dir)
        outbox.mkdir(parents=True, exist_ok=True)
        path = outbox / f"{uuid.uuid4().hex}.eml"  # a name _FILE_NAME matches
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(message.as_bytes())
        tmp.replace(path)
        return
    try:
        timeout = 30
        if alerts.smtp_security == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(alerts.smtp_host, alerts.smtp_port, timeout=timeout,
                                                  context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(alerts.smtp_host, alerts.smtp_port, timeout=timeout)
        with smtp:
            if alerts.smtp_security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if alerts.smtp_username:
                smtp.login(alerts.smtp_username, alerts.smtp_password)
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(f"SMTP {alerts.smtp_host}:{alerts.smtp_port}: {exc}") from exc


@dataclass(frozen=True)
class WrittenEmail:
    """One of the app's own emails in the local outbox folder."""

    name: str
    to: str
    subject: str
    written_at: datetime


def written_emails(mail: MailSettings, *, limit: int = 500) -> list[WrittenEmail]:
    """The app's own emails that send() wrote to [mail] outbox_dir, newest first."""
    folder = Path(mail.outbox_dir)
    if not folder.is_dir():
        return []
    found: list[tuple[float, str]] = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if _FILE_NAME.fullmatch(entry.name):
                try:
                    found.append((entry.stat().st_mtime, entry.name))
                except FileNotFoundError:  # deleted since the listing
                    continue
    found.sort(reverse=True)
    emails = []
    for mtime, name in found[:limit]:
        try:
            with open(folder / name, "rb") as file:
                headers = BytesHeaderParser(policy=default_policy).parsebytes(file.read(_HEAD_BYTES))
        except FileNotFoundError:
            continue
        emails.append(WrittenEmail(name, str(headers.get("To", "")), str(headers.get("Subject", "")),
                                   datetime.fromtimestamp(mtime, UTC)))
    return emails


def written_count(mail: MailSettings) -> int:
    """How many of those emails the folder holds."""
    folder = Path(mail.outbox_dir)
    if not folder.is_dir():
        return 0
    with os.scandir(folder) as entries:
        return sum(1 for entry in entries if _FILE_NAME.fullmatch(entry.name))


def written_email(mail: MailSettings, name: str) -> tuple[WrittenEmail, str, Path] | None:
    """One of those emails with its raw text and path, by its file name (None for any other name)."""
    if not _FILE_NAME.fullmatch(name):
        return None
    path = Path(mail.outbox_dir) / name
    try:
        raw = path.read_bytes()
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        return None
    headers = BytesHeaderParser(policy=default_policy).parsebytes(raw[:_HEAD_BYTES])
    email = WrittenEmail(name, str(headers.get("To", "")), str(headers.get("Subject", "")),
                         datetime.fromtimestamp(mtime, UTC))
    return email, raw.decode("utf-8", "replace"), path


def readable_text(raw: str) -> str:
    """What a mail client shows of a written email: its plain-text part, decoded (quoted-printable, base64)."""

    message = message_from_string(raw, policy=default_policy)
    part = message.get_body(preferencelist=("plain",)) if isinstance(message, EmailMessage) else None
    return part.get_content() if part is not None else ""
