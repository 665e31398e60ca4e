"""`outreach traffic import`: the same import as the web page, from the command line."""
from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.analytics.conftest import FIXTURES
from tests.test_cli import run


def test_it_imports_an_export_for_a_client_and_refuses_a_bad_one_in_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert run(["db", "upgrade"], tmp_path, OUTREACH_DATABASE_URL=url).returncode == 0
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO clients (name, website, report_emails, notes, created_at) "
                          "VALUES ('Acme', '', '', '', '2026-01-01 00:00:00')"))
    result = run(["traffic", "import", "1", str(FIXTURES / "matomo-referrers-getwebsites-flat-months.csv"), "--json"],
                 tmp_path, OUTREACH_DATABASE_URL=url)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"client_id": 1, "source": "matomo", "months": ["2026-09", "2026-10"],
                                         "referrers": 5, "sessions": 75, "skipped": 0}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT sum(sessions) FROM referral_traffic")).scalar_one() == 75
    engine.dispose()
    bad = run(["traffic", "import", "1", str(FIXTURES / "matomo-websites-ui-export.csv")], tmp_path,
              OUTREACH_DATABASE_URL=url)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "say which month it covers" in bad.stderr
    missing = run(["traffic", "import", "9", str(FIXTURES / "matomo-websites-ui-export.csv"), "--month", "2026-10"],
                  tmp_path, OUTREACH_DATABASE_URL=url)
    assert missing.returncode == 2 and "client 9 does not exist" in missing.stderr
