"""One conflict decision: an override given when a site or contact was added holds at enrolment and at send
time; a conflict that arises later is not covered; unsubscribes are never overridden."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from outreach.campaigns.contact_rules import ContactRules, ProspectConflict, add_suppression, suppress
from outreach.campaigns.service import add_prospect, set_contact
from outreach.mail.jobs import send_due
from outreach.mail.sequences import configure_campaign
from outreach.models import Activity, Contact, Prospect
from outreach.models.mail import Message
from tests.mail.test_sending import enroll, fresh


@pytest.fixture
def second(db, team, make_campaign, make_sequence):  # type: ignore[no-untyped-def]
    """A second campaign of the same client, with a sequence and the local outbox."""
    campaign = make_campaign(team["client"], "Second campaign")
    configure_campaign(db, campaign, None, make_sequence().id)
    db.commit()
    return campaign


def statuses(db):  # type: ignore[no-untyped-def]
    fresh(db)
    return [m.status for m in db.scalars(select(Message).order_by(Message.id))]


def test_a_site_added_despite_another_campaign_is_enrolled_and_emailed(app, db, team, second, job_context):
    add_prospect(db, team["campaign"], "https://busy.test/links", email="al@busy.test", contact_name="Al Busy")
    with pytest.raises(ProspectConflict, match=r"busy\.test is already in campaign “Acme resource pages”"):
        add_prospect(db, second, "https://busy.test/other", email="al@busy.test")
    again = add_prospect(db, second, "https://busy.test/other", email="al@busy.test", contact_name="Al Busy",
                         override_reason="the client wants both pitches")
    db.commit()
    result = enroll(db, app, second, [again], now=None)
    assert result.refused == [] and result.enrolled == [again]
    assert send_due(job_context) == 1
    assert statuses(db)[0] == "sent"


def test_a_do_not_contact_domain_overridden_when_added_is_enrolled_and_emailed(app, db, second, job_context):
    add_suppression(db, "legal.test", note="ask legal first")
    prospect = add_prospect(db, second, "https://legal.test/page", email="ed@legal.test", contact_name="Ed",
                            override_reason="legal approved on 2026-12-01")
    db.commit()
    assert prospect.overridden == ["dnc:domain:legal.test"]
    assert enroll(db, app, second, [prospect], now=None).refused == []
    assert send_due(job_context) == 1
    assert statuses(db)[0] == "sent"


def test_a_contact_set_despite_a_failed_check_keeps_its_override_at_enrolment(app, db, second):
    db.add(Contact(email="info@odd.test", status="invalid", status_reason="no MX record"))
    prospect = add_prospect(db, second, "https://odd.test/")
    with pytest.raises(ProspectConflict, match=r"info@odd\.test failed its check"):
        set_contact(db, prospect, "info@odd.test")
    set_contact(db, prospect, "info@odd.test", name="Info", override_reason="their MX came back")
    db.commit()
    assert enroll(db, app, second, [prospect], now=None).enrolled == [prospect]
    override = db.scalar(select(Activity).where(Activity.prospect_id == prospect.id, Activity.kind == "override"))
    assert override.details["keys"] == ["invalid:info@odd.test"]


def test_an_override_does_not_cover_an_unsubscribe_that_came_later(app, db, second, job_context):
    add_suppression(db, "legal.test")
    prospect = add_prospect(db, second, "https://legal.test/page", email="ed@legal.test", contact_name="Ed",
                            override_reason="approved")
    db.commit()
    enroll(db, app, second, [prospect], now=None)
    suppress(db, "ed@legal.test", "unsubscribed", "asked")
    db.commit()
    assert send_due(job_context) == 0
    fresh(db)
    message = db.scalar(select(Message))
    assert message.status == "cancelled" and message.status_reason == "ed@legal.test unsubscribed (asked)"


def test_an_unsubscribed_address_is_never_enrolled_whatever_the_override(app, db, second):
    suppress(db, "gone@gone.test", "unsubscribed", "")
    with pytest.raises(ProspectConflict, match=r"^gone@gone\.test unsubscribed$"):
        add_prospect(db, second, "https://gone.test/", email="gone@gone.test")
    prospect = add_prospect(db, second, "https://gone.test/", email="gone@gone.test", override_reason="please")
    db.commit()
    result = enroll(db, app, second, [prospect], now=None)
    assert result.refused == [(prospect, "gone@gone.test unsubscribed")]


def test_bulk_and_single_answers_agree(db, team, second):
    add_prospect(db, team["campaign"], "https://busy.test/links", email="al@busy.test")
    add_suppression(db, "blocked.test")
    suppress(db, "x@free.test", "bounced", "550")
    sites = [add_prospect(db, team["other_campaign"], f"https://{d}/", override_reason="test").site
             for d in ("busy.test", "blocked.test", "free.test")]
    emails = ["al@busy.test", "y@blocked.test", "x@free.test"]
    rules = ContactRules(db, campaign_id=second.id).load(sites, emails)
    for site, email in zip(sites, emails, strict=True):
        single = ContactRules(db, campaign_id=second.id).load([site], [email]).conflicts(site, email)
        assert rules.conflicts(site, email) == single and single


def test_an_override_given_at_import_holds_at_enrolment(app, db, second):
    from outreach.campaigns.imports import service as importer

    add_suppression(db, "legal.test", note="ask legal first")
    parsed = importer.parse_csv(b"URL,Email,Name\nhttps://legal.test/page,ed@legal.test,Ed Legal\n")
    plan = importer.plan_import(db, second, parsed, importer.guess_mapping(parsed.headers))
    assert [r.conflicts for r in plan.conflicted] == [["legal.test is on the do-not-contact list (ask legal first)"]]
    importer.import_rows(db, second, plan, override_reason="legal approved")
    db.commit()
    prospect = db.scalar(select(Prospect).where(Prospect.campaign_id == second.id))
    assert prospect.overridden == ["dnc:domain:legal.test"]
    assert enroll(db, app, second, [prospect], now=None).enrolled == [prospect]


def test_refusals_of_many_prospects_agree_with_each_and_take_no_query_per_prospect(app, db, team, second):
    from sqlalchemy import event
    from sqlalchemy.orm import selectinload

    from outreach.mail.sequences import refusal, refusals

    add_prospect(db, team["campaign"], "https://busy.test/links", email="al@busy.test")
    bounced = add_prospect(db, second, "https://free.test/", email="x@free.test", contact_name="X")
    busy = add_prospect(db, second, "https://busy.test/other", email="al@busy.test", contact_name="Al",
                        override_reason="both pitches")  # overridden when added: not a refusal
    nobody = add_prospect(db, second, "https://nobody.test/")
    enrolled = add_prospect(db, second, "https://done.test/", email="ed@done.test", contact_name="Ed")
    db.commit()
    enroll(db, app, second, [enrolled], now=None)
    suppress(db, "x@free.test", "bounced", "550")
    fine = [add_prospect(db, second, f"https://fine{i}.test/", email=f"ed@fine{i}.test") for i in range(20)]
    db.commit()
    few = [bounced, busy, nobody, enrolled]
    expected = {bounced.id: "x@free.test bounced (550)", busy.id: None, nobody.id: "no contact address yet",
                enrolled.id: "already enrolled in this campaign's sequence"}
    assert refusals(db, few) == expected == {p.id: refusal(db, p) for p in few}
    engine = app.extensions["outreach"].engine
    counts = []
    # loaded with their sites and contacts, as enrolment and the campaign page load them
    loaded = {p.id: p for p in db.scalars(select(Prospect).where(Prospect.campaign_id == second.id)
                                          .options(selectinload(Prospect.site), selectinload(Prospect.contact)))}
    statements: list[str] = []

    def listener(*args):  # type: ignore[no-untyped-def]
        statements.append(args[2])

    for prospects in ([loaded[p.id] for p in few], [loaded[p.id] for p in few + fine]):
        statements.clear()
        event.listen(engine, "before_cursor_execute", listener)
        try:
            assert refusals(db, prospects) == {**expected, **{p.id: None for p in prospects[4:]}}
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        counts.append(len(statements))
    assert counts[0] == counts[1], counts
