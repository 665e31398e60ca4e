"""The fast import path (Arrow reader, column-wise checks) gives the plain path's answer, file for file."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from outreach.campaigns import contact_rules
from outreach.campaigns.imports import service as importer
from outreach.lib import addresses
from outreach.lib.urls import BadURL, ensure_http_url, registrable_domain, registrable_domains

#: cells that have tripped CSV readers, URL checks and address checks
TRICKY = ["", " ", "https://a.test/x", "a.test", "A.TEST/Path", "https://www.a.test/", "http://b.test", "ftp://c.test/",
          "mailto:x@a.test", "x", "//cdn.d.test/x", "https://1.2.3.4/", "https://e.test:8080/", "https://a..b/",
          "https://[::1]/", "https://f.co.uk/p", "g.github.io", "h.test/ x", "https://h.test/ä", "ed@a.test",
          "Ed@A.Test", "bad@@x.test", "ed@example", "ed@localhost", "ed@site.invalid", "\u212a@k.test",
          "ed@xn--80ak6aa92e.com", "n/a", "1.5", "007", "0.1", "1,240", "150", "high", "12", " 7 ", "1e3", "-",
          "yes", "no", "+", "Ja", 'a"b', '"q"', 'x""y',
          "line\nbreak", "cr\rhere", "x,y", "a\tb", "é", "\ufeffBOM", "   lead", "trail   ", "😀"]
HEADERS = ["URL", "Email", "Name", "DR", "Organic Traffic", "Nofollow", "Anchor", "Target URL", "Notes"]


def _cell(value: str, quoted: bool, delimiter: str) -> str:
    if quoted or any(c in value for c in (delimiter, "\n", "\r")):
        return '"' + value.replace('"', '""') + '"'
    return value


@st.composite
def files(draw: Any) -> bytes:
    delimiter = draw(st.sampled_from([",", "\t", ";"]))
    width = draw(st.integers(2, len(HEADERS)))
    headers = HEADERS[:width]
    quote_all = draw(st.booleans())
    lines = [delimiter.join(_cell(h, quote_all, delimiter) for h in headers)]
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(["row", "row", "row", "row", "blank", "empty cells", "short", "long", "raw"]))
        if kind == "blank":
            lines.append("")
        elif kind == "empty cells":
            lines.append(delimiter * (width - 1))
        elif kind == "raw":  # unquoted text as it comes, quotes and all
            lines.append(delimiter.join(draw(st.sampled_from(TRICKY)).replace("\n", " ") for _ in range(width)))
        else:
            count = width - 1 if kind == "short" else width + 1 if kind == "long" else width
            cells = draw(st.lists(st.sampled_from(TRICKY) | st.text(max_size=6), min_size=count, max_size=count))
            lines.append(delimiter.join(_cell(c, quote_all, delimiter) for c in cells))
    ending = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = ending.join(lines) + draw(st.sampled_from(["", ending, ending * 2]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"]))
    return text.encode(encoding, errors="replace")


def both_ways(data: bytes) -> tuple[Any, Any]:
    """parse_csv's answer (or error) by the fast and the plain path."""
    answers = []
    for fast in (True, False):
        try:
            answers.append(importer.parse_csv(data, fast=fast))
        except importer.BadImport as exc:
            answers.append(str(exc))
    return answers[0], answers[1]


def assert_same(fast: Any, plain: Any) -> None:
    if isinstance(plain, str) or isinstance(fast, str):
        assert fast == plain
        return
    assert (fast.headers, fast.header_line, fast.delimiter, fast.encoding) == (
        plain.headers, plain.header_line, plain.delimiter, plain.encoding)
    assert (fast.row_count, list(fast.lines), fast.sample(3)) == (plain.row_count, list(plain.lines), plain.sample(3))
    assert fast.rows == plain.rows
    mapping = importer.guess_mapping(plain.headers)
    if "url" in mapping:
        fast_plan, plain_plan = importer.check_rows(fast, mapping), importer.check_rows(plain, mapping)
        assert (fast_plan.rows, fast_plan.errors) == (plain_plan.rows, plain_plan.errors)
        assert (plain_plan.rows, plain_plan.errors) == reference_check(plain, mapping)


def reference_check(parsed: importer.ParsedFile, mapping: list[str]) -> tuple[list[Any], list[Any]]:
    """URL, site, duplicate and address answers row by row, as the per-row helpers give them."""
    plan = importer.check_rows(parsed, mapping)  # metrics and page fields: checked by the tests of check_rows
    by_line = {row.line: row for row in plan.rows}
    url_at, email_at = mapping.index("url"), mapping.index("email") if "email" in mapping else None
    rows, errors, seen = [], [], {}
    bad = {e.line: e for e in plan.errors if not e.reason.startswith(("bad URL", "no URL", "duplicate in file"))}
    for line, cells in parsed.rows:
        raw = cells[url_at].strip() if url_at < len(cells) else ""
        if not raw:
            if any(c.strip() for c in cells):
                errors.append(importer.RowError(line, "no URL"))
            continue
        try:
            url = ensure_http_url(raw)
            domain = registrable_domain(url)
        except BadURL as exc:
            reason = str(exc).replace(repr("https://" + raw.lstrip("/")), repr(raw))
            errors.append(importer.RowError(line, f"bad URL: {reason}", raw))
            continue
        if line in bad:
            errors.append(bad[line])
            continue
        if domain in seen:
            reason = f"duplicate in file: {domain} is already on line {seen[domain]}"
            errors.append(importer.RowError(line, reason, raw))
            continue
        seen[domain] = line
        row = by_line[line]
        assert (row.url, row.domain) == (url[:2000], domain)
        raw_email = cells[email_at].strip() if email_at is not None and email_at < len(cells) else ""
        try:
            email = addresses.normalise_address(raw_email) if raw_email else None
            warnings = []
        except addresses.BadAddress as exc:
            email, warnings = None, [f"bad email, imported without a contact: {exc}"]
        assert (row.email, row.warnings) == (email, warnings)
        rows.append(row)
    return rows, errors


@settings(max_examples=300, deadline=None)
@given(data=files())
def test_the_fast_path_reads_and_checks_any_file_as_the_plain_path_does(data: bytes) -> None:
    assert_same(*both_ways(data))


@pytest.mark.parametrize("text", [
    'URL,Email\n"https://a.test/",ed@a.test\n"https://b.test/\nmore",ed@b.test\n',  # a quoted line break
    'URL,Email\nhttps://a.test/,"ed@a.test\n',  # a quote left open on the last line
    'URL,Email\nhttps://a.test/,ed@a.test,extra\nhttps://b.test/\n',  # rows of other widths
    'URL,Email\n\n,\nhttps://a.test/,ed@a.test\n\n\n',  # blank lines and a row of empty cells
    '"URL","Email"\r\n"https://a.test/","ED@A.TEST"\r\n"https://www.a.test/x","ed@@a.test"\r\n',  # duplicate domain
    'URL,Email\n"ab"cd,x\nab"c,y\n"https://a.test/"x,z\n',  # quotes inside fields
    'Notes\n"x\n',  # no URL column, an open quote
    '\ufeffURL;Email\nhttps://a.test/;ed@example\nhttps://b.test/;\u212a@k.test\n',
    'URL,Name\n\ufeffhttps://a.test/,\ufeffAnn\n',  # a BOM starting the first row's cell
])
def test_tricky_files_read_the_same_both_ways(text: str) -> None:
    for encoding in ("utf-8", "utf-16"):
        assert_same(*both_ways(text.encode(encoding)))


def test_an_export_of_one_line_per_row_is_read_by_arrow(formats: Path) -> None:
    """The fast path is taken for a clean export, and not for a file whose rows span lines."""
    for name in ("ahrefs-backlinks.csv", "semrush-backlinks.csv", "moz-inbound-links.csv", "majestic-backlinks.csv"):
        data = (formats / name).read_bytes()
        parsed = importer.parse_csv(data)
        assert parsed._table is not None, name
        assert_same(parsed, importer.parse_csv(data, fast=False))
    spans = importer.parse_csv(b'URL,Notes\nhttps://a.test/,"two\nlines"\n')
    assert spans._table is None and spans.rows == [(2, ["https://a.test/", "two\nlines"])]


def test_the_plan_is_the_same_both_ways(db: Session, make_campaign: Any, make_prospect: Any) -> None:
    campaign, other = make_campaign(name="Here"), make_campaign(name="Elsewhere")
    make_prospect(campaign, "https://here.test/")
    make_prospect(other, "https://busy.test/", email="jo@busy.test")
    contact_rules.add_suppression(db, "blocked.test")
    contact_rules.add_suppression(db, "no@fine.test", reason="unsubscribed")
    db.flush()
    data = ("Referring page URL\tEmail\tDomain rating\tDomain traffic\n"
            "https://here.test/a\ted@here.test\t10\t\"1,200\"\n"
            "https://busy.test/b\t\t20\t5\n"
            "https://www.blocked.test/c\t\t\t\n"
            "https://fine.test/d\tno@fine.test\t30\t7\n"
            "https://other.test/e\tjo@busy.test\t40\t8\n"
            "https://other.test/f\tbad@@x.test\t50\t9\n"
            "https://new.test/g\tNew@New.test\t101\t1\n"
            "https://new2.test/g\tNew@New2.test\t60\t1\n").encode("utf-16")
    plans = []
    for fast in (True, False):
        parsed = importer.parse_csv(data, fast=fast)
        plan = importer.plan_import(db, campaign, parsed, importer.guess_mapping(parsed.headers))
        plans.append((plan.rows, plan.errors))
    assert plans[0] == plans[1]
    rows, errors = plans[0]
    assert [(r.domain, r.conflicts) for r in rows] == [
        ("busy.test", ["busy.test is already in campaign “Elsewhere” (stage new)"]),
        ("blocked.test", ["blocked.test is on the do-not-contact list"]),
        ("fine.test", ["no@fine.test unsubscribed"]),
        ("other.test", ["jo@busy.test is already contacted in “Elsewhere”"]),
        ("new2.test", [])]
    assert [(e.line, e.reason) for e in errors] == [
        (2, "duplicate in campaign: here.test is already on this board"),
        (7, "duplicate in file: other.test is already on line 6"),
        (8, "DR 101 is out of range (0–100)")]


@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.sampled_from(TRICKY) | st.text(max_size=12) | st.emails().map(str), max_size=8))
def test_addresses_in_bulk_are_what_one_at_a_time_says(values: list[str]) -> None:
    expected: list[Any] = []
    for value in values:
        try:
            expected.append(addresses.normalise_address(value))
        except addresses.BadAddress as exc:
            expected.append(str(exc))
    got = addresses.normalise_addresses(values)
    assert [str(v) if isinstance(v, addresses.BadAddress) else v for v in got] == expected


@settings(max_examples=300, deadline=None)
@given(hosts=st.lists(st.sampled_from(["a.test", "www.a.co.uk", "x.github.io", "b.ck", "www.b.ck", "c.com",
                                       "1.2.3.4", "d.e.f.example", "sub.kawasaki.jp", "x.city.kawasaki.jp",
                                       "A.Test", "e.test.", "localhost", "f2.g3"]) | st.from_regex(
                                           r"[a-z0-9-]{1,5}(\.[a-z0-9-]{1,5}){1,3}", fullmatch=True), max_size=8))
def test_registrable_domains_in_bulk_are_what_one_at_a_time_says(hosts: list[str]) -> None:
    assert registrable_domains(hosts) == {host: registrable_domain(host) for host in hosts}
