"""UI benchmark: p50/p95 latency and SQL queries per request of the pages people wait on.

    .venv/bin/python bench/ui.py [--backend sqlite|postgresql|both] [--scale 0.1,1] [--requests 30]

For each backend and scale, it migrates a throwaway database (a temporary SQLite file, or a
PostgreSQL database on 127.0.0.1:5432 created and dropped here), seeds it with bulk inserts
(scale 1: 100,000 prospects on as many sites, 20,000 contacts, 200 campaigns, 20 clients, 200,000
timeline entries, tags on a third of the prospects), then requests each page through the app's WSGI
interface as a logged-in admin and prints a table. Queries are counted with a
`before_cursor_execute` listener; a count that is equal at both scales does not grow with rows.
"""
from __future__ import annotations

import argparse
import gc
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, create_engine, event, func, insert, select, text  # noqa: E402
from werkzeug.security import generate_password_hash  # noqa: E402

PG_ADMIN_URL = os.environ.get("OUTREACH_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PASSWORD = "bench password 123"
FULL = {"prospects": 100_000, "contacts": 20_000, "campaigns": 200, "clients": 20}
TAGS = ["vip", "edu", "gov", "resource page", "listicle", "news", "blog", "forum", "follow-up", "hot"]
STAGE_WEIGHTS = {"new": 40, "qualified": 15, "contacted": 20, "replied": 6, "negotiating": 3, "promised": 2,
                 "live": 4, "lost": 5, "declined": 3, "bounced": 1, "unsubscribed": 1}
P95_GOAL_MS = 100.0


@dataclass
class Result:
    backend: str
    scale: float
    prospects: int
    page: str
    p50: float
    p95: float
    queries: int
    queries_max: int
    rows: str


# --- databases -----------------------------------------------------------------------------------

@contextmanager
def database(backend: str, workdir: Path) -> Iterator[str]:
    """A fresh, empty database URL of this backend, removed afterwards."""
    if backend == "sqlite":
        path = workdir / f"bench-{uuid.uuid4().hex[:6]}.db"
        yield f"sqlite:///{path}"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    name = f"outreach_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def migrate(url: str) -> None:
    from outreach.migrate import upgrade

    upgrade(url)


# --- seeding -------------------------------------------------------------------------------------

def seed(engine: Engine, scale: float, rng: random.Random) -> dict[str, Any]:
    """Bulk-insert the data set with SQLAlchemy Core; returns ids the measurements use."""
    from outreach.models import (
        Activity,
        Campaign,
        Client,
        Contact,
        Prospect,
        Site,
        Tag,
        User,
    )
    from outreach.models.campaigns import prospect_tags

    n_prospects = max(200, int(FULL["prospects"] * scale))
    n_contacts = max(40, int(FULL["contacts"] * scale))
    n_campaigns, n_clients = FULL["campaigns"], FULL["clients"]
    now = datetime.now(UTC)
    stages = list(STAGE_WEIGHTS)
    weights = list(STAGE_WEIGHTS.values())
    password_hash = generate_password_hash(PASSWORD)

    def chunks(rows: list[dict[str, Any]], size: int = 10_000) -> Iterator[list[dict[str, Any]]]:
        for start in range(0, len(rows), size):
            yield rows[start:start + size]

    with engine.begin() as conn:
        def put(table: Any, rows: list[dict[str, Any]]) -> None:
            for chunk in chunks(rows):
                conn.execute(insert(table), chunk)

        put(User.__table__, [
            {"id": 1, "email": "admin@bench.test", "name": "Admin", "password_hash": password_hash, "role": "admin",
             "is_active": True, "failed_logins": 0, "created_at": now},
            *[{"id": i, "email": f"member{i}@bench.test", "name": f"Member {i}", "password_hash": password_hash,
               "role": "member", "is_active": True, "failed_logins": 0, "created_at": now} for i in range(2, 8)]])
        put(Client.__table__, [{"id": i, "name": f"Client {i}", "website": f"https://client{i}.example",
                                "report_emails": "", "notes": "", "created_at": now}
                               for i in range(1, n_clients + 1)])
        put(Campaign.__table__, [{"id": i, "client_id": (i - 1) % n_clients + 1, "name": f"Campaign {i}",
                                  "kind": "broken_links", "status": "active", "target_urls": "", "keywords": "",
                                  "owner_id": 1 + i % 7, "created_at": now - timedelta(days=i)}
                                 for i in range(1, n_campaigns + 1)])
        put(Tag.__table__, [{"id": i, "name": name} for i, name in enumerate(TAGS, 1)])
        put(Site.__table__, [{"id": i, "domain": f"site{i}.example",
                              "domain_rating": rng.randint(0, 95) if i % 10 else None,
                              "domain_authority": rng.randint(0, 90), "authority_score": rng.randint(0, 90),
                              "organic_traffic": rng.randint(0, 500_000), "created_at": now}
                             for i in range(1, n_prospects + 1)])
        # contacts sit on every 5th site; a contact's prospect is the prospect of that site
        step = n_prospects // n_contacts
        put(Contact.__table__, [{"id": i, "email": f"editor{i}@site{i * step}.example", "site_id": i * step,
                                 "name": f"Editor {i}", "status": "unchecked", "status_reason": "",
                                 "is_role": False, "is_guessed": False, "found_on": "", "created_at": now}
                                for i in range(1, n_contacts + 1)])
        prospects, activities, tagged = [], [], []
        for i in range(1, n_prospects + 1):
            stage = rng.choices(stages, weights)[0]
            created = now - timedelta(minutes=i)
            prospects.append({
                "id": i, "campaign_id": (i - 1) % n_campaigns + 1, "site_id": i,
                "contact_id": i // step if i % step == 0 and i // step <= n_contacts else None,
                "page_url": f"https://site{i}.example/resources", "stage": stage, "position": float(i),
                "owner_id": rng.choice([None, 1, 2, 3, 4, 5, 6, 7]), "override_reason": "",
                "created_at": created, "updated_at": created, "stage_changed_at": created})
            activities.append({"prospect_id": i, "user_id": 1, "kind": "created", "text": f"Added site{i}.example",
                               "details": {}, "created_at": created})
            activities.append({"prospect_id": i, "user_id": 2, "kind": "stage", "text": f"Stage new → {stage}",
                               "details": {"from": "new", "to": stage}, "created_at": created + timedelta(hours=1)})
            if i % 3 == 0:
                tagged.append({"prospect_id": i, "tag_id": rng.randint(1, len(TAGS))})
        put(Prospect.__table__, prospects)
        put(Activity.__table__, activities)
        put(prospect_tags, tagged)
        if engine.dialect.name == "postgresql":
            for table in ("users", "clients", "campaigns", "tags", "sites", "contacts", "prospects"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT max(id) FROM {table}))"))
    # the stage changes the inserts recorded, folded into the dashboard's counts as the scheduler's tick does
    from outreach.campaigns import stage_counts
    from outreach.db import make_sessionmaker

    with make_sessionmaker(engine)() as session:
        stage_counts.fold(session)
        session.commit()
    # fresh statistics, as autovacuum / a long-lived file would have; on PostgreSQL also VACUUM, as
    # autovacuum does after a bulk insert: it merges the GIN (trigram) indexes' pending lists, which
    # the planner otherwise avoids, and sets the visibility map that index-only scans need
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text("ANALYZE"))
            conn.commit()
        counts = {"prospects": conn.scalar(select(func.count()).select_from(Prospect.__table__)),
                  "contacts": conn.scalar(select(func.count()).select_from(Contact.__table__)),
                  "campaigns": conn.scalar(select(func.count()).select_from(Campaign.__table__))}
    return {"counts": counts, "campaigns": list(range(1, n_campaigns + 1)),
            "prospects": list(range(1, n_prospects + 1))}


# --- measuring ------------------------------------------------------------------------------------

class QueryCounter:
    def __init__(self, engine: Engine) -> None:
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._on_execute)

    def _on_execute(self, *_args: Any) -> None:
        self.count += 1


def measure(client: Any, counter: QueryCounter, paths: Callable[[int], str], requests: int,
            warmup: int = 3) -> tuple[list[float], list[int], int]:
    """Latencies (ms) and query counts of `requests` GETs (after a warm-up), and the last body's size."""
    latencies, query_counts, size = [], [], 0
    for n in range(warmup + requests):
        path = paths(n)
        counter.count = 0
        start = time.perf_counter()
        response = client.get(path)
        body = response.get_data()
        response.close()  # ends a streamed response's request context, returning its connection
        elapsed = (time.perf_counter() - start) * 1000
        if response.status_code != 200:
            raise SystemExit(f"GET {path} answered {response.status_code}: {body[:300]!r}")
        if n >= warmup:
            latencies.append(elapsed)
            query_counts.append(counter.count)
        size = len(body)
    return latencies, query_counts, size


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def run_one(backend: str, scale: float, requests: int, workdir: Path) -> list[Result]:
    from outreach import create_app
    from outreach.accounts.service import create_api_token
    from outreach.models import User

    rng = random.Random(7)
    results: list[Result] = []
    with database(backend, workdir) as url:
        t0 = time.monotonic()
        migrate(url)
        app = create_app({
            "app": {"secret_key": "bench-secret-key", "instance_path": str(workdir / "instance")},
            "database": {"url": url}, "scheduler": {"enabled": False},
        })
        app.config.update(WTF_CSRF_ENABLED=False)
        engine = app.extensions["outreach"].engine
        data = seed(engine, scale, rng)
        counts = data["counts"]
        print(f"[{backend} ×{scale:g}] migrated and seeded {counts['prospects']:,} prospects, "
              f"{counts['contacts']:,} contacts, {counts['campaigns']} campaigns in "
              f"{time.monotonic() - t0:.1f} s", file=sys.stderr)
        with app.extensions["outreach"].sessionmaker() as session:
            admin = session.get(User, 1)
            _token, secret = create_api_token(session, admin, "bench")
            session.commit()
        client = app.test_client()
        response = client.post("/login", data={"email": "admin@bench.test", "password": PASSWORD})
        if response.status_code != 302:
            raise SystemExit(f"login failed: {response.status_code}")
        counter = QueryCounter(engine)
        # as `outreach run` / `outreach web` do before serving (outreach.runtime.cli._freeze_startup_objects)
        gc.collect()
        gc.freeze()
        campaigns, prospects = data["campaigns"], data["prospects"]
        pick = random.Random(11)
        sample_campaigns = [pick.choice(campaigns) for _ in range(requests + 3)]
        sample_prospects = [pick.choice(prospects) for _ in range(requests + 3)]
        per_campaign = counts["prospects"] // len(campaigns)

        pages: list[tuple[str, Callable[[int], str], str, Any]] = [
            ("dashboard", lambda n: "/", f"50 of {len(campaigns)} campaigns", client),
            ("board", lambda n: f"/campaigns/{sample_campaigns[n]}", f"{per_campaign} cards", client),
            ("prospect list", lambda n: f"/prospects?page={1 + n % 5}", "50 of all", client),
            ("prospect list, filtered", lambda n: f"/prospects?stage=contacted&dr_min=30&sort=dr&dir=desc"
                                                  f"&page={1 + n % 5}", "50 of all", client),
            ("prospect list, search", lambda n: f"/prospects?q=site{1 + n}&stage=active", "50 of all", client),
            ("campaign prospect list", lambda n: f"/campaigns/{sample_campaigns[n]}/prospects?tag=vip",
             "tagged in 1 campaign", client),
            ("prospect page", lambda n: f"/prospects/{sample_prospects[n]}", "1 + timeline", client),
            ("CSV export, campaign", lambda n: f"/campaigns/{sample_campaigns[n]}/prospects/export.csv",
             f"{per_campaign} rows", client),
            ("API prospect list", lambda n: f"/api/v1/prospects?stage=contacted&min_domain_rating=30"
                                            f"&sort=-domain_rating&page={1 + n % 5}", "50 of all", None),
            ("API prospect", lambda n: f"/api/v1/prospects/{sample_prospects[n]}", "1", None),
        ]
        api_client = app.test_client()

        class TokenClient:
            def get(self, path: str) -> Any:
                return api_client.get(path, headers={"Authorization": f"Bearer {secret}"})

        for name, paths, rows, page_client in pages:
            latencies, query_counts, _size = measure(page_client or TokenClient(), counter, paths, requests)
            results.append(Result(backend, scale, counts["prospects"], name, percentile(latencies, 50),
                                  percentile(latencies, 95), min(query_counts), max(query_counts), rows))
        # one full export of every prospect: a download, not a page; reported as rows per second
        start = time.perf_counter()
        counter.count = 0
        response = client.get("/prospects/export.csv")
        body = response.get_data()
        response.close()
        elapsed = time.perf_counter() - start
        lines = body.count(b"\n") - 1
        print(f"[{backend} ×{scale:g}] full CSV export: {lines:,} rows, {len(body) / 1e6:.1f} MB in "
              f"{elapsed:.2f} s ({lines / elapsed:,.0f} rows/s), {counter.count} queries", file=sys.stderr)
        results.append(Result(backend, scale, counts["prospects"], "CSV export, all (once)", elapsed * 1000,
                              elapsed * 1000, counter.count, counter.count, f"{lines:,} rows"))
        engine.dispose()
        gc.unfreeze()
    return results


def print_table(results: list[Result]) -> None:
    header = (f"{'backend':<10} {'prospects':>9} {'page':<24} {'rows':<20} {'p50 ms':>8} {'p95 ms':>8} "
              f"{'queries':>8}  goal")
    print(header)
    print("-" * len(header))
    for r in results:
        queries = str(r.queries) if r.queries == r.queries_max else f"{r.queries}-{r.queries_max}"
        once = "(once)" in r.page
        verdict = "" if once else ("ok" if r.p95 < P95_GOAL_MS else "SLOW")
        print(f"{r.backend:<10} {r.prospects:>9,} {r.page:<24} {r.rows:<20} {r.p50:>8.1f} {r.p95:>8.1f} "
              f"{queries:>8}  {verdict}")
    by_page: dict[tuple[str, str], set[str]] = {}
    for r in results:
        if "(once)" not in r.page:
            by_page.setdefault((r.backend, r.page), set()).add(str(r.queries_max))
    scales = {r.scale for r in results}
    if len(scales) > 1:
        growing = [f"{b}: {p}" for (b, p), counts in by_page.items() if len(counts) > 1]
        print()
        print("most queries per request: equal at every scale" if not growing else
              "most queries per request changes with rows: " + "; ".join(growing))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--scale", default="0.1,1",
                    help="comma-separated fractions of the full data set (1 = 100,000 prospects)")
    ap.add_argument("--requests", type=int, default=30, help="timed requests per page (after 3 warm-ups)")
    args = ap.parse_args()
    try:
        scales = [float(s) for s in args.scale.split(",") if s.strip()]
    except ValueError:
        ap.error(f"--scale must be numbers, e.g. 0.1,1 (got {args.scale!r})")
    if not scales or any(not 0 < s <= 10 for s in scales):
        ap.error("--scale values must be above 0 and at most 10")
    if args.requests < 1:
        ap.error("--requests must be at least 1")
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="outreach-bench-") as tmp:
        for backend in backends:
            for scale in scales:
                results += run_one(backend, scale, args.requests, Path(tmp))
    print_table(results)
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"\nload average while running: {load} on {os.cpu_count()} CPUs (timings are wall-clock, in-process WSGI)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
