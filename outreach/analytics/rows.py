"""What every analytics source yields: monthly sessions per referrer, and how a referrer reads as a page or a site.

The files are read with the prospect import's machinery (outreach.campaigns.imports.service: the encodings,
the delimiter sniffing, numbers with thousands separators); each source's module finds its own table in them.
"""
from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import urlsplit

from outreach.backlinks.verify import link_key
from outreach.campaigns.imports.service import decode, normalise_header, parse_number, sniff_delimiter
from outreach.lib.urls import BadURL, ensure_http_url, hostname, registrable_domain

#: referrers that name no web page: no referrer at all, or an aggregate
NOT_REFERRERS = frozenset({"(direct)", "(not set)", "(none)", "direct / none", "direct", "(other)", "others",
                           "other", "(data not available)", "grand total", "total", "totals"})


class BadAnalyticsFile(ValueError):
    """The file cannot be read as referral traffic; the message says why in one line (with its line)."""


@dataclass(frozen=True)
class Referrer:
    #: "page" (a page URL) or "domain" (the export names only the site, or the browser sent only its origin)
    level: str
    #: how it matches a link: the page's key (see page_key) or the host without "www."
    key: str
    #: the registrable domain
    domain: str


@dataclass
class Sessions:
    month: date
    referrer: str
    sessions: int


@dataclass
class Parsed:
    """Rows of one source; `months` are every month the file covers (a covered month with no row is still
    replaced: the file says nothing came from anywhere that month)."""

    source: str
    rows: list[Sessions] = field(default_factory=list)
    months: set[date] = field(default_factory=set)
    #: rows that name no web page or site ("(direct)", "Google"): left out, not an error
    skipped: int = 0


def month_of(day: date) -> date:
    return day.replace(day=1)


def page_key(url: str) -> str:
    """How a referring page and a link's page compare: scheme, "www.", a trailing slash and the query ignored
    (analytics tools drop the query), except on a page whose path is the site's root (`/?p=123`)."""
    parts = urlsplit(url)
    if parts.query and parts.path not in ("", "/"):
        url = parts._replace(query="", fragment="").geturl()
    return link_key(url)


def host_key(url: str) -> str:
    return hostname(url).removeprefix("www.")


def referrer(raw: str) -> Referrer | None:
    """The page or site a referrer cell names, or None when it names none (direct, a search engine's name).

    Accepts a URL ("https://blog.example/post/"), a host and path as Plausible and Matomo write them
    ("blog.example/post"), a host ("blog.example") and GA4's "source / medium" ("blog.example / referral").
    A URL whose path is the root is the site: browsers send only the origin of a page on another site.
    """
    text = raw.strip()
    if " / " in text and "://" not in text:
        text = text.rsplit(" / ", 1)[0].strip()
    host_part = text.split("://", 1)[-1].split("/", 1)[0]
    if not text or text.lower() in NOT_REFERRERS or any(ch.isspace() for ch in text) or "." not in host_part:
        return None
    try:
        url = ensure_http_url(text)
        host = host_key(url)
        domain = registrable_domain(host)
    except (BadURL, ValueError):
        return None
    path = urlsplit(url).path
    if path.rstrip("/") in ("", "/index") and not urlsplit(url).query:
        return Referrer("domain", host, domain)
    return Referrer("page", page_key(url), domain)


def whole(text: str, line: int, column: str) -> int:
    """A session count: "1,204" -> 1204, "" -> 0; BadAnalyticsFile for anything but a whole number."""
    try:
        value = parse_number(text)
    except ValueError:
        raise BadAnalyticsFile(f"line {line}: {column} {text.strip()!r} is not a number") from None
    if value is None:
        return 0
    if value < 0 or value != int(value):
        raise BadAnalyticsFile(f"line {line}: {column} {text.strip()!r} is not a whole number of sessions")
    return int(value)


@dataclass
class Table:
    """One table of a file: its header (as written and normalised) and its rows with their file lines."""

    headers: list[str]
    rows: list[tuple[int, list[str]]]

    @property
    def names(self) -> list[str]:
        return [normalise_header(h) for h in self.headers]

    def column(self, *names: str) -> int | None:
        """The index of the first of `names` (normalised) the header has, or None."""
        normalised = self.names
        for name in names:
            if name in normalised:
                return normalised.index(name)
        return None


def read_tables(data: bytes) -> tuple[list[Table], list[str]]:
    """Every table of a CSV export and its comment lines: tables are separated by blank lines, and lines that
    start with "#" (GA4's preamble) are comments. Encoding and delimiter as the prospect import reads them."""
    if not data.strip():
        raise BadAnalyticsFile("the file is empty")
    text, _encoding = decode(data)
    if "\0" in text[:4096]:
        raise BadAnalyticsFile("this is not a CSV file (it contains binary data)")
    lines = text.splitlines()
    comments = [line for line in lines if line.lstrip().startswith("#")]
    delimiter = sniff_delimiter([line for line in lines[:200] if line.strip() and not line.lstrip().startswith("#")])
    tables: list[Table] = []
    block: list[tuple[int, str]] = []
    for number, line in enumerate([*lines, ""], start=1):
        if line.lstrip().startswith("#"):
            continue
        if line.strip():
            block.append((number, line))
            continue
        if block:
            tables.append(_table(block, delimiter))
            block = []
    return [t for t in tables if t.headers], comments


def _table(block: Sequence[tuple[int, str]], delimiter: str) -> Table:
    try:
        cells = list(csv.reader([line for _number, line in block], delimiter=delimiter))
    except csv.Error as exc:
        raise BadAnalyticsFile(f"line {block[0][0]}: {exc}") from None
    headers = [h.replace("\ufeff", "").strip() for h in cells[0]] if cells else []
    return Table(headers, [(number, row) for (number, _line), row in zip(block[1:], cells[1:], strict=False)])


def cell(row: list[str], index: int | None) -> str:
    return row[index].strip() if index is not None and index < len(row) else ""


def one_month(days: Iterable[date], what: str) -> date:
    """The month every day falls in, or BadAnalyticsFile naming the range (an export of one month is needed)."""
    found = sorted(set(days))
    if not found:
        raise BadAnalyticsFile(f"{what} has no dates: say which month it covers")
    if month_of(found[0]) != month_of(found[-1]):
        raise BadAnalyticsFile(f"{what} covers {found[0]} to {found[-1]}: its sessions are not split by month, so "
                               "export one calendar month at a time (or add the Month or Date dimension)")
    return month_of(found[0])
