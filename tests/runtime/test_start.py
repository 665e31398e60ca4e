"""`outreach web | scheduler | worker` refuse to start, in one line, when the deployment is not safe to run."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from outreach.migrate import head, revisions, upgrade
from tests.runtime.conftest import process_env

OUTREACH = [sys.executable, "-m", "outreach.cli"]
ROOT = Path(__file__).resolve().parents[2]
#: each command, and the settings it needs to get as far as its checks
COMMANDS = {"web": {}, "scheduler": {}, "worker": {"OUTREACH_SCHEDULER_BACKEND": "celery"}}


def _start(command: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*OUTREACH, command], capture_output=True, text=True, env={**env, **COMMANDS[command]},
                          cwd=tmp_path, timeout=120)


@pytest.mark.parametrize("command", list(COMMANDS))
def test_it_refuses_postgresql_without_a_shared_secret_key(command: str, tmp_path: Path, pg_url: str) -> None:
    upgrade(pg_url)
    result = _start(command, process_env(tmp_path, pg_url), tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "outreach: app.secret_key is not set: every web, scheduler and worker process on PostgreSQL must share one "
        "(set [app] secret_key or OUTREACH_APP_SECRET_KEY)")
    assert not (tmp_path / "instance" / "secret_key").exists()  # no key of its own was made


@pytest.mark.parametrize("command", list(COMMANDS))
def test_it_refuses_a_schema_behind_the_code(command: str, tmp_path: Path, pg_url: str) -> None:
    upgrade(pg_url, revisions()[-2])
    env = process_env(tmp_path, pg_url, OUTREACH_APP_SECRET_KEY="a shared key for every process")
    result = _start(command, env, tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1] == (f"outreach: the database is at revision {revisions()[-2]}, the code expects {head()} "
                         f"({pg_url}): run `outreach db upgrade` first")
    assert "Traceback" not in result.stderr


def test_it_refuses_a_sqlite_file_never_migrated(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    result = _start("web", process_env(tmp_path, url), tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"outreach: the database has no schema (no revision; the code expects {head()}) ({url}): "
        "run `outreach db upgrade` first")


def test_an_unreachable_database_is_one_line_and_exit_1(tmp_path: Path) -> None:
    from tests.conftest import free_port

    url = f"postgresql://outreach:secret-password@127.0.0.1:{free_port()}/outreach"
    env = process_env(tmp_path, url, OUTREACH_APP_SECRET_KEY="a shared key for every process")
    result = _start("scheduler", env, tmp_path)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("outreach: cannot reach the database at postgresql+psycopg://outreach:***@127.0.0.1:")
    assert "secret-password" not in result.stderr


def test_gunicorn_on_a_busy_port_is_one_line_and_exit_2(tmp_path: Path) -> None:
    import socket

    url = f"sqlite:///{tmp_path / 'ready.db'}"
    upgrade(url)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([*OUTREACH, "web", "--workers", "2", "--port", str(port)], capture_output=True,
                                text=True, env=process_env(tmp_path, url), cwd=tmp_path, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith(
        f"outreach: cannot listen on 127.0.0.1:{port}: the port is in use")
    assert "Traceback" not in result.stderr
