"""The deployment files of docs/deploy.md: the systemd units verify and start real commands of the CLI, and
the nginx site passes `nginx -t` and serves the app over TLS with the headers the app trusts."""
from __future__ import annotations

import configparser
import datetime
import os
import re
import shlex
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from outreach.cli import main
from outreach.migrate import upgrade
from tests.conftest import free_port
from tests.runtime.conftest import process_env

ROOT = Path(__file__).resolve().parents[1]
UNITS = sorted((ROOT / "deploy" / "systemd").glob("*.service"))
SITE = ROOT / "deploy" / "nginx" / "outreach.conf"
INSTALLED = "/opt/outreach/.venv/bin/outreach"


def _exec_start(unit: Path) -> list[str]:
    parser = configparser.ConfigParser(strict=True, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    parser.read(unit)
    return shlex.split(parser["Service"]["ExecStart"])


def test_the_guide_names_every_deployment_file() -> None:
    guide = (ROOT / "docs" / "deploy.md").read_text()
    assert [unit.name for unit in UNITS] == ["outreach-scheduler.service", "outreach-web.service",
                                             "outreach-worker@.service"]
    for path in [*UNITS, SITE]:
        assert str(path.relative_to(ROOT)) in guide, path
    assert "docs/deploy.md" in (ROOT / "README.md").read_text()


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_each_unit_starts_a_command_of_the_cli(unit: Path) -> None:
    command = _exec_start(unit)
    assert command[0] == INSTALLED
    result = CliRunner().invoke(main, [*command[1:], "--help"])  # an unknown command or option exits 2
    assert result.exit_code == 0, result.output
    assert command[1] in ("web", "scheduler", "worker")


def test_the_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (the structural check above still runs)")
    outreach = Path(sys.executable).parent / "outreach"
    assert outreach.exists(), "the outreach command is not installed beside this Python"
    copies = []
    for unit in UNITS:
        copy = tmp_path / unit.name.replace("@.", "@1.")  # a template is verified as one of its instances
        copy.write_text(unit.read_text().replace(INSTALLED, str(outreach)))
        copies.append(str(copy))
    result = subprocess.run([analyze, "verify", *copies], capture_output=True, text=True, timeout=120)
    assert (result.returncode, result.stderr.strip()) == (0, ""), result.stderr


def _self_signed(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "outreach.example.com")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=7)).sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def _site_on_loopback(tmp_path: Path, app_port: int, http_port: int, https_port: int) -> Path:
    """The shipped site with loopback ports and a throwaway certificate: nothing else changed."""
    cert, key = _self_signed(tmp_path)
    site = SITE.read_text()
    site = re.sub(r"^\s*listen \[::\].*\n", "", site, flags=re.M)
    site = site.replace("listen 80;", f"listen 127.0.0.1:{http_port};")
    site = site.replace("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;")
    site = site.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{app_port};")
    site = re.sub(r"ssl_certificate /\S+;", f"ssl_certificate {cert};", site)
    site = re.sub(r"ssl_certificate_key /\S+;", f"ssl_certificate_key {key};", site)
    path = tmp_path / "outreach.conf"
    path.write_text(site)
    temp = tmp_path / "nginx-temp"
    temp.mkdir()
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"""
user root;
worker_processes 1;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/nginx-error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {path};
}}
""")
    return conf


@pytest.fixture
def nginx() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("nginx is not installed (scripts/test.sh installs it)")
        pytest.skip("nginx is not installed")
    return found


@pytest.fixture
def outreach_web(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """`outreach web` on a migrated SQLite file, trusting one proxy."""
    url = f"sqlite:///{tmp_path / 'outreach.db'}"
    upgrade(url)
    port = free_port()
    log = tmp_path / "web.log"
    env = process_env(tmp_path, url, OUTREACH_WEB_PROXY_HOPS="1")
    process = subprocess.Popen([sys.executable, "-m", "outreach.cli", "web", "--port", str(port)], env=env,
                               cwd=tmp_path, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    try:
        for _ in range(300):
            assert process.poll() is None, log.read_text()
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5)
                break
            except OSError:
                time.sleep(0.1)  # waiting for the server to start
        yield port, log
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_the_nginx_site_serves_the_app_over_tls(tmp_path: Path, nginx: str, outreach_web: tuple[int, Path]) -> None:
    app_port, app_log = outreach_web
    http_port, https_port = free_port(), free_port()
    conf = _site_on_loopback(tmp_path, app_port, http_port, https_port)
    checked = subprocess.run([nginx, "-t", "-c", str(conf), "-p", str(tmp_path)], capture_output=True, text=True,
                             timeout=60)
    assert checked.returncode == 0, checked.stderr
    started = subprocess.run([nginx, "-c", str(conf), "-p", str(tmp_path)], capture_output=True, text=True,
                             timeout=60)
    assert started.returncode == 0, started.stderr
    try:
        insecure = ssl.create_default_context()
        insecure.check_hostname, insecure.verify_mode = False, ssl.CERT_NONE  # the throwaway certificate
        request = urllib.request.Request(f"https://127.0.0.1:{https_port}/healthz",
                                         headers={"X-Forwarded-For": "203.0.113.9"})  # a forged address
        with urllib.request.urlopen(request, context=insecure, timeout=30) as response:
            assert response.status == 200
            assert response.headers["Strict-Transport-Security"] == "max-age=31536000"  # the app saw HTTPS
            request_id = response.headers["X-Request-ID"]
        assert re.fullmatch(r"[0-9a-f]{32}", request_id)  # nginx's $request_id, kept by the app
        with pytest.raises(urllib.error.HTTPError) as plain:
            urllib.request.build_opener(_NoRedirect).open(f"http://127.0.0.1:{http_port}/login", timeout=30)
        assert plain.value.code == 301
        assert plain.value.headers["Location"] == "https://127.0.0.1/login"
    finally:
        pid = int((tmp_path / "nginx.pid").read_text())
        os.kill(pid, signal.SIGTERM)
    line = next(line for line in app_log.read_text().splitlines() if request_id in line)
    assert '127.0.0.1 "GET /healthz" 200' in line and "203.0.113.9" not in line  # the forged hop is not trusted


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None
