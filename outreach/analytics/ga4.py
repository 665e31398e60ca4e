"""Google Analytics 4 CSV downloads: a report (Traffic acquisition) or an exploration, by source or page referrer.

A download starts with "#" comment lines (the report's name, account, property, "# Start date: 20261001",
"# End date: 20261031"), may hold a chart's table before the report's (separated by a blank line), and has one
row per dimension value. The importer takes the table whose header names a referrer dimension ("Page referrer",
"Session source / medium", "Session source", "First user source / medium", ...) and "Sessions". Its month
comes from a Date ("20261002"), "Year month" ("202610") or Month + Year column; without one, from the
preamble's dates (which must lie in one month) or else the month the user names.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime

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

SOURCE = "ga4"
#: referrer dimensions, page-level first (normalised header names)
REFERRER_COLUMNS = ("page referrer", "full referrer", "session source / medium", "session source",
                    "first user source / medium", "first user source", "source / medium", "source")
SESSIONS_COLUMNS = ("sessions",)


def looks_like(data: bytes) -> bool:
    """A GA4 download: its "#" preamble, or a table with a referrer dimension and Sessions."""
    head = data[:4096].lstrip(b"\xef\xbb\xbf")
    if head.startswith(b"# ----") or b"\n# Start date:" in head:
        return True
    try:
        tables, _ = read_tables(data[:65536])
    except BadAnalyticsFile:
        return False
    return any(_is_referral_table(t) for t in tables)


def _is_referral_table(table: Table) -> bool:
    return table.column(*REFERRER_COLUMNS) is not None and table.column(*SESSIONS_COLUMNS) is not None


def _preamble_dates(comments: list[str]) -> list[date]:
    found = []
    for line in comments:
        text = line.lstrip("#").strip()
        for label in ("Start date:", "End date:"):
            if text.startswith(label):
                found.append(_day(text[len(label):].strip(), 0, label.rstrip(":")))
    return found


def _day(text: str, line: int, what: str) -> date:
    for pattern in ("%Y%m%d", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    where = f"line {line}: " if line else ""
    raise BadAnalyticsFile(f"{where}{what} {text!r} is not a date like 20261031")


def _month_column(text: str, line: int) -> date:
    """"202610" (Year month) -> 2026-10-01."""
    try:
        return datetime.strptime(text, "%Y%m").date()
    except ValueError:
        raise BadAnalyticsFile(f"line {line}: year month {text!r} is not like 202610") from None


def parse(data: bytes, month: date | None = None) -> Parsed:
    """Monthly sessions per referrer; BadAnalyticsFile with a one-line reason when the file will not do."""
    tables, comments = read_tables(data)
    table = next((t for t in tables if _is_referral_table(t)), None)
    if table is None:
        raise BadAnalyticsFile("no table with a referrer column (Page referrer or Session source / medium) and "
                               "Sessions: download the Traffic acquisition report, or an exploration with those")
    ref_col, sessions_col = table.column(*REFERRER_COLUMNS), table.column(*SESSIONS_COLUMNS)
    date_col, year_month_col = table.column("date"), table.column("year month")
    month_col, year_col = table.column("month"), table.column("year")
    fixed: date | None = None
    if date_col is None and year_month_col is None and (month_col is None or year_col is None):
        dates = _preamble_dates(comments)
        if dates:
            fixed = one_month(dates, "the export")
        elif month is not None:
            fixed = month_of(month)
        else:
            raise BadAnalyticsFile("the file has no dates: say which month it covers")
    parsed = Parsed(SOURCE)
    totals: dict[tuple[date, str], int] = defaultdict(int)
    sessions_name = table.headers[sessions_col]  # type: ignore[index]
    for line, row in table.rows:
        raw = cell(row, ref_col)
        if referrer(raw) is None:
            parsed.skipped += 1
            continue
        if fixed is not None:
            when = fixed
        elif date_col is not None:
            when = month_of(_day(cell(row, date_col), line, "date"))
        elif year_month_col is not None:
            when = _month_column(cell(row, year_month_col), line)
        else:
            when = _month_column(cell(row, year_col) + cell(row, month_col).zfill(2), line)
        totals[(when, raw)] += whole(cell(row, sessions_col), line, sessions_name)
        parsed.months.add(when)
    if fixed is not None:
        parsed.months.add(fixed)
    parsed.rows = [Sessions(when, raw, n) for (when, raw), n in totals.items()]
    return parsed
