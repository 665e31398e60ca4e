"""Domain checks per mailbox against a loopback DNS server: MX, SPF, DKIM, DMARC, https unsubscribe."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from outreach.config import DnsSettings
from outreach.lib.clock import utcnow
from outreach.mail.domain_checks import (
    Check,
    MailboxDomain,
    check_mailbox_domain,
    claim_domain_check,
    recheck_due,
    recheck_mailbox,
)
from outreach.mail.mailboxes import MailError
from outreach.models import Activity
from outreach.models.mail import Enrollment, Mailbox
from tests.contacts.dnsserver import DNSServer
from tests.mail.dns_records import DOMAIN, healthy, serving
from tests.mail.test_sending import enroll, fresh
from tests.race import race_rounds


def run(records: dict[tuple[str, str], list[str]], *, smtp_host: str = "127.0.0.1", selector: str = "s1",
        base_url: str = "https://app.agency.test") -> dict[str, Check]:
    with DNSServer(records) as server:
        settings = DnsSettings(nameservers=("127.0.0.1",), port=server.port, timeout=2.0)
        checks = check_mailbox_domain(MailboxDomain(f"sam@{DOMAIN}", smtp_host, selector), base_url, settings)
    return {c.name: c for c in checks}


def statuses(checks: dict[str, Check]) -> dict[str, str]:
    return {name: c.status for name, c in checks.items()}


def test_it_passes_a_domain_with_every_record_in_place() -> None:
    checks = run(healthy())
    assert statuses(checks) == {"mx": "pass", "spf": "pass", "dkim": "pass", "dmarc": "pass", "unsubscribe": "pass"}
    assert "1 of 10 lookups" in checks["spf"].detail
    assert "aligned via DKIM and SPF" in checks["dmarc"].detail


def test_it_fails_spf_that_does_not_authorise_the_smtp_host_and_gives_the_record_to_publish() -> None:
    checks = run(healthy(smtp_ip="127.0.0.5"))
    assert checks["spf"].status == "fail"
    assert "does not authorise 127.0.0.1" in checks["spf"].detail
    assert checks["spf"].fix == 'agency.test. TXT "v=spf1 include:_spf.mailhost.test ip4:127.0.0.1 -all"'


def test_it_resolves_a_and_mx_mechanisms_for_a_named_smtp_host() -> None:
    records = {**healthy(), (DOMAIN, "TXT"): ['"v=spf1 mx a:relay.agency.test -all"'],
               ("relay.agency.test", "A"): ["127.0.0.1"], ("smtp.agency.test", "A"): ["127.0.0.9"]}
    assert run(records, smtp_host="relay.agency.test")["spf"].status == "pass"
    assert run(records, smtp_host="smtp.agency.test")["spf"].status == "pass"  # 127.0.0.9 is the MX's address
    records[("other.agency.test", "A")] = ["127.0.0.77"]
    other = run(records, smtp_host="other.agency.test")["spf"]
    assert other.status == "fail" and "a:other.agency.test -all" in other.fix


def test_it_fails_spf_that_needs_more_than_ten_lookups() -> None:
    chain = {(f"n{i}.spf.test", "TXT"): [f'"v=spf1 include:n{i + 1}.spf.test -all"'] for i in range(11)}
    chain[("n11.spf.test", "TXT")] = ['"v=spf1 ip4:127.0.0.1 -all"']
    checks = run({**healthy(), **chain, (DOMAIN, "TXT"): ['"v=spf1 include:n0.spf.test -all"']})
    assert checks["spf"].status == "fail"
    assert "more than 10 DNS lookups" in checks["spf"].detail


def test_it_fails_a_missing_spf_two_spf_records_a_null_mx_and_no_mx() -> None:
    missing = run({**healthy(), (DOMAIN, "TXT"): ['"something-else"']})
    assert missing["spf"].status == "fail" and missing["spf"].fix == 'agency.test. TXT "v=spf1 ip4:127.0.0.1 -all"'
    two = run({**healthy(), (DOMAIN, "TXT"): ['"v=spf1 -all"', '"v=spf1 ip4:127.0.0.1 -all"']})
    assert two["spf"].status == "fail" and "2 SPF records" in two["spf"].detail
    null = run({**healthy(), (DOMAIN, "MX"): ["0 ."]})
    assert null["mx"].status == "fail" and "null MX" in null["mx"].detail
    records = healthy()
    del records[(DOMAIN, "MX")]
    assert run(records)["mx"].status == "fail"


def test_it_checks_the_given_dkim_selector_or_finds_a_common_one() -> None:
    assert run(healthy(), selector="s2")["dkim"].status == "fail"
    assert "s2._domainkey.agency.test. TXT" in run(healthy(), selector="s2")["dkim"].fix
    found = run(healthy(selector="google"), selector="")["dkim"]
    assert found.status == "pass" and "google._domainkey" in found.detail
    assert run(healthy(selector="unusual"), selector="")["dkim"].status == "warn"


def test_it_fails_a_missing_dmarc_and_warns_on_p_none() -> None:
    records = healthy()
    del records[(f"_dmarc.{DOMAIN}", "TXT")]
    missing = run(records)["dmarc"]
    assert missing.status == "fail"
    assert missing.fix == '_dmarc.agency.test. TXT "v=DMARC1; p=none; rua=mailto:dmarc-reports@agency.test"'
    records[(f"_dmarc.{DOMAIN}", "TXT")] = ['"v=DMARC1; p=none"']
    assert run(records)["dmarc"].status == "warn"


def test_dmarc_fails_when_neither_spf_nor_dkim_aligns() -> None:
    checks = run(healthy(smtp_ip="127.0.0.5"), selector="nope")
    assert checks["dmarc"].status == "fail" and "neither SPF nor DKIM" in checks["dmarc"].detail


def test_it_fails_an_http_base_url_for_one_click_unsubscribe() -> None:
    check = run(healthy(), base_url="http://app.agency.test")["unsubscribe"]
    assert check.status == "fail" and check.fix.startswith("[app] base_url = \"https://")


# --- stored, rechecked daily, guarding enrolment ----------------------------------------------------

def test_the_daily_tick_checks_due_mailboxes_once_a_day(app: Any, db: Session, monkeypatch: Any,
                                                        make_mailbox: Any, job_context: Any) -> None:
    box = make_mailbox()
    with serving(app, monkeypatch, healthy()):
        state = app.extensions["outreach"]
        assert recheck_due(state.sessionmaker, state.settings, state.secret_box) == 1
        assert recheck_due(state.sessionmaker, state.settings, state.secret_box) == 0  # not due before tomorrow
    fresh(db)
    box = db.get(Mailbox, box.id)
    assert [c["status"] for c in box.domain_checks] == ["pass"] * 5
    assert box.next_domain_check_at is not None and box.next_domain_check_at > utcnow()


def test_two_schedulers_check_each_due_mailbox_once(app: Any, db: Session, make_mailbox: Any) -> None:
    ids = [make_mailbox().id for _ in range(5)]

    def due_again() -> list[int]:
        db.execute(update(Mailbox).values(next_domain_check_at=None))
        db.commit()
        return ids

    def claim_each(session: Session) -> list[int]:
        now = utcnow()
        due = list(session.scalars(select(Mailbox.id).where(Mailbox.next_domain_check_at.is_(None))))
        session.commit()
        return [i for i in due if claim_domain_check(session, i, now) and not session.commit()]

    race_rounds(app.extensions["outreach"].sessionmaker, due_again, claim_each)


def test_enrolling_from_a_failing_domain_is_refused_unless_a_reason_is_given(
        app: Any, db: Session, monkeypatch: Any, make_mailbox: Any, outreach_campaign: Any) -> None:
    box = make_mailbox()
    campaign, prospects = outreach_campaign(box, n=2)
    state = app.extensions["outreach"]
    records = healthy()
    del records[(f"_dmarc.{DOMAIN}", "TXT")]
    with serving(app, monkeypatch, records):
        recheck_mailbox(db, box, state.settings, state.secret_box)
        db.commit()
    settings = state.settings
    from outreach.mail.sequences import enroll_prospects
    from outreach.mail.unsubscribe import signing_secret
    with pytest.raises(MailError, match=r"domain checks of Box \w+ fail \(DMARC: agency.test has no DMARC"):
        enroll_prospects(db, campaign, [p.id for p in prospects], settings, signing_secret(settings))
    db.rollback()
    assert db.scalar(select(Enrollment.id)) is None
    result = enroll_prospects(db, campaign, [p.id for p in prospects], settings, signing_secret(settings),
                              override_reason="DMARC added at the registrar, waiting for DNS")
    db.commit()
    assert len(result.enrolled) == 2
    notes = db.scalars(select(Activity).where(Activity.kind == "domain_check_overridden")).all()
    assert len(notes) == 2
    assert "Reason: DMARC added at the registrar, waiting for DNS" in notes[0].text
    assert notes[0].details["failing"] == ["dmarc"]


def test_a_passing_or_unchecked_mailbox_enrols_as_before(app: Any, db: Session, monkeypatch: Any,
                                                         make_mailbox: Any, outreach_campaign: Any) -> None:
    box = make_mailbox()
    campaign, prospects = outreach_campaign(box, n=1)
    assert len(enroll(db, app, campaign, prospects).enrolled) == 1  # never checked: not refused


def test_the_mailbox_page_shows_each_check_with_its_fix_and_checks_on_demand(
        app: Any, db: Session, monkeypatch: Any, make_mailbox: Any, team: Any, login: Any, outreach_campaign: Any
) -> None:
    box = make_mailbox()
    client = login(team["owner"])
    assert "Not checked yet" in client.get(f"/mail/mailboxes/{box.id}").get_data(as_text=True)
    with serving(app, monkeypatch, healthy(smtp_ip="127.0.0.5"), base_url="http://app.agency.test"):
        reply = client.post(f"/mail/mailboxes/{box.id}/domain", follow_redirects=True)
    page = reply.get_data(as_text=True)
    assert "Domain checks: SPF, UNSUBSCRIBE failing." in page
    assert 'TXT &#34;v=spf1 include:_spf.mailhost.test ip4:127.0.0.1 -all&#34;' in page
    campaign, prospects = outreach_campaign(box, n=1)
    tab = client.get(f"/campaigns/{campaign.id}/outreach").get_data(as_text=True)
    assert 'data-testid="override-reason"' in tab
    refused = client.post(f"/campaigns/{campaign.id}/outreach/enroll", data={"prospect_ids": [prospects[0].id]},
                          follow_redirects=True).get_data(as_text=True)
    assert "enrol anyway with a reason" in refused
    client.post(f"/campaigns/{campaign.id}/outreach/enroll",
                data={"prospect_ids": [prospects[0].id], "override_reason": "testing on a staging domain"})
    fresh(db)
    assert db.scalar(select(Enrollment.prospect_id)) == prospects[0].id
