"""The stale-scheduler alert: the admins are told once per outage, in the app and by email.

The scheduler cannot report its own death, so the web processes look (`watch`, at most once a minute per
process, and on /readyz and the Status page). Whoever first sees the newest heartbeat stale claims the
alert with a conditional update: in-app notifications once, the email until it is handed over. The next
beat clears both marks, so a later outage is alerted again.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session, sessionmaker

from outreach.config import Settings
from outreach.health.heartbeat import scheduler_state
from outreach.lib import appmail
from outreach.lib.clock import utcnow
from outreach.models import User
from outreach.models.health import SchedulerHeartbeat
from outreach.notifications.service import notify

log = logging.getLogger(__name__)
STATUS_PATH = "/status"


def raise_if_stale(session: Session, settings: Settings, *, now: datetime | None = None
                   ) -> tuple[int, appmail.AppEmail] | None:
    """When the newest heartbeat is stale: notify the admins (once per outage, flushed) and return the alert
    email to send after commit with the heartbeat it is about, when no other process has it in hand."""
    now = now or utcnow()
    state = scheduler_state(session, settings, now=now)
    if state.newest is None or state.is_fresh:
        return None
    row = state.newest
    table = SchedulerHeartbeat
    stale = [table.id == row.id, table.beat_at == row.beat_at]  # a beat meanwhile ends the outage
    admins = list(session.scalars(select(User).where(User.role == "admin", User.is_active.is_(True))
                                  .order_by(User.id)))
    headline = f"The scheduler has stopped: no heartbeat for {_span(state.age_seconds or 0)}"
    explanation = ("Nothing is being sent, polled or checked: emails due wait in the outbox, replies are not read "
                   "and backlinks are not checked until a scheduler runs again.")
    if _claim(session, [*stale, table.stale_alerted_at.is_(None)], stale_alerted_at=now):
        notify(session, [a.id for a in admins], "scheduler_stale", headline, explanation, STATUS_PATH)
        log.warning("%s (last from %s)", headline, row.name)
    recipients = [a.email for a in admins]
    if not recipients or not _claim(session, [*stale, table.stale_emailed_at.is_(None)], stale_emailed_at=now):
        return None
    email = appmail.render("scheduler_stale", recipients, headline, headline=headline, explanation=explanation,
                           beat_at=row.beat_at, name=row.name,
                           link=settings.app.base_url.rstrip("/") + STATUS_PATH)
    return row.id, email


def watch(factory: sessionmaker[Session], settings: Settings, *, now: datetime | None = None,
          background: bool = False) -> threading.Thread | None:
    """Look at the heartbeat and raise the alert when it is stale; the email goes after the commit (from a
    thread when `background`: a web request does not wait for SMTP). Returns that thread, if any."""
    with factory() as session, session.begin():
        found = raise_if_stale(session, settings, now=now)
    if found is None:
        return None
    if not background:
        send_alert(factory, settings, *found)
        return None
    thread = threading.Thread(target=send_alert, args=(factory, settings, *found), name="stale-alert", daemon=True)
    thread.start()
    return thread


def send_alert(factory: sessionmaker[Session], settings: Settings, heartbeat_id: int,
               email: appmail.AppEmail) -> bool:
    """Send the claimed alert email (its claim committed); on failure release the claim: the next look retries."""
    try:
        appmail.send(email, settings)
        return True
    except appmail.MailError as exc:
        log.warning("the stale-scheduler alert email could not be sent (retried at the next look): %s", exc)
        with factory() as session, session.begin():
            _claim(session, [SchedulerHeartbeat.id == heartbeat_id], stale_emailed_at=None)
        return False


def _claim(session: Session, where: list[ColumnElement[bool]], **values: object) -> bool:
    done = session.execute(update(SchedulerHeartbeat).where(*where).values(**values)
                           .execution_options(synchronize_session=False)).rowcount
    return done == 1


def _span(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    if seconds >= 60:
        return f"{seconds // 60} min"
    return f"{seconds} s"
