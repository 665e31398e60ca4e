"""Each tool's export, read with its real header, encoding, number and date formats (tests/fixtures/analytics)."""
from __future__ import annotations

from datetime import date

import pytest

from outreach.analytics import ga4, matomo, plausible, service
from outreach.analytics.rows import BadAnalyticsFile, referrer
from tests.analytics.conftest import fixture, plausible_zip

SEP, OCT = date(2026, 9, 1), date(2026, 10, 1)


def rows(parsed: object) -> list[tuple[str, str, int]]:
    return sorted((r.month.isoformat()[:7], r.referrer, r.sessions) for r in parsed.rows)  # type: ignore[attr-defined]


def test_it_reads_a_ga4_traffic_acquisition_download_with_its_preamble_bom_and_chart_table() -> None:
    data = fixture("ga4-traffic-acquisition-source-medium.csv")
    assert data.startswith(b"\xef\xbb\xbf# ----")
    parsed = ga4.parse(data)
    assert parsed.months == {OCT}  # from "# Start date: 20261001" / "# End date: 20261031"
    assert rows(parsed) == [("2026-10", "blog.example / referral", 27), ("2026-10", "m.facebook.com / referral", 311),
                            ("2026-10", "news.example / referral", 84), ("2026-10", "zine.example / referral", 0)]
    assert parsed.skipped == 3  # google / organic ("12,410"), (direct) / (none), newsletter / email


def test_it_reads_a_ga4_exploration_by_date_with_grouped_thousands_into_months() -> None:
    parsed = ga4.parse(fixture("ga4-exploration-page-referrer-by-date.csv"))
    assert parsed.months == {SEP, OCT}
    found = rows(parsed)
    assert ("2026-09", "https://www.news.example/a", 31) in found
    assert ("2026-10", "https://www.google.com/", 1204) in found  # "1,204"
    assert ("2026-10", "https://www.news.example/a/", 18) in found and parsed.skipped == 1  # (not set)


def test_a_ga4_download_of_several_months_without_a_date_column_is_refused() -> None:
    data = fixture("ga4-traffic-acquisition-source-medium.csv").replace(b"# End date: 20261031",
                                                                         b"# End date: 20261130")
    with pytest.raises(BadAnalyticsFile, match=r"covers 2026-10-01 to 2026-11-30.*one calendar month"):
        ga4.parse(data)


def test_a_session_count_that_is_not_a_whole_number_names_its_line() -> None:
    data = fixture("ga4-traffic-acquisition-source-medium.csv").replace(b"news.example / referral,84,",
                                                                         b"news.example / referral,8.4,")
    with pytest.raises(BadAnalyticsFile, match=r"line 18: Sessions '8.4' is not a whole number"):
        ga4.parse(data)


def test_it_reads_plausibles_export_zip_and_its_month_from_visitors_csv() -> None:
    parsed = plausible.parse(plausible_zip())
    assert parsed.months == {OCT}
    # referrers.csv (CRLF, no BOM): host without www and path without trailing slash, or the host alone
    assert rows(parsed) == [("2026-10", "blog.example/b", 20), ("2026-10", "m.facebook.com", 140),
                            ("2026-10", "news.example", 9), ("2026-10", "news.example/a", 52)]
    assert parsed.skipped == 1  # Direct / None


def test_plausibles_sources_csv_is_read_when_the_zip_has_no_referrers_csv() -> None:
    parsed = plausible.parse(plausible_zip(drop=("referrers.csv",)))
    assert rows(parsed) == [("2026-10", "blog.example", 20), ("2026-10", "news.example", 61)]


def test_a_plausible_export_of_two_months_is_refused_and_a_lone_csv_needs_its_month() -> None:
    visitors = b"date,visitors,pageviews,visits,views_per_visit,bounce_rate,visit_duration\r\n" \
               b"2026-09-01,5,5,5,1,0,0\r\n2026-10-01,5,5,5,1,0,0\r\n"
    with pytest.raises(BadAnalyticsFile, match="covers 2026-09-01 to 2026-10-01"):
        plausible.parse(plausible_zip(replace={"visitors.csv": visitors}))
    alone = fixture("plausible-export/referrers.csv")
    with pytest.raises(BadAnalyticsFile, match="say which month"):
        plausible.parse(alone)
    assert plausible.parse(alone, date(2026, 10, 17)).months == {OCT}
    named = plausible.parse(alone, filename="Plausible export acme.example 2026-10-01  to 2026-10-31 .zip")
    assert named.months == {OCT}


def test_it_reads_matomos_utf16_csv_of_several_months_with_page_urls() -> None:
    data = fixture("matomo-referrers-getwebsites-flat-months.csv")
    assert data.startswith(b"\xff\xfe")  # UTF-16LE with a byte-order mark, as Matomo writes CSV
    parsed = matomo.parse(data)
    assert parsed.months == {SEP, OCT}
    assert rows(parsed) == [("2026-09", "https://blog.example/", 3), ("2026-09", "https://www.news.example/a", 25),
                            ("2026-10", "https://blog.example/b", 7),
                            ("2026-10", "https://partner.example/links?ref=acme", 2),
                            ("2026-10", "https://www.news.example/a", 38)]


def test_matomos_dashboard_export_has_translated_columns_and_needs_the_month() -> None:
    data = fixture("matomo-websites-ui-export.csv")
    with pytest.raises(BadAnalyticsFile, match="no date column"):
        matomo.parse(data)
    parsed = matomo.parse(data, OCT)
    assert rows(parsed) == [("2026-10", "blog.example", 9), ("2026-10", "news.example", 1204)]
    assert parsed.skipped == 1  # Others


@pytest.mark.parametrize(("name", "source"), [("ga4-traffic-acquisition-source-medium.csv", "ga4"),
                                              ("ga4-exploration-page-referrer-by-date.csv", "ga4"),
                                              ("matomo-referrers-getwebsites-flat-months.csv", "matomo"),
                                              ("matomo-websites-ui-export.csv", "matomo"),
                                              ("plausible-export/referrers.csv", "plausible")])
def test_the_tool_is_recognised_from_the_file(name: str, source: str) -> None:
    assert service.detect(fixture(name)) == source


def test_a_file_of_no_tool_is_refused_in_one_line() -> None:
    with pytest.raises(BadAnalyticsFile, match="not a GA4, Plausible or Matomo export"):
        service.parse_file(b"url,email\nhttps://a.example/,x@a.example\n")
    with pytest.raises(BadAnalyticsFile, match="empty"):
        service.parse_file(b"  \n")
    with pytest.raises(BadAnalyticsFile, match="damaged"):
        plausible.parse(b"PK\x03\x04not really a zip")


@pytest.mark.parametrize(("raw", "expected"), [
    ("https://www.news.example/a/", ("page", "news.example/a", "news.example")),
    ("news.example/a", ("page", "news.example/a", "news.example")),
    ("https://blog.example/", ("domain", "blog.example", "blog.example")),
    ("blog.example.co.uk / referral", ("domain", "blog.example.co.uk", "example.co.uk")),
    ("https://x.example/post/?utm_source=nl", ("page", "x.example/post", "x.example")),
    ("https://x.example/?p=12", ("page", "x.example?p=12", "x.example")),
    ("example.com/index", ("domain", "example.com", "example.com")),
    ("google / organic", None), ("(direct) / (none)", None), ("Direct / None", None), ("Google", None),
    ("Grand total", None)])
def test_a_referrer_reads_as_a_page_or_a_site(raw: str, expected: tuple[str, str, str] | None) -> None:
    found = referrer(raw)
    assert (None if found is None else (found.level, found.key, found.domain)) == expected
