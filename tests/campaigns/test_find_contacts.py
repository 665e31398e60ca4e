"""Find contacts from the prospect page: one click reads the prospect's site and shows what it found, checked."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from outreach.contacts.validation import CACHE
from outreach.models import Activity, Contact, Prospect
from tests.conftest import change_settings
from tests.contacts.conftest import build_linked_site
from tests.contacts.dnsserver import DNSServer
from tests.lib.testweb import TestWeb, send


@pytest.fixture
def site_dns(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The app's resolver is a DNS server on loopback that knows site.test."""
    CACHE.clear()
    with DNSServer({("site.test", "MX"): ["10 mx.site.test."]}) as server:
        change_settings(app, monkeypatch, dns=
                            {"nameservers": ["127.0.0.1"], "port": server.port, "timeout": 1.0, "cache_seconds": 0})
        yield
    CACHE.clear()


@pytest.fixture
def site() -> Iterator[TestWeb]:
    web = TestWeb("127.0.0.46")
    build_linked_site(web)
    yield web
    web.close()


def write_elsewhere(database_url: str, prospect_id: int) -> str:
    """Change the prospect from another connection, giving up after a second; "" when it could."""
    is_sqlite = database_url.startswith("sqlite")
    engine = create_engine(database_url, connect_args={"timeout": 1} if is_sqlite else {})
    try:
        with engine.begin() as conn:
            if not is_sqlite:
                conn.execute(text("SET LOCAL lock_timeout = '1s'"))
            conn.execute(text("UPDATE prospects SET position = position + 1 WHERE id = :id"), {"id": prospect_id})
        return ""
    except Exception as exc:  # whatever stopped the write is the test's message
        return str(exc).splitlines()[0]
    finally:
        engine.dispose()


@pytest.mark.usefixtures("site_dns")
def test_one_click_reads_the_prospects_site_and_shows_the_checked_addresses(
        login: Any, team: dict[str, Any], db: Session, make_prospect: Any, site: TestWeb,
        database_url: str) -> None:
    prospect = make_prospect(team["campaign"], site.url("/blog/post"))
    db.commit()
    writes: list[str] = []
    contact_page = site.routes["/de/kontakt"]

    def kontakt(req: Any) -> None:  # while the app reads the site, the database takes other writes
        writes.append(write_elsewhere(database_url, prospect.id))
        contact_page(req)
    site.routes["/de/kontakt"] = kontakt
    client = login(team["owner"])
    page = client.get(f"/prospects/{prospect.id}").get_data(as_text=True)
    assert f'action="/prospects/{prospect.id}/contacts/find#contact"' in page
    response = client.post(f"/prospects/{prospect.id}/contacts/find")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    found = html[html.index('data-testid="contacts-found"'):html.index('data-testid="site-contacts"')]
    assert "Read 4 page(s)" in found
    assert 'Jane Doe <span class="nowrap">jane@site.test</span>' in found
    assert 'Tom Baker <span class="nowrap">tom@site.test</span>' in found
    assert found.count(">valid</span>") == 2 and "/de/redaktion</a>" in found
    assert writes == [""]
    db.rollback()
    db.expire_all()
    names = dict(db.execute(select(Contact.email, Contact.name)).all())
    assert names == {"tom@site.test": "Tom Baker", "jane@site.test": "Jane Doe"}
    assert db.get(Prospect, prospect.id).contact.email == "tom@site.test"
    assert db.scalars(select(Activity.text).where(Activity.prospect_id == prospect.id, Activity.kind == "contact")
                      ).all() == [f"Contact set to tom@site.test, found on {site.url('/de/kontakt')}"]


def test_a_site_that_does_not_answer_is_said_so(login: Any, team: dict[str, Any], db: Session,
                                                make_prospect: Any) -> None:
    web = TestWeb("127.0.0.47")
    web.routes["/gone"] = lambda req: send(req, 500, "<html><body>oops</body></html>")
    try:
        prospect = make_prospect(team["campaign"], web.url("/gone"))
        db.commit()
        html = login(team["owner"]).post(f"/prospects/{prospect.id}/contacts/find").get_data(as_text=True)
    finally:
        web.close()
    assert f"Could not read {web.url('/gone')} (http_500)." in html


def test_only_staff_can_find_contacts(login: Any, team: dict[str, Any], db: Session, make_prospect: Any,
                                      site: TestWeb) -> None:
    prospect = make_prospect(team["campaign"], site.url("/blog/post"))
    db.commit()
    client = login(team["viewer"])
    assert 'data-testid="find-contacts"' not in client.get(f"/prospects/{prospect.id}").get_data(as_text=True)
    assert client.post(f"/prospects/{prospect.id}/contacts/find").status_code == 403
    assert sum(site.hits.values()) == 0
