"""Fixtures for tests that start `outreach` processes: a database of their own, the environment to start them."""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import fresh_pg_database


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    with fresh_pg_database("outreach_proc") as url:
        yield url


def process_env(tmp_path: Path, url: str, **settings: str) -> dict[str, str]:
    """The environment of an `outreach` process on this database, with OUTREACH_* settings added."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("OUTREACH_")}
    env.update(OUTREACH_APP_INSTANCE_PATH=str(tmp_path / "instance"), OUTREACH_DATABASE_URL=url,
               OUTREACH_MAIL_OUTBOX_DIR=str(tmp_path / "outbox"), **settings)
    return env
