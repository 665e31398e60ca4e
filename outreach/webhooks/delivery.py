"""Sending queued webhook deliveries: claimed with a lease, POSTed through the guarded fetcher, signed, retried.

Each delivery is a row whose `next_attempt_at` is both its due time and its lease: a claim moves it LEASE ahead
(and counts the attempt) in one conditional UPDATE, commits, and only then does the POST, outside any
transaction; the answer is recorded in a second short transaction. A worker that dies between the two leaves
the row due again after the lease, so a delivery may arrive twice but is never lost: receivers deduplicate on
the X-Outreach-Delivery header.

Signature: `X-Outreach-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed by the secret>`.
The timestamp is the attempt's, so a receiver can refuse old replays.
"""
from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from outreach.config import Settings
from outreach.jobs.claims import claim_rows
from outreach.lib.aio import run_sync
from outreach.lib.clock import utcnow
from outreach.lib.http import Fetcher, FetchResult, FetchSettings
from outreach.lib.secrets import SecretBox
from outreach.models.webhooks import Webhook, WebhookAttempt, WebhookDelivery

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Outreach-Signature"
#: seconds to wait before attempt 2, 3, ... after a failed one; then the delivery has failed for good
BACKOFF = (30, 120, 600, 3600, 6 * 3600, 24 * 3600)
MAX_ATTEMPTS = len(BACKOFF) + 1
#: a receiver gets this long to answer
TIMEOUT = 10.0
#: a claimed delivery not recorded by then (its worker died) is due again; well over TIMEOUT
LEASE = timedelta(minutes=2)
#: deliveries claimed and sent together, and how many of them go to one receiver at once: a batch to one slow
#: receiver takes BATCH / PER_HOST * TIMEOUT at most, well within LEASE
BATCH = 20
PER_HOST = 5
#: characters of the receiver's answer kept in the log
EXCERPT = 500
USER_AGENT = "Outreach-Webhooks/1"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value for this body sent at this time."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def fetch_settings(settings: Settings) -> FetchSettings:
    """The crawler's guard (private addresses refused unless allowed) with a webhook's limits: no redirects."""
    return dataclasses.replace(FetchSettings.from_settings(settings), user_agent=USER_AGENT, timeout=TIMEOUT,
                               max_bytes=64 * 1024, max_redirects=0, per_host_delay=0.0, respect_robots=False,
                               per_host_concurrency=PER_HOST)


def claim_due(session: Session, now: datetime, limit: int = BATCH) -> list[int]:
    """Claim up to `limit` due deliveries (their lease starts now, their attempt is counted); the caller commits."""
    return claim_rows(session, WebhookDelivery,
                      where=[WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now],
                      order_by=[WebhookDelivery.next_attempt_at, WebhookDelivery.id], limit=limit,
                      values={"next_attempt_at": now + LEASE, "attempts": WebhookDelivery.attempts + 1})


@dataclass(frozen=True)
class _Job:
    delivery_id: int
    webhook_id: int
    url: str
    event: str
    body: bytes
    secret: str | None  # None: the webhook was disabled (or its secret cannot be read) since it was queued
    problem: str = ""


@dataclass(frozen=True)
class _Answer:
    status: int | None
    excerpt: str
    error: str
    duration_ms: int
    at: datetime

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def deliver_due(settings: Settings, factory: sessionmaker[Session], box: SecretBox,
                stopping: Callable[[], bool] = lambda: False) -> int:
    """Send every due delivery, a batch at a time; returns how many attempts were made."""
    done = 0
    fetch = fetch_settings(settings)
    while not stopping():
        with factory() as session:
            ids = claim_due(session, utcnow())
            session.commit()
            jobs = _jobs(session, ids, box)
        if not jobs:
            break
        answers = run_sync(_post_all(jobs, fetch))
        with factory() as session:
            _record(session, jobs, answers)
            session.commit()
        done += len(jobs)
    return done


def _jobs(session: Session, ids: list[int], box: SecretBox) -> list[_Job]:
    if not ids:
        return []
    rows = session.execute(select(WebhookDelivery, Webhook).join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
                           .where(WebhookDelivery.id.in_(ids)).order_by(WebhookDelivery.id)).all()
    jobs = []
    for delivery, webhook in rows:
        secret, problem = None, ""
        if not webhook.is_active:
            problem = "the webhook is disabled"
        else:
            try:
                secret = box.decrypt(webhook.secret)
            except ValueError as exc:
                problem = str(exc)
        jobs.append(_Job(delivery.id, webhook.id, webhook.url, delivery.event, delivery.body.encode(), secret,
                         problem))
    return jobs


async def _post_all(jobs: list[_Job], fetch: FetchSettings) -> dict[int, _Answer]:
    async with Fetcher(fetch) as fetcher:
        answers = await asyncio.gather(*(_post(fetcher, job) for job in jobs))
    return dict(zip((job.delivery_id for job in jobs), answers, strict=True))


async def _post(fetcher: Fetcher, job: _Job) -> _Answer:
    now = utcnow()
    if job.secret is None:
        return _Answer(None, "", job.problem, 0, now)
    headers = {"Content-Type": "application/json", "X-Outreach-Event": job.event,
               "X-Outreach-Delivery": str(job.delivery_id),
               SIGNATURE_HEADER: sign(job.secret, int(now.timestamp()), job.body)}
    result: FetchResult = await fetcher.fetch(job.url, method="POST", headers=headers, body=job.body,
                                              follow_redirects=False, polite=False, max_bytes=EXCERPT * 4)
    excerpt = result.body.decode("utf-8", "replace")[:EXCERPT] if result.body else ""
    error = ""
    if result.error:
        error = f"{result.error}: no answer from {job.url}"
    elif result.status is not None and not 200 <= result.status < 300:
        error = f"HTTP {result.status}"
    return _Answer(result.status, excerpt, error, int(result.elapsed * 1000), now)


def _record(session: Session, jobs: list[_Job], answers: dict[int, _Answer]) -> None:
    """Log each attempt's answer; delivered, due again after its backoff, or failed for good."""
    ids = [job.delivery_id for job in jobs]
    # start with a write: on SQLite a transaction that reads first can fail to upgrade to a writer under load
    session.execute(update(WebhookDelivery).where(WebhookDelivery.id.in_(ids))
                    .values(attempts=WebhookDelivery.attempts).execution_options(synchronize_session=False))
    deliveries = {d.id: d for d in session.scalars(select(WebhookDelivery).where(WebhookDelivery.id.in_(ids)))}
    now = utcnow()
    for job in jobs:
        delivery, answer = deliveries.get(job.delivery_id), answers[job.delivery_id]
        if delivery is None or delivery.status != "pending":
            continue  # deleted with its webhook meanwhile
        session.add(WebhookAttempt(delivery_id=delivery.id, attempted_at=answer.at, status_code=answer.status,
                                   response_excerpt=answer.excerpt, error=answer.error[:500],
                                   duration_ms=answer.duration_ms))
        delivery.last_status_code, delivery.last_error = answer.status, answer.error[:500]
        if answer.ok:
            delivery.status, delivery.delivered_at = "delivered", now
        elif job.secret is None or delivery.attempts >= MAX_ATTEMPTS:
            delivery.status = "failed"
            log.warning("webhook delivery %s to %s failed for good: %s", delivery.id, job.url, answer.error)
        else:
            delivery.next_attempt_at = now + timedelta(seconds=BACKOFF[delivery.attempts - 1])
    session.flush()
