"""CSV import of prospects: parse any SEO tool's export, map its columns, check rows, insert in bulk.

Flask-free so the web, the import runs and the CLI share it. `parse_csv` reads bytes (UTF-8, UTF-16
with a BOM, cp1252), sniffs the delimiter and finds the header row by its content (a file of one line
per row is read by Arrow, any other by the csv module, with the same answer); `guess_mapping`
maps columns by name (trimmed, case-insensitive, with the aliases of Ahrefs, Semrush, Moz, Majestic
and Search Console) to typed fields: the prospect's URL, contact and the metrics of
`outreach.campaigns.metrics` (domain-level ones on the Site, page-level ones and the imported link on
the Prospect); `check_rows` validates rows without touching the database; `plan_import` adds what the
database knows (duplicates in the campaign, other campaigns, do-not-contact) with a fixed number of
queries per 900 rows, so a preview separates what will be imported from what will not before
anything is written; `import_chunks` writes the good rows chunk by chunk (each chunk flushed, the
caller commits and shows progress) and `import_rows` writes them all in one transaction.

A row whose email is unusable still brings its site: the prospect is created without a contact and
the row carries a warning naming the address.
"""
from __future__ import annotations

import csv
import gc
import operator
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from itertools import repeat
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outreach.campaigns import metrics as metric_table
from outreach.campaigns.contact_rules import ContactRules
from outreach.campaigns.prospect_creation import NewProspect, create_prospects
from outreach.lib import addresses
from outreach.lib.urls import BadURL, ensure_http_url, registrable_domain, registrable_domains
from outreach.models import Campaign, Prospect, Site, User

#: fields that describe the imported link on the prospect's page, with their length limit
TEXT_FIELDS = {"page_title": 500, "link_anchor": 500, "link_target_url": 2000}
#: what a column can be mapped to, in the order the preview offers them
FIELDS = ("url", "email", "name", *TEXT_FIELDS, "link_is_nofollow", *metric_table.NAMES)
FIELD_LABELS = {
    "": "— ignore —", "url": "Page or site URL", "email": "Contact email", "name": "Contact name",
    "page_title": "Page title", "link_anchor": "Link anchor text", "link_target_url": "Link target URL",
    "link_is_nofollow": "Link is nofollow (yes/no)",
    **{m.name: f"{m.label} · {m.title}" for m in metric_table.METRICS},
}
#: header names per field, best first (compared trimmed, lower-cased, spaces collapsed)
ALIASES: dict[str, tuple[str, ...]] = {
    "url": ("referring page url", "source url", "linking page", "page url", "url", "referring page",
            "source page", "website", "domain", "referring domain", "site", "source", "host"),
    "email": ("email", "e-mail", "email address", "e-mail address", "contact email", "emails", "mail"),
    "name": ("contact name", "name", "full name", "contact", "author"),
    "page_title": ("referring page title", "source title", "page title", "title"),
    "link_anchor": ("anchor", "anchor text", "link anchor"),
    "link_target_url": ("target url", "target page", "link target", "destination url"),
    "link_is_nofollow": ("nofollow", "flagnofollow", "only rel=nofollow", "no follow", "is nofollow"),
    "domain_rating": ("domain rating", "dr", "domain rating (dr)"),
    "domain_authority": ("domain authority", "da", "moz da"),
    "authority_score": ("authority score", "domain ascore", "ascore", "as", "domain authority score"),
    "trust_flow": ("trust flow", "trustflow", "tf", "domain trust flow"),
    "citation_flow": ("citation flow", "citationflow", "cf", "domain citation flow"),
    "spam_score": ("spam score", "moz spam score"),
    "organic_traffic": ("organic traffic", "domain traffic", "traffic", "est. traffic", "monthly traffic",
                        "estimated traffic"),
    "referring_domains": ("referring domains", "number of domains linking to domain", "dofollow ref. domains",
                          "ref. domains", "ref domains", "refdomains", "linking root domains"),
    "url_rating": ("ur", "url rating"),
    "page_authority": ("page authority", "pa"),
    "page_authority_score": ("page ascore", "page authority score"),
    "page_trust_flow": ("sourcetrustflow", "source trust flow", "page trust flow"),
    "page_citation_flow": ("sourcecitationflow", "source citation flow", "page citation flow"),
    "page_traffic": ("page traffic",),
    "page_referring_domains": ("number of domains linking to this page", "page referring domains"),
    "external_links": ("external links", "outbound links", "outgoing links"),
    "links_to_target": ("links to target", "backlinks", "linking pages"),
}
#: metric fields and their allowed range
METRIC_RANGES: dict[str, tuple[float, float]] = {m.name: (0, m.high) for m in metric_table.METRICS}
SHORT = {m.name: m.label for m in metric_table.METRICS}
_INTEGER = frozenset(m.name for m in metric_table.METRICS if m.is_integer)
_SITE_LEVEL = tuple(m.name for m in metric_table.SITE_METRICS)
#: bind-parameter batch size for IN (...) lookups
CHUNK = 900
#: rows written (and flushed) at a time by import_chunks
WRITE_CHUNK = 2000
MAX_HEADER_SCAN = 30
_TRUE = frozenset(("true", "yes", "y", "1", "+", "x"))
_FALSE = frozenset(("false", "no", "n", "0", "-", ""))


class BadImport(ValueError):
    """The file cannot be read as a prospect list; the message says why in one line."""


class ParsedFile:
    """A file's header and its data rows, as read by the csv module (rows) or by Arrow (columns).

    `lines[i]` is the file line of data row i; `column(i)` is a column's cells, "" where a row is short.
    """

    def __init__(self, *, headers: list[str], header_line: int, delimiter: str, encoding: str,
                 rows: list[tuple[int, list[str]]] | None = None, table: Any = None,
                 lines: Sequence[int] = ()) -> None:
        self.headers = headers
        self.header_line = header_line
        self.delimiter = delimiter
        self.encoding = encoding
        self._table = table  # a pyarrow.Table of strings, one column per header
        if rows is not None:
            self.__dict__["rows"] = rows
            self.lines: Sequence[int] = [line for line, _cells in rows]
        else:
            self.lines = lines

    @property
    def row_count(self) -> int:
        return len(self.lines)

    @cached_property
    def rows(self) -> list[tuple[int, list[str]]]:
        """Data rows as (line number in the file, cells)."""
        return self._table_rows(self._table, self.lines)

    def sample(self, n: int = 8) -> list[tuple[int, list[str]]]:
        if "rows" in self.__dict__:
            return self.rows[:n]
        return self._table_rows(self._table.slice(0, n), self.lines[:n])

    def column(self, index: int) -> list[str]:
        """The cells of one column, top to bottom."""
        if "rows" not in self.__dict__:
            if index < self._table.num_columns:
                values: list[str] = self._table.column(index).to_pylist()
                return values
            return [""] * self.row_count
        try:
            return [cells[index] for _line, cells in self.rows]
        except IndexError:  # some rows are short
            return [cells[index] if index < len(cells) else "" for _line, cells in self.rows]

    def arrow_column(self, index: int) -> Any:
        """A column as Arrow read it (a pyarrow array of strings), or None (read by the csv module)."""
        if self._table is None or index >= self._table.num_columns:
            return None
        return self._table.column(index)

    def cells(self, indices: Sequence[int]) -> list[list[str]]:
        """The cells of some rows (by index)."""
        if "rows" in self.__dict__:
            return [self.rows[i][1] for i in indices]
        return [cells for _line, cells in self._table_rows(self._table.take(list(indices)), indices)]

    @staticmethod
    def _table_rows(table: Any, lines: Sequence[int]) -> list[tuple[int, list[str]]]:
        columns = [column.to_pylist() for column in table.columns]
        return list(zip(lines, map(list, zip(*columns, strict=True)), strict=True))


@dataclass(slots=True)
class RowError:
    line: int
    reason: str
    value: str = ""


@dataclass(slots=True)
class ImportRow:
    line: int
    url: str
    domain: str
    email: str | None
    name: str
    #: domain-level metrics of the mapped columns (stored on the Site; None: the cell was blank)
    metrics: dict[str, float | int | None]
    #: page-level metrics and the imported link of the mapped columns (stored on the Prospect)
    page: dict[str, Any] = field(default_factory=dict)
    #: problems that do not stop the row (an unusable email: the site is imported without it)
    warnings: list[str] = field(default_factory=list)
    #: filled by plan_import: why adding it would contact a site or address twice
    conflicts: list[str] = field(default_factory=list)
    #: the keys of those conflicts (contact_rules.Conflict.key), which an override records on the prospect
    conflict_keys: list[str] = field(default_factory=list)


@dataclass
class ImportPlan:
    rows: list[ImportRow]
    #: the rows that will not be imported, each with its reason
    errors: list[RowError]

    # computed once: a preview asks several times, of up to 200,000 rows (plan_import sets `rows` first)
    @cached_property
    def conflicted(self) -> list[ImportRow]:
        return [r for r in self.rows if r.conflicts]

    @cached_property
    def clean(self) -> list[ImportRow]:
        return [r for r in self.rows if not r.conflicts]

    @cached_property
    def warned(self) -> list[ImportRow]:
        return [r for r in self.rows if r.warnings]


@dataclass
class ImportResult:
    imported: int
    overridden: int
    errors: list[RowError]
    #: rows imported with a problem (an unusable email), each with what was dropped
    warnings: list[RowError] = field(default_factory=list)


@dataclass
class ImportProgress:
    """Where a chunked import stands after a chunk: rows written so far out of `total`."""

    imported: int
    total: int


@contextmanager
def _bulk() -> Iterator[None]:
    """No cyclic garbage collection while a file's rows are built: the collector would walk every
    row already read each time (it made a 200,000-row preview twice as slow); nothing here makes cycles."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# --- reading the file ---------------------------------------------------------------------------

def decode(data: bytes) -> tuple[str, str]:
    """The text and the encoding it was in: BOMs first, then UTF-8, then cp1252."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace"), "utf-8-sig"
    head = data[:200]
    if len(head) >= 4 and head[1::2].count(0) > len(head) // 4:
        return data.decode("utf-16-le", errors="replace"), "utf-16-le"
    if len(head) >= 4 and head[0::2].count(0) > len(head) // 4:
        return data.decode("utf-16-be", errors="replace"), "utf-16-be"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), "cp1252"


def normalise_header(name: str) -> str:
    return " ".join(name.replace("\ufeff", "").strip().strip('"').lower().split())


_ALIAS_INDEX = {alias: fld for fld, names in ALIASES.items() for alias in names}


@_bulk()
def parse_csv(data: bytes, *, header_only: bool = False, fast: bool = True) -> ParsedFile:
    """Rows and headers of an export; BadImport when it has no usable header row.

    `header_only` reads the header and the first rows (enough to check an upload and offer a mapping).
    A file of one line per row is read by Arrow (`_read_columns`, several times faster on a large
    export); any other (a quoted line break, a row of another width, text Arrow refuses), or
    `fast=False`, is read by the csv module, with the same cells and line numbers.
    """
    if not data.strip():
        raise BadImport("the file is empty")
    text, encoding = decode(data)
    if "\0" in text[:4096]:
        raise BadImport("this is not a CSV file (it contains binary data)")
    head_lines = text[:200_000].splitlines()[:MAX_HEADER_SCAN]
    delimiter = sniff_delimiter(head_lines)
    header_index = _find_header(head_lines, delimiter)
    if header_index is None:
        raise BadImport("no header row found: the first line should name the columns (e.g. URL, Email, DR)")
    # start of the header line, counted as splitlines counts lines
    offset = 0
    for line in text[:200_000].splitlines(keepends=True)[:header_index]:
        offset += len(line)
    body = text[offset:] if offset else text
    if "\r" in body and body.count("\r") != body.count("\r\n"):
        body = body.replace("\r\n", "\n").replace("\r", "\n")  # lone CRs end lines too
    if fast and not header_only:
        columns = _read_columns(body, delimiter, header_index)
        if columns is not None:
            headers, table, lines = columns
            return ParsedFile(headers=headers, table=table, lines=lines, header_line=header_index + 1,
                              delimiter=delimiter, encoding=encoding)
    # lines with their "\n" (a quoted field may span lines), without the copy io.StringIO makes of it all
    reader = csv.reader(map(str.__add__, body.split("\n"), repeat("\n")), delimiter=delimiter)
    try:
        headers = _clean_headers(next(reader))
        rows: list[tuple[int, list[str]]] = []
        append = rows.append
        last = reader.line_num
        base = header_index + 1
        for cells in reader:
            if any(cells):
                append((base + last, cells))
                if header_only and len(rows) >= 50:
                    break
            last = reader.line_num
    except csv.Error as exc:
        raise BadImport(f"line {header_index + reader.line_num}: {exc}") from None
    return ParsedFile(headers=headers, rows=rows, header_line=header_index + 1, delimiter=delimiter,
                      encoding=encoding)


def _clean_headers(cells: list[str]) -> list[str]:
    return [h.replace("\ufeff", "").strip() for h in cells]


def _read_columns(body: str, delimiter: str, header_index: int) -> tuple[list[str], Any, Sequence[int]] | None:
    """Headers, a pyarrow Table of every column as text and each row's line, when every row is one line
    of the header's width (what the csv module reads the same way); None otherwise."""
    import pyarrow as pa  # imported here: 0.2 s that only an import pays
    import pyarrow.compute as pc
    from pyarrow import csv as arrow_csv

    first_end = body.find("\n")
    if first_end < 0:
        return None
    try:
        header_rows = list(csv.reader([body[:first_end + 1]], delimiter=delimiter, strict=True))
    except csv.Error:  # a header cell spanning lines
        return None
    if len(header_rows) != 1:
        return None
    headers = _clean_headers(header_rows[0])
    # the rows, without trailing blank lines (no rows in either reader) and without copying the text
    start, end = first_end + 1, len(body)
    while end > start and body[end - 1] in "\r\n":
        end -= 1
    if end == start or body.startswith("\ufeff", start):  # Arrow would drop a first cell's BOM
        return None
    count = body.count("\n", start, end) + 1
    encoded = body.encode("utf-8", errors="surrogatepass")
    skip = len(body[:start].encode("utf-8", errors="surrogatepass"))
    names = [f"c{i}" for i in range(len(headers))]
    try:
        table = arrow_csv.read_csv(
            pa.py_buffer(encoded).slice(skip, len(encoded) - skip - (len(body) - end)),
            read_options=arrow_csv.ReadOptions(column_names=names),
            parse_options=arrow_csv.ParseOptions(delimiter=delimiter, quote_char='"', double_quote=True,
                                                 escape_char=False, newlines_in_values=True,
                                                 ignore_empty_lines=False),
            convert_options=arrow_csv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()),
                                                     strings_can_be_null=False, quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # a row of another width, bad text
        return None
    if table.num_rows != count or table.num_columns != len(headers):  # a quoted line break: rows span lines
        return None
    # a quote left open on the last line runs to the end of the file for the csv module, not for Arrow
    last = body[max(body.rfind("\n", start, end) + 1, start):end]
    if '"' in last and next(csv.reader([last + "\n"], delimiter=delimiter)) != [
            column[count - 1].as_py() for column in table.columns]:
        return None
    first = header_index + 2
    filled = None  # rows with a cell that is not empty (the csv reader's rows)
    for column in table.columns:
        if column.null_count:
            return None
        present = pc.not_equal(column, "")
        filled = present if filled is None else pc.or_(filled, present)
    if filled is not None and not pc.all(filled).as_py():
        keep = filled.to_pylist()
        table = table.filter(filled)
        return headers, table, [first + i for i, kept in enumerate(keep) if kept]
    return headers, table, range(first, first + count)


def sniff_delimiter(lines: Sequence[str]) -> str:
    best, best_score = ",", 0
    for delimiter in ("\t", ",", ";", "|"):
        score = max((len(_split(line, delimiter)) for line in lines if line.strip()), default=0)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _split(line: str, delimiter: str) -> list[str]:
    try:
        return next(csv.reader([line], delimiter=delimiter))
    except (csv.Error, StopIteration):
        return [line]


def _find_header(lines: Sequence[str], delimiter: str) -> int | None:
    """The first line naming a known column; else the first line with several cells."""
    fallback = None
    for index, line in enumerate(lines):
        cells = _split(line, delimiter)
        if any(normalise_header(c) in _ALIAS_INDEX for c in cells):
            return index
        if fallback is None and len([c for c in cells if c.strip()]) >= 2:
            fallback = index
    return fallback


def guess_mapping(headers: Sequence[str]) -> list[str]:
    """The field each column maps to ('' = ignored): every field taken by its best-named column."""
    normalised = [normalise_header(h) for h in headers]
    mapping = [""] * len(headers)
    for fld, names in ALIASES.items():
        for alias in names:
            if alias in normalised:
                index = normalised.index(alias)
                if not mapping[index]:
                    mapping[index] = fld
                    break
    return mapping


def mapping_from_form(values: Mapping[str, str], column_count: int) -> list[str]:
    """The mapping posted by the preview form (`col-0`, `col-1`, ...); unknown fields are ignored."""
    return [v if (v := values.get(f"col-{i}", "")) in FIELDS else "" for i in range(column_count)]


def mapping_problems(mapping: Sequence[str]) -> list[str]:
    problems = []
    if "url" not in mapping:
        problems.append("map one column to “Page or site URL”: every prospect needs a site")
    for fld in FIELDS:
        if mapping.count(fld) > 1:
            problems.append(f"“{FIELD_LABELS[fld]}” is mapped to {mapping.count(fld)} columns; keep one")
    return problems


# --- checking rows ------------------------------------------------------------------------------

_NUMBER = re.compile(r"^[+-]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$")
_BLANKS = frozenset(("", "-", "—", "–", "n/a", "N/A", "na", "null", "None"))


def parse_number(text: str) -> float | None:
    """'1,240' -> 1240.0, '48.5' -> 48.5, '' / '-' / 'n/a' -> None; ValueError otherwise."""
    value = text.strip().replace("\u00a0", "").replace(" ", "")
    if value in _BLANKS:
        return None
    if not _NUMBER.match(value):
        raise ValueError(value)
    return float(value.replace(",", ""))


def _metric_column(fld: str, values: list[str]) -> tuple[list[float | int | None], dict[int, str]]:
    """A column's numbers (None where blank) and, by row index, why a cell is not a number in range."""
    low, high = METRIC_RANGES[fld]
    numbers: list[Any]
    try:  # the common case, a column of plain numbers, at C speed
        numbers = [float(v) if v else None for v in values] if "" in values else list(map(float, values))
        present = [x for x in numbers if x is not None] if None in numbers else numbers
        total = sum(present)
        if present and not (low <= min(present) and max(present) <= high and total == total):  # NaN, inf
            raise ValueError
        bad: dict[int, str] = {}
    except ValueError:
        numbers, bad = [], {}
        for index, raw in enumerate(values):
            try:
                number = parse_number(raw)
            except ValueError:
                bad[index] = f"{SHORT[fld]} {raw!r} is not a number"
                number = None
            if number is not None and not low <= number <= high:
                bad[index] = f"{SHORT[fld]} {raw} is out of range ({low:g}–{high:g})"
                number = None
            numbers.append(number)
    if fld in _INTEGER:
        numbers = [int(x) if x is not None else None for x in numbers] if None in numbers else list(map(int, numbers))
    return numbers, bad


def _plain_metric_column(fld: str, cells: Any) -> tuple[list[float | int | None], dict[int, str]] | None:
    """_metric_column of an Arrow column of plain numbers in range (digits, maybe a decimal part; blanks),
    converted by Arrow; None for any other column (or none)."""
    if cells is None:
        return None
    import pyarrow as pa
    import pyarrow.compute as pc

    values = pc.if_else(pc.equal(cells, ""), pa.scalar(None, pa.string()), cells)
    if not pc.all(pc.match_substring_regex(values, r"^[0-9]{1,15}(\.[0-9]{1,15})?$"), skip_nulls=True).as_py():
        return None
    floats = pc.cast(values, pa.float64())
    low, high = METRIC_RANGES[fld]
    bounds = pc.min_max(floats).as_py()
    if bounds["min"] is not None and not (low <= bounds["min"] and bounds["max"] <= high):
        return None
    numbers: list[Any] = floats.to_pylist()
    if fld in _INTEGER:
        numbers = [int(x) if x is not None else None for x in numbers] if floats.null_count else list(map(int, numbers))
    return numbers, {}


_FLAGS = {**dict.fromkeys(_TRUE, True), **dict.fromkeys(_FALSE, False)}


def _flag_column(values: list[str]) -> tuple[list[bool | None], dict[int, str]]:
    out: list[bool | None] = list(map(_FLAGS.get, map(str.lower, values)))
    bad = {index: f"nofollow {values[index]!r} is not yes or no"
           for index, flag in enumerate(out) if flag is None} if None in out else {}
    return out, bad


@_bulk()
def check_rows(parsed: ParsedFile, mapping: Sequence[str]) -> ImportPlan:
    """Every row checked on its own and against the rows above it; no database needed.

    Columns are read and converted whole (a list per mapped column, at C speed where possible; URLs,
    sites and addresses a column at a time), so a 200,000-row file is checked in about a second;
    a row's first problem is its reason.
    """
    columns = {fld: mapping.index(fld) for fld in FIELDS if fld in mapping}
    count = parsed.row_count
    lines = parsed.lines

    def column(fld: str, strip: bool = True) -> list[str]:
        values = parsed.column(columns[fld])
        # numbers are not stripped: float() and parse_number() ignore the spaces around them
        return list(map(str.strip, values)) if strip else values

    bad: dict[int, str] = {}
    numbers: dict[str, list[Any]] = {}
    for fld in metric_table.NAMES:
        if fld in columns:
            quick = _plain_metric_column(fld, parsed.arrow_column(columns[fld]))
            numbers[fld], problems = quick if quick is not None else _metric_column(fld, column(fld, strip=False))
            for index, reason in problems.items():
                bad.setdefault(index, reason)
    page_columns: dict[str, list[Any]] = {}
    for fld, limit in TEXT_FIELDS.items():
        if fld in columns:
            values = column(fld)
            page_columns[fld] = [v[:limit] for v in values] if max(map(len, values), default=0) > limit else values
    if "link_target_url" in page_columns:  # the target is a URL (Moz writes it without its scheme)
        targets = page_columns["link_target_url"] = list(page_columns["link_target_url"])
        for index in [i for i, has in enumerate(map(operator.contains, targets, repeat("://"))) if not has]:
            targets[index] = _with_scheme(targets[index])
    if "link_is_nofollow" in columns:
        page_columns["link_is_nofollow"], problems = _flag_column(column("link_is_nofollow"))
        for index, reason in problems.items():
            bad.setdefault(index, reason)
    page_columns.update((f, numbers[f]) for f in metric_table.NAMES if f in numbers and f not in _SITE_LEVEL)
    page_keys = tuple(page_columns)
    site_keys = tuple(f for f in _SITE_LEVEL if f in numbers)
    urls = column("url") if "url" in columns else [""] * count
    sites, domains, refused = _sites(urls)
    if "email" in columns:
        raw_emails = column("email")
        emails: list[str | addresses.BadAddress | None]
        if "" in raw_emails:
            emails = [None] * count
            filled = [i for i, v in enumerate(raw_emails) if v]
            for index, email in zip(filled, addresses.normalise_addresses([raw_emails[i] for i in filled]),
                                    strict=True):
                emails[index] = email
        else:
            emails = list(addresses.normalise_addresses(raw_emails))
    else:
        emails = [None] * count
    names = column("name") if "name" in columns else [""] * count
    if max(map(len, names), default=0) > 200:
        names = [v[:200] for v in names]
    blank = [i for i, url in enumerate(urls) if not url]
    blank_rows = dict(zip(blank, parsed.cells(blank), strict=True)) if blank else {}

    # the rows kept: a URL, no bad cell, the first of their domain (a dict keeps a key's last value: reversed)
    candidates = [i for i, url in enumerate(sites) if url is not None and i not in bad]
    first = dict(zip(map(domains.__getitem__, reversed(candidates)), reversed(candidates), strict=True))
    keep = candidates if len(first) == len(candidates) else sorted(first.values())
    errors: list[RowError] = []
    kept = set(keep) if len(keep) != count else None
    for index in [i for i in range(count) if i not in kept] if kept is not None else []:
        line = lines[index]
        if sites[index] is None:
            if urls[index]:
                errors.append(RowError(line, f"bad URL: {refused[index]}", urls[index]))
            elif any(c.strip() for c in blank_rows[index]):
                errors.append(RowError(line, "no URL"))
        elif index in bad:
            errors.append(RowError(line, bad[index], urls[index]))
        else:
            errors.append(RowError(line, f"duplicate in file: {domains[index]} is already on line "
                                         f"{lines[first[domains[index]]]}", urls[index]))

    gather = operator.itemgetter(*keep) if len(keep) > 1 else None

    def kept_of(values: Sequence[Any]) -> list[Any]:
        if kept is None:
            return list(values)
        return list(gather(values)) if gather is not None else [values[i] for i in keep]

    site_values = (map(dict, map(zip, repeat(site_keys), zip(*(kept_of(numbers[f]) for f in site_keys), strict=True)))
                   if site_keys else (dict() for _ in keep))
    page_values = (map(dict, map(zip, repeat(page_keys), zip(*map(kept_of, page_columns.values()), strict=True)))
                   if page_keys else (dict() for _ in keep))
    row_emails = kept_of(emails)
    warnings: list[list[str]] = [[] for _ in keep]
    for position in [p for p, email in enumerate(row_emails) if email is not None and email.__class__ is not str]:
        warnings[position].append(f"bad email, imported without a contact: {row_emails[position]}")
        row_emails[position] = None
    rows = list(map(ImportRow, kept_of(lines), kept_of(sites), kept_of(domains), row_emails, kept_of(names),
                    site_values, page_values, warnings))
    return ImportPlan(rows=rows, errors=errors)


#: a plain http(s) URL (or a bare host and path) on a line of its own: its scheme and its host, labels
#: with a dot between them and a last label that is not a number (the host without its trailing dots);
#: any other line matches as nothing, so `findall` gives one answer per line
_PLAIN_URL_LINES = re.compile(r"^(?:(https?://)?((?:[A-Za-z0-9-]+\.)+[0-9]*[A-Za-z-][A-Za-z0-9-]*)\.*"
                              r"(?:[/?#][^\s\\]*)?$|.*$)", re.MULTILINE)
#: the same for lines known to hold no white space and no backslash (checked of them all at once)
_PLAIN_URL_CLEAN_LINES = re.compile(r"^(?:(https?://)?((?:[A-Za-z0-9-]+\.)+[0-9]*[A-Za-z-][A-Za-z0-9-]*)\.*"
                                    r"(?:[/?#].*)?$|.*$)", re.MULTILINE)
#: the white space of ASCII (what \s matches there) but the line break, and the backslash
_UNCLEAN = "\t\x0b\x0c\r\x1c\x1d\x1e\x1f \\"


def _sites(urls: list[str]) -> tuple[list[str | None], list[str], dict[int, str]]:
    """Each URL with its scheme (None when refused or blank), its registrable domain and, by row index,
    why a URL is refused: what ensure_http_url and registrable_domain say, plain URLs without their parse."""
    if not urls:
        return [], [], {}
    joined = "\n".join(urls)
    clean = joined.isascii() and not any(c in joined for c in _UNCLEAN)
    found: list[tuple[str, str]] = ((_PLAIN_URL_CLEAN_LINES if clean else _PLAIN_URL_LINES).findall(joined)
                                    if joined.count("\n") == len(urls) - 1 else [])
    if len(found) != len(urls):  # a URL with a line break in it
        found = [match.groups("") if (match := _PLAIN_URL_LINES.fullmatch(url)) is not None and "\n" not in url
                 else ("", "") for url in urls]
    schemes, plain_hosts = zip(*found, strict=True)
    hosts = "\n".join(plain_hosts).lower().split("\n")  # ASCII: one line per host
    sites: list[str | None] = [(raw if scheme else "https://" + raw) if host else None
                               for raw, scheme, host in zip(urls, schemes, plain_hosts, strict=True)]
    if max(map(len, urls), default=0) > 1990:
        sites = [site[:2000] if site is not None else None for site in sites]
    refused: dict[int, str] = {}
    other: dict[int, str] = {}  # domains of the URLs that took the full parse
    for index in [i for i, host in enumerate(hosts) if not host]:
        raw = urls[index]
        if not raw:
            continue
        try:
            url = ensure_http_url(raw)
            other[index] = registrable_domain(url)
            sites[index] = url[:2000]
        except BadURL as exc:
            refused[index] = str(exc).replace(repr("https://" + raw.lstrip("/")), repr(raw))
    unique = dict.fromkeys(hosts)
    unique.pop("", None)
    domain_of = registrable_domains(unique)
    domain_of[""] = ""  # a refused or blank URL has no domain
    domains = [domain_of[h] for h in hosts]
    for index, domain in other.items():
        domains[index] = domain
    return sites, domains, refused


def _with_scheme(value: str) -> str:
    if not value or "://" in value:
        return value
    try:
        return ensure_http_url(value)
    except BadURL:
        return value


# --- what the database knows ----------------------------------------------------------------------

def _chunks(values: Iterable[Any]) -> Iterable[list[Any]]:
    items = list(values)
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]


@_bulk()
def plan_import(session: Session, campaign: Campaign, parsed: ParsedFile, mapping: Sequence[str]) -> ImportPlan:
    """check_rows plus duplicates in the campaign and conflicts, in a few queries per 900 rows.

    Each lookup reads the whole (smaller) table instead when it has fewer rows than the file asks
    about: a large file on a young database costs a handful of queries, not one per 900 rows.
    """
    plan = check_rows(parsed, mapping)
    rows = plan.rows
    domains = {r.domain for r in rows}
    emails = {r.email for r in rows if r.email}
    site_ids: dict[str, int] = {}
    if _smaller(session, select(func.count()).select_from(Site), len(domains)):
        site_ids.update((d, i) for d, i in session.execute(select(Site.domain, Site.id)) if d in domains)
    else:
        site_ids = _site_ids(session, domains)

    in_campaign = set(session.scalars(select(Prospect.site_id).where(Prospect.campaign_id == campaign.id)))
    file_sites: dict[str, int | None] = dict.fromkeys(domains)
    file_sites.update(site_ids)  # site_ids holds only the file's domains
    rules = ContactRules(session, campaign_id=campaign.id).load_domains(file_sites, emails)
    kept: list[ImportRow] = []
    for row in rows:
        site_id = site_ids.get(row.domain)
        if site_id is not None and site_id in in_campaign:
            plan.errors.append(RowError(row.line, f"duplicate in campaign: {row.domain} is already on this board",
                                        row.url))
            continue
        conflicts = rules.conflicts_at(site_id, row.domain, row.email)
        if conflicts:
            row.conflicts.extend(c.message for c in conflicts)
            row.conflict_keys.extend(c.key for c in conflicts)
        kept.append(row)
    plan.rows = kept
    plan.errors.sort(key=lambda e: e.line)
    return plan


def import_rows(session: Session, campaign: Campaign, plan: ImportPlan, *, actor: User | None = None,
                override_reason: str = "", source: str = "CSV") -> ImportResult:
    """Insert the plan's rows in one transaction (the caller commits); see import_chunks."""
    chunks = import_chunks(session, campaign, plan, actor=actor, override_reason=override_reason, source=source)
    while True:
        try:
            next(chunks)
        except StopIteration as stop:
            result: ImportResult = stop.value
            return result


def import_chunks(session: Session, campaign: Campaign, plan: ImportPlan, *, actor: User | None = None,
                  override_reason: str = "", source: str = "CSV",
                  chunk_size: int = WRITE_CHUNK) -> Iterator[ImportProgress]:
    """Insert the plan's rows a chunk at a time, yielding progress after each flushed chunk.

    Conflicted rows are imported only with an override reason (else reported as not imported). The
    caller may commit at each yield (an interrupted import keeps the chunks written; importing the
    file again skips them as duplicates in the campaign). Returns the ImportResult.
    """
    reason = override_reason.strip()[:500]
    errors = list(plan.errors)
    rows: list[ImportRow] = []
    for row in plan.rows:
        if row.conflicts and not reason:
            errors.append(RowError(row.line, "conflict: " + "; ".join(row.conflicts), row.url))
        else:
            rows.append(row)
    errors.sort(key=lambda e: e.line)
    warnings = [RowError(r.line, w, r.url) for r in rows for w in r.warnings]
    done = 0
    for start in range(0, len(rows), chunk_size):
        part = rows[start:start + chunk_size]
        _write_chunk(session, campaign, part, actor=actor, reason=reason, source=source)
        done += len(part)
        yield ImportProgress(imported=done, total=len(rows))
    return ImportResult(imported=len(rows), overridden=sum(1 for r in rows if r.conflicts), errors=errors,
                        warnings=warnings)


def _write_chunk(session: Session, campaign: Campaign, rows: list[ImportRow], *, actor: User | None, reason: str,
                 source: str) -> None:
    """Create the chunk's prospects as every prospect is created (prospect_creation)."""
    create_prospects(session, campaign, [
        NewProspect(row.url, row.domain, row.email, row.name, row.metrics, row.page, None,
                    row.conflicts, row.conflict_keys, reason if row.conflicts else "",
                    f"import of {source}, line {row.line}", row.warnings, row.line)
        for row in rows], actor=actor)


def _smaller(session: Session, count: Any, lookups: int) -> bool:
    """Whether a table (its count query) holds fewer rows than there are values to look up in it."""
    return lookups > CHUNK and (session.scalar(count) or 0) < lookups


def _site_ids(session: Session, domains: Iterable[str]) -> dict[str, int]:
    ids: dict[str, int] = {}
    for chunk in _chunks(domains):
        ids.update(session.execute(select(Site.domain, Site.id).where(Site.domain.in_(chunk))).all())
    return ids
