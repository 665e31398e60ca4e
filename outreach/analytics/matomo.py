"""Matomo: the Websites report (Referrers.getWebsites) as CSV and from the Reporting API.

Matomo writes CSV in UTF-16LE with a byte-order mark (for spreadsheet programs), comma-separated, with API column
names ("label,nb_visits,...") or, exported from the dashboard, translated ones ("Label,Visits,..."). Several
periods make one table with the period first ("date": "2026-10"). A row's label is the referring site; with
flat=1 it is the site and the page ("news.example/a", the page's path after the site) and the row's metadata
"url" (CSV "metadata_url") is the page's address.

The Reporting API is called with POST (module=API, method=Referrers.getWebsites, flat=1, format=JSON and the
token_auth in the body, so a token that only allows secure requests works and the token stays out of logs).
It answers one list of rows for one month, or {"2026-09": [...], "2026-10": [...]} for period=month over a range;
an error is {"result": "error", "message": "..."}.
"""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from outreach.analytics.rows import (
    BadAnalyticsFile,
    Parsed,
    Sessions,
    cell,
    month_of,
    read_tables,
    referrer,
    whole,
)
from outreach.lib.http import Fetcher

SOURCE = "matomo"
LABEL_COLUMNS = ("label",)
VISITS_COLUMNS = ("nb_visits", "visits")
URL_COLUMNS = ("metadata_url", "metadata: url", "url")
DATE_COLUMNS = ("date",)


class PullError(RuntimeError):
    """The instance refused or failed; the message says why in one line."""


def looks_like(data: bytes) -> bool:
    try:
        tables, _ = read_tables(data[:65536])
    except BadAnalyticsFile:
        return False
    return any(t.column(*LABEL_COLUMNS) is not None and t.column(*VISITS_COLUMNS) is not None for t in tables)


def period_month(text: str) -> date | None:
    """The month of a Matomo period key: "2026-10", "2026-10-01", "2026-10-01,2026-10-31", "October 2026"."""
    text = text.strip().split(",", 1)[0]
    for pattern in ("%Y-%m", "%Y-%m-%d", "%B %Y", "%b %Y"):
        try:
            return month_of(datetime.strptime(text, pattern).date())
        except ValueError:
            continue
    return None


def _row_referrer(label: str, url: str) -> str:
    """The page's address when Matomo gives it, else the label (a site, or "site/path" when flattened)."""
    return url if url and referrer(url) is not None else label


def parse(data: bytes, month: date | None = None) -> Parsed:
    """Monthly visits per referring site or page from a getWebsites CSV export."""
    tables, _ = read_tables(data)
    table = next((t for t in tables if t.column(*LABEL_COLUMNS) is not None
                  and t.column(*VISITS_COLUMNS) is not None), None)
    if table is None:
        raise BadAnalyticsFile("no table with a label and a visits column (nb_visits or Visits): export "
                               "Acquisition › Websites (Referrers.getWebsites)")
    label_col, visits_col = table.column(*LABEL_COLUMNS), table.column(*VISITS_COLUMNS)
    url_col, date_col = table.column(*URL_COLUMNS), table.column(*DATE_COLUMNS)
    if date_col is None and month is None:
        raise BadAnalyticsFile("the file has no date column (one period was exported): say which month it covers")
    parsed = Parsed(SOURCE)
    if date_col is None:
        parsed.months.add(month_of(month))  # type: ignore[arg-type]
    for line, row in table.rows:
        if date_col is not None:
            when = period_month(cell(row, date_col))
            if when is None:
                raise BadAnalyticsFile(f"line {line}: period {cell(row, date_col)!r} is not a month like 2026-10 "
                                       "(export with period=month)")
        else:
            when = month_of(month)  # type: ignore[arg-type]
        parsed.months.add(when)
        raw = _row_referrer(cell(row, label_col), cell(row, url_col))
        if referrer(raw) is None:
            parsed.skipped += 1
            continue
        parsed.rows.append(Sessions(when, raw, whole(cell(row, visits_col), line, table.headers[visits_col])))  # type: ignore[index]
    return parsed


# --- the Reporting API ----------------------------------------------------------------------------

def request_for(base_url: str, site_id: str, token: str, months: list[date]) -> tuple[str, bytes]:
    """The URL and form body of one getWebsites call covering `months` (one period per month)."""
    end = months[-1]
    last_day = date(end.year + end.month // 12, end.month % 12 + 1, 1) - timedelta(days=1)
    body = urlencode({"module": "API", "method": "Referrers.getWebsites", "idSite": site_id, "period": "month",
                      "date": f"{months[0].isoformat()},{last_day.isoformat()}", "format": "JSON", "flat": "1",
                      "filter_limit": "-1", "token_auth": token}).encode()
    base = base_url.rstrip("/")
    return (base if base.endswith("index.php") else base + "/index.php"), body


def parse_answer(body: Any, months: list[date]) -> Parsed:
    """Rows of a getWebsites JSON answer: {period: [rows]} for a range, or [rows] for one month."""
    if isinstance(body, dict) and body.get("result") == "error":
        raise PullError(f"Matomo refused: {str(body.get('message') or 'no message')[:300]}")
    if isinstance(body, list) and len(months) == 1:
        periods: dict[str, Any] = {months[0].isoformat(): body}
    elif isinstance(body, dict):
        periods = body
    else:
        raise PullError("Matomo answered something that is not a getWebsites report")
    parsed = Parsed(SOURCE, months=set(months))
    for key, rows in periods.items():
        when = period_month(key)
        if when is None or not isinstance(rows, list):
            raise PullError(f"Matomo answered a period {key!r} that is not a month")
        for item in rows:
            if not isinstance(item, dict):
                continue
            raw = _row_referrer(str(item.get("label") or ""), str(item.get("url") or ""))
            if referrer(raw) is None:
                parsed.skipped += 1
                continue
            visits = item.get("nb_visits")
            if isinstance(visits, str) and visits.isdigit():
                visits = int(visits)
            if not isinstance(visits, int) or visits < 0:
                raise PullError(f"Matomo gave {raw} a visit count that is not a whole number: {visits!r}")
            parsed.rows.append(Sessions(when, raw, visits))
    return parsed


async def pull(fetcher: Fetcher, base_url: str, site_id: str, token: str, months: list[date]) -> Parsed:
    """Every month's referring sites and pages in one POST."""
    url, body = request_for(base_url, site_id, token, months)
    got = await fetcher.fetch(url, method="POST", body=body, polite=False,
                              headers={"Content-Type": "application/x-www-form-urlencoded",
                                       "Accept": "application/json"})
    if got.status is None:
        raise PullError(f"Matomo did not answer ({got.error})")
    try:
        answer = json.loads(got.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        answer = None
    if got.status != 200:
        said = answer.get("message") if isinstance(answer, dict) else None
        raise PullError(f"Matomo answered HTTP {got.status}" + (f": {str(said)[:300]}" if said else ""))
    return parse_answer(answer, months)
