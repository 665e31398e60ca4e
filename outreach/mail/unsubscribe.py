"""Unsubscribe links: an unforgeable signed token per message, and what unsubscribing does."""
from __future__ import annotations

from pathlib import Path

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.campaigns.service import record
from outreach.config import Settings
from outreach.lib.secrets import load_or_create_secret_key
from outreach.mail.stops import stop_contact_everywhere, suppress
from outreach.models import Suppression
from outreach.models.mail import Message
from outreach.notifications.events import raise_alert

SALT = "outreach.unsubscribe"


def signing_secret(settings: Settings) -> str:
    """[mail] unsubscribe_secret, else the app's secret key."""
    if settings.mail.unsubscribe_secret:
        return settings.mail.unsubscribe_secret
    if settings.app.secret_key:
        return settings.app.secret_key
    return load_or_create_secret_key(Path(settings.app.instance_path))


def make_token(secret: str, message_id: str) -> str:
    return URLSafeSerializer(secret, salt=SALT).dumps(message_id)


def read_token(secret: str, token: str) -> str | None:
    """The Message-ID the token was made for, or None if it is not ours."""
    try:
        value = URLSafeSerializer(secret, salt=SALT).loads(token)
    except BadSignature:
        return None
    return value if isinstance(value, str) else None


def unsubscribe_url(settings: Settings, secret: str, message_id: str) -> str:
    return settings.app.base_url.rstrip("/") + "/unsubscribe/" + make_token(secret, message_id)


def unsubscribe(session: Session, message_id: str, *, via: str) -> Message | None:
    """Suppress the recipient of this message everywhere and stop all their sequences (idempotent)."""
    message = session.scalar(select(Message).where(Message.message_id == message_id))
    if message is None:
        return None
    email = message.to_email
    already = session.scalar(select(Suppression.reason).where(Suppression.kind == "email",
                                                              Suppression.value == email.lower())) == "unsubscribed"
    suppress(session, email, "unsubscribed", f"via {via} from “{message.subject}”")
    record(session, message.prospect, "unsubscribed", f"{email} unsubscribed ({via})",
           details={"message_id": message.message_id})
    stop_contact_everywhere(session, message.contact, "unsubscribed", f"{email} unsubscribed ({via})",
                            stage="unsubscribed", source_message_id=message.message_id)
    if not already:  # a second click changes nothing and tells nobody
        raise_alert(session, "unsubscribe", prospect=message.prospect, message=message, detail=via)
    session.flush()
    return message
