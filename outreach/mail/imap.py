"""IMAP: read replies, auto-replies and bounces from INBOX; find our messages in the Sent folder."""
from __future__ import annotations

import contextlib
import email
import imaplib
import logging
import re
import ssl
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.message import Message as EmailMessage
from email.policy import default as default_policy
from email.utils import parseaddr
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from outreach.campaigns.service import move_prospect, record
from outreach.config import Settings
from outreach.lib.clock import utcnow
from outreach.mail.mailboxes import next_window_start, zone
from outreach.mail.outbox import claim_unknown, mark_sent
from outreach.mail.stops import EARLY_STAGES, hard_bounce, notify_bounce, stop_enrollment
from outreach.models.mail import Enrollment, InboundMessage, Mailbox, Message
from outreach.notifications.events import raise_alert
from outreach.notifications.service import notify_about_prospect

SOFT_BOUNCE_LIMIT = 3

log = logging.getLogger(__name__)


class ImapError(OSError):
    """Could not connect, log in or read; one line."""


def connect(host: str, port: int, security: str, username: str, password: str, timeout: float) -> imaplib.IMAP4:
    try:
        if security == "ssl":
            conn: imaplib.IMAP4 = imaplib.IMAP4_SSL(host, port, ssl_context=ssl.create_default_context(),
                                                    timeout=timeout)
        else:
            conn = imaplib.IMAP4(host, port, timeout=timeout)
            if security == "starttls":
                conn.starttls(ssl_context=ssl.create_default_context())
        conn.login(username, password)
        return conn
    except (imaplib.IMAP4.error, OSError) as exc:
        raise ImapError(f"IMAP {host}:{port}: {exc or type(exc).__name__}") from None


def test_connection(conn: imaplib.IMAP4, sent_folder: str) -> str:
    typ, data = conn.select(quote(sent_folder), readonly=True)
    if typ != "OK":
        raise ImapError(f"the Sent folder {sent_folder!r} cannot be opened: {_line(data)}")
    typ, data = conn.select("INBOX", readonly=True)
    if typ != "OK":
        raise ImapError(f"INBOX cannot be opened: {_line(data)}")
    return f"IMAP login worked; INBOX has {int(data[0] or 0)} messages and {sent_folder!r} exists"


def logout(conn: imaplib.IMAP4) -> None:
    with contextlib.suppress(imaplib.IMAP4.error, OSError):
        conn.logout()


def quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _line(data: Any) -> str:
    if data and isinstance(data[0], bytes):
        return data[0].decode("utf-8", "replace")[:200]
    return str(data)[:200]


def in_sent_folder(conn: imaplib.IMAP4, folder: str, message_ids: list[str]) -> set[str]:
    """Which of these Message-IDs are in the folder."""
    typ, data = conn.select(quote(folder), readonly=True)
    if typ != "OK":
        raise ImapError(f"the Sent folder {folder!r} cannot be opened: {_line(data)}")
    found = set()
    for mid in message_ids:
        typ, data = conn.uid("SEARCH", "HEADER", "Message-ID", f'"<{mid}>"')  # type: ignore[arg-type]
        if typ == "OK" and data and data[0] and data[0].split():
            found.add(mid)
    return found


# --- reading INBOX -------------------------------------------------------------------------------

@dataclass
class Parsed:
    kind: str
    message_id: str
    from_email: str
    subject: str
    #: our Message-IDs this one refers to, best first
    refers_to: list[str]
    snippet: str
    details: dict[str, Any] = field(default_factory=dict)
    return_date: date | None = None


_IDS = re.compile(r"<([^<>\s]+)>")
_AUTO_SUBJECT = re.compile(r"^\s*(auto(matic)?[ -]?(reply|response)|out of (the )?office|autoreply|"
                           r"abwesenheit|absence|away from)", re.I)


def parse(raw: bytes) -> Parsed:
    """Classify a raw RFC 5322 message: reply, auto_reply, bounce, soft_bounce (all to be matched later)."""
    msg = email.message_from_bytes(raw, policy=default_policy)
    subject = str(msg.get("Subject", ""))[:500]
    from_email = parseaddr(str(msg.get("From", "")))[1].lower()
    message_id = " ".join(_IDS.findall(str(msg.get("Message-ID", ""))))[:300]
    refs = _IDS.findall(str(msg.get("In-Reply-To", ""))) + list(reversed(_IDS.findall(str(msg.get("References", "")))))
    text = _body_text(msg)
    report = _delivery_status(msg)
    if report is not None:
        status, action, recipient, diagnostic = report
        original = _original_ids(msg)
        hard = status.startswith("5") and action.lower() != "delayed"
        kind = "bounce" if hard else "soft_bounce"
        detail = " ".join(filter(None, [status, diagnostic]))[:300]
        return Parsed(kind, message_id, from_email, subject, original + refs, text[:500],
                      {"status": status, "action": action, "recipient": recipient, "diagnostic": detail})
    auto = str(msg.get("Auto-Submitted", "no")).strip().lower()
    precedence = str(msg.get("Precedence", "")).strip().lower()
    if (auto and auto != "no") or msg.get("X-Autoreply") or msg.get("X-Autorespond") or \
            precedence in ("auto_reply", "bulk", "junk") or _AUTO_SUBJECT.search(subject):
        return Parsed("auto_reply", message_id, from_email, subject, refs, text[:500],
                      {"auto_submitted": auto}, return_date=read_return_date(text, utcnow().date()))
    return Parsed("reply", message_id, from_email, subject, refs, text[:500])


def _body_text(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain", "html")) if hasattr(msg, "get_body") else None  # type: ignore[attr-defined]
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError):
        return ""
    if part.get_content_subtype() == "html":
        content = re.sub(r"<[^>]+>", " ", content)
    return re.sub(r"[ \t]+", " ", content).strip()


def _delivery_status(msg: EmailMessage) -> tuple[str, str, str, str] | None:
    if msg.get_content_type() != "multipart/report":
        return None
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload()
        fields: dict[str, str] = {}
        if isinstance(blocks, list):
            for block in blocks[1:] or blocks:
                for key in ("Status", "Action", "Final-Recipient", "Original-Recipient", "Diagnostic-Code"):
                    if block.get(key) and key not in fields:
                        fields[key] = str(block.get(key))
        else:
            for line in str(blocks).splitlines():
                key, _, value = line.partition(":")
                if key.strip() in ("Status", "Action", "Final-Recipient", "Diagnostic-Code"):
                    fields.setdefault(key.strip(), value.strip())
        status = fields.get("Status", "").strip().split(" ")[0]
        recipient = fields.get("Final-Recipient", fields.get("Original-Recipient", "")).split(";")[-1].strip()
        return status or "5.0.0", fields.get("Action", "failed").strip(), recipient.lower(), \
            fields.get("Diagnostic-Code", "").strip()
    return None


def _original_ids(msg: EmailMessage) -> list[str]:
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "message/rfc822":
            inner = part.get_payload()
            inner = inner[0] if isinstance(inner, list) else inner
            return _IDS.findall(str(inner.get("Message-ID", "")))
        if ctype == "text/rfc822-headers":
            headers = email.message_from_string(part.get_content() if hasattr(part, "get_content")
                                                else str(part.get_payload()))
            return _IDS.findall(str(headers.get("Message-ID", "")))
    return []


_MONTHS = {m: i for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov",
                                       "dec"], start=1)}
_CUE = r"(?:until|till|back(?:\s+in\s+the\s+office)?\s+on|return(?:ing)?\s+on|returning|back|through|thru)"
_ISO = re.compile(_CUE + r"\s+(?:\w+,?\s+)?(\d{4})-(\d{2})-(\d{2})", re.I)
_DMY = re.compile(_CUE + r"\s+(?:\w+day,?\s+)?(?:the\s+)?(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?([a-z]{3})[a-z]*\.?,?"
                  r"(?:\s+(\d{4}))?", re.I)
_MDY = re.compile(_CUE + r"\s+(?:\w+day,?\s+)?([a-z]{3})[a-z]*\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?(?:\s+(\d{4}))?", re.I)


def read_return_date(text: str, today: date) -> date | None:
    """The return date an out-of-office message announces ("back on 3 December", "until 2026-12-03")."""
    found: date | None = None
    if m := _ISO.search(text):
        found = _safe_date(int(m[1]), int(m[2]), int(m[3]))
    elif (m := _DMY.search(text)) and m[2].lower()[:3] in _MONTHS:
        found = _guess_year(int(m[1]), _MONTHS[m[2].lower()[:3]], m[3], today)
    if found is None and (m := _MDY.search(text)) and m[1].lower()[:3] in _MONTHS:
        found = _guess_year(int(m[2]), _MONTHS[m[1].lower()[:3]], m[3], today)
    if found is None or found < today or found > today + timedelta(days=120):
        return None
    return found


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _guess_year(day: int, month: int, year: str | None, today: date) -> date | None:
    if year:
        return _safe_date(int(year), month, day)
    candidate = _safe_date(today.year, month, day)
    if candidate is not None and candidate < today:
        candidate = _safe_date(today.year + 1, month, day)
    return candidate


# --- acting on what was read ---------------------------------------------------------------------

def _match(session: Session, parsed: Parsed, mailbox: Mailbox) -> Message | None:
    for mid in parsed.refers_to:
        message = session.scalar(select(Message).where(Message.message_id == mid))
        if message is not None:
            return message
    if parsed.kind == "reply" and parsed.from_email:
        # a reply whose client dropped the threading headers: the contact writing back to this mailbox
        return session.scalar(select(Message).join(Enrollment, Enrollment.id == Message.enrollment_id).where(
            Message.to_email == parsed.from_email, Message.mailbox_id == mailbox.id,
            Message.status.in_(("sent", "unknown"))).order_by(Message.sent_at.desc()).limit(1))
    if parsed.kind in ("bounce", "soft_bounce") and parsed.details.get("recipient"):
        return session.scalar(select(Message).where(
            Message.to_email == parsed.details["recipient"], Message.mailbox_id == mailbox.id,
            Message.status.in_(("sent", "unknown"))).order_by(Message.sent_at.desc()).limit(1))
    return None


def handle(session: Session, mailbox: Mailbox, uidvalidity: int, uid: int, parsed: Parsed,
           settings: Settings, secret: str) -> InboundMessage:
    """Store the inbound message and apply its effect (stop, pause, bounce)."""
    ours = _match(session, parsed, mailbox)
    kind = parsed.kind if ours is not None else "unmatched"
    inbound = InboundMessage(mailbox_id=mailbox.id, uidvalidity=uidvalidity, uid=uid, message_id=parsed.message_id,
                             from_email=parsed.from_email[:320], subject=parsed.subject, kind=kind,
                             reply_to_message_id=ours.id if ours else None, snippet=parsed.snippet,
                             details={**parsed.details, "original_kind": parsed.kind})
    session.add(inbound)
    session.flush()
    if ours is None:
        return inbound
    if ours.status == "unknown":  # a reply or bounce proves it left
        mark_sent(session, ours, utcnow(), settings, secret, "proved by an inbound message")
    enrollment = ours.enrollment
    prospect = ours.prospect
    quote_text = f"“{parsed.subject}” from {parsed.from_email}"
    if parsed.kind == "reply":
        record(session, prospect, "email_received", f"Reply {quote_text}: {parsed.snippet[:300]}",
               details={"inbound_id": inbound.id, "message_id": parsed.message_id})
        stop_enrollment(session, enrollment, "replied", f"reply {quote_text}", source_message_id=parsed.message_id)
        if prospect.stage in EARLY_STAGES:
            move_prospect(session, prospect, "replied", reason=f"reply {quote_text}")
        notify_about_prospect(session, prospect, "reply", f"Reply from {parsed.from_email}: {parsed.subject}",
                              parsed.snippet[:300])
        raise_alert(session, "reply_received", prospect=prospect, message=ours, inbound=inbound)
    elif parsed.kind == "auto_reply":
        text = f"Auto-reply {quote_text}"
        if parsed.return_date is not None:
            back = _resume_time(enrollment.mailbox, parsed.return_date)
            enrollment.paused_until = back
            for later in session.scalars(select(Message).where(Message.enrollment_id == enrollment.id,
                                                               Message.status == "scheduled", Message.send_at < back)):
                later.send_at = back
            text += f"; follow-ups paused until {back:%Y-%m-%d %H:%M} UTC"
        else:
            text += "; no return date found, the sequence continues"
        record(session, prospect, "email_auto_reply", text,
               details={"inbound_id": inbound.id, "return_date": str(parsed.return_date or "")})
    elif parsed.kind == "bounce":
        hard_bounce(session, ours, parsed.details.get("diagnostic") or parsed.details.get("status", "5.0.0"))
    else:
        _soft_bounce(session, ours, parsed)
    session.flush()
    return inbound


def _resume_time(mailbox: Mailbox | None, day: date) -> datetime:
    tz = zone(mailbox)
    start = datetime(day.year, day.month, day.day, mailbox.window_start_hour if mailbox else 9, tzinfo=tz)
    start = next_window_start(mailbox, start) if mailbox else start
    return start.astimezone(utcnow().tzinfo)


def _soft_bounce(session: Session, message: Message, parsed: Parsed) -> None:
    detail = parsed.details.get("diagnostic") or parsed.details.get("status", "4.0.0")
    action = str(parsed.details.get("action", "")).lower()
    message.soft_bounces += 1
    if action == "delayed":
        record(session, message.prospect, "email_delayed", f"Delivery of “{message.subject}” is delayed: {detail}",
               details={"message_id": message.message_id})
        return
    if message.soft_bounces >= SOFT_BOUNCE_LIMIT:
        message.status = "bounced"
        message.status_reason = f"soft bounce {message.soft_bounces} times: {detail}"[:500]
        record(session, message.prospect, "email_bounced", f"“{message.subject}” soft-bounced "
               f"{message.soft_bounces} times: {detail}", details={"message_id": message.message_id})
        stop_enrollment(session, message.enrollment, "bounced", f"soft bounce {message.soft_bounces} times: {detail}",
                        stage="bounced", source_message_id=message.message_id)
        notify_bounce(session, message, f"soft bounce {message.soft_bounces} times: {detail}")
        return
    delay = timedelta(hours=6 * message.soft_bounces)
    when = utcnow() + delay
    session.execute(update(Message).where(Message.enrollment_id == message.enrollment_id,
                                          Message.status == "scheduled", Message.send_at < when + delay)
                    .values(send_at=when + delay))
    message.status = "scheduled"
    message.send_at = when
    message.data_started_at = None
    record(session, message.prospect, "email_soft_bounce", f"“{message.subject}” soft-bounced ({detail}); "
           f"retrying at {when:%Y-%m-%d %H:%M} UTC (attempt {message.soft_bounces + 1})",
           details={"message_id": message.message_id})


def poll(session: Session, conn: imaplib.IMAP4, mailbox: Mailbox, settings: Settings,
         secret: str, limit: int = 500) -> int:
    """Read new INBOX messages (by UID, read-only, never marking them seen); commits each one."""
    typ, data = conn.select("INBOX", readonly=True)
    if typ != "OK":
        raise ImapError(f"INBOX cannot be opened: {_line(data)}")
    typ, data = conn.response("UIDVALIDITY")
    uidvalidity = int(data[0]) if data and data[0] else 0
    if uidvalidity != mailbox.imap_uidvalidity:
        mailbox.imap_uidvalidity, mailbox.imap_last_uid = uidvalidity, 0
        session.commit()
    typ, data = conn.uid("SEARCH", f"UID {mailbox.imap_last_uid + 1}:*")  # type: ignore[arg-type]
    uids = sorted(int(u) for u in (data[0] or b"").split() if int(u) > mailbox.imap_last_uid)[:limit]
    done = 0
    for uid in uids:
        typ, fetched = conn.uid("FETCH", str(uid), "(BODY.PEEK[])")
        raw = next((item[1] for item in fetched or [] if isinstance(item, tuple)), None)
        exists = session.scalar(select(InboundMessage.id).where(InboundMessage.mailbox_id == mailbox.id,
                                                                InboundMessage.uidvalidity == uidvalidity,
                                                                InboundMessage.uid == uid))
        if raw is not None and exists is None:
            try:
                handle(session, mailbox, uidvalidity, uid, parse(raw), settings, secret)
                done += 1
            except Exception:  # one unreadable message must not block the mailbox forever
                log.exception("mailbox %s: cannot process UID %s; skipped", mailbox.name, uid)
                session.rollback()
        mailbox.imap_last_uid = uid
        session.commit()
    return done


def reconcile_unknown(session: Session, conn: imaplib.IMAP4, mailbox: Mailbox, settings: Settings,
                      secret: str) -> int:
    """Unknown messages found in the Sent folder are sent; the others stay unknown for a person to decide."""
    unknown = session.scalars(select(Message).where(Message.mailbox_id == mailbox.id,
                                                    Message.status == "unknown")).all()
    if not unknown:
        return 0
    found = in_sent_folder(conn, mailbox.imap_sent_folder, [m.message_id for m in unknown])
    now = utcnow()
    session.commit()  # end the read: on SQLite the claim must start its transaction with a write
    sent = set(claim_unknown(session, [m.id for m in unknown if m.message_id in found]))
    for message in unknown:
        if message.id in sent:
            mark_sent(session, message, message.data_started_at or now, settings, secret,
                      f"found in the {mailbox.imap_sent_folder} folder")
        elif message.message_id not in found:
            message.last_error = f"not in the {mailbox.imap_sent_folder} folder as of {now:%Y-%m-%d %H:%M} UTC"
    session.commit()
    return len(sent)

