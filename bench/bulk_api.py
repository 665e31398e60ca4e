"""Bulk prospect creation through the API: `python bench/bulk_api.py [--requests N] [--single N] [--database-url U]`.

Serves the app with waitress on loopback (a fresh SQLite file by default), then over real HTTP:
1. `--requests` POSTs of 1,000 prospects each to /api/v1/campaigns/{id}/prospects/bulk (new sites and addresses);
2. `--single` POSTs of one prospect each to /api/v1/campaigns/{id}/prospects, the way there was before.
Prints one line per figure and one JSON object at the end. Figures depend on the machine's load.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def post(base: str, token: str, path: str, body: object) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise SystemExit(f"{path}: HTTP {exc.code}: {exc.read()[:500]!r}") from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10, help="bulk requests of 1,000 prospects")
    parser.add_argument("--single", type=int, default=200, help="one-prospect requests, for comparison")
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()

    from waitress.server import create_server

    from outreach import create_app
    from outreach.accounts.service import create_api_token, create_user
    from outreach.campaigns.service import create_campaign, create_client
    from outreach.models import Base

    folder = Path(tempfile.mkdtemp(prefix="bench-bulk-"))
    url = args.database_url or f"sqlite:///{folder / 'bench.db'}"
    app = create_app({"app": {"secret_key": "bench", "instance_path": str(folder)}, "database": {"url": url},
                      "scheduler": {"enabled": False}})
    state = app.extensions["outreach"]
    Base.metadata.create_all(state.engine)
    with state.sessionmaker() as session:
        user = create_user(session, f"bench{time.time_ns()}@agency.test", "a long bench password", role="admin")
        _token, token = create_api_token(session, user, "bench")
        client = create_client(session, f"Bench {time.time_ns()}")
        campaign_id = create_campaign(session, client.id, "Bench bulk").id
        session.commit()
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    base = f"http://127.0.0.1:{server.effective_port}/api/v1"
    figures: dict[str, float | int] = {"load_average_1m": round(os.getloadavg()[0], 1)}

    took = []
    for r in range(args.requests):
        rows = [{"url": f"https://s{r}-{i}.test/links", "email": f"ed{i}@s{r}-{i}.test", "contact_name": "Ed",
                 "metrics": {"domain_rating": i % 100}} for i in range(1000)]
        started = time.perf_counter()
        status, body = post(base, token, f"/campaigns/{campaign_id}/prospects/bulk", {"prospects": rows})
        took.append(time.perf_counter() - started)
        assert status == 201 and body["meta"]["created"] == 1000, body["meta"]  # type: ignore[index]
    if took:
        figures["bulk_request_median_s"] = round(statistics.median(took), 3)
        figures["bulk_rows_per_s"] = round(1000 * len(took) / sum(took))
        print(f"bulk: {len(took)} requests of 1,000 prospects, median {figures['bulk_request_median_s']} s, "
              f"{figures['bulk_rows_per_s']} prospects/s (the board held up to {1000 * len(took)})", file=sys.stderr)

    started = time.perf_counter()
    for i in range(args.single):
        status, _ = post(base, token, f"/campaigns/{campaign_id}/prospects", {"url": f"https://one{i}.test/"})
        assert status == 201
    if args.single:
        figures["single_rows_per_s"] = round(args.single / (time.perf_counter() - started))
        print(f"one at a time: {args.single} requests, {figures['single_rows_per_s']} prospects/s", file=sys.stderr)
    state.engine.dispose()  # the server's daemon thread ends with the process
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
