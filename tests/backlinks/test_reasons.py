"""Why a link is lost or worth less, in plain words: from what the real checker sees on a test web, to the link
page, the alert email, the API, the report (losses grouped by reason) and the reclaim email."""
from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.backlinks import reasons
from outreach.backlinks.jobs import check_due
from outreach.backlinks.verify import verify
from outreach.config import Settings
from outreach.jobs.ticks import JobContext
from outreach.models import BacklinkCheck, BacklinkEvent, Prospect, User
from tests.backlinks.conftest import TARGET
from tests.backlinks.test_monitoring import ARTICLE, LINK, backlink_of, clock, outbox, promised, publish
from tests.lib.testweb import TestWeb

__all__ = ["clock", "promised"]
pytestmark = pytest.mark.usefixtures("empty_outbox")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.32", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(("setup", "code", "seen"), [
    (lambda web: web.page("/p", ARTICLE.format(head="", body="<p>Edited</p>")), "link_removed",
     "the page answers but no longer links to the target"),
    (lambda web: web.page("/p", "Not here", status=404), "page_gone", "HTTP 404"),
    (lambda web: web.page("/p", "Gone", status=410), "page_gone", "HTTP 410"),
    (lambda web: (web.redirect("/p", "/"), web.page("/", ARTICLE.format(head="", body="<p>Home</p>"))),
     "redirected", None),
    (lambda web: (web.redirect("/p", "/other"), web.page("/other", ARTICLE.format(head="", body="<p>x</p>"))),
     "redirected", None),
    (lambda web: web.page("/p", "Are you a robot?", status=403), "blocked", "HTTP 403"),
    (lambda web: web.page("/p", "Slow down", status=429), "blocked", "HTTP 429"),
    (lambda web: web.page("/p", "Down for maintenance", status=503), "unreachable", "HTTP 503"),
])
def test_a_checks_outcome_reads_as_a_plain_reason(web: TestWeb, settings: Settings, setup: Callable[[TestWeb], Any],
                                                  code: str, seen: str | None) -> None:
    setup(web)
    result = verify(web.url("/p"), TARGET, settings)
    assert result.status != "live"
    reason = reasons.of_check(result)
    assert reason.code == code
    assert reason.seen == (seen if seen is not None else f"to {result.final_url}")


def test_a_page_that_does_not_answer_is_unreachable(settings: Settings) -> None:
    reason = reasons.of_check(verify(f"http://127.0.0.32:{_closed_port()}/p", TARGET, settings))
    assert (reason.code, reason.seen, reason.label) == ("unreachable", "the server refused the connection",
                                                       "Page unreachable")


@pytest.mark.parametrize(("head", "body", "anchor", "codes"), [
    ('<meta name="robots" content="noindex">', LINK, None, ["noindex"]),
    ('<link rel="canonical" href="https://elsewhere.example/original">', LINK, None, ["canonical"]),
    ("", f'<a href="{TARGET}" rel="sponsored">Acme widgets</a>', None, ["rel"]),
    ("", f'<a href="{TARGET}">click here</a>', "Acme widgets", ["anchor"]),
])
def test_what_weakens_a_link_on_its_page_reads_as_plain_reasons(web: TestWeb, settings: Settings, head: str,
                                                                body: str, anchor: str | None,
                                                                codes: list[str]) -> None:
    from outreach.backlinks.terms import unmet_terms

    web.page("/p", ARTICLE.format(head=head, body=body))
    result = verify(web.url("/p"), TARGET, settings, anchor=anchor)
    assert result.status == "live"
    found = reasons.degradations(unmet_terms(result, anchor or "", "follow"), result.problems)
    assert [r.code for r in found] == codes
    assert found[0].label in reasons.LABELS.values()


def test_a_lost_link_keeps_its_reason_and_every_face_says_it(
        db: Session, web: TestWeb, ctx: JobContext, promised: Prospect, clock: time_machine.Coordinates,
        login: Callable[[User], FlaskClient]) -> None:
    publish(web)
    check_due(ctx)
    web.page("/article", "Gone", status=410)
    for days in (7, 1, 1):  # three failed checks over two days
        clock.shift(timedelta(days=days))
        check_due(ctx)
    backlink = backlink_of(db, promised)
    assert (backlink.status, backlink.lost_reason) == ("lost", "page_gone")
    lost = db.scalar(select(BacklinkEvent).where(BacklinkEvent.kind == "lost"))
    assert lost.reason == "page_gone" and lost.text.endswith(": Page gone (404/410): HTTP 410")
    alert = outbox(ctx)[-1]
    assert alert["Subject"].startswith("Link lost")
    assert "Why:      Page gone (404/410)" in alert.get_body(("plain",)).get_content()
    owner = db.get(User, promised.owner_id)
    html = login(owner).get(f"/backlinks/{backlink.id}").get_data(as_text=True)
    assert "Why it was lost:" in html and "Page gone (404/410): HTTP 410" in html
    ledger = login(owner).get("/backlinks").get_data(as_text=True)
    assert 'data-testid="link-reason">Page gone (404/410)<' in ledger
    # the link comes back: no reason any more
    publish(web)
    clock.shift(timedelta(days=7))
    check_due(ctx)
    assert backlink_of(db, promised).lost_reason == ""


def test_a_link_that_turns_sponsored_says_so_in_its_event(db: Session, web: TestWeb, ctx: JobContext,
                                                          promised: Prospect,
                                                          clock: time_machine.Coordinates) -> None:
    publish(web)
    check_due(ctx)
    publish(web, body=f'<a href="{TARGET}" rel="sponsored">Acme widgets</a>')
    clock.shift(timedelta(days=7))
    check_due(ctx)
    backlink = backlink_of(db, promised)
    assert backlink.status == "terms_not_met"
    event = db.scalar(select(BacklinkEvent).where(BacklinkEvent.kind == "terms_not_met"))
    assert event.reason == "rel"
    assert [r.detail for r in reasons.why(backlink, None)] == ["Now nofollow/sponsored/ugc: now sponsored"]


def test_losses_group_by_reason_with_unknown_last() -> None:
    assert reasons.grouped(["page_gone", "", "link_removed", "page_gone"]) == [
        ("link_removed", "Link removed", 1), ("page_gone", "Page gone (404/410)", 2),
        ("unknown", "Reason not recorded", 1)]


def test_a_check_that_could_not_read_the_page_does_not_say_why_a_link_was_lost(
        db: Session, web: TestWeb, ctx: JobContext, promised: Prospect, clock: time_machine.Coordinates) -> None:
    publish(web)
    check_due(ctx)
    publish(web, body="<p>Edited</p>")
    for days in (7, 1, 1):
        clock.shift(timedelta(days=days))
        check_due(ctx)
    backlink = backlink_of(db, promised)
    latest = db.scalars(select(BacklinkCheck).order_by(BacklinkCheck.id.desc())).first()
    assert [r.detail for r in reasons.why(backlink, latest)] == [
        "Link removed: the page answers but no longer links to the target"]
    publish(web, body="<div>" * 1_000 + "<p>too deep to read</p>")
    clock.shift(timedelta(days=7))
    check_due(ctx)
    backlink = backlink_of(db, promised)
    latest = db.scalars(select(BacklinkCheck).order_by(BacklinkCheck.id.desc())).first()
    assert latest.status == "unknown" and backlink.status == "lost"
    assert [r.detail for r in reasons.why(backlink, latest)] == ["Link removed"]  # not what this check saw
