"""Who listens to what the domain announces: every subscriber, connected the same way in every process.

The web app (`create_app`), every command that opens the database (`lib.console.command_sessions`: the
scheduler's and workers' job context too) and the crash-test sender call `connect_subscribers()`;
`move_prospect` refuses to change a stage in a process that did not, so no code path skips the hand-offs.

The other wiring lives beside what it wires, one list each: blueprints in `outreach.web.factory.BLUEPRINTS`,
commands in `outreach.cli.COMMANDS`, scheduled ticks in `outreach.jobs.schedule.TICKS`.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from blinker import NamedSignal

from outreach.backlinks import service as backlinks
from outreach.campaigns.events import stage_changed
from outreach.mail import stops
from outreach.notifications.events import alert_raised
from outreach.webhooks import service as webhooks

#: (signal, receiver): a card moved on ends its email sequence; one that reaches *promised* gets its backlink;
#: an alert (reply, bounce, unsubscribe, link live or lost, terms not met) is queued for the webhooks that want it
SUBSCRIBERS: list[tuple[NamedSignal, Callable[..., Any]]] = [
    (stage_changed, stops.on_stage_changed),
    (stage_changed, backlinks.on_stage_changed),
    (alert_raised, webhooks.on_alert),
]


def connect_subscribers() -> None:
    """Connect every subscriber (safe to call again: blinker keeps one connection per receiver)."""
    for signal, receiver in SUBSCRIBERS:
        signal.connect(receiver, weak=False)
