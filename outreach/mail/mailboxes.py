"""Mailboxes: SMTP + IMAP accounts with passwords encrypted at rest, caps and sending windows."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outreach.lib.addresses import BadAddress, normalise_address
from outreach.lib.clock import utcnow
from outreach.lib.secrets import SecretBox
from outreach.mail.dkim import DkimKeyError, check_private_key
from outreach.mail.headers import HeaderError, check_header
from outreach.mail.smtp import SmtpAccount
from outreach.models.mail import SECURITY, SENT_COPY_MODES, Mailbox, Message


class MailError(ValueError):
    """A one-line reason an operation was refused; `field` names the form field when there is one."""

    def __init__(self, message: str, field: str | None = None, *, line: int | None = None,
                 suggestion: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        #: for a template refused when saved: the line at fault and the variable it probably meant
        self.line = line
        self.suggestion = suggestion

#: RFC 6376 §3.1: a selector is one or more DNS labels
_SELECTOR = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*")


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
    #: auto | always | never (SENT_COPY_MODES)
    sent_copy: str = "auto"
    daily_cap: int = 50
    min_spacing_seconds: int = 120
    jitter_seconds: int = 60
    window_days: str = "1,2,3,4,5"
    window_start_hour: int = 9
    window_end_hour: int = 17
    timezone: str = "UTC"
    is_active: bool = True
    #: where the DKIM key is published (<selector>._domainkey.<domain>); checked, and used to sign with a key
    dkim_selector: str = ""
    #: PEM private key to sign with; empty keeps the stored one, "-" removes it
    dkim_private_key: str = ""
    #: warm-up: messages on its first day (0: no warm-up), then this many more each day up to the daily cap
    warmup_start: int = 0
    warmup_increment: int = 0
    #: pause the mailbox when more than this percentage of its last 100 sends bounced (0: never)
    bounce_pause_percent: int = 5


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
    if data.sent_copy not in SENT_COPY_MODES:
        raise MailError(f"choose one of {', '.join(SENT_COPY_MODES)}", "sent_copy")
    for field in ("smtp_port", "imap_port"):
        if not 0 < getattr(data, field) < 65536:
            raise MailError("a port is a number from 1 to 65535", field)
    for field in ("daily_cap", "min_spacing_seconds", "jitter_seconds", "warmup_start", "warmup_increment"):
        if getattr(data, field) < 0:
            raise MailError("must be 0 or more", field)
    _check_warmup(data)
    if not 0 <= data.bounce_pause_percent <= 100:
        raise MailError("a percentage from 0 (never pause) to 100", "bounce_pause_percent")
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
    selector = data.dkim_selector.strip().lower()
    if selector and not _SELECTOR.fullmatch(selector):
        raise MailError("a DKIM selector is letters, digits, hyphens and dots, e.g. s2026", "dkim_selector")
    private_key = ""
    if data.dkim_private_key.strip() and data.dkim_private_key.strip() != "-":
        try:
            private_key = check_private_key(data.dkim_private_key)
        except DkimKeyError as exc:
            raise MailError(str(exc), "dkim_private_key") from None
        if not selector:
            raise MailError("a DKIM key needs its selector", "dkim_selector")
    if mailbox is None:
        if not data.smtp_password and data.smtp_username:
            raise MailError("the SMTP password is required", "smtp_password")
        mailbox = Mailbox()
        session.add(mailbox)
    if mailbox is not None and (mailbox.imap_host, mailbox.imap_username, mailbox.imap_sent_folder, mailbox.sent_copy) \
            != (data.imap_host.strip(), data.imap_username.strip(), data.imap_sent_folder.strip() or "Sent",
                data.sent_copy):
        mailbox.server_files_sent = None  # another account or folder: find out again
    values: dict[str, Any] = {k: getattr(data, k) for k in (
        "from_name", "smtp_port", "smtp_security", "imap_port", "imap_security", "sent_copy", "daily_cap",
        "min_spacing_seconds", "jitter_seconds", "window_start_hour", "window_end_hour", "timezone", "is_active",
        "warmup_start", "warmup_increment", "bounce_pause_percent")}
    values.update(name=name[:200], from_email=from_email, smtp_host=data.smtp_host.strip(),
                  smtp_username=data.smtp_username.strip(), imap_host=data.imap_host.strip(),
                  imap_username=data.imap_username.strip(),
                  imap_sent_folder=data.imap_sent_folder.strip() or "Sent", window_days=",".join(days),
                  dkim_selector=selector)
    if mailbox.id is None or any(getattr(mailbox, k) != values[k] for k in ("from_email", "smtp_host",
                                                                            "dkim_selector")):
        # what the checks look at changed: the old results no longer hold, the next tick checks again
        mailbox.next_domain_check_at, mailbox.domain_checks = None, []
    if not data.warmup_start:
        mailbox.warmup_started_on = None
    elif not mailbox.warmup_start or mailbox.warmup_started_on is None:  # turned on now: today is day 1
        mailbox.warmup_started_on = utcnow().astimezone(ZoneInfo(data.timezone)).date()
    for key, value in values.items():
        setattr(mailbox, key, value)
    if data.smtp_password:
        mailbox.smtp_password = box.encrypt(data.smtp_password)
    if data.imap_password:
        mailbox.imap_password = box.encrypt(data.imap_password)
    if private_key:
        mailbox.dkim_private_key = box.encrypt(private_key)
        mailbox.next_domain_check_at, mailbox.domain_checks = None, []
    elif data.dkim_private_key.strip() == "-":
        mailbox.dkim_private_key = ""
    session.flush()
    return mailbox


def _check_warmup(data: MailboxInput) -> None:
    """A warm-up ramps from below the daily cap up to it, a little more each day."""
    if not data.warmup_start:
        return
    if not data.daily_cap:
        raise MailError("a warm-up ramps up to the daily cap: set a daily cap first", "daily_cap")
    if data.warmup_start >= data.daily_cap:
        raise MailError(f"the warm-up starts below the daily cap ({data.daily_cap}), or there is nothing to ramp",
                        "warmup_start")
    if data.warmup_increment < 1:
        raise MailError("add at least 1 a day, or the warm-up never reaches the daily cap", "warmup_increment")


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


@dataclass(frozen=True)
class Warmup:
    """Where a mailbox is on its warm-up ramp on a given day."""

    #: 1 on the day the warm-up was turned on
    day: int
    #: what it may send that day
    allowance: int
    #: the first day the allowance is the daily cap
    cap_reached_on: date
    #: the allowance has reached the daily cap: the warm-up is over
    is_done: bool


def warmup(mailbox: Mailbox, now: datetime) -> Warmup | None:
    """The mailbox's warm-up on `now`'s local day, or None without one."""
    if not mailbox.warmup_start or not mailbox.daily_cap or mailbox.warmup_started_on is None:
        return None
    today = now.astimezone(zone(mailbox)).date()
    day = max(1, (today - mailbox.warmup_started_on).days + 1)
    step = max(1, mailbox.warmup_increment)
    days_to_cap = max(0, -(-(mailbox.daily_cap - mailbox.warmup_start) // step))
    allowance = min(mailbox.daily_cap, mailbox.warmup_start + (day - 1) * mailbox.warmup_increment)
    return Warmup(day, allowance, mailbox.warmup_started_on + timedelta(days=days_to_cap),
                  allowance >= mailbox.daily_cap)


def daily_allowance(mailbox: Mailbox, now: datetime) -> int:
    """How many messages the mailbox may send on `now`'s local day: its daily cap, less while it warms up
    (0: no cap)."""
    ramp = warmup(mailbox, now)
    return ramp.allowance if ramp is not None else mailbox.daily_cap


def sent_today(session: Session, mailbox: Mailbox, now: datetime) -> int:
    """Messages that left (or may have left) this mailbox since local midnight."""
    since = local_midnight(mailbox, now)
    return session.scalar(select(func.count()).select_from(Message).where(
        Message.mailbox_id == mailbox.id, Message.claimed_at >= since,
        Message.status.in_(("sending", "sent", "unknown", "bounced")))) or 0


def after_delay(start: datetime, amount: int, unit: str, business_days_only: bool, mailbox: Mailbox | None
                ) -> datetime:
    """When a follow-up `amount` hours or days after `start` is due, in the mailbox's time zone.

    Days keep the time of day (across a clock change too); with `business_days_only` they count Monday to
    Friday only, and a delay in hours that ends on a Saturday or Sunday moves to the same time on Monday.
    The sending window then applies at send time.
    """
    tz = zone(mailbox)
    if unit == "hours":
        end = (start + timedelta(hours=amount)).astimezone(tz)
        if business_days_only and end.isoweekday() > 5:
            end = _same_time_on(end, end.date() + timedelta(days=8 - end.isoweekday()))
        return end.astimezone(start.tzinfo)
    local = start.astimezone(tz)
    current: date = local.date()
    added = 0
    while added < amount:
        current += timedelta(days=1)
        if not business_days_only or current.isoweekday() <= 5:
            added += 1
    return _same_time_on(local, current).astimezone(start.tzinfo)


def _same_time_on(local: datetime, day: date) -> datetime:
    return datetime.combine(day, local.timetz().replace(tzinfo=None), tzinfo=local.tzinfo)
