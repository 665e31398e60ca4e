"""Tick: check the addresses nobody has checked yet (added by hand, by CSV import or the API).

Each tick claims a few addresses at a time (a lease of CLAIM_LEASE), so two schedulers check different
addresses; an "unknown" verdict (DNS did not answer) is retried after a day.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from outreach.contacts.service import apply_verdict
from outreach.contacts.validation import AddressChecker
from outreach.jobs.claims import claim_rows
from outreach.jobs.ticks import JobContext
from outreach.lib.clock import utcnow
from outreach.models import Contact

BATCH = 200
#: addresses claimed at a time
CLAIM_CHUNK = 20
#: a claimed address that was not checked by then (its process died) may be claimed again
CLAIM_LEASE = timedelta(minutes=10)
RETRY_UNKNOWN_AFTER = timedelta(days=1)


def claim_unchecked(session: Session, limit: int, now: datetime | None = None) -> list[int]:
    """Claim up to `limit` unchecked (or long-unknown) addresses that no other tick holds."""
    now = now or utcnow()
    return sorted(claim_rows(session, Contact, where=[
        or_(Contact.status == "unchecked",
            (Contact.status == "unknown") & (Contact.checked_at < now - RETRY_UNKNOWN_AFTER)),
        or_(Contact.check_claimed_at.is_(None), Contact.check_claimed_at <= now - CLAIM_LEASE)],
        order_by=[Contact.id], limit=limit, values={"check_claimed_at": now}))


def validate_unchecked(ctx: JobContext) -> int:
    """Check up to BATCH unchecked (or long-unknown) addresses; returns how many were checked."""
    checker = AddressChecker(ctx.settings.dns)
    done = 0
    with ctx.sessionmaker() as session:
        while done < BATCH and not ctx.stopping():
            ids = claim_unchecked(session, min(CLAIM_CHUNK, BATCH - done))
            contacts = session.scalars(select(Contact).where(Contact.id.in_(ids)).order_by(Contact.id)).all()
            session.commit()
            if not contacts:
                break
            for i, contact in enumerate(contacts):
                if ctx.stopping():  # give back what this tick will not check
                    session.execute(update(Contact).where(Contact.id.in_([c.id for c in contacts[i:]]))
                                    .values(check_claimed_at=None))
                    session.commit()
                    break
                apply_verdict(contact, checker.check(contact.email))
                session.commit()
                done += 1
    return done
