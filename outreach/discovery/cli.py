"""`outreach discover ...`: the group; each kind of opportunity brings its command (outreach.cli lists them)."""
from __future__ import annotations

import click


@click.group()
def discover() -> None:
    """Find link opportunities by crawling sites."""
