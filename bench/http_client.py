"""HTTP client benchmark: the fetcher's own client against aiohttp, the same GETs to the same nginx.

    .venv/bin/python bench/http_client.py [--requests 20000] [--concurrency 64]

Serves 1,000 small pages with Debian's nginx on loopback (keep-alive), then fetches them with aiohttp's
ClientSession, with outreach's connection pool (outreach.lib.http_client) and with the whole guarded
fetcher (Fetcher.fetch: SSRF checks, per-host limits, redirects, deadline, decompression). Prints
requests/s and CPU microseconds per request for each; CPU per request is what decides a crawl's speed
on a busy machine. This is the measurement behind replacing aiohttp in the fetcher.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
HOST = "127.0.0.4"


def start_nginx(root: Path, port: int) -> Path:
    (root / "site").mkdir()
    for i in range(1000):
        (root / "site" / f"{i}.html").write_text(f"<html><body><p>page {i}</p>{'x' * 1500}</body></html>")
    conf = root / "nginx.conf"
    conf.write_text(f"""
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/nginx-error.log;
daemon on;
events {{ worker_connections 4096; }}
http {{ access_log off; default_type text/html; keepalive_requests 1000000;
        server {{ listen {HOST}:{port}; root {root}/site; }} }}
""")
    subprocess.run(["nginx", "-c", str(conf), "-p", str(root)], check=True)
    return root / "nginx.pid"


async def drive(get: Callable[[str], Awaitable[int]], base: str, requests: int, concurrency: int) -> None:
    numbers = iter(range(requests))

    async def worker() -> None:
        for i in numbers:
            status = await get(f"{base}/{i % 1000}.html")
            assert status == 200, status

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def with_aiohttp(base: str, requests: int, concurrency: int) -> None:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as session:
        async def get(url: str) -> int:
            async with session.get(url, allow_redirects=False) as response:
                await response.read()
                return response.status
        await drive(get, base, requests, concurrency)


async def with_pool(base: str, requests: int, concurrency: int) -> None:
    from outreach.lib.http_client import ConnectionPool

    pool = ConnectionPool(allow_private=True, guard=lambda address: True, user_agent="bench")
    port = int(base.rsplit(":", 1)[1])
    loop = asyncio.get_running_loop()

    async def get(url: str) -> int:
        target = url.split(str(port), 1)[1]
        response = await pool.request("GET", "http", HOST, port, target, {}, 1_000_000, loop.time() + 15)
        return response.status

    try:
        await drive(get, base, requests, concurrency)
    finally:
        pool.close()


async def with_fetcher(base: str, requests: int, concurrency: int) -> None:
    from outreach.lib.http import Fetcher, FetchSettings

    settings = FetchSettings(user_agent="bench", timeout=15, max_bytes=1_000_000, max_redirects=5,
                             allow_private_addresses=True, concurrency=concurrency,
                             per_host_concurrency=concurrency, per_host_delay=0)
    async with Fetcher(settings) as fetcher:
        async def get(url: str) -> int:
            return (await fetcher.fetch(url, polite=False)).status or 0
        await drive(get, base, requests, concurrency)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--concurrency", type=int, default=64)
    args = ap.parse_args()
    if not shutil.which("nginx"):
        print("nginx is not installed (apt-get install -y nginx)")
        return 2
    root = Path(tempfile.mkdtemp(prefix="httpbench-"))
    os.chmod(root, 0o755)
    import socket

    with socket.socket() as s:
        s.bind((HOST, 0))
        port = s.getsockname()[1]
    pidfile = start_nginx(root, port)
    base = f"http://{HOST}:{port}"
    clients = {"aiohttp": with_aiohttp, "outreach pool": with_pool, "outreach Fetcher": with_fetcher}
    try:
        time.sleep(0.3)
        print(f"{args.requests} GETs of 1.6 KB pages, {args.concurrency} in flight, nginx on loopback")
        print(f"{'client':<18} {'requests/s':>11} {'CPU us/request':>15}")
        figures = {}
        for name, client in clients.items():
            cpu, wall = time.process_time(), time.perf_counter()
            asyncio.run(client(base, args.requests, args.concurrency))
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            figures[name] = cpu / args.requests * 1e6
            print(f"{name:<18} {args.requests / wall:>11.0f} {figures[name]:>15.0f}")
        print(f"CPU per request, aiohttp / outreach Fetcher: {figures['aiohttp'] / figures['outreach Fetcher']:.1f}x")
        return 0
    finally:
        os.kill(int(pidfile.read_text().strip()), signal.SIGTERM)
        time.sleep(0.3)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
