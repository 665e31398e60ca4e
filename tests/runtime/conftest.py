"""Fixtures for tests that start `outreach` processes: a database of their own, the environment to start them."""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import PG_ADMIN_URL, _pg_available


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    if not _pg_available():
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL on 127.0.0.1:5432 is unreachable (CI must test on it)")
        pytest.skip("PostgreSQL on 127.0.0.1:5432 is unreachable")
    name = f"outreach_proc_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def process_env(tmp_path: Path, url: str, **settings: str) -> dict[str, str]:
    """The environment of an `outreach` process on this database, with OUTREACH_* settings added."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("OUTREACH_")}
    env.update(OUTREACH_APP_INSTANCE_PATH=str(tmp_path / "instance"), OUTREACH_DATABASE_URL=url,
               OUTREACH_MAIL_OUTBOX_DIR=str(tmp_path / "outbox"), **settings)
    return env
