"""Outreach: a self-hosted link-building workflow tool."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # Flask costs ~0.2 s to import: the CLI's discover and verify do not need it
    from flask import Flask

__version__ = "0.1.0"


def create_app(overrides: dict[str, dict[str, Any]] | None = None, config_path: str | None = None) -> Flask:
    """Build the web app. It never starts the scheduler: `outreach run` does that beside it."""
    from outreach.web.factory import build_app

    return build_app(overrides=overrides, config_path=config_path)
