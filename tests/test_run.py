"""`outreach run`, the embedded default: migrates a fresh SQLite file, serves, shows the setup page."""
from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from tests.conftest import free_port


def _wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    for _ in range(200):
        if process.poll() is not None:
            raise AssertionError(f"outreach run exited with {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)  # waiting for a server to start, not for time to pass
    raise AssertionError("outreach run did not start")


def test_it_starts_on_a_fresh_directory_and_offers_setup_once(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "OUTREACH_APP_INSTANCE_PATH": str(tmp_path / "instance"),
           "OUTREACH_DATABASE_URL": f"sqlite:///{tmp_path / 'instance' / 'outreach.db'}",
           "OUTREACH_SCHEDULER_TICK_SECONDS": "1"}
    env.pop("OUTREACH_CONFIG", None)
    log = (tmp_path / "run.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "outreach.cli", "run", "--port", str(port)],
                               cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base + "/login", process)
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        page = opener.open(base + "/")
        assert page.geturl().endswith("/setup")
        html = page.read().decode()
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
        form = urllib.parse.urlencode({"csrf_token": token, "name": "Ann", "email": "ann@agency.test",
                                       "password": "a long enough password",
                                       "confirm": "a long enough password"}).encode()
        dashboard = opener.open(base + "/setup", data=form)
        assert "Campaigns" in dashboard.read().decode()
        try:
            opener.open(base + "/setup")
            raise AssertionError("the setup page is still there")
        except urllib.error.HTTPError as exc:
            assert exc.code == 404
        assert (tmp_path / "instance" / "outreach.db").exists()
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
        log.close()


def test_a_busy_port_stops_the_start_with_one_line_and_exit_2(tmp_path: Path) -> None:
    env = {**os.environ, "OUTREACH_APP_INSTANCE_PATH": str(tmp_path / "instance"),
           "OUTREACH_DATABASE_URL": f"sqlite:///{tmp_path / 'instance' / 'outreach.db'}"}
    env.pop("OUTREACH_CONFIG", None)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = subprocess.run([sys.executable, "-m", "outreach.cli", "run", "--port", str(port)], cwd=tmp_path,
                             env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert run.stderr.strip().splitlines()[-1] == (
        f"outreach: cannot listen on 127.0.0.1:{port}: the port is in use (is Outreach already running there?); "
        "choose another with --port (make run: PORT=8000 make run)")
    assert "Outreach is running" not in run.stderr and "Traceback" not in run.stderr
