"""Registering webhooks and queueing a delivery for each alert they subscribe to. No Flask here.

An admin registers a URL for some of WEBHOOK_EVENTS; the app makes its signing secret (shown once, stored
encrypted like mailbox passwords). When an alert is raised (outreach.notifications.events), `on_alert` queues one
delivery per active webhook that wants it, in the alert's own transaction: the delivery exists exactly when
what it reports was committed. outreach.webhooks.delivery sends them.
"""
from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from outreach.accounts.service import audit
from outreach.lib.clock import utcnow
from outreach.lib.http import FetchSettings, blocked_message, target_refusal
from outreach.lib.secrets import SecretBox
from outreach.lib.urls import BadURL, normalize_url
from outreach.models import Backlink, BacklinkEvent, Prospect, User
from outreach.models.mail import InboundMessage, Mailbox, Message
from outreach.models.webhooks import DELIVERY_STATUSES, WEBHOOK_EVENTS, Webhook, WebhookAttempt, WebhookDelivery

#: at most this many webhooks: each alert writes one row per webhook
MAX_WEBHOOKS = 50
SECRET_PREFIX = "whsec_"
EVENT_LABELS = {"reply_received": "Reply received", "bounce": "Bounce", "unsubscribe": "Unsubscribe",
                "link_live": "Link live", "link_lost": "Link lost", "terms_not_met": "Link terms not met",
                "mailbox_paused": "Mailbox paused"}


class WebhookError(ValueError):
    """A one-line reason a webhook was refused; `field` names the input at fault."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# --- registering -------------------------------------------------------------------------------------

def check_url(url: str, fetch: FetchSettings) -> str:
    """The normalised http(s) URL, or WebhookError: no other scheme, no credentials, no guarded address."""
    text = url.strip()
    if not text:
        raise WebhookError("the URL is required", "url")
    if len(text) > 2000:
        raise WebhookError("the URL is longer than 2,000 characters", "url")
    if text.split("://", 1)[0].lower() not in ("http", "https") or "://" not in text:
        raise WebhookError(f"{text[:100]!r} is not an http(s) URL (write the scheme: https://...)", "url")
    try:
        normal = normalize_url(text)
    except BadURL as exc:
        raise WebhookError(str(exc), "url") from None
    if "@" in normal.split("://", 1)[1].split("/", 1)[0]:
        raise WebhookError("the URL must not carry a user name or password", "url")
    problem = target_refusal(normal, fetch)
    if problem == "blocked_address":
        raise WebhookError(blocked_message(normal), "url")
    if problem is not None:
        raise WebhookError(f"{normal} is not a usable URL ({problem})", "url")
    return normal


def check_events(events: Iterable[str]) -> list[str]:
    chosen = list(dict.fromkeys(events))
    unknown = [e for e in chosen if e not in WEBHOOK_EVENTS]
    if unknown:
        raise WebhookError(f"unknown event {unknown[0]!r} (one of {', '.join(WEBHOOK_EVENTS)})", "events")
    if not chosen:
        raise WebhookError("choose at least one event", "events")
    return [e for e in WEBHOOK_EVENTS if e in chosen]


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def create_webhook(session: Session, box: SecretBox, fetch: FetchSettings, *, url: str, events: Iterable[str],
                   description: str = "", actor: User | None = None) -> tuple[Webhook, str]:
    """Register a webhook; returns it and its signing secret in clear (the only time it is shown)."""
    count = session.scalar(select(func.count()).select_from(Webhook)) or 0
    if count >= MAX_WEBHOOKS:
        raise WebhookError(f"at most {MAX_WEBHOOKS} webhooks; delete one first")
    secret = new_secret()
    webhook = Webhook(url=check_url(url, fetch), events=check_events(events),
                      description=_description(description), secret=box.encrypt(secret), is_active=True,
                      created_by_id=actor.id if actor else None)
    session.add(webhook)
    session.flush()
    audit(session, actor, "webhook.create", "webhook", webhook.id, {"url": webhook.url, "events": webhook.events})
    return webhook, secret


def update_webhook(session: Session, webhook: Webhook, fetch: FetchSettings, *, url: str | None = None,
                   events: Iterable[str] | None = None, description: str | None = None,
                   is_active: bool | None = None, actor: User | None = None) -> None:
    """Change what is given (None keeps it)."""
    if url is not None:
        webhook.url = check_url(url, fetch)
    if events is not None:
        webhook.events = check_events(events)
    if description is not None:
        webhook.description = _description(description)
    if is_active is not None:
        webhook.is_active = is_active
    session.flush()
    audit(session, actor, "webhook.update", "webhook", webhook.id,
          {"url": webhook.url, "events": webhook.events, "is_active": webhook.is_active})


def rotate_secret(session: Session, box: SecretBox, webhook: Webhook, actor: User | None = None) -> str:
    """A new signing secret (returned in clear once); deliveries not yet sent are signed with it."""
    secret = new_secret()
    webhook.secret = box.encrypt(secret)
    session.flush()
    audit(session, actor, "webhook.rotate_secret", "webhook", webhook.id, {})
    return secret


def delete_webhook(session: Session, webhook: Webhook, actor: User | None = None) -> None:
    """Delete the webhook with its deliveries and their log."""
    audit(session, actor, "webhook.delete", "webhook", webhook.id, {"url": webhook.url})
    session.delete(webhook)
    session.flush()


def redeliver(session: Session, delivery: WebhookDelivery) -> None:
    """Send a delivery that failed for good once more, as soon as the next tick (same body, a new signature)."""
    if delivery.status != "failed":
        raise WebhookError(f"only a failed delivery can be sent again (this one is {delivery.status})")
    delivery.status, delivery.next_attempt_at, delivery.attempts = "pending", utcnow(), 0
    session.flush()


def _description(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > 200:
        raise WebhookError("the description is longer than 200 characters", "description")
    return text


# --- reading -----------------------------------------------------------------------------------------

def webhooks_query() -> Select[tuple[Webhook]]:
    return select(Webhook).order_by(Webhook.id)


def deliveries_query(webhook_id: int, status: str | None = None) -> Select[tuple[WebhookDelivery]]:
    """A webhook's deliveries, newest first."""
    if status is not None and status not in DELIVERY_STATUSES:
        raise WebhookError(f"unknown status {status!r}", "status")
    query = select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
    if status:
        query = query.where(WebhookDelivery.status == status)
    return query.order_by(WebhookDelivery.id.desc())


def attempts_of(session: Session, delivery_ids: Iterable[int]) -> dict[int, list[WebhookAttempt]]:
    """Each delivery's attempts, oldest first (one query)."""
    ids = list(delivery_ids)
    found: dict[int, list[WebhookAttempt]] = {i: [] for i in ids}
    if ids:
        for attempt in session.scalars(select(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(ids))
                                       .order_by(WebhookAttempt.id)):
            found[attempt.delivery_id].append(attempt)
    return found


# --- queueing deliveries when an alert is raised ----------------------------------------------------------

def on_alert(event: str, *, session: Session, records: dict[str, Any]) -> None:
    """Queue a delivery of this alert to every active webhook subscribed to it (the caller commits)."""
    hooks = [w for w in session.scalars(select(Webhook).where(Webhook.is_active.is_(True)).order_by(Webhook.id))
             if event in (w.events or [])]
    if not hooks:
        return
    now = utcnow()
    body = json.dumps({"id": f"evt_{uuid.uuid4().hex}", "event": event, "created_at": now.isoformat(),
                       "data": payload(records)}, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    session.add_all(WebhookDelivery(webhook_id=w.id, event=event, body=body, status="pending", attempts=0,
                                    next_attempt_at=now, created_at=now) for w in hooks)
    session.flush()


def payload(records: dict[str, Any]) -> dict[str, Any]:
    """The `data` of an alert: the records it is about, each as a small JSON object."""
    data: dict[str, Any] = {}
    prospect = records.get("prospect")
    if isinstance(prospect, Prospect):
        data["prospect"] = {"id": prospect.id, "campaign_id": prospect.campaign_id,
                            "client_id": prospect.campaign.client_id, "domain": prospect.site.domain,
                            "page_url": prospect.page_url, "stage": prospect.stage,
                            "link": f"/prospects/{prospect.id}"}
    message = records.get("message")
    if isinstance(message, Message):
        data["message"] = {"id": message.id, "message_id": message.message_id, "step": message.step,
                           "subject": message.subject, "to_email": message.to_email, "status": message.status,
                           "sent_at": _when(message.sent_at)}
    inbound = records.get("inbound")
    if isinstance(inbound, InboundMessage):
        data["inbound"] = {"id": inbound.id, "kind": inbound.kind, "from_email": inbound.from_email,
                           "subject": inbound.subject, "snippet": inbound.snippet[:1000],
                           "received_at": _when(inbound.received_at)}
    backlink = records.get("backlink")
    if isinstance(backlink, Backlink):
        data["backlink"] = {"id": backlink.id, "client_id": backlink.client_id, "campaign_id": backlink.campaign_id,
                            "prospect_id": backlink.prospect_id, "page_url": backlink.page_url,
                            "target_url": backlink.target_url, "status": backlink.status,
                            "agreed_anchor": backlink.agreed_anchor, "agreed_rel": backlink.agreed_rel,
                            "unmet_terms": list(backlink.unmet_terms or []), "link": f"/backlinks/{backlink.id}"}
    event = records.get("backlink_event")
    if isinstance(event, BacklinkEvent):
        data["backlink_event"] = {"id": event.id, "kind": event.kind, "text": event.text,
                                  "created_at": _when(event.created_at)}
    mailbox = records.get("mailbox")
    if isinstance(mailbox, Mailbox):
        data["mailbox"] = {"id": mailbox.id, "name": mailbox.name, "from_email": mailbox.from_email,
                           "paused_at": _when(mailbox.paused_at), "pause_reason": mailbox.pause_reason,
                           "link": f"/mail/mailboxes/{mailbox.id}"}
    if records.get("detail"):
        data["detail"] = str(records["detail"])[:1000]
    return data


def _when(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
