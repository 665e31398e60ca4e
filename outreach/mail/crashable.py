"""A sending process for crash tests and benchmarks: `python -m outreach.mail.crashable SETTINGS_JSON`
(the tables of `outreach.config.as_dict(settings)`).

It sends everything due, then exits 0. Tests and benchmarks SIGKILL it at random moments.
"""
from __future__ import annotations

import json
import sys

from outreach.config import load_settings
from outreach.db import make_engine, make_sessionmaker
from outreach.lib.secrets import SecretBox
from outreach.mail.outbox import Sender
from outreach.wiring import connect_subscribers


def main(argv: list[str]) -> int:
    settings = load_settings(None, json.loads(argv[1]), environ={})
    connect_subscribers()
    engine = make_engine(settings.database.url)
    sent = Sender(settings, make_sessionmaker(engine, write=True), SecretBox(settings.app.secret_key)).run()
    print(sent, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
