"""The client report's referral traffic, losses by reason and costs, in every format: web, CSV, PDF (read with
pdftotext), the shared link, the API, and in Chromium (a screenshot to look at)."""
from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from outreach.analytics import service as analytics
from outreach.backlinks.service import set_client_settings
from outreach.models import Backlink, User
from outreach.reports import service
from tests.analytics.conftest import fixture, plausible_zip
from tests.api.conftest import api_as
from tests.reports.conftest import OCTOBER

__all__ = ["api_as"]


@pytest.fixture
def valued(db: Session, team: dict[str, Any], history: dict[str, Backlink]) -> dict[str, Backlink]:
    """The history's links with GA4 (Sep and Oct, by page referrer) and Plausible (Oct) figures, and prices."""
    acme = team["client"]
    analytics.import_file(db, acme, fixture("ga4-exploration-page-referrer-by-date.csv"), actor=team["owner"])
    analytics.import_file(db, acme, plausible_zip(), filename="export.zip", actor=team["owner"])
    history["kept"].price, history["kept"].currency, history["kept"].payment_status = 150.0, "USD", "paid"
    history["lost"].price, history["lost"].currency = 90.0, "EUR"
    history["kept"].notes = "zqnote-price-negotiated-7f3a"
    db.commit()
    return history


def pdf_text(response: Any, tmp_path: Path) -> str:
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(response.data)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return " ".join(text.split())


def test_the_report_counts_referral_sessions_per_link_and_in_all(db: Session, team: dict[str, Any],
                                                                  valued: dict[str, Backlink]) -> None:
    report = service.build_report(db, team["client"], date_from=date(2026, 10, 1), date_to=date(2026, 10, 31))
    # news.example/a: GA4 58 (40 + 18 as "/a/"), Plausible 52 -> 58; blog.example/b: GA4 6, Plausible 20 -> 20
    by_page = {row.backlink.id: row.sessions for row in report.rows}
    assert by_page == {valued["kept"].id: 58, valued["lost"].id: 20, valued["pending"].id: None}
    assert report.referral_total == 78 and report.traffic.series == [(date(2026, 10, 1), 78)]
    assert [(row.backlink.id, n) for row, n in report.top_links] == [(valued["kept"].id, 58), (valued["lost"].id, 20)]
    assert report.losses == [("page_gone", "Page gone (404/410)", 1)]
    assert [r.reasons for r in report.rows if r.backlink.id == valued["lost"].id] == ["Page gone (404/410): HTTP 404"]
    spark = str(next(r.sparkline for r in report.rows if r.backlink.id == valued["kept"].id))
    assert spark.startswith('<svg') and "Nov 2025 to Oct 2026" in spark and "31, 58" in spark  # Sep then Oct
    assert report.costs == [] and not report.show_costs  # prices only when asked for


def test_costs_per_live_link_and_referring_domain_per_currency(db: Session, team: dict[str, Any],
                                                               valued: dict[str, Backlink]) -> None:
    report = service.build_report(db, team["client"], date_from=date(2026, 10, 1), date_to=date(2026, 10, 31),
                                  show_costs=True)
    assert [c.as_json() for c in report.costs] == [
        {"currency": "EUR", "spent": 90.0, "priced_links": 1, "live_links": 0, "referring_domains": 0,
         "per_live_link": None, "per_referring_domain": None},
        {"currency": "USD", "spent": 150.0, "priced_links": 1, "live_links": 1, "referring_domains": 1,
         "per_live_link": 150.0, "per_referring_domain": 150.0}]
    assert report.unpriced == 1
    valued["lost"].payment_status = "refunded"
    db.commit()
    again = service.build_report(db, team["client"], date_from=date(2026, 10, 1), date_to=date(2026, 10, 31),
                                 show_costs=True)
    assert [c.currency for c in again.costs] == ["USD"]


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) is not installed")
def test_the_pdf_has_the_referral_figures_the_top_links_and_the_losses_by_reason(
        db: Session, login: Callable[[User], FlaskClient], team: dict[str, Any], valued: dict[str, Backlink],
        tmp_path: Path) -> None:
    client = login(team["owner"])
    text = pdf_text(client.get(f"/reports/clients/{team['client'].id}/report.pdf?{OCTOBER}"), tmp_path)
    assert "referral sessions from these links" in text and "(78 in the period)" in text
    assert "Referral sessions per month" in text and "78 Oct 2026" in text  # the chart's bar, labelled
    assert "Top referring links" in text and "https://www.news.example/a 58" in text
    assert "https://blog.example/b 20" in text
    assert "Why links were lost in the period" in text and "Page gone (404/410) 1" in text
    assert "What each link is worth" in text and "https://www.news.example/a yes yes — — 58" in text
    assert "$150" not in text and "Cost of the links" not in text  # the client's copy: no prices by default
    set_client_settings(db, team["client"].id, live_check_days=None, is_monthly_report=True, is_costs_in_report=True)
    db.commit()
    text = pdf_text(client.get(f"/reports/clients/{team['client'].id}/report.pdf?{OCTOBER}"), tmp_path)
    assert "Cost of the links" in text and "$150 · paid" in text and "€90" in text
    assert "zqnote-price-negotiated-7f3a" not in text


def test_the_csv_has_sessions_and_reasons_and_prices_only_when_shown(
        db: Session, login: Callable[[User], FlaskClient], team: dict[str, Any], valued: dict[str, Backlink]) -> None:
    client = login(team["owner"])
    url = f"/reports/clients/{team['client'].id}/report.csv?{OCTOBER}"
    rows = list(csv.DictReader(io.StringIO(client.get(url).get_data(as_text=True))))
    assert [(r["page_url"], r["referral_sessions"], r["reason"]) for r in rows] == [
        ("https://www.news.example/a", "58", ""), ("https://blog.example/b", "20", "Page gone (404/410): HTTP 404"),
        ("https://zine.example/c", "", "")]
    assert "price" not in rows[0]
    set_client_settings(db, team["client"].id, live_check_days=None, is_monthly_report=True, is_costs_in_report=True)
    db.commit()
    rows = list(csv.DictReader(io.StringIO(client.get(url).get_data(as_text=True))))
    assert (rows[0]["price"], rows[0]["currency"], rows[0]["payment_status"]) == ("150.0", "USD", "paid")


def test_the_team_sees_prices_in_the_app_and_the_client_only_when_its_settings_say_so(
        db: Session, login: Callable[[User], FlaskClient], client: FlaskClient, team: dict[str, Any],
        valued: dict[str, Backlink]) -> None:
    url = f"/reports/clients/{team['client'].id}?{OCTOBER}"
    staff = login(team["owner"]).get(url).get_data(as_text=True)
    assert "Cost of the links" in staff and "$150" in staff and 'data-testid="costs-internal"' in staff
    assert 'data-testid="stat-referrals">78<' in staff
    share = service.create_share(db, team["client"], campaign=None, date_from=date(2026, 10, 1),
                                 date_to=date(2026, 10, 31), days_valid=7, actor=team["owner"])
    db.commit()
    token = service.share_token(share, "test-secret-key-not-for-production")
    client.post("/logout")
    viewer = login(team["viewer"]).get(url).get_data(as_text=True)
    shared = client.get(f"/r/{token}").get_data(as_text=True)
    for html in (viewer, shared):
        assert 'data-testid="stat-referrals">78<' in html and "Top referring links" in html
        assert "$150" not in html and "Cost of the links" not in html
        assert "zqnote-price-negotiated-7f3a" not in html


def test_the_api_report_has_the_referral_figures(db: Session, api_as: Any, team: dict[str, Any],
                                                 valued: dict[str, Backlink]) -> None:
    body = api_as(team["owner"]).get(f"/clients/{team['client'].id}/report", **{"from": "2026-10-01",
                                                                               "to": "2026-10-31"}).get_json()
    assert body["referral_sessions"] == 78
    assert body["referral_series"] == [{"month": "2026-10", "sessions": 78}]
    assert body["top_links"][0] == {"backlink_id": valued["kept"].id, "page": "https://www.news.example/a",
                                    "sessions": 58}
    assert body["losses_by_reason"] == [{"code": "page_gone", "label": "Page gone (404/410)", "count": 1}]
    assert body["costs"][1]["per_live_link"] == 150.0  # the team sees prices
    assert body["links"][0]["value"]["referral_sessions"] == 58
    viewer = api_as(team["viewer"]).get(f"/clients/{team['client'].id}/report", **{"from": "2026-10-01",
                                                                                  "to": "2026-10-31"}).get_json()
    assert viewer["referral_sessions"] == 78 and viewer["costs"] is None


@pytest.mark.browser
def test_a_staff_member_sees_the_referral_chart_and_top_links(db: Session, live_server: str, page: Any,
                                                              team: dict[str, Any], valued: dict[str, Backlink],
                                                              tmp_path: Path) -> None:
    from tests.conftest import PASSWORD

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server}/login")
    page.fill("#email", team["owner"].email)
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Log in')")
    page.goto(f"{live_server}/reports/clients/{team['client'].id}?{OCTOBER}")
    assert page.get_by_test_id("stat-referrals").inner_text() == "78"
    assert page.get_by_test_id("referrals").locator("svg rect").count() == 1
    assert page.get_by_test_id("top-links").locator("tbody tr").count() == 2
    assert page.get_by_test_id("value").locator("svg.sparkline").count() == 2  # none for the link without figures
    assert page.get_by_test_id("losses").inner_text().count("Page gone (404/410)") == 1
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    folder = os.environ.get("OUTREACH_SCREENSHOTS") or str(tmp_path)
    page.screenshot(path=os.path.join(folder, "report-link-value.png"), full_page=True)
