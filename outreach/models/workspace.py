"""Workspace settings: what an admin changes in the app rather than in the config file."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from outreach.db import Base


class WorkspaceSettings(Base):
    """The one row of settings an admin edits on the Settings page; a None falls back to the config file."""

    __tablename__ = "workspace_settings"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: ask a contact's mail server whether it accepts any address (one RCPT TO, never DATA);
    #: None: `[dns] catch_all_probe` from the config file
    catch_all_probe: Mapped[bool | None]
    updated_at: Mapped[datetime | None]
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
