"""Prospecting benchmark: guest-post and mention runs over a few thousand generated pages on loopback.

    .venv/bin/python bench/prospecting.py [--sites 20] [--pages 150]

Generates SITES static sites of PAGES pages each (10 internal links a page), served by Debian's nginx,
one loopback address per site. A third of the sites accept guest posts (a footer link to their
guidelines), a third refuse them ("we no longer accept guest posts"), a third have a donation page
called "contribute". Pages carry resized/recompressed copies of the client's infographic, other
charts, the brand name in text, in scripts or only inside a link to another site, some pages linking
to the target. Prints pages/s for each run and precision/recall against what was generated.
Everything lives in a temporary directory and is removed afterwards.
"""
from __future__ import annotations

import argparse
import asyncio
import io
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
sys.path.insert(0, str(ROOT))

from PIL import Image, ImageDraw  # noqa: E402

from outreach.discovery.guest_posts.service import find_guest_post_targets  # noqa: E402
from outreach.discovery.mentions.service import ImageAsset, find_mentions, image_fingerprint  # noqa: E402
from outreach.lib.http import Fetcher, FetchSettings  # noqa: E402

BRAND = "Acme Analytics"
TARGET = "https://acme-analytics.test/widgets"


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def chart(seed: int, size: tuple[int, int] = (600, 900)) -> Image.Image:
    rng = random.Random(seed)
    img = Image.new("RGB", size, (250, 250, 245))
    draw = ImageDraw.Draw(img)
    w, h = size
    draw.rectangle([0, 0, w, h // 8], fill=(30, 60, 120))
    for i in range(8):
        top = h // 4 + rng.randint(0, h // 3)
        x = 40 + i * (w - 80) // 8
        draw.rectangle([x, top, x + (w - 80) // 10, h * 3 // 4], fill=(rng.randint(0, 255), 120, 80))
    return img


def encode(img: Image.Image, fmt: str = "PNG", **kwargs: object) -> bytes:
    out = io.BytesIO()
    img.save(out, format=fmt, **kwargs)
    return out.getvalue()


def generate(root: Path, sites: int, pages: int, hosts: list[str], ports: list[int]) -> dict[str, set]:
    """Write the sites; return the ground truth (accepting sites, image and brand mention pages)."""
    rng = random.Random(11)
    asset = chart(1)
    copies = [encode(asset.resize((300, 450))), encode(asset, "JPEG", quality=40),
              encode(asset.resize((900, 1350)))]
    others = [encode(chart(s)) for s in range(2, 6)]
    truth: dict[str, set] = {"accepting": set(), "image": set(), "brand": set()}
    for s in range(sites):
        base = f"http://{hosts[s]}:{ports[s]}"
        site = root / f"site{s}"
        (site / "p").mkdir(parents=True)
        (site / "img").mkdir()
        for k, data in enumerate(copies):
            (site / "img" / f"copy{k}.png").write_bytes(data)
        for k, data in enumerate(others):
            (site / "img" / f"other{k}.png").write_bytes(data)
        kind = s % 3
        footer = "<footer><a href='/contact.html'>Contact</a> "
        if kind == 0:
            footer += "<a href='/write-for-us.html'>Write for us</a>"
            (site / "write-for-us.html").write_text(
                "<html><head><title>Write for us</title></head><body><h1>Write for us</h1><p>We accept guest posts "
                "about widgets. Articles should be 1,000–1,500 words. Send your pitch to editor@site.test.</p>"
                "</body></html>")
            truth["accepting"].add(base)
        elif kind == 1:
            footer += "<a href='/write-for-us.html'>Write for us</a>"
            (site / "write-for-us.html").write_text(
                "<html><head><title>Write for us</title></head><body><h1>Write for us</h1><p>Update: we no longer "
                "accept guest posts. Articles should be 1,000 words.</p></body></html>")
        else:
            footer += "<a href='/contribute.html'>Contribute</a>"
            (site / "contribute.html").write_text(
                "<html><head><title>Contribute</title></head><body><h1>Contribute</h1><p>Support our work with a "
                "donation. A gift of $25 helps; donations are tax-deductible.</p></body></html>")
        footer += "</footer>"
        (site / "contact.html").write_text("<html><body><p>hello@site.test</p></body></html>")
        for i in range(pages):
            url = f"{base}/p/{i}.html" if i else f"{base}/"
            links = "".join(f"<a href='/p/{rng.randrange(1, pages)}.html'>post {n}</a> " for n in range(10))
            body = f"<h1>Post {i}</h1><p>Widgets and widget tools, part {i}. " + "Lorem ipsum dolor. " * 30 + "</p>"
            roll = rng.random()
            linked = rng.random() < 0.3
            if linked:
                body += f"<a href='{TARGET}'>source</a>"
            if roll < 0.05:
                body += f"<img src='/img/copy{rng.randrange(3)}.png' alt='chart'>"
                if not linked:
                    truth["image"].add(url)
            elif roll < 0.10:
                body += f"<img src='/img/other{rng.randrange(4)}.png' alt='chart'>"
            elif roll < 0.15:
                body += f"<p>We measured it with {BRAND} last week.</p>"
                if not linked:
                    truth["brand"].add(url)
            elif roll < 0.18:
                body += f"<script>var vendor = '{BRAND}';</script>"
            elif roll < 0.21:
                body += f"<p>See <a href='https://reviews.test/acme'>{BRAND}</a> reviews.</p>"
            html = f"<!doctype html><html><head><title>Post {i}</title></head><body>{body}{links}{footer}</body></html>"
            (site / ("index.html" if i == 0 else f"p/{i}.html")).write_text(html)
    return truth


def start_nginx(root: Path, sites: int, hosts: list[str], ports: list[int]) -> Path:
    servers = "\n".join(f"    server {{ listen {hosts[s]}:{ports[s]}; root {root}/site{s}; }}" for s in range(sites))
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
    types {{ image/png png; text/html html; }}
    keepalive_requests 100000;
{servers}
}}
""")
    subprocess.run(["nginx", "-c", str(conf), "-p", str(root)], check=True)
    return root / "nginx.pid"


def pr(got: set, want: set) -> str:
    tp = len(got & want)
    precision = tp / len(got) if got else 1.0
    recall = tp / len(want) if want else 1.0
    return f"precision {precision:.3f}, recall {recall:.3f} ({tp} of {len(want)} found, {len(got) - tp} wrong)"


async def bench(seeds: list[str], pages: int) -> None:
    settings = FetchSettings(user_agent="OutreachBench/1.0", timeout=15, max_bytes=5_000_000, max_redirects=5,
                             allow_private_addresses=True, concurrency=64, per_host_concurrency=8,
                             per_host_delay=0.0, retries=0, respect_robots=False)
    async with Fetcher(settings) as fetcher:
        started = time.monotonic()
        targets, visits = await find_guest_post_targets(fetcher, seeds, max_pages=pages + 5, keywords=["widget tools"])
        wall = time.monotonic() - started
        crawled = sum(v.pages for v in visits)
        print(f"guest posts: {crawled} pages in {wall:.1f} s = {crawled / wall:.0f} pages/s; "
              f"{pr({t.site for t in targets}, TRUTH['accepting'])}")
    sha, phash = image_fingerprint(encode(chart(1)))
    async with Fetcher(settings) as fetcher:
        started = time.monotonic()
        run = await find_mentions(fetcher, seeds, target=TARGET, images=[ImageAsset(None, sha, phash, "chart")],
                                  brands=[BRAND], max_pages=pages + 5)
        wall = time.monotonic() - started
        unlinked = [m for m in run.mentions if not m.links_to_target]
        print(f"mentions: {run.pages_crawled} pages, {run.images_checked} images in {wall:.1f} s = "
              f"{run.pages_crawled / wall:.0f} pages/s")
        print(f"  unlinked image mentions: {pr({m.page for m in unlinked if m.kind == 'image'}, TRUTH['image'])}")
        print(f"  unlinked brand mentions: {pr({m.page for m in unlinked if m.kind == 'brand'}, TRUTH['brand'])}")


TRUTH: dict[str, set] = {}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sites", type=int, default=20)
    ap.add_argument("--pages", type=int, default=150)
    args = ap.parse_args()
    if not shutil.which("nginx"):
        print("nginx is not installed (apt-get install -y nginx)")
        return 2
    root = Path(tempfile.mkdtemp(prefix="bench-prospecting-"))
    os.chmod(root, 0o755)
    hosts = [f"127.0.1.{10 + s}" for s in range(args.sites)]
    ports = [free_port(h) for h in hosts]
    pidfile = None
    try:
        TRUTH.update(generate(root, args.sites, args.pages, hosts, ports))
        pidfile = start_nginx(root, args.sites, hosts, ports)
        time.sleep(0.5)  # nginx daemonises; give it a moment to bind
        print(f"{args.sites} sites x {args.pages} pages = {args.sites * args.pages} pages on loopback (nginx)")
        asyncio.run(bench([f"http://{hosts[s]}:{ports[s]}/" for s in range(args.sites)], args.pages))
    finally:
        if pidfile and pidfile.exists():
            os.kill(int(pidfile.read_text().strip()), signal.SIGTERM)
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
