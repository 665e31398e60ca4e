"""Mailboxes: SMTP + IMAP accounts with passwords encrypted at rest, caps and sending windows."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outreach.lib.addresses import BadAddress, normalise_address
from outreach.lib.secrets import SecretBox
from outreach.mail.headers import HeaderError, check_header
from outreach.mail.smtp import SmtpAccount
from outreach.models.mail import SECURITY, Mailbox, Message


class MailError(ValueError):
    """A one-line reason an operation was refused; `field` names the form field when there is one."""

    def __init__(self, message: str, field: str | None = None, *, line: int | None = None,
                 suggestion: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        #: for a template refused when saved: the line at fault and the variable it probably meant
        self.line = line
        self.suggestion = suggestion


@dataclass
class MailboxInput:
    name: str
    from_name: str
    from_email: str
    smtp_host: str
    smtp_port: int
    smtp_security: str
    smtp_username: str
    #: empty keeps the stored password
    smtp_password: str
    imap_host: str = ""
    imap_port: int = 993
    imap_security: str = "ssl"
    imap_username: str = ""
    imap_password: str = ""
    imap_sent_folder: str = "Sent"
    daily_cap: int = 50
    min_spacing_seconds: int = 120
    jitter_seconds: int = 60
    window_days: str = "1,2,3,4,5"
    window_start_hour: int = 9
    window_end_hour: int = 17
    timezone: str = "UTC"
    is_active: bool = True


def save_mailbox(session: Session, box: SecretBox, data: MailboxInput, mailbox: Mailbox | None = None) -> Mailbox:
    """Create or update a mailbox after checking every field; passwords are stored encrypted."""
    name = data.name.strip()
    if not name:
        raise MailError("the mailbox needs a name", "name")
    clash = session.scalar(select(Mailbox.id).where(func.lower(Mailbox.name) == name.lower(),
                                                    Mailbox.id != (mailbox.id if mailbox else -1)))
    if clash is not None:
        raise MailError(f"a mailbox called {name!r} exists already", "name")
    for field in ("name", "from_name", "smtp_host", "smtp_username", "imap_host", "imap_username",
                  "imap_sent_folder"):
        try:
            check_header(field.replace("_", " "), getattr(data, field))
        except HeaderError as exc:
            raise MailError(str(exc), field) from None
    try:
        from_email = normalise_address(data.from_email)
    except BadAddress as exc:
        raise MailError(str(exc), "from_email") from None
    if not data.smtp_host.strip():
        raise MailError("the SMTP host is required", "smtp_host")
    for field in ("smtp_security", "imap_security"):
        if getattr(data, field) not in SECURITY:
            raise MailError(f"choose one of {', '.join(SECURITY)}", field)
    for field in ("smtp_port", "imap_port"):
        if not 0 < getattr(data, field) < 65536:
            raise MailError("a port is a number from 1 to 65535", field)
    for field in ("daily_cap", "min_spacing_seconds", "jitter_seconds"):
        if getattr(data, field) < 0:
            raise MailError("must be 0 or more", field)
    days = sorted({d.strip() for d in data.window_days.split(",") if d.strip()})
    if not days or any(d not in "1234567" or len(d) != 1 for d in days):
        raise MailError("sending days are ISO weekday numbers 1 (Monday) to 7 (Sunday), comma-separated",
                        "window_days")
    if not 0 <= data.window_start_hour < data.window_end_hour <= 24:
        raise MailError("the window must start before it ends, within 0–24 h", "window_start_hour")
    try:
        ZoneInfo(data.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise MailError(f"unknown time zone {data.timezone!r} (use an IANA name such as Europe/Paris)",
                        "timezone") from None
    if mailbox is None:
        if not data.smtp_password and data.smtp_username:
            raise MailError("the SMTP password is required", "smtp_password")
        mailbox = Mailbox()
        session.add(mailbox)
    values: dict[str, Any] = {k: getattr(data, k) for k in (
        "from_name", "smtp_port", "smtp_security", "imap_port", "imap_security", "daily_cap",
        "min_spacing_seconds", "jitter_seconds", "window_start_hour", "window_end_hour", "timezone", "is_active")}
    values.update(name=name[:200], from_email=from_email, smtp_host=data.smtp_host.strip(),
                  smtp_username=data.smtp_username.strip(), imap_host=data.imap_host.strip(),
                  imap_username=data.imap_username.strip(),
                  imap_sent_folder=data.imap_sent_folder.strip() or "Sent", window_days=",".join(days))
    for key, value in values.items():
        setattr(mailbox, key, value)
    if data.smtp_password:
        mailbox.smtp_password = box.encrypt(data.smtp_password)
    if data.imap_password:
        mailbox.imap_password = box.encrypt(data.imap_password)
    session.flush()
    return mailbox


def delete_mailbox(session: Session, mailbox: Mailbox) -> None:
    """Delete a mailbox no message was sent from (history keeps the ones that were used: make those inactive)."""
    used = session.scalar(select(func.count()).select_from(Message).where(Message.mailbox_id == mailbox.id)) or 0
    if used:
        raise MailError(f"{mailbox.name} cannot be deleted: {used} messages were sent from it; make it inactive "
                        "instead")
    session.delete(mailbox)  # campaigns that pointed at it fall back to the local outbox (ON DELETE SET NULL)
    session.flush()


def smtp_account(mailbox: Mailbox, box: SecretBox, timeout: float) -> SmtpAccount:
    password = box.decrypt(mailbox.smtp_password) if mailbox.smtp_password else ""
    return SmtpAccount(mailbox.smtp_host, mailbox.smtp_port, mailbox.smtp_security, mailbox.smtp_username,
                       password, timeout)


def imap_password(mailbox: Mailbox, box: SecretBox) -> str:
    return box.decrypt(mailbox.imap_password) if mailbox.imap_password else ""


# --- throttling ----------------------------------------------------------------------------------

def zone(mailbox: Mailbox | None) -> ZoneInfo:
    return ZoneInfo(mailbox.timezone if mailbox else "UTC")


def in_window(mailbox: Mailbox, now: datetime) -> bool:
    local = now.astimezone(zone(mailbox))
    return local.isoweekday() in mailbox.day_numbers and \
        mailbox.window_start_hour <= local.hour < mailbox.window_end_hour


def next_window_start(mailbox: Mailbox, now: datetime) -> datetime:
    """The first moment at or after `now` inside the sending window."""
    tz = zone(mailbox)
    if in_window(mailbox, now):
        return now
    local = now.astimezone(tz)
    for offset in range(0, 8):
        day = local.date() + timedelta(days=offset)
        if day.isoweekday() not in mailbox.day_numbers:
            continue
        start = datetime(day.year, day.month, day.day, mailbox.window_start_hour, tzinfo=tz)
        end = datetime(day.year, day.month, day.day, 0, tzinfo=tz) + timedelta(hours=mailbox.window_end_hour)
        if local < start:
            return start
        if start <= local < end:
            return now
    return now


def local_midnight(mailbox: Mailbox | None, now: datetime) -> datetime:
    local = now.astimezone(zone(mailbox))
    return datetime(local.year, local.month, local.day, tzinfo=local.tzinfo)


def sent_today(session: Session, mailbox: Mailbox, now: datetime) -> int:
    """Messages that left (or may have left) this mailbox since local midnight."""
    since = local_midnight(mailbox, now)
    return session.scalar(select(func.count()).select_from(Message).where(
        Message.mailbox_id == mailbox.id, Message.claimed_at >= since,
        Message.status.in_(("sending", "sent", "unknown", "bounced")))) or 0


def add_business_days(start: datetime, days: int, mailbox: Mailbox | None) -> datetime:
    """`days` working days (Monday–Friday in the mailbox's zone) after `start`, same time of day."""
    tz = zone(mailbox)
    local = start.astimezone(tz)
    current: date = local.date()
    added = 0
    while added < days:
        current += timedelta(days=1)
        if current.isoweekday() <= 5:
            added += 1
    result = datetime.combine(current, local.timetz().replace(tzinfo=None), tzinfo=tz)
    return result.astimezone(start.tzinfo)
