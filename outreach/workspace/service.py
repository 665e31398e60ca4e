"""Workspace settings: one row an admin edits in the app; each unset value falls back to the config file.

Only what a team decides for itself lives here (today: whether contact checks may probe mail servers for
catch-all); what the operator decides stays in the config file. No Flask here.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from outreach.accounts.service import audit
from outreach.config import Settings
from outreach.lib.clock import utcnow
from outreach.models import User
from outreach.models.workspace import WorkspaceSettings

ROW_ID = 1


@dataclass(frozen=True)
class Effective:
    """A workspace setting's value and where it comes from."""

    catch_all_probe: bool
    #: "workspace" (an admin set it in the app) or "config" (`[dns] catch_all_probe`)
    catch_all_probe_from: str


def effective(session: Session, settings: Settings) -> Effective:
    """The workspace's settings, each falling back to the config file's value."""
    row = session.get(WorkspaceSettings, ROW_ID)
    if row is None or row.catch_all_probe is None:
        return Effective(settings.dns.catch_all_probe, "config")
    return Effective(row.catch_all_probe, "workspace")


def with_workspace(session: Session, settings: Settings) -> Settings:
    """The settings with the workspace's choices applied (what address checks and other work should use)."""
    probe = effective(session, settings).catch_all_probe
    if probe == settings.dns.catch_all_probe:
        return settings
    return settings.with_(dns={"catch_all_probe": probe})


def set_catch_all_probe(session: Session, actor: User | None, enabled: bool) -> WorkspaceSettings:
    """An admin turns the catch-all probe on or off for the workspace (flushed, audited; the caller commits)."""
    row = session.get(WorkspaceSettings, ROW_ID)
    if row is None:
        row = WorkspaceSettings(id=ROW_ID)
        session.add(row)
    before = row.catch_all_probe
    row.catch_all_probe = enabled
    row.updated_at = utcnow()
    row.updated_by_id = actor.id if actor else None
    audit(session, actor, "workspace_settings_changed", "workspace_settings", ROW_ID,
          {"catch_all_probe": {"from": before, "to": enabled}})
    session.flush()
    return row
