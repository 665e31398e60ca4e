"""The validation tick checks addresses that were added without a check."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import time_machine
from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from outreach.contacts.jobs import claim_lease, claim_unchecked, validate_unchecked
from outreach.jobs.ticks import JobContext
from outreach.lib.clock import utcnow
from outreach.models import Contact
from tests.contacts.dnsserver import DNSServer
from tests.jobs.killable import kill, start_tick, wait_until
from tests.race import race_rounds, together


def job_context(app: Flask, server: DNSServer) -> JobContext:
    state = app.extensions["outreach"]
    settings = state.settings.with_(dns={"nameservers": ["127.0.0.1"], "port": server.port, "timeout": 1.0,
                                         "cache_seconds": 0})
    return JobContext(settings=settings, sessionmaker=state.sessionmaker, secret_box=state.secret_box)


def test_it_checks_unchecked_contacts_once(app: Flask, db: Session, make_prospect: Any,
                                           dns_server: DNSServer) -> None:
    make_prospect(url="https://site.test/links", email="editor@site.test")
    make_prospect(url="https://nomx.test/links", email="editor@nomx.test")
    ctx = job_context(app, dns_server)
    assert validate_unchecked(ctx) == 2
    db.rollback()
    statuses = {c.email: (c.status, c.status_reason) for c in db.scalars(select(Contact))}
    assert statuses["editor@site.test"] == ("valid", "MX mx.site.test")
    assert statuses["editor@nomx.test"][0] == "invalid"
    assert validate_unchecked(ctx) == 0


def test_an_unknown_verdict_is_retried_a_day_later(app: Flask, db: Session, make_prospect: Any,
                                                   dns_server: DNSServer) -> None:
    make_prospect(url="https://slow.test/links", email="editor@slow.test")
    ctx = job_context(app, dns_server)
    assert validate_unchecked(ctx) == 1
    assert validate_unchecked(ctx) == 0
    with time_machine.travel(utcnow() + timedelta(days=1, minutes=1)):
        assert validate_unchecked(ctx) == 1


def test_two_ticks_claiming_at_once_claim_each_address_once(app: Flask, db: Session, make_prospect: Any) -> None:
    ids = [make_prospect(email=f"editor{i}@site.test").contact_id for i in range(7)]

    def unchecked_again() -> list[int]:
        db.execute(update(Contact).values(status="unchecked", check_claimed_at=None))
        db.commit()
        return ids

    race_rounds(app.extensions["outreach"].sessionmaker, unchecked_again,
                lambda session: claim_unchecked(session, 3))


def test_a_tick_told_to_stop_claims_no_more_addresses(app: Flask, db: Session, make_prospect: Any,
                                                      dns_server: DNSServer) -> None:
    for i in range(3):
        make_prospect(email=f"editor{i}@site.test")
    calls = iter([False, True])
    ctx = job_context(app, dns_server)
    ctx.stopping = lambda: next(calls, True)
    assert validate_unchecked(ctx) == 1
    db.rollback()
    rows = db.execute(select(Contact.status, Contact.check_claimed_at).order_by(Contact.id)).all()
    assert rows[0].status == "valid"
    assert [(r.status, r.check_claimed_at) for r in rows[1:]] == [("unchecked", None)] * 2
    assert validate_unchecked(job_context(app, dns_server)) == 2


def test_two_ticks_at_once_check_each_address_once(app: Flask, db: Session, make_prospect: Any,
                                                   dns_server: DNSServer) -> None:
    for i in range(6):
        make_prospect(email=f"editor{i}@site.test")
    ctx = job_context(app, dns_server)
    assert sum(together(lambda _: validate_unchecked(ctx))) == 6
    assert validate_unchecked(ctx) == 0


def test_a_killed_tick_keeps_each_verdict_and_the_next_tick_checks_only_the_rest(
        app: Flask, db: Session, make_prospect: Any, dns_server: DNSServer, tmp_path: Path) -> None:
    """SIGKILL mid-batch (a real process): the verdicts it reached are saved, the address it was checking is
    claimed again once its lease runs out, and nothing else is checked twice."""
    first = [make_prospect(email=f"editor{i}@site.test").contact_id for i in range(5)]
    stuck = make_prospect(email="editor@slow.test").contact_id  # slow.test never answers
    rest = [make_prospect(email=f"writer{i}@site.test").contact_id for i in range(3)]
    settings = app.extensions["outreach"].settings
    dns = {"nameservers": ["127.0.0.1"], "port": dns_server.port, "timeout": 30.0, "cache_seconds": 0}
    log = tmp_path / "tick.log"
    process = start_tick("contacts.validate", {"database": {"url": settings.database.url}, "dns": dns,
                                               "app": {"secret_key": settings.app.secret_key}}, log)

    def rows() -> dict[int, Any]:
        db.commit()
        return {r.id: r for r in db.execute(select(Contact.id, Contact.status, Contact.checked_at,
                                                   Contact.check_claimed_at))}

    try:
        wait_until(lambda: rows()[stuck].check_claimed_at is not None, process, log)
    finally:
        kill(process)
    before = rows()
    assert {before[i].status for i in first} == {"valid"}
    assert (before[stuck].status, before[stuck].checked_at) == ("unchecked", None)
    assert [(before[i].status, before[i].check_claimed_at) for i in rest] == [("unchecked", None)] * 3

    dns_server.silent.clear()  # the next tick gets its answers
    killed_at = utcnow()
    ctx = job_context(app, dns_server)
    ctx.settings = ctx.settings.with_(dns=dns)  # the same configuration: the same lease
    with time_machine.travel(killed_at, tick=False):
        assert validate_unchecked(ctx) == 3  # the stuck address is still leased to the dead tick
    with time_machine.travel(killed_at + claim_lease(ctx.settings.dns), tick=False):
        assert validate_unchecked(ctx) == 1
    after = rows()
    assert {i: after[i].checked_at for i in first} == {i: before[i].checked_at for i in first}
    assert after[stuck].status == "invalid"  # slow.test has no records: NXDOMAIN once it answers
    assert {after[i].status for i in rest} == {"valid"}
