"""Client reports: figures over a date range, access, CSV, PDF (read back with pdftotext), shared links."""
from __future__ import annotations

import csv
import io
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.config import BacklinksSettings
from outreach.models import Backlink, ReportShare, User
from outreach.reports import service
from tests.reports.conftest import OCTOBER


def test_the_report_counts_won_live_lost_and_pending_in_the_range(db: Session, team: dict[str, Any],
                                                                  history: dict[str, Backlink]) -> None:
    report = service.build_report(db, team["client"], date_from=date(2026, 10, 1), date_to=date(2026, 10, 31))
    assert (report.won, report.live, report.lost, report.pending) == (2, 1, 1, 1)
    series = dict(report.series)
    assert series[date(2026, 10, 1)] == 0 and series[date(2026, 10, 2)] == 1
    assert series[date(2026, 10, 10)] == 2 and series[date(2026, 10, 20)] == 1
    assert dict(report.rel_split) == {"follow": 1, "nofollow": 0, "sponsored": 0, "ugc": 0}
    assert dict(report.anchors) == {'=HYPERLINK("x")': 1, "Acme": 1}
    assert [d for d, _, _ in report.domains] == ["news.example", "blog.example", "zine.example"]
    assert len(report.rows) == 3 and all("secret-other" not in r.page for r in report.rows)
    early = service.build_report(db, team["client"], date_from=date(2026, 10, 1), date_to=date(2026, 10, 5))
    assert (early.won, early.live, early.lost) == (1, 1, 0)


def test_the_chart_is_inline_svg(db: Session, team: dict[str, Any], history: dict[str, Backlink]) -> None:
    report = service.build_report(db, team["client"], date_from=date(2026, 10, 1), date_to=date(2026, 10, 31))
    assert str(report.chart).startswith("<svg") and "polyline" in str(report.chart)
    assert "follow" in str(report.rel_chart)


def test_bad_ranges_are_refused_with_a_reason() -> None:
    with pytest.raises(service.ReportError, match="after the end"):
        service.parse_range("2026-10-10", "2026-10-01")
    with pytest.raises(service.ReportError, match="2026-11-30"):
        service.parse_range("yesterday", None)


def test_the_csv_has_every_link_and_no_formulas(db: Session, login: Callable[[User], FlaskClient],
                                                team: dict[str, Any], history: dict[str, Backlink]) -> None:
    response = login(team["owner"]).get(f"/reports/clients/{team['client'].id}/report.csv?{OCTOBER}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["page_url"] for r in rows] == [h.page_url for h in (history["kept"], history["lost"], history["pending"])]
    assert rows[0]["anchor"] == "'=HYPERLINK(\"x\")" and rows[0]["status"] == "live" and rows[0]["follow"] == "yes"
    assert rows[1]["status"] == "lost" and rows[1]["lost_at"] == "2026-10-20"


def test_access_to_reports(db: Session, login: Callable[[User], FlaskClient], client: FlaskClient,
                           team: dict[str, Any], history: dict[str, Backlink]) -> None:
    acme, other = team["client"].id, team["other_client"].id
    assert client.get(f"/reports/clients/{acme}").status_code == 302  # login first
    viewer = login(team["viewer"])
    assert viewer.get("/reports").headers["Location"].endswith(f"/reports/clients/{acme}")
    html = viewer.get(f"/reports/clients/{acme}?from=2026-10-01&to=2026-10-31").get_data(as_text=True)
    assert "news.example" in html and "Create shareable link" not in html
    assert viewer.get(f"/reports/clients/{other}").status_code == 404
    assert viewer.get(f"/reports/clients/{other}/report.csv").status_code == 404
    assert viewer.get(f"/reports/clients/{acme}?campaign={team['other_campaign'].id}").status_code == 404
    assert viewer.post(f"/reports/clients/{acme}/shares", data={"days": 7}).status_code == 403


def test_the_app_report_shows_the_figures(db: Session, login: Callable[[User], FlaskClient], team: dict[str, Any],
                                          history: dict[str, Backlink]) -> None:
    client = login(team["owner"])
    html = client.get(f"/reports/clients/{team['client'].id}?from=2026-10-01&to=2026-10-31").get_data(as_text=True)
    assert 'data-testid="stat-won">2<' in html and 'data-testid="stat-lost">1<' in html
    assert "<svg" in html and "Create shareable link" in html
    bad = client.get(f"/reports/clients/{team['client'].id}?from=2026-13-01").get_data(as_text=True)
    assert "dates must look like 2026-11-30; showing the last 90 days instead." in bad


def test_a_shared_link_opens_without_an_account_until_revoked_or_expired(
        db: Session, login: Callable[[User], FlaskClient], client: FlaskClient, team: dict[str, Any],
        history: dict[str, Backlink]) -> None:
    owner = login(team["owner"])
    response = owner.post(f"/reports/clients/{team['client'].id}/shares",
                          data={"from": "2026-10-01", "to": "2026-10-31", "days": "7"})
    assert response.status_code == 302
    share = db.scalar(select(ReportShare))
    token = service.share_token(share, "test-secret-key-not-for-production")
    owner.post("/logout")
    opened = client.get(f"/r/{token}")
    html = opened.get_data(as_text=True)
    assert opened.status_code == 200 and "Link report: Acme Widgets" in html and "news.example" in html
    assert "secret-other" not in html and opened.headers["Cache-Control"] == "private, no-store"
    assert client.get(f"/r/{token}/report.csv").status_code == 200
    assert client.get(f"/r/{token[:-2]}xx").status_code == 404  # signature broken
    with time_machine.travel(datetime.now(UTC) + timedelta(days=8)):
        assert client.get(f"/r/{token}").status_code == 404  # expired
    login(team["owner"]).post(f"/reports/shares/{share.id}/revoke")
    assert client.get(f"/r/{token}").status_code == 404
    db.rollback()
    db.expire_all()
    assert db.get(ReportShare, share.id).open_count == 2


def test_share_validity_is_bounded(db: Session, login: Callable[[User], FlaskClient], team: dict[str, Any]) -> None:
    response = login(team["owner"]).post(f"/reports/clients/{team['client'].id}/shares", data={"days": "9999"},
                                         follow_redirects=True)
    assert "valid for 1 to 365 days" in response.get_data(as_text=True)
    assert db.scalar(select(ReportShare)) is None


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) is not installed")
def test_the_pdf_has_the_report_text(db: Session, login: Callable[[User], FlaskClient], team: dict[str, Any],
                                     history: dict[str, Backlink], tmp_path: Path) -> None:
    response = login(team["owner"]).get(f"/reports/clients/{team['client'].id}/report.pdf?{OCTOBER}")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(response.data)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "Link report: Acme Widgets" in text and "01 Oct 2026 – 31 Oct 2026" in text
    assert "Live links over time" in text and "news.example" in text and "blog.example" in text
    assert "links won in the period" in text and "secret-other" not in text


@pytest.mark.browser
def test_a_client_opens_the_shared_link_logged_out(db: Session, live_server: str, page: Any, team: dict[str, Any],
                                                   history: dict[str, Backlink], tmp_path: Path) -> None:
    share = service.create_share(db, team["client"], campaign=None, date_from=date(2026, 10, 1),
                                 date_to=date(2026, 10, 31), days_valid=30, actor=team["owner"])
    db.commit()
    url = f"{live_server}/r/{service.share_token(share, 'test-secret-key-not-for-production')}"
    page.goto(url)
    assert page.title() == "Link report: Acme Widgets"
    assert page.get_by_test_id("stat-won").inner_text() == "2"
    assert page.locator("svg.chart").count() == 2
    assert page.get_by_test_id("evidence").locator("tbody tr").count() == 3
    assert "Log in" not in page.content() and "secret-other" not in page.content()
    page.screenshot(path=str(tmp_path / "shared.png"), full_page=True)
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV").click()
    assert download.value.suggested_filename.endswith(".csv")


def test_monitoring_settings_are_saved_per_client_and_checked(db: Session, login: Callable[[User], FlaskClient],
                                                              team: dict[str, Any]) -> None:
    from outreach.models import ClientLinkSettings

    client = login(team["owner"])
    url = f"/reports/clients/{team['client'].id}/settings"
    bad = client.post(url, data={"live_check_days": "500", "is_monthly_report": "1"}, follow_redirects=True)
    assert "re-check live links every 1 to 90 days" in bad.get_data(as_text=True)
    assert db.scalar(select(ClientLinkSettings)) is None
    client.post(url, data={"live_check_days": "3"})
    db.rollback()  # a fresh snapshot
    saved = db.scalar(select(ClientLinkSettings))
    assert saved.live_check_days == 3 and saved.is_monthly_report is False
    client.post("/logout")
    assert login(team["viewer"]).post(url, data={"live_check_days": "3"}).status_code == 403


def test_the_live_links_chart_labels_each_gridline_with_its_true_value() -> None:
    import re
    from datetime import date

    from outreach.reports.service import live_chart_svg

    def labels(peak: int) -> list[str]:
        svg = str(live_chart_svg([(date(2026, 11, 24), 0), (date(2026, 11, 25), peak)]))
        return re.findall(r'text-anchor="end" fill="#667085">(\d+)</text>', svg)

    assert labels(1) == ["0", "1"]
    assert labels(3) == ["0", "3"]
    assert labels(4) == ["0", "2", "4"]


@pytest.fixture
def off_terms(db: Session, team: dict[str, Any], history: dict[str, Backlink]) -> Backlink:
    """A fourth link of Acme, found on Oct 15 with the wrong anchor (agreed "Acme widgets")."""
    from outreach.backlinks import service as backlinks
    from tests.reports.conftest import TARGET, live

    settings = BacklinksSettings(pending_check_hours=24, live_check_days=7, lost_after_failures=3,
                                 lost_after_hours=48)
    with time_machine.travel(datetime(2026, 10, 15, 12, 0, tzinfo=UTC), tick=False):
        link = backlinks.create_backlink(db, client_id=team["client"].id, campaign_id=team["campaign"].id,
                                         target_url=TARGET, page_url="https://reviews.example/d",
                                         agreed_anchor="Acme widgets")
        backlinks.apply_check(db, link, live(link.page_url, anchor="click here"), settings)
    db.commit()
    return link


def test_a_link_off_its_terms_is_counted_apart_from_live_in_every_format(
        db: Session, login: Callable[[User], FlaskClient], team: dict[str, Any], off_terms: Backlink) -> None:
    report = service.build_report(db, team["client"], date_from=date(2026, 10, 1), date_to=date(2026, 10, 31))
    assert (report.won, report.live, report.terms_not_met) == (2, 1, 1)
    assert dict(report.series)[date(2026, 10, 15)] == 2  # the chart draws links live on their terms only
    label = "Live – terms not met: anchor “click here”"
    assert [r.status_label for r in report.rows if r.backlink.id == off_terms.id] == [label]
    client = login(team["owner"])
    html = client.get(f"/reports/clients/{team['client'].id}?{OCTOBER}").get_data(as_text=True)
    assert 'data-testid="stat-terms-not-met">1<' in html and 'data-testid="stat-live">1<' in html
    assert label in html
    rows = list(csv.DictReader(io.StringIO(client.get(f"/reports/clients/{team['client'].id}/report.csv?{OCTOBER}")
                                           .get_data(as_text=True))))
    assert [(r["status"], r["status_text"]) for r in rows if r["page_url"] == off_terms.page_url] == [
        ("terms_not_met", label)]
    assert label in service.render_standalone(report, pdf=True)  # the HTML the PDF is printed from


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) is not installed")
def test_the_pdf_says_which_link_is_off_its_terms(db: Session, login: Callable[[User], FlaskClient],
                                                   team: dict[str, Any], off_terms: Backlink, tmp_path: Path) -> None:
    response = login(team["owner"]).get(f"/reports/clients/{team['client'].id}/report.pdf?{OCTOBER}")
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(response.data)
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "live, terms not met" in text and "Live – terms not met" in " ".join(text.split())
