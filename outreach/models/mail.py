"""Outreach email: mailboxes, templates, sequences, enrolments, the outbox and inbound mail."""
from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from outreach.db import Base
from outreach.lib.clock import utcnow
from outreach.models.accounts import User
from outreach.models.campaigns import Contact, Prospect

SECURITY = ("none", "starttls", "ssl")
MESSAGE_STATUSES = ("scheduled", "sending", "sent", "failed", "cancelled", "bounced", "unknown")
ENROLLMENT_STATUSES = ("active", "finished", "stopped")
#: "unsubscribe": a request sent through the List-Unsubscribe mailto link (it carries the message's signed token)
INBOUND_KINDS = ("reply", "auto_reply", "bounce", "soft_bounce", "unsubscribe", "unmatched")
#: who files a copy of each sent message in the mailbox's Sent folder: "auto" finds out after the first send,
#: "always" means Outreach does (from a copy each message also sends the mailbox itself), "never" means the server does
SENT_COPY_MODES = ("auto", "always", "never")
#: where one message's copy is expected in the Sent folder, fixed when its DATA starts (see outreach.mail.sent_copy)
SENT_COPY_BY = ("", "server", "outreach")
DELAY_UNITS = ("hours", "days")
#: the letters of a template test: a step's own template is variant A, its variants are B, C and D
VARIANT_LETTERS = ("A", "B", "C", "D")


class Mailbox(Base):
    """An SMTP account to send from and the IMAP account where its replies and Sent folder live."""

    __tablename__ = "mail_mailboxes"
    __table_args__ = (
        CheckConstraint(f"smtp_security IN {SECURITY}", name="smtp_security"),
        CheckConstraint(f"imap_security IN {SECURITY}", name="imap_security"),
        CheckConstraint("daily_cap >= 0 AND min_spacing_seconds >= 0 AND jitter_seconds >= 0", name="limits"),
        CheckConstraint("window_start_hour >= 0 AND window_end_hour <= 24 AND window_start_hour < window_end_hour",
                        name="window"),
        CheckConstraint(f"sent_copy IN {SENT_COPY_MODES}", name="sent_copy"),
        CheckConstraint("warmup_start >= 0 AND warmup_increment >= 0", name="warmup"),
        CheckConstraint("bounce_pause_percent >= 0 AND bounce_pause_percent <= 100", name="bounce_pause_percent"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    from_name: Mapped[str] = mapped_column(String(200), default="")
    from_email: Mapped[str] = mapped_column(String(320))
    smtp_host: Mapped[str] = mapped_column(String(255))
    smtp_port: Mapped[int] = mapped_column(default=587)
    smtp_security: Mapped[str] = mapped_column(String(10), default="starttls")
    smtp_username: Mapped[str] = mapped_column(String(320), default="")
    #: encrypted with the app's SecretBox
    smtp_password: Mapped[str] = mapped_column(Text, default="")
    #: empty: no IMAP (no reply detection, no Sent-folder reconciliation)
    imap_host: Mapped[str] = mapped_column(String(255), default="")
    imap_port: Mapped[int] = mapped_column(default=993)
    imap_security: Mapped[str] = mapped_column(String(10), default="ssl")
    imap_username: Mapped[str] = mapped_column(String(320), default="")
    #: encrypted with the app's SecretBox
    imap_password: Mapped[str] = mapped_column(Text, default="")
    imap_sent_folder: Mapped[str] = mapped_column(String(200), default="Sent")
    #: auto | always | never: who puts a copy of each sent message in the Sent folder (SENT_COPY_MODES)
    sent_copy: Mapped[str] = mapped_column(String(10), default="auto")
    #: what "auto" found after a send: True when the server filed the copy itself; None until a send tells
    server_files_sent: Mapped[bool | None]
    #: 0 means no cap
    daily_cap: Mapped[int] = mapped_column(default=50)
    min_spacing_seconds: Mapped[int] = mapped_column(default=120)
    jitter_seconds: Mapped[int] = mapped_column(default=60)
    #: warm-up: messages allowed on its first day, then `warmup_increment` more each day up to `daily_cap`;
    #: 0 means no warm-up (outreach.mail.protection)
    warmup_start: Mapped[int] = mapped_column(default=0)
    warmup_increment: Mapped[int] = mapped_column(default=0)
    #: day 1 of the warm-up, in the mailbox's time zone (set when the warm-up is turned on)
    warmup_started_on: Mapped[date | None]
    #: pause the mailbox when more than this percentage of its last 100 sends bounced for good; 0: never
    bounce_pause_percent: Mapped[int] = mapped_column(default=5)
    #: set when the mailbox was paused (a bounce rate, a block); nothing is sent from it until a person resumes it
    paused_at: Mapped[datetime | None]
    #: why, in words
    pause_reason: Mapped[str] = mapped_column(String(500), default="")
    #: ISO weekdays the mailbox sends on, e.g. "1,2,3,4,5" (Monday = 1)
    window_days: Mapped[str] = mapped_column(String(20), default="1,2,3,4,5")
    window_start_hour: Mapped[int] = mapped_column(default=9)
    window_end_hour: Mapped[int] = mapped_column(default=17)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    is_active: Mapped[bool] = mapped_column(default=True)
    #: the earliest the next message may go (spacing with jitter); claimed by a conditional update
    next_send_at: Mapped[datetime | None]
    next_poll_at: Mapped[datetime | None]
    imap_uidvalidity: Mapped[int] = mapped_column(default=0)
    imap_last_uid: Mapped[int] = mapped_column(default=0)
    last_poll_error: Mapped[str] = mapped_column(String(500), default="")
    #: polls failed in a row: the next one is retried at the next tick, later ones further apart
    poll_failures: Mapped[int] = mapped_column(default=0)
    #: DKIM selector: the key is published at <selector>._domainkey.<from domain>
    dkim_selector: Mapped[str] = mapped_column(String(63), default="")
    #: PEM private key, encrypted with the app's SecretBox; empty: messages are not signed here
    dkim_private_key: Mapped[str] = mapped_column(Text, default="")
    #: the last domain checks (outreach.mail.domain_checks) as JSON text: [{"name", "status", "detail", "fix"}];
    #: text, not JSON, because queries select mailboxes DISTINCT and PostgreSQL's json has no equality
    domain_checks_json: Mapped[str] = mapped_column(Text, default="[]")
    domain_checked_at: Mapped[datetime | None]
    #: when the daily re-check is due (None: now); claimed by a conditional update
    next_domain_check_at: Mapped[datetime | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def domain_checks(self) -> list[dict[str, str]]:
        return list(json.loads(self.domain_checks_json or "[]"))

    @domain_checks.setter
    def domain_checks(self, checks: list[dict[str, str]]) -> None:
        self.domain_checks_json = json.dumps(checks)

    @property
    def is_paused(self) -> bool:
        return self.paused_at is not None

    @property
    def has_imap(self) -> bool:
        return bool(self.imap_host)

    @property
    def day_numbers(self) -> list[int]:
        return [int(d) for d in self.window_days.split(",") if d.strip().isdigit()]


class Template(Base):
    """An email users write: subject and bodies rendered only in the Jinja sandbox."""

    __tablename__ = "mail_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    subject: Mapped[str] = mapped_column(String(500))
    body_text: Mapped[str] = mapped_column(Text)
    #: optional HTML alternative
    body_html: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Sequence(Base):
    """An initial email and its follow-ups."""

    __tablename__ = "mail_sequences"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    steps: Mapped[list[SequenceStep]] = relationship(order_by="SequenceStep.position",
                                                     cascade="all, delete-orphan", back_populates="sequence")


class SequenceStep(Base):
    __tablename__ = "mail_sequence_steps"
    __table_args__ = (
        UniqueConstraint("sequence_id", "position", name="uq_mail_sequence_steps_position"),
        CheckConstraint("delay_amount >= 0", name="delay"),
        CheckConstraint(f"delay_unit IN {DELAY_UNITS}", name="delay_unit"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sequence_id: Mapped[int] = mapped_column(ForeignKey("mail_sequences.id", ondelete="CASCADE"))
    #: 1 is the initial email
    position: Mapped[int]
    #: how long after the previous step was sent, in `delay_unit`s (ignored for step 1)
    delay_amount: Mapped[int] = mapped_column(default=3)
    #: hours | days
    delay_unit: Mapped[str] = mapped_column(String(5), default="days")
    #: count Monday–Friday only (in the mailbox's time zone); a delay in hours that ends on a weekend moves to Monday
    business_days_only: Mapped[bool] = mapped_column(default=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("mail_templates.id", ondelete="RESTRICT"), index=True)

    sequence: Mapped[Sequence] = relationship(back_populates="steps")
    #: variant A of a template test (and the only one of a step without variants)
    template: Mapped[Template] = relationship()
    variants: Mapped[list[StepVariant]] = relationship(order_by="StepVariant.letter", cascade="all, delete-orphan",
                                                       back_populates="step")


class StepVariant(Base):
    """Another version of a step's email (B, C or D) for a template test; the step's own template is A."""

    __tablename__ = "mail_step_variants"
    __table_args__ = (
        UniqueConstraint("step_id", "letter", name="uq_mail_step_variants_letter"),
        CheckConstraint(f"letter IN {VARIANT_LETTERS[1:]}", name="letter"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("mail_sequence_steps.id", ondelete="CASCADE"))
    letter: Mapped[str] = mapped_column(String(1))
    template_id: Mapped[int] = mapped_column(ForeignKey("mail_templates.id", ondelete="RESTRICT"), index=True)

    step: Mapped[SequenceStep] = relationship(back_populates="variants")
    template: Mapped[Template] = relationship()


class CampaignMail(Base):
    """A campaign's sending settings: which mailbox and sequence, and whether sending is paused."""

    __tablename__ = "mail_campaign_settings"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    #: None: messages go to the local outbox (written to disk, never sent)
    mailbox_id: Mapped[int | None] = mapped_column(ForeignKey("mail_mailboxes.id", ondelete="SET NULL"),
                                                   index=True)
    sequence_id: Mapped[int | None] = mapped_column(ForeignKey("mail_sequences.id", ondelete="SET NULL"),
                                                    index=True)
    is_paused: Mapped[bool] = mapped_column(default=False)
    #: each first email waits in the review queue until a teammate approves it (outreach.mail.review)
    is_review_required: Mapped[bool] = mapped_column(default=False)

    mailbox: Mapped[Mailbox | None] = relationship()
    sequence: Mapped[Sequence | None] = relationship()


class Enrollment(Base):
    """One prospect going through a campaign's sequence."""

    __tablename__ = "mail_enrollments"
    __table_args__ = (
        UniqueConstraint("prospect_id", name="uq_mail_enrollments_prospect"),
        CheckConstraint(f"status IN {ENROLLMENT_STATUSES}", name="status"),
        CheckConstraint(f"variant IN {('', *VARIANT_LETTERS)}", name="variant"),
        Index("ix_mail_enrollments_contact_status", "contact_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    prospect_id: Mapped[int] = mapped_column(ForeignKey("prospects.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    sequence_id: Mapped[int] = mapped_column(ForeignKey("mail_sequences.id", ondelete="RESTRICT"), index=True)
    mailbox_id: Mapped[int | None] = mapped_column(ForeignKey("mail_mailboxes.id", ondelete="SET NULL"),
                                                   index=True)
    status: Mapped[str] = mapped_column(String(20), default="active")
    #: replied, auto_stop, bounced, unsubscribed, cancelled, failed, ...
    stop_reason: Mapped[str] = mapped_column(String(40), default="")
    stop_detail: Mapped[str] = mapped_column(String(500), default="")
    #: set by an out-of-office reply that names a return date
    paused_until: Mapped[datetime | None]
    #: the template test's letter given at enrolment (A, B...); "" when the sequence had no variants then
    variant: Mapped[str] = mapped_column(String(1), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    stopped_at: Mapped[datetime | None]

    prospect: Mapped[Prospect] = relationship()
    contact: Mapped[Contact] = relationship()
    sequence: Mapped[Sequence] = relationship()
    mailbox: Mapped[Mailbox | None] = relationship()


#: steps from here on are one-off emails, never sequence steps (a sequence has at most 6): reclaim emails
#: (outreach.mail.reclaim_email), then from REPLY_STEP on the answers a person writes in the inbox (outreach.mail.inbox)
RECLAIM_STEP = 100
REPLY_STEP = 1000


def is_one_off(step: int) -> bool:
    """A reclaim email or a reply written in the app: it schedules no follow-up and stopping it stops no sequence."""
    return step >= RECLAIM_STEP


def is_reclaim(step: int) -> bool:
    return RECLAIM_STEP <= step < REPLY_STEP


def is_reply(step: int) -> bool:
    return step >= REPLY_STEP


def step_label(step: int) -> str:
    """How the timeline names a message: "step 2", "the reclaim email" or "the reply"."""
    if is_reply(step):
        return "the reply"
    return "the reclaim email" if is_reclaim(step) else f"step {step}"


class Message(Base):
    """One outgoing email: the schedule is this row (send_at + status)."""

    __tablename__ = "mail_messages"
    __table_args__ = (
        CheckConstraint(f"status IN {MESSAGE_STATUSES}", name="status"),
        CheckConstraint(f"sent_copy IN {SENT_COPY_BY}", name="sent_copy"),
        UniqueConstraint("message_id", name="uq_mail_messages_message_id"),
        UniqueConstraint("enrollment_id", "step", name="uq_mail_messages_enrollment_step"),
        #: the due-rows query: status = 'scheduled' AND send_at <= now, in send_at order
        Index("ix_mail_messages_status_send_at", "status", "send_at"),
        #: the daily cap: messages a mailbox sent since local midnight
        Index("ix_mail_messages_mailbox_sent", "mailbox_id", "sent_at"),
        Index("ix_mail_messages_contact_status", "contact_id", "status"),
        Index("ix_mail_messages_campaign_status", "campaign_id", "status"),
        #: the review queue and its counts: first emails not approved yet (outreach.mail.review); the constant
        #: leading columns let SQLite's planner pick it without statistics (an index SEARCH, not a SCAN)
        Index("ix_mail_messages_awaiting_review", "status", "step", "approved_at", "campaign_id", "send_at",
              sqlite_where=text("step = 1 AND status = 'scheduled' AND approved_at IS NULL"),
              postgresql_where=text("step = 1 AND status = 'scheduled' AND approved_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("mail_enrollments.id", ondelete="CASCADE"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    prospect_id: Mapped[int] = mapped_column(ForeignKey("prospects.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    #: None: the local outbox
    mailbox_id: Mapped[int | None] = mapped_column(ForeignKey("mail_mailboxes.id", ondelete="SET NULL"))
    step: Mapped[int]
    #: assigned before the first attempt and kept on every retry, without the angle brackets
    message_id: Mapped[str] = mapped_column(String(300))
    in_reply_to: Mapped[str] = mapped_column(String(300), default="")
    references: Mapped[str] = mapped_column(Text, default="")
    from_email: Mapped[str] = mapped_column(String(320))
    from_name: Mapped[str] = mapped_column(String(200), default="")
    to_email: Mapped[str] = mapped_column(String(320))
    to_name: Mapped[str] = mapped_column(String(200), default="")
    subject: Mapped[str] = mapped_column(String(500))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="scheduled")
    send_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    soft_bounces: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    #: why it was cancelled or failed, in words
    status_reason: Mapped[str] = mapped_column(String(500), default="")
    claimed_at: Mapped[datetime | None]
    #: set after RCPT TO was accepted, just before DATA: after a crash, only these may have been delivered
    data_started_at: Mapped[datetime | None]
    #: set with data_started_at: "server" (the server files accepted mail in Sent), "outreach" (the mailbox itself
    #: was a recipient of the same transaction: its copy arrives in INBOX, then Sent) or "" (nothing to tell); the
    #: first two make the Sent folder decide an unknown outcome: in it, sent; not in it, never accepted
    #: (outreach.mail.sent_copy)
    sent_copy: Mapped[str] = mapped_column(String(10), default="")
    sent_at: Mapped[datetime | None]
    #: "smtp" or "local" (written to the outbox directory)
    transport: Mapped[str] = mapped_column(String(10), default="smtp")
    #: a first email of a campaign that requires review goes only once approved (outreach.mail.review)
    approved_at: Mapped[datetime | None]
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: when a teammate last edited the rendered subject or body for this prospect (the edit is on the timeline)
    edited_at: Mapped[datetime | None]
    #: who wrote it, for a reply written in the app (it answers the inbound message its in_reply_to names)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id])
    enrollment: Mapped[Enrollment] = relationship()
    prospect: Mapped[Prospect] = relationship()
    contact: Mapped[Contact] = relationship()
    mailbox: Mapped[Mailbox | None] = relationship()


class InboundMessage(Base):
    """A message read from a mailbox's INBOX over IMAP: a reply, auto-reply, bounce or something else."""

    __tablename__ = "mail_inbound"
    __table_args__ = (
        UniqueConstraint("mailbox_id", "uidvalidity", "uid", name="uq_mail_inbound_uid"),
        CheckConstraint(f"kind IN {INBOUND_KINDS}", name="kind"),
        #: the team inbox, newest first
        Index("ix_mail_inbound_received_at", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mail_mailboxes.id", ondelete="CASCADE"))
    uidvalidity: Mapped[int]
    uid: Mapped[int]
    message_id: Mapped[str] = mapped_column(String(300), default="")
    from_email: Mapped[str] = mapped_column(String(320), default="")
    subject: Mapped[str] = mapped_column(String(500), default="")
    kind: Mapped[str] = mapped_column(String(20))
    #: our message it answers or reports on
    reply_to_message_id: Mapped[int | None] = mapped_column(ForeignKey("mail_messages.id", ondelete="SET NULL"),
                                                            index=True)
    snippet: Mapped[str] = mapped_column(Text, default="")
    #: the text of the message (its plain part, else its HTML as text), for the thread view
    body_text: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: the sender's own words ask to be removed ("unsubscribe", "remove me"...): do-not-contact is suggested
    asks_removal: Mapped[bool] = mapped_column(default=False)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: the team inbox's read state, shared by the team; None means unread
    read_at: Mapped[datetime | None]
    read_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    reply_to: Mapped[Message | None] = relationship()
