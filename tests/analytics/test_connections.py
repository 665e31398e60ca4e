"""Connections: the monthly pull from a fake Plausible and a fake Matomo on loopback, through the guarded fetcher,
claimed so that two schedulers never pull the same connection."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
import time_machine
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from outreach.analytics import connections, jobs, service
from outreach.jobs.schedule import tick_by_id
from outreach.jobs.ticks import JobContext
from outreach.models import AnalyticsConnection, Backlink, ReferralTraffic
from tests.analytics.fakes import MATOMO_TOKEN, PLAUSIBLE_KEY, FakeMatomo, FakePlausible
from tests.race import race_rounds

NOW = datetime(2026, 11, 5, 9, 0, tzinfo=UTC)
SEP, OCT = date(2026, 9, 1), date(2026, 10, 1)


@pytest.fixture
def plausible_web() -> Iterator[FakePlausible]:
    server = FakePlausible()
    yield server
    server.close()


@pytest.fixture
def matomo_web() -> Iterator[FakeMatomo]:
    server = FakeMatomo()
    yield server
    server.close()


@pytest.fixture
def news_link(db: Session, team: dict[str, Any]) -> Backlink:
    from outreach.backlinks.service import create_backlink

    link = create_backlink(db, client_id=team["client"].id, campaign_id=team["campaign"].id,
                           target_url="https://acme.example/widgets", page_url="https://www.news.example/a")
    create_backlink(db, client_id=team["client"].id, campaign_id=team["campaign"].id,
                    target_url="https://acme.example/widgets", page_url="https://blog.example/b")
    db.commit()
    return link


def connect(db: Session, ctx: JobContext, team: dict[str, Any], kind: str, base_url: str, site_id: str,
            token: str) -> AnalyticsConnection:
    with time_machine.travel(NOW, tick=False):
        connection = connections.create_connection(db, ctx.secret_box, team["client"], kind=kind,
                                                   base_url=base_url, site_id=site_id, token=token,
                                                   actor=team["owner"])
    db.commit()
    return connection


def sessions(db: Session, link: Backlink, months: tuple[date, ...] = (SEP, OCT)) -> list[int]:
    db.rollback()
    found = service.traffic_for(db, link.client_id, [link], months[0], months[-1])
    return found.link_series(link.id)


def test_the_monthly_tick_pulls_plausible_and_schedules_the_next_month(
        db: Session, ctx: JobContext, team: dict[str, Any], news_link: Backlink,
        plausible_web: FakePlausible) -> None:
    connection = connect(db, ctx, team, "plausible", plausible_web.base, "acme.example", PLAUSIBLE_KEY)
    with time_machine.travel(NOW, tick=False):
        assert jobs.pull_due(ctx) == 1
        assert jobs.pull_due(ctx) == 0  # pulled: due again next month
    # one request per complete month: the twelve before November 2026
    assert [q["date"][0] for q in plausible_web.asked] == [f"{y}-{m:02d}-01" for y, m in
                                                          [(2025, 11), (2025, 12)] + [(2026, i) for i in range(1, 11)]]
    assert {q["period"][0] for q in plausible_web.asked} == {"month"}
    assert sessions(db, news_link) == [33, 61]  # Plausible's visits (the fixture's "visits")
    db.refresh(connection)
    assert (connection.pulled_through, connection.last_error, connection.claimed_until) == (OCT, "", None)
    assert connection.next_pull_at == datetime(2026, 12, 1, connections.PULL_HOUR, tzinfo=UTC)
    with time_machine.travel(datetime(2026, 12, 1, 15, 0, tzinfo=UTC), tick=False):
        assert jobs.pull_due(ctx) == 1
    assert [q["date"][0] for q in plausible_web.asked[12:]] == ["2026-11-01"]  # only the month since


def test_matomo_is_pulled_in_one_post_with_the_token_in_the_body(
        db: Session, ctx: JobContext, team: dict[str, Any], news_link: Backlink, matomo_web: FakeMatomo) -> None:
    connect(db, ctx, team, "matomo", matomo_web.url("/matomo/"), "3", MATOMO_TOKEN)
    with time_machine.travel(NOW, tick=False):
        assert jobs.pull_due(ctx) == 1
    [asked] = matomo_web.asked
    assert asked["_method"] == ["POST"] and asked["_query"] == []  # nothing secret in the URL
    assert (asked["idSite"], asked["flat"], asked["format"]) == (["3"], ["1"], ["JSON"])
    assert asked["date"] == ["2025-11-01,2026-10-31"]
    assert sessions(db, news_link) == [25, 38]


def test_a_refused_pull_keeps_its_error_and_is_tried_again_later(
        db: Session, ctx: JobContext, team: dict[str, Any], news_link: Backlink, plausible_web: FakePlausible,
        matomo_web: FakeMatomo) -> None:
    bad_key = connect(db, ctx, team, "plausible", plausible_web.base, "acme.example", "wrong-key")
    bad_token = connect(db, ctx, team, "matomo", matomo_web.url("/matomo/index.php"), "3", "wrong-token")
    with time_machine.travel(NOW, tick=False):
        assert jobs.pull_due(ctx) == 0
    db.expire_all()
    assert bad_key.last_error.startswith("Plausible answered HTTP 401: Invalid API key")
    assert bad_key.last_error.endswith("check the API key and the site's domain")
    assert bad_token.last_error.startswith("Matomo refused: You can't access this resource")
    assert bad_key.next_pull_at == NOW + connections.RETRY_AFTER and bad_key.pulled_through is None
    assert db.scalar(select(ReferralTraffic.id)) is None


def test_a_pull_goes_through_the_ssrf_guard(db: Session, ctx: JobContext, team: dict[str, Any],
                                            news_link: Backlink, plausible_web: FakePlausible) -> None:
    connection = connect(db, ctx, team, "plausible", plausible_web.base, "acme.example", PLAUSIBLE_KEY)
    guarded = JobContext(settings=ctx.settings.with_(crawl={"allow_private_addresses": False}),
                         sessionmaker=ctx.sessionmaker, secret_box=ctx.secret_box)
    with time_machine.travel(NOW, tick=False):
        assert jobs.pull_due(guarded) == 0
    db.refresh(connection)
    assert "private, loopback or link-local address" in connection.last_error
    assert plausible_web.asked == []


def test_the_token_is_stored_encrypted(db: Session, ctx: JobContext, team: dict[str, Any],
                                       plausible_web: FakePlausible) -> None:
    connection = connect(db, ctx, team, "plausible", plausible_web.base, "acme.example", PLAUSIBLE_KEY)
    stored = db.execute(text("SELECT token_encrypted FROM analytics_connections")).scalar_one()
    assert PLAUSIBLE_KEY not in stored and ctx.secret_box.decrypt(connection.token_encrypted) == PLAUSIBLE_KEY


@pytest.mark.parametrize(("kind", "url", "site", "token", "message"), [
    ("plausible", "ftp://plausible.example", "acme.example", "k", "not an http"),
    ("plausible", "https://plausible.example", "acme example", "k", "the site's domain"),
    ("matomo", "https://matomo.example", "acme.example", "k", "idSite"),
    ("matomo", "https://matomo.example", "3", "two\r\nlines", "one line"),
    ("ga4", "https://analytics.google.com", "1", "k", "choose Plausible or Matomo")])
def test_a_bad_connection_is_refused_in_one_line(db: Session, ctx: JobContext, team: dict[str, Any], kind: str,
                                                 url: str, site: str, token: str, message: str) -> None:
    with pytest.raises(connections.BadConnection, match=message):
        connections.create_connection(db, ctx.secret_box, team["client"], kind=kind, base_url=url, site_id=site,
                                      token=token)
    db.rollback()
    assert db.scalar(select(AnalyticsConnection.id)) is None


def test_the_pull_is_a_declared_tick() -> None:
    tick = tick_by_id("analytics.pull")
    assert tick is not None and tick.func is jobs.pull_due


def test_two_schedulers_claiming_at_once_take_each_due_connection_once(app: Any, db: Session, ctx: JobContext,
                                                                      team: dict[str, Any]) -> None:
    def due() -> list[int]:
        made = [connections.create_connection(db, ctx.secret_box, team["client"], kind="matomo",
                                              base_url="https://matomo.example", site_id=str(i), token="t")
                for i in range(5)]
        db.commit()
        return [c.id for c in made]

    race_rounds(app.extensions["outreach"].sessionmaker, due,
                lambda session: connections.claim_due(session, limit=2), rounds=5)


def test_pull_now_and_a_scheduled_pull_never_hold_the_same_connection(
        db: Session, ctx: JobContext, team: dict[str, Any], plausible_web: FakePlausible) -> None:
    connection = connect(db, ctx, team, "plausible", plausible_web.base, "acme.example", PLAUSIBLE_KEY)
    with ctx.sessionmaker() as session:
        assert connections.claim_due(session, limit=5) == [connection.id]
        session.commit()
    outcome = connections.pull_now(ctx.settings, ctx.sessionmaker, ctx.secret_box, connection.id)
    assert outcome is None and plausible_web.asked == []  # the scheduler's claim holds it


def test_an_edit_keeps_the_token_unless_a_new_one_is_given_and_another_site_is_pulled_afresh(
        db: Session, ctx: JobContext, team: dict[str, Any], plausible_web: FakePlausible) -> None:
    connection = connect(db, ctx, team, "plausible", plausible_web.base, "acme.example", PLAUSIBLE_KEY)
    connection.pulled_through = OCT
    connections.update_connection(db, ctx.secret_box, connection, base_url=plausible_web.base,
                                  site_id="acme.example", token="")
    assert ctx.secret_box.decrypt(connection.token_encrypted) == PLAUSIBLE_KEY and connection.pulled_through == OCT
    connections.update_connection(db, ctx.secret_box, connection, base_url=plausible_web.base,
                                  site_id="shop.acme.example", token="new-key")
    db.commit()
    assert ctx.secret_box.decrypt(connection.token_encrypted) == "new-key" and connection.pulled_through is None
