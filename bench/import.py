"""Import benchmark: `python bench/import.py [--rows 200000] [--database-url URL] [--no-import] [--plain]`.

Writes an Ahrefs-like backlinks export (UTF-16 with a BOM, TAB-separated, every field quoted, the
real header set) with `--rows` rows, one in a hundred with a bad email and a few with bad URLs, then
times on a fresh database (SQLite file by default):

1. preview: read and decode the file, map the columns, check every row and look up what the
   database knows (duplicates, conflicts) -- what the web's preview page and `--dry-run` do; the
   row checks are timed inside the plan, lookups are the rest of it (`--plain`: the csv module reads
   the file instead of Arrow);
2. import: write every importable row, committing in chunks as the web's import run does.

Prints one line per figure and one JSON object at the end.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

HEADERS = ["Referring page title", "Referring page URL", "Language", "Platform", "Referring page HTTP code",
           "Domain rating", "UR", "Domain traffic", "Referring domains", "Linked domains", "External links",
           "Page traffic", "Keywords", "Target URL", "Left context", "Anchor", "Right context",
           "Redirect Chain URLs", "Redirect Chain status codes", "Type", "Is spam", "Content", "Nofollow", "UGC",
           "Sponsored", "Rendered", "Raw", "Lost status", "Drop reason", "Discovered status", "First seen",
           "Last seen", "Lost", "Author", "Page type", "Page category", "Links in group", "Email"]


def make_file(rows: int, seed: int = 7) -> bytes:
    rng = random.Random(seed)
    lines = ["\t".join(f'"{h}"' for h in HEADERS)]
    for i in range(rows):
        host = f"site{i}.example"
        email = f"editor{i}@{host}" if i % 100 else f"editor{i}@@{host}"
        url = f"https://www.{host}/post-{i}/" if i % 1000 else f"ftp://{host}/x"
        cells = [f"Post {i} about widgets", url, "en", "cms", "200", str(rng.randint(0, 100)),
                 str(rng.randint(0, 100)), str(rng.randint(0, 10**6)), str(rng.randint(0, 10**5)), "12", "40",
                 str(rng.randint(0, 5000)), "31", "https://acme-widgets.example/", "Our favourite is",
                 f"Acme {i % 50}", "because", "", "", "text", "false", "true", "false", "false", "false", "true",
                 "true", "", "", "", "2024-03-11 09:14:22", "2025-06-02 17:40:10", "", f"Author {i}",
                 "article", "Technology", "1", email]
        lines.append("\t".join(f'"{c}"' for c in cells))
    return "\ufeff".encode("utf-16-le") + ("\r\n".join(lines) + "\r\n").encode("utf-16-le")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--no-import", action="store_true", help="time the preview only")
    parser.add_argument("--repeat", type=int, default=3, help="previews timed; the best is reported")
    parser.add_argument("--plain", action="store_true", help="read the file with the csv module, not Arrow")
    args = parser.parse_args()

    from outreach.campaigns.imports import service as importer
    from outreach.db import Base, make_engine, make_sessionmaker
    from outreach.models import Campaign, Client

    folder = Path(tempfile.mkdtemp(prefix="bench-import-"))
    url = args.database_url or f"sqlite:///{folder / 'bench.db'}"
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    factory = make_sessionmaker(engine)
    with factory() as session, session.begin():
        client = Client(name=f"Bench {time.time()}")
        session.add(client)
        session.flush()
        campaign = Campaign(client_id=client.id, name="Bench import")
        session.add(campaign)
        session.flush()
        campaign_id = campaign.id

    started = time.perf_counter()
    data = make_file(args.rows)
    print(f"file: {args.rows} rows, {len(data) / 1e6:.1f} MB, written in {time.perf_counter() - started:.1f} s",
          file=sys.stderr)

    figures: dict[str, float | int] = {"rows": args.rows, "mb": round(len(data) / 1e6, 1)}
    with factory() as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        best: tuple[float, ...] | None = None
        options = {"fast": False} if args.plain else {}
        check_rows, checks = importer.check_rows, [0.0]

        def timed_check_rows(*arguments):  # type: ignore[no-untyped-def]
            started = time.perf_counter()
            try:
                return check_rows(*arguments)
            finally:
                checks[0] = time.perf_counter() - started

        importer.check_rows = timed_check_rows
        for _ in range(args.repeat):
            started, cpu = time.perf_counter(), time.process_time()
            parsed = importer.parse_csv(data, **options)
            parse_s = time.perf_counter() - started
            mapping = importer.guess_mapping(parsed.headers)
            plan = importer.plan_import(session, campaign, parsed, mapping)
            took = (time.perf_counter() - started, time.process_time() - cpu, parse_s,
                    time.perf_counter() - started - parse_s, checks[0])
            session.rollback()
            best = took if best is None or took[0] < best[0] else best
        importer.check_rows = check_rows
        assert best is not None
        figures["preview_s"], figures["preview_cpu_s"], figures["parse_s"] = (round(v, 2) for v in best[:3])
        figures["checks_s"], figures["lookups_s"] = round(best[4], 2), round(best[3] - best[4], 2)
        figures["importable"] = len(plan.rows)
        figures["not_importable"] = len(plan.errors)
        figures["load_average_1m"] = round(os.getloadavg()[0], 1)
        print(f"preview: {figures['preview_s']} s wall, {figures['preview_cpu_s']} s CPU (parse "
              f"{figures['parse_s']} s, checks {figures['checks_s']} s, lookups {figures['lookups_s']} s), "
              f"best of {args.repeat}; {len(plan.rows)} rows to import, "
              f"{len(plan.errors)} not; load average {figures['load_average_1m']}", file=sys.stderr)
        if not args.no_import:
            started = time.perf_counter()
            result = _import(session, campaign, plan)
            figures["import_s"] = round(time.perf_counter() - started, 2)
            figures["import_rows_per_s"] = round(result / max(figures["import_s"], 0.001))
            figures["imported"] = result
            print(f"import: {figures['import_s']} s for {result} prospects "
                  f"({result / max(figures['import_s'], 0.001):.0f} rows/s)", file=sys.stderr)
    engine.dispose()
    print(json.dumps(figures))


def _import(session, campaign, plan) -> int:  # type: ignore[no-untyped-def]
    from outreach.campaigns.imports import service as importer

    if hasattr(importer, "import_in_chunks"):
        done = 0
        for progress in importer.import_in_chunks(session, campaign, plan, source="bench"):
            session.commit()
            done = progress.imported
        return done
    result = importer.import_rows(session, campaign, plan, source="bench")
    session.commit()
    return result.imported


if __name__ == "__main__":
    main()
