"""The scheduler tick that sends due webhook deliveries."""
from __future__ import annotations

from outreach.jobs.ticks import JobContext
from outreach.webhooks.delivery import deliver_due


def deliver_webhooks(ctx: JobContext) -> int:
    """Send every due delivery (claims make two schedulers harmless); returns the attempts made."""
    return deliver_due(ctx.settings, ctx.sessionmaker, ctx.secret_box, ctx.stopping)
