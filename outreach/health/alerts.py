"""The stale-scheduler alert: the admins are told once per outage, in the app and by email.

The scheduler cannot report its own death, so the web processes look (`watch`: after any request but /healthz,
at most once a minute per process, and at once when an admin opens the Status page). Whoever first sees the
newest heartbeat stale claims the alert with a conditional update: in-app notifications once, the email until
it is handed over. The next beat clears both marks, so a later outage is alerted again.
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


def raise_alert(session: Session, settings: Settings, heartbeat: SchedulerHeartbeat, *, now: datetime | None = None
                ) -> appmail.AppEmail | None:
    """Tell the admins that `heartbeat` (the newest, seen stale) went silent: in the app once per outage
    (flushed), and return the alert email to send after commit unless another process has it in hand.

    Starts its transaction with the claim (an UPDATE): on SQLite a transaction that read first could not
    take the write lock while another process holds it.
    """
    now = now or utcnow()
    table = SchedulerHeartbeat
    stale = [table.id == heartbeat.id, table.beat_at == heartbeat.beat_at]  # a beat meanwhile ends the outage
    notified = _claim(session, [*stale, table.stale_alerted_at.is_(None)], stale_alerted_at=now)
    emailing = _claim(session, [*stale, table.stale_emailed_at.is_(None)], stale_emailed_at=now)
    if not notified and not emailing:
        return None
    admins = list(session.scalars(select(User).where(User.role == "admin", User.is_active.is_(True))
                                  .order_by(User.id)))
    age = max(0.0, (now - heartbeat.beat_at).total_seconds())
    headline = f"The scheduler has stopped: no heartbeat for {_span(age)}"
    explanation = ("Nothing is being sent, polled or checked: emails due wait in the outbox, replies are not read "
                   "and backlinks are not checked until a scheduler runs again.")
    if notified:
        notify(session, [a.id for a in admins], "scheduler_stale", headline, explanation, STATUS_PATH)
        log.warning("%s (last from %s)", headline, heartbeat.name)
    if not emailing or not admins:
        return None
    return appmail.render("scheduler_stale", [a.email for a in admins], headline, headline=headline,
                          explanation=explanation, beat_at=heartbeat.beat_at, scheduler=heartbeat.name,
                          link=settings.app.base_url.rstrip("/") + STATUS_PATH)


def watch(factory: sessionmaker[Session], settings: Settings, *, now: datetime | None = None,
          background: bool = False) -> threading.Thread | None:
    """Look at the heartbeat and raise the alert when it is stale; the email goes after the commit (from a
    thread when `background`: a web request does not wait for SMTP). Returns that thread, if any."""
    with factory() as session:
        state = scheduler_state(session, settings, now=now)
    if state.newest is None or state.is_fresh:
        return None
    with factory() as session, session.begin():
        email = raise_alert(session, settings, state.newest, now=now)
    if email is None:
        return None
    args = (factory, settings, state.newest.id, email)
    if not background:
        send_alert(*args)
        return None
    thread = threading.Thread(target=send_alert, args=args, name="stale-alert", daemon=True)
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
