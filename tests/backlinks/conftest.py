"""Fixtures for backlink tests: a publisher's test web on its own loopback address, and settings."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from outreach.config import Settings, load_settings
from outreach.jobs.ticks import JobContext
from tests.lib.testweb import TestWeb

TARGET = "https://client.example/product"


@pytest.fixture
def web() -> Iterator[TestWeb]:
    server = TestWeb("127.0.0.31")
    server.page("/robots.txt", "User-agent: *\nAllow: /\n", content_type="text/plain")
    yield server
    server.close()


@pytest.fixture
def settings() -> Settings:
    """Settings for checks without an app: loopback allowed, no politeness delay, short timeouts."""
    return load_settings(overrides={"crawl": {"allow_private_addresses": True, "per_host_delay": 0.0,
                                              "timeout": 5.0}}, environ={})


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A config file for the `outreach` command: loopback allowed, no politeness delay."""
    path = tmp_path / "config.toml"
    path.write_text("[crawl]\nallow_private_addresses = true\nper_host_delay = 0\ntimeout = 5\n")
    return path


@pytest.fixture
def ctx(app: Flask) -> JobContext:
    state = app.extensions["outreach"]
    return JobContext(settings=state.settings, sessionmaker=state.sessionmaker,
                      secret_box=state.secret_box)


@pytest.fixture
def empty_outbox(ctx: JobContext) -> None:
    """The local outbox without the emails earlier tests wrote (alert tests read what they caused)."""
    folder = Path(ctx.settings.mail.outbox_dir)
    for path in folder.glob("*.eml") if folder.exists() else []:
        path.unlink()
