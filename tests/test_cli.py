"""The `outreach` command: help, migrations, users, and a config error in one line."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

OUTREACH = [sys.executable, "-m", "outreach.cli"]


def run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "OUTREACH_APP_INSTANCE_PATH": str(tmp_path / "instance"), **env}
    environ.pop("OUTREACH_CONFIG", None)
    return subprocess.run([*OUTREACH, *args], capture_output=True, text=True, env=environ, timeout=120,
                          cwd=tmp_path)


def test_help_lists_the_commands(tmp_path: Path) -> None:
    result = run(["--help"], tmp_path)
    assert result.returncode == 0
    for command in ("run", "web", "scheduler", "db", "user"):
        assert command in result.stdout


def test_db_upgrade_then_user_create(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert run(["db", "upgrade"], tmp_path, OUTREACH_DATABASE_URL=url).returncode == 0
    result = run(["user", "create", "--email", "boss@agency.test", "--role", "admin", "--password",
                  "a long enough password"], tmp_path, OUTREACH_DATABASE_URL=url)
    assert result.returncode == 0, result.stderr
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT role FROM users WHERE email = 'boss@agency.test'")).scalar_one() == "admin"
    engine.dispose()


def test_user_create_refuses_a_bad_address_with_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    run(["db", "upgrade"], tmp_path, OUTREACH_DATABASE_URL=url)
    result = run(["user", "create", "--email", "not-an-address", "--password", "a long enough password"],
                 tmp_path, OUTREACH_DATABASE_URL=url)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "not a valid address" in result.stderr


@pytest.mark.parametrize("setting", ["OUTREACH_CRAWL_CONCURRENCY=lots", "OUTREACH_DATABASE_URL=mysql://x"])
def test_a_bad_setting_exits_2_naming_it(tmp_path: Path, setting: str) -> None:
    name, value = setting.split("=", 1)
    result = run(["db", "upgrade"], tmp_path, **{name: value})
    assert result.returncode == 2
    assert result.stderr.startswith("outreach: ")
    assert result.stderr.count("\n") == 1
