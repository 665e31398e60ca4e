"""Crawl benchmark: outreach discover broken-links against LinkChecker 10 on the same nginx-served site.

    .venv/bin/python bench/crawl.py [--pages 20000] [--skip-linkchecker] [--threads 10]

Generates a static site (about 10 internal and 3 external links per page, about 2 % of them broken),
serves it with Debian's nginx on two loopback addresses (the site and an "external" host), crawls it
with both tools with politeness off, and prints pages/s, links checked/s, peak RSS and whether both
found the same broken set. Everything lives in a temporary directory and is removed afterwards.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SITE_HOST, EXT_HOST = "127.0.0.2", "127.0.0.3"
INTERNAL_LINKS, EXTERNAL_LINKS, EXTERNAL_PAGES = 10, 3, 5000
BROKEN_SHARE = 0.02


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def generate(root: Path, pages: int, site: str, ext: str, seed: int = 7) -> set[str]:
    """Write the site and the external host's files; return the set of broken URLs linked."""
    rng = random.Random(seed)
    (root / "site" / "p").mkdir(parents=True)
    (root / "ext" / "e").mkdir(parents=True)
    broken: set[str] = set()
    dead_internal = [f"{site}/p/missing-{k}.html" for k in range(max(20, pages // 100))]
    dead_external = [f"{ext}/e/gone-{k}.html" for k in range(max(10, pages // 200))]
    for i in range(pages):
        links = [f"/p/{(i + 1) % pages}.html"]
        links += [f"/p/{rng.randrange(pages)}.html" for _ in range(INTERNAL_LINKS - 1)]
        links = [rng.choice(dead_internal) if rng.random() < BROKEN_SHARE else u for u in links]
        externals = [f"{ext}/e/{rng.randrange(EXTERNAL_PAGES)}.html" for _ in range(EXTERNAL_LINKS)]
        externals = [rng.choice(dead_external) if rng.random() < BROKEN_SHARE else u for u in externals]
        for url in links + externals:
            if "missing-" in url or "gone-" in url:
                broken.add(url if url.startswith("http") else site + url)
        items = "".join(f'<li><a href="{u}">Link {n}</a></li>' for n, u in enumerate(links + externals))
        html = (f"<!doctype html><html><head><meta charset=utf-8><title>Page {i}</title></head><body>"
                f"<h1>Page {i}</h1><p>Resources about topic {i % 97}.</p><ul>{items}</ul></body></html>")
        name = "index.html" if i == 0 else f"p/{i}.html"
        (root / "site" / name).write_text(html)
    (root / "site" / "p" / "0.html").write_text((root / "site" / "index.html").read_text())
    for j in range(EXTERNAL_PAGES):
        (root / "ext" / "e" / f"{j}.html").write_text(f"<html><body>External {j}</body></html>")
    return broken


def start_nginx(root: Path, site_port: int, ext_port: int) -> Path:
    conf = root / "nginx.conf"
    conf.write_text(f"""
worker_processes 2;
pid {root}/nginx.pid;
error_log {root}/nginx-error.log;
daemon on;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    default_type text/html;
    keepalive_requests 100000;
    add_header LinkChecker fast always;
    server {{ listen {SITE_HOST}:{site_port}; root {root}/site; }}
    server {{ listen {EXT_HOST}:{ext_port}; root {root}/ext; }}
}}
""")
    subprocess.run(["nginx", "-c", str(conf), "-p", str(root)], check=True)
    return root / "nginx.pid"


def timed(cmd: list[str], stdout_path: Path, env: dict[str, str] | None = None) -> tuple[float, int, float]:
    """Run cmd; return (wall seconds, peak RSS in KB, CPU seconds) measured by /usr/bin/time."""
    rss_file = stdout_path.with_suffix(".rss")
    started = time.monotonic()
    with stdout_path.open("wb") as out:
        subprocess.run(["/usr/bin/time", "-f", "%M %U %S", "-o", str(rss_file), *cmd], stdout=out,
                       stderr=subprocess.DEVNULL, env=env, check=False)
    wall = time.monotonic() - started
    rss, user, system = rss_file.read_text().strip().splitlines()[-1].split()
    return wall, int(rss), float(user) + float(system)


def run_outreach(root: Path, seed: str, pages: int, concurrency: int) -> dict[str, float | int | set[str]]:
    config = root / "outreach.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{root}/bench.db"\n\n[crawl]\nallow_private_addresses = true\n'
                      f"per_host_delay = 0\nconcurrency = {concurrency}\nper_host_concurrency = {concurrency}\n"
                      "timeout = 15\n")
    out = root / "outreach.json"
    wall, rss, cpu = timed([str(ROOT / ".venv/bin/outreach"), "--config", str(config), "discover", "broken-links",
                            seed, "--max-pages", str(pages + 1), "--json"], out)
    data = json.loads(out.read_text())
    return {"wall": wall, "rss_kb": rss, "cpu": cpu, "pages": data["pages_crawled"], "links": data["links_checked"],
            "broken": {row["url"] for row in data["broken"]}}


def run_linkchecker(root: Path, seed: str, threads: int) -> dict[str, float | int | set[str]]:
    config = root / "linkcheckerrc"
    config.write_text(f"[checking]\nthreads={threads}\nmaxrequestspersecond=100000\ntimeout=15\n\n"
                      "[filtering]\ncheckextern=1\n\n[output]\nstatus=0\nwarnings=0\n")
    os.chmod(config, 0o644)
    out = root / "linkchecker.csv"
    wall, rss, cpu = timed([str(ROOT / ".venv/bin/linkchecker"), "-f", str(config), "-o", "csv", "--verbose",
                       "--check-extern", "--no-status", seed], out)
    text = "\n".join(line for line in out.read_text(errors="replace").splitlines() if not line.startswith("#"))
    rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    broken = {r["url"] for r in rows if r.get("valid", "").strip().lower() == "false"}
    checked = {r["url"] for r in rows}
    pages = sum(1 for u in checked if u.startswith(seed.rstrip("/")) and (u.endswith(".html") or u.endswith("/"))
                and "missing-" not in u)
    return {"wall": wall, "rss_kb": rss, "cpu": cpu, "pages": pages, "links": len(checked), "broken": broken}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=20000)
    ap.add_argument("--threads", type=int, default=10, help="LinkChecker threads (its default is 10)")
    ap.add_argument("--concurrency", type=int, default=64, help="outreach's requests in flight")
    ap.add_argument("--skip-linkchecker", action="store_true")
    args = ap.parse_args()
    if not shutil.which("nginx"):
        print("nginx is not installed (apt-get install -y nginx)")
        return 2
    root = Path(tempfile.mkdtemp(prefix="crawlbench-"))
    os.chmod(root, 0o755)  # nginx workers and LinkChecker (which drops to nobody) must read it
    site_port, ext_port = free_port(SITE_HOST), free_port(EXT_HOST)
    site, ext = f"http://{SITE_HOST}:{site_port}", f"http://{EXT_HOST}:{ext_port}"
    pidfile = None
    try:
        t0 = time.monotonic()
        expected = generate(root, args.pages, site, ext)
        print(f"generated {args.pages} pages in {time.monotonic() - t0:.1f} s; {len(expected)} broken URLs linked",
              file=sys.stderr)
        pidfile = start_nginx(root, site_port, ext_port)
        seed = site + "/"
        # the fastest honest configuration measured on the 2-core machine: one process (the CLI's default)
        print(f"outreach: 1 process, {args.concurrency} requests in flight, politeness off; LinkChecker: "
              f"{'skipped' if args.skip_linkchecker else f'{args.threads} threads'}", file=sys.stderr)
        results = {"outreach": run_outreach(root, seed, args.pages, args.concurrency)}
        if not args.skip_linkchecker:
            results["linkchecker"] = run_linkchecker(root, seed, args.threads)
        print(f"{'tool':<12} {'pages':>7} {'links':>7} {'wall s':>8} {'CPU s':>7} {'pages/s':>9} {'links/s':>9} "
              f"{'peak RSS':>9} {'broken':>7}")
        for name, r in results.items():
            print(f"{name:<12} {r['pages']:>7} {r['links']:>7} {r['wall']:>8.1f} {r['cpu']:>7.1f} "
                  f"{r['pages'] / r['wall']:>9.1f} {r['links'] / r['wall']:>9.1f} {r['rss_kb'] / 1024:>7.0f}MB "
                  f"{len(r['broken']):>7}")
        ours = results["outreach"]
        print(f"outreach broken set == generated broken set: {ours['broken'] == expected}")
        if "linkchecker" in results:
            theirs = results["linkchecker"]
            print(f"outreach broken set == LinkChecker broken set: {ours['broken'] == theirs['broken']}")
            speedup = (ours["pages"] / ours["wall"]) / max(1e-9, theirs["pages"] / theirs["wall"])
            print(f"speed-up in pages/s: {speedup:.1f}x")
            if ours["broken"] != theirs["broken"]:
                print(f"  only outreach: {sorted(ours['broken'] - theirs['broken'])[:5]}")
                print(f"  only LinkChecker: {sorted(theirs['broken'] - ours['broken'])[:5]}")
        return 0
    finally:
        if pidfile is not None and pidfile.exists():
            os.kill(int(pidfile.read_text().strip()), signal.SIGTERM)
            time.sleep(0.5)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
