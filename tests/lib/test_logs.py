"""Log lines carry time, level, process, and the request, user and job they are about; JSON lines on demand."""
from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator

import pytest

from outreach.config import LoggingSettings
from outreach.jobs.ticks import JobContext, Tick, run_tick
from outreach.lib import logs


@pytest.fixture
def root_logging() -> Iterator[None]:
    """logs.configure changes the root logger: give the next tests back the one they had."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def _noisy_tick(ctx: JobContext) -> int:
    logging.getLogger("outreach.test").warning("inside the tick")
    return 1


def test_text_lines_name_the_time_level_process_and_context(root_logging: None,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure(LoggingSettings(level="INFO", format="text"))
    token = logs.request_id.set("abc123")
    try:
        logs.user_id.set(7)
        logging.getLogger("outreach.test").info("hello")
    finally:
        logs.request_id.reset(token)
        logs.user_id.set(None)
    logging.getLogger("outreach.test").debug("below the level")
    line, = capsys.readouterr().err.splitlines()
    when = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"
    assert re.fullmatch(rf"{when} INFO outreach.test \[{re.escape(logs.process_name())}\] request=abc123 user=7 hello",
                        line), line


def test_json_lines_carry_the_job_of_a_tick(root_logging: None, capsys: pytest.CaptureFixture[str]) -> None:
    from outreach.config import Settings

    logs.configure(LoggingSettings(level="INFO", format="json"))
    ctx = JobContext(settings=Settings(), sessionmaker=None, secret_box=None)  # type: ignore[arg-type]
    assert run_tick(Tick("test.noisy", _noisy_tick), ctx) == 1
    logging.getLogger("outreach.test").error("after the tick")
    first, second = (json.loads(line) for line in capsys.readouterr().err.splitlines())
    assert first["message"] == "inside the tick" and first["job_id"] == "tick test.noisy"
    assert first["level"] == "WARNING" and first["process"] == logs.process_name()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", first["time"])
    assert "job_id" not in second and second["message"] == "after the tick"
