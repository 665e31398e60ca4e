"""`outreach import`: the same importer from the command line."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outreach.cli import main
from outreach.models import Prospect


@pytest.fixture
def run(app: Flask, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    url = app.extensions["outreach"].engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("OUTREACH_DATABASE_URL", url)
    monkeypatch.setenv("OUTREACH_APP_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.delenv("OUTREACH_CONFIG", raising=False)

    def invoke(*args: str) -> Any:
        return CliRunner().invoke(main, list(args))

    return invoke


def test_it_imports_an_export_and_reports_bad_rows_as_json(run: Any, db: Session, make_campaign: Any,
                                                           tmp_path: Path, formats: Path) -> None:
    campaign = make_campaign()
    data = (formats / "semrush-backlinks.csv").read_bytes() + b"3,Bad,ftp://nope.test/,x,,,,,,,,,,,,,,,\n"
    path = tmp_path / "semrush.csv"
    path.write_bytes(data)
    result = run("import", str(campaign.id), str(path), "--json")
    assert result.exit_code == 0, result.output
    assert "imported 10 of 10 rows" in result.stderr  # progress, chunk by chunk
    out = json.loads(result.stdout)
    assert out["imported"] == 10 and out["mapping"] == {
        "Page ascore": "page_authority_score", "Source title": "page_title", "Source url": "url",
        "Target url": "link_target_url", "Anchor": "link_anchor", "External links": "external_links",
        "Nofollow": "link_is_nofollow"}
    assert out["errors"] == [{"line": 12, "reason": "bad URL: 'ftp://nope.test/' is not an http(s) URL",
                              "value": "ftp://nope.test/"}]
    db.rollback()
    assert db.scalar(select(func.count()).select_from(Prospect)) == 10


def test_a_dry_run_changes_nothing_and_a_remapped_column_is_used(run: Any, db: Session, make_campaign: Any,
                                                                tmp_path: Path) -> None:
    campaign = make_campaign()
    path = tmp_path / "list.csv"
    path.write_bytes(b"Website,Reach\nhttps://a.test/,ann@a.test\nhttps://b.test/,nope\n")
    result = run("import", str(campaign.id), str(path), "--map", "Reach=email", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "would import 2 prospects" in result.output and "line 3: bad email" in result.output
    assert "1 without a contact (bad email)" in result.output
    db.rollback()
    assert db.scalar(select(func.count()).select_from(Prospect)) == 0


def test_bad_input_exits_2_with_one_line(run: Any, make_campaign: Any, tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_bytes(b"Email\nann@a.test\n")
    result = run("import", "999", str(path))
    assert result.exit_code == 2 and "map one column to “Page or site URL”" in result.output
    path.write_bytes(b"URL\nhttps://a.test/\n")
    result = run("import", "999", str(path))
    assert result.exit_code == 2 and "campaign 999 does not exist" in result.output
    result = run("import", "1", str(path), "--map", "Nope=email")
    assert result.exit_code == 2 and "no column named 'Nope'" in result.output
