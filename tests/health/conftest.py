"""Fixtures for the health tests: the test database stamped at the migrations' head, an empty outbox."""
from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from outreach.migrate import alembic_config


@pytest.fixture
def at_head(app: Flask, database_url: str) -> None:
    """The tables are made from the models (conftest); say so to Alembic, as `outreach db upgrade` would."""
    from alembic import command

    command.stamp(alembic_config(database_url), "head")


@pytest.fixture
def empty_outbox(app: Flask) -> Path:
    folder = Path(app.extensions["outreach"].settings.mail.outbox_dir)
    for path in folder.glob("*.eml") if folder.exists() else []:
        path.unlink()
    return folder
