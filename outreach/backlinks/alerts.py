"""Alert emails about backlink state changes, sent after the change is committed (and retried)."""
from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import or_
from sqlalchemy.orm import Session, sessionmaker

from outreach.accounts import permissions
from outreach.backlinks import reasons, terms
from outreach.backlinks.service import ALERT_KINDS
from outreach.config import Settings
from outreach.db import session_scope
from outreach.jobs.claims import claim_rows
from outreach.lib import appmail
from outreach.lib.clock import utcnow
from outreach.models import Backlink, BacklinkCheck, BacklinkEvent, Campaign, Prospect, User
from outreach.models.notifications import NOTIFICATION_KINDS
from outreach.notifications.events import BACKLINK_ALERTS, raise_alert
from outreach.notifications.service import notify, owner_or_team

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
#: a claimed alert not sent by then (its process died) is claimed again
CLAIM_LEASE = timedelta(minutes=10)
HEADLINES = {
    "went_live": "Link is live", "relive": "Link is live again", "lost": "Link lost",
    "rel_changed": "Link rel changed", "anchor_changed": "Link anchor changed",
    "became_noindex": "Linking page is no longer indexable", "missed": "Link missed its deadline",
    "terms_not_met": "Link live, terms not met", "terms_met": "Link now meets the agreed terms",
}


def owner_of(session: Session, backlink: Backlink) -> User | None:
    """The prospect's owner, else the campaign's owner, else whoever added the link."""
    candidates: list[int | None] = []
    if backlink.prospect_id:
        prospect = session.get(Prospect, backlink.prospect_id)
        candidates.append(prospect.owner_id if prospect else None)
    if backlink.campaign_id:
        campaign = session.get(Campaign, backlink.campaign_id)
        candidates.append(campaign.owner_id if campaign else None)
    candidates.append(backlink.created_by_id)
    for user_id in candidates:
        user = session.get(User, user_id) if user_id else None
        if user is not None and user.is_active and permissions.is_staff(user):
            return user
    return None


def claim_alert(session: Session, now: datetime | None = None, *, tried: Collection[int] = ()) -> int | None:
    """Claim the oldest alert still to send (a lease of CLAIM_LEASE, one attempt more) but those `tried` in
    this tick; None when none is left."""
    now = now or utcnow()
    claimed = claim_rows(session, BacklinkEvent, where=[
        BacklinkEvent.notified_at.is_(None), BacklinkEvent.notify_attempts < MAX_ATTEMPTS,
        BacklinkEvent.id.not_in(tried),
        or_(BacklinkEvent.notify_claimed_at.is_(None), BacklinkEvent.notify_claimed_at <= now - CLAIM_LEASE)],
        order_by=[BacklinkEvent.id], limit=1,
        values={"notify_attempts": BacklinkEvent.notify_attempts + 1, "notify_claimed_at": now})
    return claimed[0] if claimed else None


def send_pending_alerts(settings: Settings, factory: sessionmaker[Session],
                        *, limit: int = 100) -> int:
    """Email the owner about each committed, unsent event; returns how many were handled."""
    done = 0
    tried: list[int] = []
    for _ in range(limit):
        with session_scope(factory) as session:
            event_id = claim_alert(session, tried=tried)
            if event_id is not None:
                notify_in_app(session, event_id)  # once: it knows whether this is the alert's first claim
        if event_id is None:
            break
        tried.append(event_id)
        with session_scope(factory) as session:
            event = session.get(BacklinkEvent, event_id)
            assert event is not None
            email = _email_for(session, settings, event)
            session.commit()  # end the reads: on SQLite the result's transaction must start with its write
            error = ""
            if email is not None:
                try:
                    appmail.send(email, settings)
                except appmail.MailError as exc:
                    error = str(exc)
                    log.warning("alert %s not sent: %s", event_id, exc)
            if error:
                event.notify_error = error[:500]
                event.notify_claimed_at = None  # the next tick tries again
            else:
                event.notified_at = utcnow()
                event.notify_error = "" if email else "no owner to notify"
            done += 1
    return done


def notify_in_app(session: Session, event_id: int) -> None:
    """The alert as an in-app notification for the link's owner (else the team), linking to the link's page.

    Called in the transaction of the alert's claim: only the first claim (attempts now 1) writes it, and a claim
    is taken once, so a retried email never repeats the notification.
    """
    event = session.get(BacklinkEvent, event_id)
    if event is None or event.notify_attempts != 1 or event.kind not in ALERT_KINDS:
        return
    if event.kind not in NOTIFICATION_KINDS:  # a test keeps the two lists in step; the email must not wait on it
        log.warning("alert %s: no notification kind %r", event_id, event.kind)
        return
    backlink = session.get(Backlink, event.backlink_id)
    if backlink is None:
        return
    owner = owner_of(session, backlink)
    users = [owner.id] if owner is not None else owner_or_team(session, [])
    where = backlink.page_url or backlink.site_url
    headline = HEADLINES.get(event.kind, event.kind.replace("_", " ").capitalize())
    why = f" ({reasons.label(event.reason).lower()})" if event.reason and event.kind in ("lost", "missed") else ""
    notify(session, users, event.kind, f"{headline}{why}: {where}", event.text, f"/backlinks/{backlink.id}")
    if event.kind in BACKLINK_ALERTS:
        raise_alert(session, BACKLINK_ALERTS[event.kind], backlink=backlink, backlink_event=event)


def _email_for(session: Session, settings: Settings, event: BacklinkEvent) -> appmail.AppEmail | None:
    if event.kind not in ALERT_KINDS:
        return None
    backlink = session.get(Backlink, event.backlink_id)
    owner = owner_of(session, backlink) if backlink else None
    if backlink is None or owner is None:
        return None
    check = session.get(BacklinkCheck, event.check_id) if event.check_id else None
    headline = HEADLINES[event.kind]
    where = backlink.page_url or backlink.site_url
    link = settings.app.base_url.rstrip("/") + f"/backlinks/{backlink.id}"
    return appmail.render("backlink_alert", [owner.email], f"{headline}: {where}", headline=headline,
                          event=event, backlink=backlink, check=check, link=link,
                          status=terms.status_label(backlink), failing=terms.failing_label(backlink),
                          agreed=terms.agreed_label(backlink.agreed_anchor, backlink.agreed_rel),
                          reason=reasons.label(event.reason))
