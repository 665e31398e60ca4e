"""What the pipeline announces. Subscribers are connected by `outreach.wiring.connect_subscribers`."""
from __future__ import annotations

from blinker import Namespace

_events = Namespace()

#: sent by `move_prospect` after a card changed stage, in the same transaction:
#: `stage_changed.send(prospect, session=..., old=..., new=..., actor=...)`
stage_changed = _events.signal("stage-changed")
