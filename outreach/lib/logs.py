"""Logging for every process: time, level, process name, and who the record is about (request, user, job).

The context travels in context variables, set by the web app for each request (request id, user id) and by
the job code around each tick and run (job id); a filter copies them onto every record, so any logger in any
module gets them without passing them along. `[logging] format = "json"` writes one JSON object per line.
No Flask here.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from outreach.config import LoggingSettings

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
user_id: ContextVar[int | None] = ContextVar("user_id", default=None)
job_id: ContextVar[str | None] = ContextVar("job_id", default=None)

#: the fields the filter adds to every record, with their context variable
CONTEXT: dict[str, ContextVar[str | None] | ContextVar[int | None]] = {
    "request_id": request_id, "user_id": user_id, "job_id": job_id}
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(process_name)s]%(context)s %(message)s"


def process_name() -> str:
    """This process, unique across the machines of a deployment: "host:pid" (runs, heartbeats, Celery, logs)."""
    return f"{socket.gethostname()}:{os.getpid()}"


class ContextFilter(logging.Filter):
    """Adds the process name and the request, user and job ids of the current context to each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.process_name = process_name()
        shown = []
        for name, var in CONTEXT.items():
            value = var.get()
            setattr(record, name, value)
            if value is not None:
                shown.append(f"{name.removesuffix('_id')}={value}")
        record.context = (" " + " ".join(shown)) if shown else ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, process and context."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage(),
            "process": getattr(record, "process_name", process_name()),
        }
        for name in CONTEXT:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(settings: LoggingSettings) -> None:
    """Send every record to stderr in the configured format (stdout is for the commands' JSON)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter())
    if settings.format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.level)
    # every tick start and end at INFO would bury what matters
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


@contextmanager
def job(name: str) -> Iterator[None]:
    """Records logged inside are about this job ("tick mail.send", "crawl 12")."""
    token = job_id.set(name)
    try:
        yield
    finally:
        job_id.reset(token)
