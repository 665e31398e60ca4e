"""The referral traffic page: the team imports exports and connects Plausible or Matomo; client viewers cannot."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outreach.backlinks.service import create_backlink
from outreach.models import AnalyticsConnection, ReferralTraffic, User
from tests.analytics.conftest import fixture, plausible_zip
from tests.analytics.fakes import PLAUSIBLE_KEY, FakePlausible


@pytest.fixture
def plausible_web() -> Iterator[FakePlausible]:
    server = FakePlausible()
    yield server
    server.close()


def upload(client: FlaskClient, client_id: int, data: bytes, name: str, **fields: str) -> Any:
    import io

    fields = {"source": "", "month": "", **fields}
    return client.post(f"/clients/{client_id}/traffic/import", data={"file": (io.BytesIO(data), name), **fields},
                       content_type="multipart/form-data", follow_redirects=True)


def test_the_team_imports_an_export_and_sees_it_on_the_page_and_the_client_page(
        db: Session, login: Callable[[User], FlaskClient], team: dict[str, Any]) -> None:
    create_backlink(db, client_id=team["client"].id, target_url="https://acme.example/",
                    page_url="https://www.news.example/a")
    db.commit()
    browser = login(team["owner"])
    acme = team["client"].id
    html = upload(browser, acme, plausible_zip(), "Plausible export acme.example.zip").get_data(as_text=True)
    assert "Imported Plausible figures for Oct 2026: 4 referring pages and sites, 221 sessions" in html
    assert 'data-testid="coverage"' in html and "Oct 2026" in html
    client_page = browser.get(f"/clients/{acme}").get_data(as_text=True)
    assert "in the last 12 months: <strong>52</strong>" in client_page


def test_a_bad_file_is_refused_in_one_line_and_changes_nothing(db: Session, login: Callable[[User], FlaskClient],
                                                               team: dict[str, Any]) -> None:
    browser = login(team["owner"])
    response = upload(browser, team["client"].id, fixture("matomo-websites-ui-export.csv"), "websites.csv")
    assert response.status_code == 400
    assert "Nothing was imported: the file has no date column (one period was exported): say which month it " \
           "covers" in response.get_data(as_text=True)
    assert db.scalar(select(func.count()).select_from(ReferralTraffic)) == 0
    ok = upload(browser, team["client"].id, fixture("matomo-websites-ui-export.csv"), "websites.csv",
                month="2026-10")
    assert "Imported Matomo figures for Oct 2026" in ok.get_data(as_text=True)
    bad_month = upload(browser, team["client"].id, fixture("matomo-websites-ui-export.csv"), "websites.csv",
                       month="October")
    assert "month &#39;October&#39; is not like 2026-10" in bad_month.get_data(as_text=True)


def test_a_connection_is_made_pulled_now_and_never_shows_its_token(
        db: Session, login: Callable[[User], FlaskClient], team: dict[str, Any],
        plausible_web: FakePlausible) -> None:
    acme = team["client"].id
    with time_machine.travel(datetime(2026, 11, 5, 9, 0, tzinfo=UTC)):
        browser = login(team["owner"])
        response = browser.post(f"/clients/{acme}/traffic/connections", follow_redirects=True,
                                data={"kind": "plausible", "base_url": plausible_web.base, "site_id": "acme.example",
                                      "token": PLAUSIBLE_KEY})
        html = response.get_data(as_text=True)
        assert "Connected." in html and PLAUSIBLE_KEY not in html
        connection = db.scalar(select(AnalyticsConnection))
        pulled = browser.post(f"/analytics/connections/{connection.id}/pull", follow_redirects=True)
        text = pulled.get_data(as_text=True)
        assert "Pulled Nov 2025, Dec 2025" in text and "Oct 2026" in text and PLAUSIBLE_KEY not in text
        assert len(plausible_web.asked) == 12
        bad = browser.post(f"/clients/{acme}/traffic/connections",
                       data={"kind": "matomo", "base_url": "https://m.example", "site_id": "acme", "token": "t"})
        assert bad.status_code == 400 and "Matomo&#39;s site id is a number" in bad.get_data(as_text=True)
        browser.post(f"/analytics/connections/{connection.id}/delete")
    db.rollback()
    assert db.scalar(select(AnalyticsConnection)) is None
    assert db.scalar(select(func.count()).select_from(ReferralTraffic)) > 0  # the figures stay


def test_client_viewers_cannot_open_or_change_the_traffic_page(db: Session, login: Callable[[User], FlaskClient],
                                                               team: dict[str, Any]) -> None:
    viewer = login(team["viewer"])
    acme = team["client"].id
    assert viewer.get(f"/clients/{acme}/traffic").status_code == 403
    assert upload(viewer, acme, plausible_zip(), "x.zip").status_code == 403
    assert db.scalar(select(func.count()).select_from(ReferralTraffic)) == 0
