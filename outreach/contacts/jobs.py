"""Tick: check the addresses nobody has checked yet (added by hand, by CSV import or the API).

Checking is idempotent, so two schedulers checking the same address at once only cost a DNS query;
an "unknown" verdict (DNS did not answer) is retried after a day.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, select

from outreach.contacts.service import apply_verdict
from outreach.contacts.validation import AddressChecker
from outreach.jobs.ticks import JobContext
from outreach.lib.clock import utcnow
from outreach.models import Contact

BATCH = 200
RETRY_UNKNOWN_AFTER = timedelta(days=1)


def validate_unchecked(ctx: JobContext) -> int:
    """Check up to BATCH unchecked (or long-unknown) addresses; returns how many were checked."""
    checker = AddressChecker.from_settings(ctx.settings)
    with ctx.sessionmaker() as session:
        retry_before = utcnow() - RETRY_UNKNOWN_AFTER
        contacts = session.scalars(
            select(Contact).where(or_(Contact.status == "unchecked",
                                      (Contact.status == "unknown") & (Contact.checked_at < retry_before)))
            .order_by(Contact.id).limit(BATCH)).all()
        for contact in contacts:
            if ctx.stopping():
                break
            apply_verdict(contact, checker.check(contact.email))
            session.commit()
        return len(contacts)
