"""The outbox: find due messages, claim each with a conditional update, send it once, record what happened.

State machine: scheduled → sending → sent | failed | cancelled | bounced | unknown.
- The claim (scheduled → sending) commits before any SMTP traffic, and re-checks in the same transaction
  every stop condition (enrolment stopped, reply, bounce, unsubscribe, campaign paused).
- `data_started_at` commits after RCPT TO and just before DATA; a message found in `sending` after a crash
  without it was certainly not delivered and goes back to `scheduled`; with it, it becomes `unknown` and
  is reconciled by looking for its Message-ID in the mailbox's Sent folder, never blindly re-sent.
- Each outcome commits as soon as the server answered, so a crash leaves at most the message in flight
  `unknown`; outreach.mail.sent_copy makes the Sent folder decide it.
- SMTP 4xx: retried with backoff, same Message-ID. 5xx: permanent (5.1.x at RCPT: a hard bounce), except a
  5.7.x block: the message goes back to the queue and its mailbox is paused (outreach.mail.protection), as it is
  when its bounce rate passes the mailbox's threshold. A paused mailbox's messages wait in the queue.
"""
from __future__ import annotations

import imaplib
import logging
import os
import random
import re
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, selectinload, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from outreach.campaigns.contact_rules import ContactRules, send_block
from outreach.campaigns.service import move_prospect, record
from outreach.config import MailSettings, Settings
from outreach.db import write_transaction
from outreach.jobs.claims import claim_rows
from outreach.lib import appmail
from outreach.lib.clock import utcnow
from outreach.lib.secrets import SecretBox
from outreach.mail import dkim, imap, review, smtp
from outreach.mail.headers import HeaderError
from outreach.mail.mailboxes import MailError, after_delay, daily_allowance, in_window, sent_today, smtp_account
from outreach.mail.protection import pause_mailbox
from outreach.mail.reclaim_email import stop_reason as reclaim_stop_reason
from outreach.mail.render import RenderError
from outreach.mail.sent_copy import SentFolders, expected_by, needs_detection
from outreach.mail.sequences import create_message
from outreach.mail.stops import EARLY_STAGES, hard_bounce, stop_enrollment
from outreach.mail.unsubscribe import signing_secret, unsubscribe_mailto, unsubscribe_url
from outreach.models import Campaign, Prospect
from outreach.models.mail import (
    CampaignMail,
    Enrollment,
    Mailbox,
    Message,
    SequenceStep,
    is_one_off,
    is_reclaim,
    step_label,
)

log = logging.getLogger(__name__)

#: seconds to wait before attempt 2, 3, ... after a temporary (4xx) failure
BACKOFF = (300, 900, 3600, 4 * 3600, 12 * 3600)
MAX_ATTEMPTS = len(BACKOFF) + 1
BATCH = 200
#: messages claimed in one transaction (each outcome is then recorded in its own, as soon as the server answers)
CLAIM_BATCH = 20
#: how long an `unknown` message's copy may take to reach the Sent folder before its absence proves it never left
SENT_FOLDER_GRACE = timedelta(minutes=2)


class Sender:
    """Sends due messages; one instance per tick (holds SMTP connections for the tick's duration)."""

    def __init__(self, settings: Settings, factory: sessionmaker[Session], secret_box: SecretBox,
                 stopping: Callable[[], bool] = lambda: False) -> None:
        self.settings = settings
        self.factory = factory
        self.secret_box = secret_box
        self.stopping = stopping
        self.secret = signing_secret(settings)
        self.timeout = settings.mail.smtp_timeout
        self.connections: dict[int, smtplib.SMTP] = {}
        #: mailboxes that may send nothing more in this tick (window, cap, spacing, connection failure, paused)
        self.blocked: set[int] = set()
        #: mailboxes paused during this tick: what they still have claimed goes back to the queue
        self.paused: set[int] = set()
        self.cap_left: dict[int, int] = {}
        #: why a mailbox's SMTP server could not be reached in this tick
        self.connect_errors: dict[int, str] = {}
        #: mailboxes read once per tick
        self.mailboxes: dict[int, Mailbox] = {}
        self.sent_folders = SentFolders(secret_box, settings.mail.imap_timeout)

    # --- the loop -------------------------------------------------------------------------------

    def run(self) -> int:
        """Send everything that is due now; returns how many messages were sent."""
        done = 0
        seen: set[int] = set()
        try:
            while not self.stopping():
                now = utcnow()
                with self.factory() as session:
                    rows = due(session, now, BATCH, skip_mailboxes=self.blocked)
                fresh = [row for row in rows if row[0] not in seen]
                if not fresh:
                    break  # what is left was already tried in this tick (lost to another worker, or postponed)
                seen.update(message_id for message_id, _ in fresh)
                for start in range(0, len(fresh), CLAIM_BATCH):
                    if self.stopping():
                        break
                    done += self.send_batch(fresh[start:start + CLAIM_BATCH])
        finally:
            for conn in self.connections.values():
                smtp.quit_quietly(conn)
            self.connections.clear()
            self.sent_folders.close()
        return done

    def send_batch(self, rows: list[tuple[int, int | None]]) -> int:
        """Claim a few messages in one transaction, then send each and record its outcome at once (its DATA
        marker before, its outcome after: each in a short transaction of its own). A crash leaves at most the
        message in flight in `sending` with its DATA marker: reconciled over the Sent folder, never re-sent
        blindly; the others of the batch have no marker and go back to the queue."""
        with self.factory() as session:
            now = utcnow()
            plan: list[tuple[int, Mailbox | None]] = []
            for message_id, mailbox_id in rows:
                mailbox = None
                if mailbox_id is not None:
                    if mailbox_id in self.blocked:
                        continue
                    mailbox = self.mailboxes.get(mailbox_id)
                    if mailbox is None:
                        mailbox = session.get(Mailbox, mailbox_id)
                        if mailbox is None:
                            continue
                        # kept for the tick outside any session: a rollback (a claim lost) cannot expire it
                        session.expunge(mailbox)
                    self.mailboxes[mailbox_id] = mailbox
                    if not self._may_send(session, mailbox, now):
                        self.blocked.add(mailbox_id)
                        continue
                plan.append((message_id, mailbox))
            write_transaction(session)  # the claims read before they write
            claimed: list[tuple[Message, Mailbox | None]] = []
            if not any(m is not None and (m.min_spacing_seconds or m.jitter_seconds) for _, m in plan):
                claimed = self._claim_unspaced(session, plan, now)
                plan = []
            for message_id, mailbox in plan:
                if mailbox is not None:
                    if mailbox.id in self.blocked or (mailbox.daily_cap and self.cap_left.get(mailbox.id, 1) <= 0):
                        self.blocked.add(mailbox.id)
                        continue
                    mailbox = session.merge(mailbox, load=False)
                result = claim(session, message_id, now, mailbox, commit=False)
                if result == "busy":
                    self.blocked.add(mailbox.id)  # type: ignore[union-attr]
                    continue
                if isinstance(result, Message):
                    if mailbox is not None:
                        self.cap_left[mailbox.id] = self.cap_left.get(mailbox.id, 1) - 1
                    claimed.append((result, mailbox))
            session.commit()
            sent = 0
            for i, (message, mailbox) in enumerate(claimed):
                if self.stopping() and i:
                    write_transaction(session)
                    _unclaim(session, [m.id for m, _ in claimed[i:]])
                    session.commit()
                    break
                if mailbox is not None and mailbox.id in self.paused:
                    write_transaction(session)
                    _unclaim(session, [message.id])
                    session.commit()
                    continue
                if message.transport == "local" or mailbox is None:
                    outcome = self._write_local(session, message)
                else:
                    outcome = self._send_smtp(session, message, mailbox)
                write_transaction(session)
                finish(session, message, outcome, self.settings, self.secret)
                session.commit()
                if mailbox is not None:
                    self._after_outcome(session, message, mailbox, outcome)
                    if outcome.kind in ("blocked", "bounced") and self._now_paused(session, mailbox):
                        self.blocked.add(mailbox.id)
                        self.paused.add(mailbox.id)
                sent += outcome.kind == "sent"
            return sent

    def _claim_unspaced(self, session: Session, plan: list[tuple[int, Mailbox | None]], now: datetime
                        ) -> list[tuple[Message, Mailbox | None]]:
        """Claim in one go what no spacing holds back, within each mailbox's remaining daily cap."""
        budget: dict[int, int] = {}
        take: list[tuple[int, Mailbox | None]] = []
        for message_id, mailbox in plan:
            if mailbox is not None and mailbox.daily_cap:
                left = budget.setdefault(mailbox.id, self.cap_left.get(mailbox.id, 1))
                if left <= 0:
                    self.blocked.add(mailbox.id)
                    continue
                budget[mailbox.id] = left - 1
            take.append((message_id, mailbox))
        messages = claim_many(session, [message_id for message_id, _ in take], now)
        claimed = []
        for message_id, mailbox in take:
            message = messages.get(message_id)
            if message is not None:
                if mailbox is not None:
                    self.cap_left[mailbox.id] = self.cap_left.get(mailbox.id, 1) - 1
                claimed.append((message, mailbox))
        return claimed

    def _now_paused(self, session: Session, mailbox: Mailbox) -> bool:
        """Whether the outcome just recorded paused the mailbox (a block, or the bounce that tipped its rate)."""
        paused = session.scalar(select(Mailbox.paused_at).where(Mailbox.id == mailbox.id)) is not None
        session.commit()
        if paused and mailbox.id in self.connections:
            smtp.quit_quietly(self.connections.pop(mailbox.id))
        return paused

    def _may_send(self, session: Session, mailbox: Mailbox, now: datetime) -> bool:
        if not mailbox.is_active or mailbox.paused_at is not None or not in_window(mailbox, now):
            return False
        if mailbox.daily_cap:  # while it warms up, today's step of the ramp
            if mailbox.id not in self.cap_left:
                self.cap_left[mailbox.id] = daily_allowance(mailbox, now) - sent_today(session, mailbox, now)
            if self.cap_left[mailbox.id] <= 0:
                return False
        return True

    # --- transports -----------------------------------------------------------------------------

    def _payload(self, message: Message, mailbox: Mailbox | None) -> bytes:
        """The message as it goes on the wire (DKIM-signed when the mailbox has a key); reads no row, so it can
        run outside any transaction."""
        email = smtp.build_message(
            message_id=message.message_id, from_email=message.from_email, from_name=message.from_name,
            to_email=message.to_email, to_name=message.to_name, subject=message.subject,
            body_text=message.body_text, body_html=message.body_html, in_reply_to=message.in_reply_to,
            references=message.references, date=utcnow(),
            unsubscribe_url=unsubscribe_url(self.settings, self.secret, message.message_id),
            unsubscribe_mailto=unsubscribe_mailto(self.secret, message.from_email, message.message_id))
        return dkim.sign_for(mailbox, self.secret_box, smtp.as_bytes(email))

    def _send_smtp(self, session: Session, message: Message, mailbox: Mailbox) -> smtp.Outcome:
        try:
            payload = self._payload(message, mailbox)
        except HeaderError as exc:
            return smtp.Outcome("permanent", str(exc))
        conn = self.connections.get(mailbox.id)
        if conn is None and mailbox.id in self.connect_errors:
            return smtp.Outcome("retry", self.connect_errors[mailbox.id])
        if conn is None:
            try:
                conn = smtp.connect(smtp_account(mailbox, self.secret_box, self.timeout))
            except (smtp.SmtpConnectError, ValueError) as exc:
                self.blocked.add(mailbox.id)
                self.connect_errors[mailbox.id] = str(exc)
                return smtp.Outcome("retry", str(exc))
            self.connections[mailbox.id] = conn
        copy_by = expected_by(mailbox)

        def before_data(copied: bool) -> bool:
            # "outreach": the envelope-only copy to the mailbox itself comes back through its INBOX, where the
            # poll files it in Sent; a server that refused that recipient leaves no record for this message
            return mark_data_started(session, message, copy_by if copy_by != "outreach" or copied else "")

        outcome = smtp.transmit(conn, message.from_email, message.to_email, payload, before_data,
                                copy_to=mailbox.from_email if copy_by == "outreach" else "")
        if outcome.kind in ("unknown", "retry") or outcome.detail.split(": ")[-1].startswith("421"):
            smtp.quit_quietly(self.connections.pop(mailbox.id))
        return outcome

    def _after_outcome(self, session: Session, message: Message, mailbox: Mailbox, outcome: smtp.Outcome) -> None:
        """Once the first accepted message of an "auto" mailbox is recorded: learn whether its server files sent
        mail (outreach.mail.sent_copy)."""
        if outcome.kind != "sent" or not needs_detection(mailbox):
            return
        files = self.sent_folders.detect(mailbox, message.message_id, self._payload(message, mailbox))
        if files is None:
            return
        write_transaction(session)
        session.execute(update(Mailbox).where(Mailbox.id == mailbox.id, Mailbox.server_files_sent.is_(None))
                        .values(server_files_sent=files))
        session.commit()
        for box in {mailbox, self.mailboxes.get(mailbox.id, mailbox)}:  # this tick's next messages see it
            set_committed_value(box, "server_files_sent", files)

    def _write_local(self, session: Session, message: Message) -> smtp.Outcome:
        if not mark_data_started(session, message):
            return smtp.Outcome("cancelled", "stopped before writing")
        try:
            payload = self._payload(message, None)
        except HeaderError as exc:
            return smtp.Outcome("permanent", str(exc))
        path = local_path(self.settings.mail, message)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(payload)
            os.replace(tmp, path)
        return smtp.Outcome("sent", f"written to {path}")


#: one vocabulary for what happened to an email written to the local outbox, used by the outbox list, the message
#: page, the Outreach tab and the timeline alike (nothing leaves the server, so nothing says "sent")
LOCAL_STATUS_LABELS = {"scheduled": "scheduled", "sending": "being written", "sent": "written to the local outbox",
                       "failed": "failed", "cancelled": "cancelled", "bounced": "bounced", "unknown": "unknown"}
WRITTEN = LOCAL_STATUS_LABELS["sent"]


def status_label(message: Message) -> str:
    """The message's status as the pages show it: a local message is "written to the local outbox", never "sent"."""
    if message.transport == "local":
        return LOCAL_STATUS_LABELS.get(message.status, message.status)
    return message.status


@dataclass(frozen=True)
class OutboxEntry:
    """A line of the local outbox: a campaign email (message) or one of the app's alert or report emails."""

    when: datetime
    to: str
    subject: str
    status: str
    message: Message | None = None
    app_email: appmail.WrittenEmail | None = None


def local_outbox(session: Session, mail: MailSettings, *, limit: int = 500) -> list[OutboxEntry]:
    """Every email the app writes to the local outbox, newest first: campaign emails and its own alerts and reports."""
    messages = session.scalars(select(Message).where(Message.transport == "local")
                               .options(selectinload(Message.prospect).selectinload(Prospect.site))
                               .order_by(Message.send_at.desc()).limit(limit))
    entries = [OutboxEntry(m.sent_at or m.send_at, m.to_email, m.subject, status_label(m), message=m) for m in messages]
    entries += [OutboxEntry(e.written_at, e.to, e.subject, WRITTEN, app_email=e)
                for e in appmail.written_emails(mail, limit=limit)]
    entries.sort(key=lambda e: e.when, reverse=True)
    return entries[:limit]


def local_path(mail: MailSettings, message: Message) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", message.message_id)
    return Path(mail.outbox_dir) / f"{message.id:08d}-{safe}.eml"


# --- the steps, as functions of a session ----------------------------------------------------------

def due(session: Session, now: datetime, limit: int, skip_mailboxes: set[int] | None = None
        ) -> list[tuple[int, int | None]]:
    """(message id, mailbox id) of scheduled messages whose time has come, oldest first."""
    query = (select(Message.id, Message.mailbox_id)
             .join(Campaign, Campaign.id == Message.campaign_id)
             .outerjoin(CampaignMail, CampaignMail.campaign_id == Message.campaign_id)
             .outerjoin(Mailbox, Mailbox.id == Message.mailbox_id)
             .where(Message.status == "scheduled", Message.send_at <= now, Campaign.status == "active",
                    or_(CampaignMail.is_paused.is_(False), CampaignMail.campaign_id.is_(None)),
                    Mailbox.paused_at.is_(None), ~review.held())
             .order_by(Message.send_at, Message.id).limit(limit))
    if skip_mailboxes:
        query = query.where(or_(Message.mailbox_id.is_(None), Message.mailbox_id.not_in(skip_mailboxes)))
    return [(mid, box) for mid, box in session.execute(query)]


def claim(session: Session, message_id: int, now: datetime, mailbox: Mailbox | None, *,
          commit: bool = True) -> Message | str | None:
    """scheduled → sending with a conditional update; None if another worker had it or it must not go.

    In the same transaction: the mailbox's spacing slot ("busy" if taken) and every stop condition.
    With commit=False the caller commits (several claims in one transaction).
    """
    result = session.execute(update(Message)
                             .where(Message.id == message_id, Message.status == "scheduled", Message.send_at <= now)
                             .values(status="sending", claimed_at=now, attempts=Message.attempts + 1,
                                     data_started_at=None))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    if mailbox is not None and (mailbox.min_spacing_seconds or mailbox.jitter_seconds):
        gap = mailbox.min_spacing_seconds + random.uniform(0, mailbox.jitter_seconds)
        slot = session.execute(update(Mailbox)
                               .where(Mailbox.id == mailbox.id,
                                      or_(Mailbox.next_send_at.is_(None), Mailbox.next_send_at <= now))
                               .values(next_send_at=now + timedelta(seconds=gap)))
        if slot.rowcount != 1:  # type: ignore[attr-defined]
            _unclaim(session, [message_id])
            return "busy"
    info = session.execute(_info_query().where(Message.id == message_id)).one()
    verdict = _stop_check(session, info, now)
    if verdict is None:
        message = session.get(Message, message_id, populate_existing=True)
        if commit:
            session.commit()
        return message
    _apply_verdict(session, message_id, verdict)
    if commit:
        session.commit()
    return None


def _apply_verdict(session: Session, message_id: int, verdict: tuple[str, object]) -> None:
    """A claimed message that must not go now: give it back, postpone it, or cancel it with the reason."""
    kind, value = verdict
    if kind == "wait":
        _unclaim(session, [message_id])
        return
    message = session.get(Message, message_id, populate_existing=True)
    assert message is not None
    if kind == "postpone":
        message.status, message.send_at = "scheduled", value  # type: ignore[assignment]
        message.attempts -= 1
    else:
        session.refresh(message.enrollment)
        session.refresh(message.prospect)
        _cancel_claimed(session, message, str(value))
    session.flush()


def claim_many(session: Session, message_ids: list[int], now: datetime) -> dict[int, Message]:
    """claim() for several messages of mailboxes without spacing, in a handful of statements (caller commits)."""
    if not message_ids:
        return {}
    claimed = list(session.execute(
        update(Message).where(Message.id.in_(message_ids), Message.status == "scheduled", Message.send_at <= now)
        .values(status="sending", claimed_at=now, attempts=Message.attempts + 1, data_started_at=None)
        .returning(Message.id).execution_options(synchronize_session=False)).scalars())
    if not claimed:
        return {}
    infos = session.execute(_info_query().where(Message.id.in_(claimed))).all()
    rules = ContactRules(session).load_suppressions(info.to_email for info in infos)
    ok = []
    for info in infos:
        verdict = _stop_check(session, info, now, rules)
        if verdict is None:
            ok.append(info.id)
        else:
            _apply_verdict(session, info.id, verdict)
    messages = session.scalars(select(Message).where(Message.id.in_(ok))
                               .options(selectinload(Message.enrollment), selectinload(Message.prospect))
                               .execution_options(populate_existing=True)).all()
    return {m.id: m for m in messages}


def _info_query() -> Any:
    return (select(Message.id, Message.step, Enrollment.status, Enrollment.stop_reason, Enrollment.paused_until,
                   CampaignMail.is_paused, Campaign.status.label("campaign_status"), Prospect.stage, Message.to_email,
                   Prospect.overridden, Mailbox.paused_at.label("mailbox_paused_at"), review.held().label("held"))
            .select_from(Message)
            .join(Enrollment, Enrollment.id == Message.enrollment_id)
            .join(Campaign, Campaign.id == Message.campaign_id)
            .join(Prospect, Prospect.id == Message.prospect_id)
            .outerjoin(CampaignMail, CampaignMail.campaign_id == Message.campaign_id)
            .outerjoin(Mailbox, Mailbox.id == Message.mailbox_id))


def _unclaim(session: Session, message_ids: list[int]) -> None:
    """Give back claims on which no SMTP traffic started."""
    session.execute(update(Message).where(Message.id.in_(message_ids), Message.status == "sending",
                                          Message.data_started_at.is_(None))
                    .values(status="scheduled", attempts=Message.attempts - 1)
                    .execution_options(synchronize_session=False))


def _stop_check(session: Session, info: Any, now: datetime,
                rules: ContactRules | None = None) -> tuple[str, object] | None:
    rules = rules or ContactRules(session).load_suppressions([info.to_email])
    held = info.is_paused or info.campaign_status != "active" or info.mailbox_paused_at is not None
    if is_one_off(info.step):  # a reclaim email or a reply written in the app: sequence and stage do not matter
        if held:
            return "wait", None
        reason = rules.send_block(info.to_email, info.overridden) or (
            reclaim_stop_reason(session, info.id) if is_reclaim(info.step) else None)
        return ("stop", reason) if reason else None
    if info.status != "active":
        return "cancel", f"sequence {info.status}" + (f" ({info.stop_reason})" if info.stop_reason else "")
    if held or info.held:  # info.held: a first email waiting for review
        return "wait", None
    if info.paused_until is not None and info.paused_until > now:
        return "postpone", info.paused_until
    reason = rules.send_block(info.to_email, info.overridden)
    if reason:
        return "stop", reason
    if info.stage not in EARLY_STAGES:
        return "stop", f"the prospect moved to stage {info.stage}"
    return None


def _cancel_claimed(session: Session, message: Message, reason: str) -> None:
    message.status = "cancelled"
    message.status_reason = reason[:500]
    record(session, message.prospect, "email_cancelled", f"Cancelled {step_label(message.step)} “{message.subject}”: "
           f"{reason}", details={"message_id": message.message_id, "reason": reason})
    if not is_one_off(message.step):
        stop_enrollment(session, message.enrollment, "stopped", reason)


def mark_data_started(session: Session, message: Message, sent_copy: str = "") -> bool:
    """Commit that DATA is about to start (and where its Sent copy will be), after one last look at the stop
    conditions."""
    now = utcnow()
    write_transaction(session)
    result = session.execute(update(Message).where(Message.id == message.id, Message.status == "sending")
                             .values(data_started_at=now, sent_copy=sent_copy)
                             .execution_options(synchronize_session=False))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        return False
    # what the session's own synchronisation did, for the one message it can concern (it cost a third of this step)
    set_committed_value(message, "data_started_at", now)
    set_committed_value(message, "sent_copy", sent_copy)
    status = session.scalar(select(Enrollment.status).where(Enrollment.id == message.enrollment_id))
    if message.mailbox_id is not None and session.scalar(
            select(Mailbox.paused_at).where(Mailbox.id == message.mailbox_id)) is not None:
        # paused since the claim (another worker's block or bounce): back to the queue, untouched
        message.status, message.data_started_at, message.sent_copy = "scheduled", None, ""
        message.attempts -= 1
        session.commit()
        return False
    reason = send_block(session, message.to_email, message.prospect.overridden) or (
        None if status == "active" or is_one_off(message.step) else f"sequence {status}")
    if reason:
        session.refresh(message.enrollment)
        message.data_started_at = None
        _cancel_claimed(session, message, reason)
        session.commit()
        return False
    session.commit()
    return True


def finish(session: Session, message: Message, outcome: smtp.Outcome, settings: Settings,
           secret: str) -> None:
    """Record the outcome of one attempt (the caller commits)."""
    now = utcnow()
    kind = outcome.kind
    if kind == "cancelled":
        if message.status == "sending":
            message.status = "cancelled"
        session.flush()
        return
    if kind == "sent":
        mark_sent(session, message, now, settings, secret, outcome.detail)
    elif kind == "retry" and message.attempts < MAX_ATTEMPTS:
        message.status = "scheduled"
        message.data_started_at = None
        message.send_at = now + timedelta(seconds=BACKOFF[min(message.attempts, len(BACKOFF)) - 1])
        message.last_error = outcome.detail[:500]
        record(session, message.prospect, "email_retry",
               f"Temporary failure for “{message.subject}”, retrying at {message.send_at:%Y-%m-%d %H:%M} UTC: "
               f"{outcome.detail}", details={"message_id": message.message_id})
    elif kind == "bounced":
        message.last_error = outcome.detail[:500]
        hard_bounce(session, message, outcome.detail)
    elif kind == "blocked":
        hold_blocked(session, message, outcome.detail, now)
    elif kind == "unknown":
        message.status = "unknown"
        message.last_error = outcome.detail[:500]
        record(session, message.prospect, "email_unknown",
               f"“{message.subject}” may or may not have been delivered ({outcome.detail}); "
               "checking the Sent folder before anything else", details={"message_id": message.message_id})
    else:
        message.status = "failed"
        message.last_error = message.status_reason = outcome.detail[:500]
        record(session, message.prospect, "email_failed", f"Sending “{message.subject}” failed: {outcome.detail}",
               details={"message_id": message.message_id})
        if not is_one_off(message.step):
            stop_enrollment(session, message.enrollment, "failed", outcome.detail)
    session.flush()


def hold_blocked(session: Session, message: Message, detail: str, now: datetime) -> None:
    """The server refused the sender (5.7.x): the message goes back to the queue as it was and its mailbox is
    paused until a person resumes it."""
    message.status, message.data_started_at, message.sent_copy = "scheduled", None, ""
    message.last_error = detail[:500]
    record(session, message.prospect, "email_held",
           f"The mail server refused “{message.subject}” with a block ({detail}): it waits in the queue and the "
           "mailbox is paused until someone resumes it", details={"message_id": message.message_id})
    mailbox = session.get(Mailbox, message.mailbox_id) if message.mailbox_id is not None else None
    if mailbox is not None:
        pause_mailbox(session, mailbox, f"the mail server answered with a block: {detail}", now=now)


def mark_sent(session: Session, message: Message, when: datetime, settings: Settings,
              secret: str, detail: str = "") -> None:
    """The message left: timeline, stage, and the next step of the sequence."""
    message.status = "sent"
    message.sent_at = when
    message.last_error = ""
    if message.transport == "local":
        text = f"{step_label(message.step).capitalize()} “{message.subject}” to {message.to_email} {WRITTEN}"
    else:
        text = f"Sent {step_label(message.step)} “{message.subject}” to {message.to_email} from {message.from_email}"
    record(session, message.prospect, "email_sent", text, details={"message_id": message.message_id, "detail": detail})
    if message.prospect.stage in ("new", "qualified"):
        # the end of the column, without a max() query per message
        move_prospect(session, message.prospect, "contacted", reason="first email sent", position=when.timestamp())
    schedule_next(session, message, when, settings, secret)


def schedule_next(session: Session, message: Message, when: datetime, settings: Settings,
                  secret: str) -> None:
    enrollment = message.enrollment
    if enrollment.status != "active" or is_one_off(message.step):
        return
    step = session.scalar(select(SequenceStep).where(SequenceStep.sequence_id == enrollment.sequence_id,
                                                     SequenceStep.position == message.step + 1))
    if step is None:
        enrollment.status = "finished"
        return
    if session.scalar(select(Message.id).where(Message.enrollment_id == enrollment.id,
                                               Message.step == step.position)) is not None:
        return  # a resend (after a soft bounce) keeps the follow-up already scheduled
    first = session.scalar(select(Message).where(Message.enrollment_id == enrollment.id, Message.step == 1))
    send_at = after_delay(when, step.delay_amount, step.delay_unit, step.business_days_only, enrollment.mailbox)
    try:
        create_message(session, enrollment, step, send_at, settings, secret, first=first)
    except RenderError as exc:
        stop_enrollment(session, enrollment, "template_error", str(exc))


# --- after a crash ---------------------------------------------------------------------------------

def recover_stale(session: Session, settings: Settings, *, lease_seconds: float,
                  now: datetime | None = None) -> dict[str, int]:
    """Messages left in `sending` by a process that died: back to scheduled, sent or unknown."""
    now = now or utcnow()
    counts = {"rescheduled": 0, "sent": 0, "unknown": 0}
    ids = claim_stale(session, now - timedelta(seconds=lease_seconds), now)
    stale = session.scalars(select(Message).where(Message.id.in_(ids)).order_by(Message.id)
                            .execution_options(populate_existing=True)).all()
    secret = signing_secret(settings)
    for message in stale:
        if message.transport == "local" and local_path(settings.mail, message).exists():
            mark_sent(session, message, message.data_started_at or now, settings, secret, "found in the outbox")
            counts["sent"] += 1
        elif message.data_started_at is None or message.transport == "local":
            message.status = "scheduled"
            message.attempts = max(0, message.attempts - 1)
            counts["rescheduled"] += 1
        else:
            message.status = "unknown"
            message.last_error = "the sending process stopped during DATA; checking the Sent folder"
            record(session, message.prospect, "email_unknown",
                   f"“{message.subject}” was being sent when the sender stopped; checking the Sent folder",
                   details={"message_id": message.message_id})
            counts["unknown"] += 1
    session.flush()
    return counts


def claim_stale(session: Session, cutoff: datetime, now: datetime) -> list[int]:
    """Claim the messages left in `sending` since before `cutoff` (their claim is renewed to `now`)."""
    return claim_rows(session, Message, where=[Message.status == "sending", Message.claimed_at <= cutoff],
                      order_by=[Message.id], limit=None, values={"claimed_at": now})


def claim_unknown(session: Session, message_ids: list[int]) -> list[int]:
    """Of these `unknown` messages (found in the Sent folder), claim as sent those no other worker took first."""
    if not message_ids:
        return []
    return claim_rows(session, Message, where=[Message.id.in_(message_ids), Message.status == "unknown"],
                      order_by=[Message.id], limit=None, values={"status": "sent"})


def reconcile_unknown(session: Session, conn: imaplib.IMAP4, mailbox: Mailbox, settings: Settings, secret: str, *,
                      now: datetime | None = None, grace: timedelta = SENT_FOLDER_GRACE) -> int:
    """Decide the mailbox's `unknown` messages by its Sent folder (outreach.mail.sent_copy); returns how many.

    A copy in the folder: sent. No copy where the folder would hold one had the server accepted the message
    (its `sent_copy`), `grace` after its DATA started: it never left, and goes back to the queue with the same
    Message-ID. Any other waits for a person. The folder is read outside any transaction.
    """
    now = now or utcnow()
    unknown = session.execute(select(Message.id, Message.message_id, Message.sent_copy, Message.data_started_at)
                              .where(Message.mailbox_id == mailbox.id, Message.status == "unknown")).all()
    session.commit()
    if not unknown:
        return 0
    folder = mailbox.imap_sent_folder
    found = imap.in_folder(conn, folder, [row.message_id for row in unknown])
    # a copy to the mailbox itself the poll has not moved to Sent yet
    found |= imap.in_folder(conn, "INBOX", [row.message_id for row in unknown
                                            if row.sent_copy == "outreach" and row.message_id not in found])
    never_left = [row.id for row in unknown if row.message_id not in found and row.sent_copy
                  and (row.data_started_at is None or row.data_started_at <= now - grace)]
    write_transaction(session)
    sent = set(claim_unknown(session, [row.id for row in unknown if row.message_id in found]))
    back = set(claim_rows(session, Message, where=[Message.id.in_(never_left), Message.status == "unknown"],
                          order_by=[Message.id], limit=None,
                          values={"status": "scheduled", "send_at": now, "data_started_at": None}))
    for message in session.scalars(select(Message).where(Message.id.in_([row.id for row in unknown]))
                                   .execution_options(populate_existing=True)):
        if message.id in sent:
            mark_sent(session, message, message.data_started_at or now, settings, secret,
                      f"found in the {folder} folder")
        elif message.id in back:
            message.last_error = f"not in the {folder} folder, so the server never accepted it"
            record(session, message.prospect, "email_resend",
                   f"“{message.subject}” is not in the {folder} folder, so the server never accepted it: sending "
                   "it again (same Message-ID)", details={"message_id": message.message_id})
        elif message.status == "unknown":
            message.last_error = f"not in the {folder} folder as of {now:%Y-%m-%d %H:%M} UTC"
    session.commit()
    return len(sent) + len(back)


def resolve_unknown(session: Session, message: Message, action: str, settings: Settings,
                    actor_name: str) -> None:
    """A person decides what an `unknown` message became: "sent" (they saw it went) or "resend"."""
    if message.status != "unknown":
        raise MailError(f"only a message whose delivery is unknown can be resolved (this one is {message.status})")
    if action == "sent":
        mark_sent(session, message, message.data_started_at or utcnow(), settings, signing_secret(settings),
                  f"marked as sent by {actor_name}")
    elif action == "resend":
        message.status, message.send_at, message.data_started_at = "scheduled", utcnow(), None
        record(session, message.prospect, "email_resend",
               f"{actor_name} chose to send “{message.subject}” again (same Message-ID)",
               details={"message_id": message.message_id})
    else:
        raise MailError(f"unknown action {action!r}")
    session.flush()
