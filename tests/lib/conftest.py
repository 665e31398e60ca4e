"""Fixtures for the fetcher tests: a test web on its own loopback address, fetch settings."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from outreach.lib.http import FetchSettings
from tests.lib.testweb import Canary, TestWeb


@pytest.fixture
def web() -> Iterator[TestWeb]:
    server = TestWeb("127.0.0.10")
    yield server
    server.close()


@pytest.fixture
def canary() -> Iterator[Canary]:
    listener = Canary("127.0.0.1")
    yield listener
    listener.close()


def make_settings(**overrides: object) -> FetchSettings:
    values: dict[str, object] = {
        "user_agent": "OutreachTest/1.0 (+https://example.test/bot)", "timeout": 2.0, "max_bytes": 200_000,
        "max_redirects": 5, "allow_private_addresses": True, "concurrency": 8, "per_host_concurrency": 4,
        "per_host_delay": 0.0, "retries": 1, "respect_robots": True,
    }
    values.update(overrides)
    return FetchSettings(**values)  # type: ignore[arg-type]
