"""Two senders, pollers or reconcilers at once: every claim of the mail ticks takes each unit once."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from outreach.lib.clock import utcnow
from outreach.mail.jobs import claim_poll, due_polls
from outreach.mail.outbox import BATCH, claim, claim_many, claim_stale, claim_unknown, due
from outreach.models.mail import Mailbox, Message
from tests.mail.test_sending import enroll, messages
from tests.race import race_rounds


def scheduled_again(db: Session, ids: list[int]) -> list[int]:
    """Put the messages back in the queue, due now, for another round."""
    db.execute(update(Message).where(Message.id.in_(ids))
               .values(status="scheduled", attempts=0, claimed_at=None, send_at=utcnow()))
    db.execute(update(Mailbox).values(next_send_at=None))
    db.commit()
    return ids


def due_ids(session: Session) -> list[int]:
    """The due messages, read in their own transaction as the sender does before claiming."""
    rows = due(session, utcnow(), BATCH)
    session.commit()
    return [message_id for message_id, _ in rows]


def test_two_senders_claiming_one_by_one_take_each_message_once(app: Any, db: Session, outreach_campaign: Any
                                                                ) -> None:
    campaign, prospects = outreach_campaign(None, n=6)
    enroll(db, app, campaign, prospects, now=datetime.now(UTC))
    ids = [m.id for m in messages(db)]

    def claim_each(session: Session) -> list[int]:
        return [i for i in due_ids(session) if isinstance(claim(session, i, utcnow(), None), Message)]

    race_rounds(app.extensions["outreach"].sessionmaker, lambda: scheduled_again(db, ids), claim_each)


def test_two_senders_claiming_in_batches_take_each_message_once(app: Any, db: Session, outreach_campaign: Any
                                                                ) -> None:
    campaign, prospects = outreach_campaign(None, n=6)
    enroll(db, app, campaign, prospects, now=datetime.now(UTC))
    ids = [m.id for m in messages(db)]
    race_rounds(app.extensions["outreach"].sessionmaker, lambda: scheduled_again(db, ids),
                lambda session: list(claim_many(session, due_ids(session), utcnow())))


def test_two_senders_take_a_spaced_mailbox_slot_once(app: Any, db: Session, make_mailbox: Any,
                                                     outreach_campaign: Any) -> None:
    mailbox = make_mailbox(min_spacing_seconds=3600)
    campaign, prospects = outreach_campaign(mailbox, n=4)
    enroll(db, app, campaign, prospects, now=datetime.now(UTC))
    ids, mailbox_id = [m.id for m in messages(db)], mailbox.id

    def take_slot(session: Session) -> list[str]:
        box = session.get(Mailbox, mailbox_id)
        return ["slot"] if any(isinstance(claim(session, i, utcnow(), box), Message) for i in due_ids(session)) else []

    def prepare() -> list[str]:
        scheduled_again(db, ids)
        return ["slot"]

    race_rounds(app.extensions["outreach"].sessionmaker, prepare, take_slot)


def test_two_pollers_claim_each_due_mailbox_once(app: Any, db: Session, make_mailbox: Any) -> None:
    ids = [make_mailbox(imap_host="127.0.0.1", imap_port=1143, imap_security="none", imap_username="u",
                        imap_password="p").id for _ in range(5)]

    def due_again() -> list[int]:
        db.execute(update(Mailbox).values(next_poll_at=None))
        db.commit()
        return ids

    def claim_each(session: Session) -> list[int]:
        now = utcnow()
        due = due_polls(session, now)
        session.commit()
        return [i for i in due if claim_poll(session, i, now, now + timedelta(minutes=5)) and not session.commit()]

    race_rounds(app.extensions["outreach"].sessionmaker, due_again, claim_each)


def test_two_reconcilers_claim_each_message_a_dead_sender_left_once(app: Any, db: Session, outreach_campaign: Any
                                                                    ) -> None:
    campaign, prospects = outreach_campaign(None, n=6)
    enroll(db, app, campaign, prospects, now=datetime.now(UTC))
    ids = [m.id for m in messages(db)]

    def left_sending() -> list[int]:
        db.execute(update(Message).values(status="sending", claimed_at=utcnow() - timedelta(hours=1)))
        db.commit()
        return ids

    race_rounds(app.extensions["outreach"].sessionmaker, left_sending,
                lambda session: claim_stale(session, utcnow() - timedelta(minutes=10), utcnow()))


def test_two_reconcilers_mark_each_unknown_message_found_in_sent_once(app: Any, db: Session, outreach_campaign: Any
                                                                      ) -> None:
    campaign, prospects = outreach_campaign(None, n=6)
    enroll(db, app, campaign, prospects, now=datetime.now(UTC))
    ids = [m.id for m in messages(db)]

    def unknown_again() -> list[int]:
        db.execute(update(Message).values(status="unknown"))
        db.commit()
        return ids

    race_rounds(app.extensions["outreach"].sessionmaker, unknown_again, lambda session: claim_unknown(session, ids))
