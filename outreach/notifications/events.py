"""The alerts the product raises to the outside (webhooks), beside the in-app notifications of the same moments.

Each is raised in the transaction of what it reports: a reply read from a mailbox (`mail.imap.handle`), a bounce
(`mail.stops.notify_bounce`), an unsubscribe (`mail.unsubscribe.unsubscribe`), and a link that went live, was lost
or does not meet the agreed terms (`backlinks.alerts.notify_in_app`). Subscribers are connected by
`outreach.wiring.connect_subscribers`; raising one in a process that skipped its wiring is an error, so no code
path drops them.
"""
from __future__ import annotations

from typing import Any

from blinker import Namespace
from sqlalchemy.orm import Session

from outreach.models.webhooks import WEBHOOK_EVENTS

_events = Namespace()

#: `alert_raised.send(event, session=..., records=...)`, in the transaction of what happened
alert_raised = _events.signal("alert-raised")

#: a backlink event kind -> the alert it raises (the others raise none)
BACKLINK_ALERTS = {"went_live": "link_live", "relive": "link_live", "lost": "link_lost",
                   "terms_not_met": "terms_not_met"}


def raise_alert(session: Session, event: str, **records: Any) -> None:
    """Announce an alert with the records it is about (prospect, message, inbound, backlink, detail...)."""
    if event not in WEBHOOK_EVENTS:
        raise ValueError(f"unknown alert {event!r} (one of {', '.join(WEBHOOK_EVENTS)})")
    if not alert_raised.receivers:
        raise RuntimeError("nothing subscribes to alerts: call outreach.wiring.connect_subscribers() when the "
                           "process starts")
    alert_raised.send(event, session=session, records=records)
