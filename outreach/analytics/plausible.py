"""Plausible: the dashboard's CSV export (a zip of CSVs) and the Stats API's breakdown by referrer.

The export (Plausible's StatsController.csv_export) is a zip named "Plausible export <site> <from>  to <to> .zip"
holding visitors.csv ("date,visitors,pageviews,visits,..." one row per day or month), sources.csv and
referrers.csv ("name,visitors,bounce_rate,visit_duration"), and more. referrers.csv names each referrer as Plausible
stores it: the host without "www." and the path without a trailing slash ("news.example/a"), or only the host
when the browser sent only its origin. The figures are for the whole period, so the period must be one month.

The Stats API v1 (GET /api/v1/stats/breakdown, a Bearer key) answers
{"results": [{"referrer": "news.example/a", "visitors": 52, "visits": 61}, ...]} for period=month&date=YYYY-MM-01;
v1 works on every Plausible release, cloud and self-hosted (v2 needs a POST body and a newer release).
"""
from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import date
from typing import Any
from urllib.parse import urlencode

from outreach.analytics.rows import (
    BadAnalyticsFile,
    Parsed,
    Sessions,
    Table,
    cell,
    month_of,
    one_month,
    read_tables,
    referrer,
    whole,
)
from outreach.lib.http import Fetcher

SOURCE = "plausible"
#: a zip member is read up to this size (an export is a few kilobytes; a zip bomb is refused)
MAX_MEMBER_BYTES = 20_000_000
#: rows per API page (the API's maximum)
PAGE_SIZE = 1000
MAX_PAGES = 20
_FILENAME_RANGE = re.compile(r"(\d{4}-\d{2}-\d{2})\s+to\s+(\d{4}-\d{2}-\d{2})")


class PullError(RuntimeError):
    """The instance refused or failed; the message says why in one line."""


def looks_like(data: bytes) -> bool:
    if data.startswith(b"PK\x03\x04"):
        return True
    try:
        tables, _ = read_tables(data[:65536])
    except BadAnalyticsFile:
        return False
    return any(t.names[:2] == ["name", "visitors"] for t in tables)


def _members(data: bytes) -> dict[str, bytes]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise BadAnalyticsFile("the zip file is damaged") from None
    found = {}
    for info in archive.infolist():
        name = info.filename.rsplit("/", 1)[-1]
        if name in ("visitors.csv", "referrers.csv", "sources.csv"):
            if info.file_size > MAX_MEMBER_BYTES:
                raise BadAnalyticsFile(f"{name} in the zip is larger than {MAX_MEMBER_BYTES:,} bytes")
            with archive.open(info) as member:
                found[name] = member.read(MAX_MEMBER_BYTES + 1)[:MAX_MEMBER_BYTES]
    return found


def _export_month(members: dict[str, bytes], filename: str, month: date | None) -> date:
    """The one month the export covers: from visitors.csv's dates, else the file's name, else the user."""
    if "visitors.csv" in members:
        tables, _ = read_tables(members["visitors.csv"])
        if tables and tables[0].column("date") is not None:
            col = tables[0].column("date")
            days = []
            for line, row in tables[0].rows:
                try:
                    days.append(date.fromisoformat(cell(row, col)[:10]))
                except ValueError:
                    raise BadAnalyticsFile(f"visitors.csv line {line}: date {cell(row, col)!r} is not like "
                                           "2026-10-01") from None
            if days:
                return one_month(days, "the export")
    matched = _FILENAME_RANGE.search(filename)
    if matched:
        return one_month([date.fromisoformat(matched[1]), date.fromisoformat(matched[2])], "the export")
    if month is not None:
        return month_of(month)
    raise BadAnalyticsFile("the export has no dates (no visitors.csv): say which month it covers")


def parse(data: bytes, month: date | None = None, filename: str = "") -> Parsed:
    """The export zip (or its referrers.csv or sources.csv alone, with the month given)."""
    if data.startswith(b"PK\x03\x04"):
        members = _members(data)
        table_data = members.get("referrers.csv") or members.get("sources.csv")
        if table_data is None:
            raise BadAnalyticsFile("the zip has no referrers.csv or sources.csv: is it Plausible's CSV export?")
        which = "referrers.csv" if "referrers.csv" in members else "sources.csv"
        when = _export_month(members, filename, month)
    else:
        table_data, which = data, "the file"
        when = _export_month({}, filename, month)
    tables, _ = read_tables(table_data)
    table = next((t for t in tables if t.column("name") is not None), None)
    if table is None:
        raise BadAnalyticsFile(f"{which} has no name column: expected name,visitors,bounce_rate,visit_duration")
    count_col = table.column("visits", "visitors")
    if count_col is None:
        raise BadAnalyticsFile(f"{which} has no visits or visitors column")
    return _rows(table, count_col, when)


def _rows(table: Table, count_col: int, when: date) -> Parsed:
    parsed = Parsed(SOURCE, months={when})
    name_col = table.column("name")
    for line, row in table.rows:
        raw = cell(row, name_col)
        if referrer(raw) is None:
            parsed.skipped += 1
            continue
        parsed.rows.append(Sessions(when, raw, whole(cell(row, count_col), line, table.headers[count_col])))
    return parsed


# --- the Stats API --------------------------------------------------------------------------------

def breakdown_url(base_url: str, site_id: str, month: date, page: int) -> str:
    query = urlencode({"site_id": site_id, "period": "month", "date": month.isoformat(),
                       "property": "visit:referrer", "metrics": "visitors,visits", "limit": PAGE_SIZE,
                       "page": page})
    return f"{base_url.rstrip('/')}/api/v1/stats/breakdown?{query}"


def parse_breakdown(body: Any, month: date) -> tuple[Parsed, int]:
    """Rows of one API answer, and how many results it had (a full page means there may be another)."""
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        raise PullError("Plausible answered something that is not a breakdown ({\"results\": [...]})")
    parsed = Parsed(SOURCE, months={month})
    for item in body["results"]:
        raw = str(item.get("referrer") or "") if isinstance(item, dict) else ""
        if referrer(raw) is None:
            parsed.skipped += 1
            continue
        count = item.get("visits", item.get("visitors"))
        if not isinstance(count, int) or count < 0:
            raise PullError(f"Plausible gave {raw} a visit count that is not a whole number: {count!r}")
        parsed.rows.append(Sessions(month, raw, count))
    return parsed, len(body["results"])


async def pull(fetcher: Fetcher, base_url: str, site_id: str, token: str, months: list[date]) -> Parsed:
    """Every month's referrers from the Stats API (one request per month and page of 1,000)."""
    parsed = Parsed(SOURCE)
    for month in months:
        for page in range(1, MAX_PAGES + 1):
            got = await fetcher.fetch(breakdown_url(base_url, site_id, month, page), polite=False,
                                      headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
            body = _json(got.body) if got.status is not None else None
            if got.status != 200:
                raise PullError(_error(got.status, got.error, body))
            one, count = parse_breakdown(body, month)
            parsed.rows += one.rows
            parsed.skipped += one.skipped
            if count < PAGE_SIZE:
                break
        parsed.months.add(month)
    return parsed


def _json(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None


def _error(status: int | None, error: str | None, body: Any) -> str:
    if status is None:
        return f"Plausible did not answer ({error})"
    said = body.get("error") if isinstance(body, dict) else None
    text = f"Plausible answered HTTP {status}" + (f": {str(said)[:300]}" if said else "")
    if status in (401, 403):
        text += " — check the API key and the site's domain"
    return text
