"""Tick: check the addresses nobody has checked yet (added by hand, by CSV import or the API).

The tick claims one address at a time, just before checking it, with a lease as long as one check can
take (claim_lease), and records its verdict at once: two schedulers check different addresses, and a killed
tick leaves one address behind, due again when its lease runs out. An "unknown" verdict (DNS did not answer)
is retried after a day.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_
from sqlalchemy.orm import Session

from outreach.config import DnsSettings
from outreach.contacts.service import apply_verdict
from outreach.contacts.validation import AddressChecker
from outreach.jobs.claims import claim_rows
from outreach.jobs.ticks import JobContext
from outreach.lib.clock import utcnow
from outreach.models import Contact
from outreach.workspace.service import with_workspace

#: addresses checked per tick at most
BATCH = 200
RETRY_UNKNOWN_AFTER = timedelta(days=1)


def claim_lease(settings: DnsSettings) -> timedelta:
    """How long a claimed address is left to its claimer: a check is at most three lookups (MX, then A and
    AAAA) of [dns] timeout each, plus a margin."""
    return timedelta(seconds=3 * settings.timeout + 15)


def claim_unchecked(session: Session, limit: int, now: datetime | None = None, *,
                    lease: timedelta = claim_lease(DnsSettings())) -> list[int]:
    """Claim up to `limit` unchecked (or long-unknown) addresses that no other tick holds."""
    now = now or utcnow()
    return sorted(claim_rows(session, Contact, where=[
        or_(Contact.status == "unchecked",
            (Contact.status == "unknown") & (Contact.checked_at < now - RETRY_UNKNOWN_AFTER)),
        or_(Contact.check_claimed_at.is_(None), Contact.check_claimed_at <= now - lease)],
        order_by=[Contact.id], limit=limit, values={"check_claimed_at": now}))


def validate_unchecked(ctx: JobContext) -> int:
    """Check up to BATCH unchecked (or long-unknown) addresses, one claim each; returns how many were checked."""
    lease = claim_lease(ctx.settings.dns)
    done = 0
    with ctx.sessionmaker() as session:
        checker = AddressChecker(with_workspace(session, ctx.settings).dns)
        session.rollback()  # end the read: on SQLite the claims below must begin their own transaction
        while done < BATCH and not ctx.stopping():
            claimed = claim_unchecked(session, 1, lease=lease)
            contact = session.get(Contact, claimed[0], populate_existing=True) if claimed else None
            session.commit()
            if contact is None:
                break
            apply_verdict(contact, checker.check(contact.email))
            session.commit()
            done += 1
    return done
