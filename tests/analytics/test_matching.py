"""Stored figures match links by page, or by site when the export names only the site; a new file replaces its
months; two tools counting the same visits are not added up."""
from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outreach.analytics import service
from outreach.analytics.rows import BadAnalyticsFile, Parsed, Sessions
from outreach.backlinks.service import create_backlink
from outreach.models import AuditLog, Backlink, ReferralTraffic
from tests.analytics.conftest import fixture, plausible_zip

SEP, OCT, NOV = date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1)
TARGET = "https://acme.example/widgets"


@pytest.fixture
def links(db: Session, team: dict[str, Any]) -> dict[str, Backlink]:
    """Acme's links: one on news.example/a, two on blog.example (b and c), one not published yet."""
    made = {}
    for name, page in (("news", "https://www.news.example/a"), ("blog_b", "https://blog.example/b"),
                       ("blog_c", "https://blog.example/c"), ("unpublished", "")):
        made[name] = create_backlink(db, client_id=team["client"].id, campaign_id=team["campaign"].id,
                                     target_url=TARGET, page_url=page, site_url="https://zine.example/")
    db.commit()
    return made


def parsed(source: str, *rows: tuple[date, str, int], months: set[date] | None = None) -> Parsed:
    return Parsed(source, [Sessions(m, r, n) for m, r, n in rows], months or {m for m, _, _ in rows})


def traffic(db: Session, team: dict[str, Any], links: dict[str, Backlink]) -> service.Traffic:
    return service.traffic_for(db, team["client"].id, list(links.values()), SEP, NOV)


def test_a_page_row_matches_its_link_whatever_its_spelling(db: Session, team: dict[str, Any],
                                                          links: dict[str, Backlink]) -> None:
    service.store(db, team["client"].id, parsed("ga4", (OCT, "https://news.example/a/", 40),
                                                (OCT, "http://www.news.example/a?utm_source=x", 2),
                                                (SEP, "news.example/a", 31), (OCT, "news.example/other", 500)))
    found = traffic(db, team, links)
    assert found.link_series(links["news"].id) == [31, 42, 0]
    assert found.link_total(links["blog_b"].id) is None  # no figure at all for blog.example
    assert found.series == [(SEP, 31), (OCT, 42), (NOV, 0)]  # news.example/other is not one of Acme's links
    assert found.top_links() == [(links["news"].id, 73)]


def test_a_site_row_goes_to_the_sites_only_link_and_is_not_split_between_several(
        db: Session, team: dict[str, Any], links: dict[str, Backlink]) -> None:
    service.store(db, team["client"].id, parsed("ga4", (OCT, "news.example / referral", 84),
                                                (OCT, "blog.example / referral", 27)))
    found = traffic(db, team, links)
    assert found.link_total(links["news"].id) == 84
    assert found.link_total(links["blog_b"].id) is None and found.link_total(links["blog_c"].id) is None
    assert found.shared == {"blog.example": [links["blog_b"].id, links["blog_c"].id]}
    assert found.total == 84 + 27  # the client got the site's sessions all the same


def test_page_rows_of_a_source_win_over_its_site_rows(db: Session, team: dict[str, Any],
                                                      links: dict[str, Backlink]) -> None:
    service.store(db, team["client"].id, parsed("plausible", (OCT, "blog.example/b", 20), (OCT, "blog.example", 9)))
    found = traffic(db, team, links)
    assert found.link_total(links["blog_b"].id) == 20 and found.link_total(links["blog_c"].id) == 0
    assert found.shared == {}


def test_two_tools_counting_the_same_visits_are_not_added_up(db: Session, team: dict[str, Any],
                                                            links: dict[str, Backlink]) -> None:
    service.store(db, team["client"].id, parsed("ga4", (OCT, "https://www.news.example/a", 58)))
    service.store(db, team["client"].id, parsed("plausible", (OCT, "news.example/a", 52)))
    found = traffic(db, team, links)
    assert found.link_total(links["news"].id) == 58 and found.total == 58


def test_a_new_file_replaces_its_sources_months_only(db: Session, team: dict[str, Any],
                                                      links: dict[str, Backlink]) -> None:
    client_id = team["client"].id
    service.store(db, client_id, parsed("matomo", (SEP, "news.example/a", 25), (OCT, "news.example/a", 38)))
    service.store(db, client_id, parsed("ga4", (OCT, "news.example / referral", 84)))
    service.store(db, client_id, parsed("matomo", months={OCT}))  # October again, now with nothing from anywhere
    found = traffic(db, team, links)
    assert found.link_series(links["news"].id) == [25, 84, 0]
    assert db.scalar(select(func.count()).select_from(ReferralTraffic)) == 2


def test_an_import_is_stored_whole_and_audited_or_refused_whole(db: Session, team: dict[str, Any],
                                                                links: dict[str, Backlink]) -> None:
    summary = service.import_file(db, team["client"], plausible_zip(), filename="export.zip", actor=team["owner"])
    db.commit()
    assert (summary.source, summary.months, summary.referrers, summary.sessions) == ("plausible", [OCT], 4, 221)
    assert db.scalar(select(AuditLog.action).where(AuditLog.action == "analytics.import")) is not None
    with pytest.raises(BadAnalyticsFile):
        service.import_file(db, team["client"], fixture("ga4-traffic-acquisition-source-medium.csv").replace(
            b"84,61", b"8x,61"), actor=team["owner"])
    db.rollback()
    assert db.scalar(select(func.count()).select_from(ReferralTraffic).where(ReferralTraffic.source == "ga4")) == 0


def test_another_clients_figures_never_match(db: Session, team: dict[str, Any], links: dict[str, Backlink]) -> None:
    service.store(db, team["other_client"].id, parsed("ga4", (OCT, "https://www.news.example/a", 1000)))
    assert traffic(db, team, links).total == 0


def test_within_keeps_the_months_asked_for(db: Session, team: dict[str, Any], links: dict[str, Backlink]) -> None:
    service.store(db, team["client"].id, parsed("ga4", (SEP, "news.example/a", 31), (OCT, "news.example/a", 40)))
    october = traffic(db, team, links).within(OCT, date(2026, 10, 31))
    assert october.months == [OCT] and october.link_total(links["news"].id) == 40 and october.total == 40
