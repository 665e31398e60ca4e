"""Template tests: variants of a step, the letter each enrolment gets, rendering from it, and per-letter results
counted from real sends (aiosmtpd), replies and bounces (Dovecot) and unsubscribes (the one-click route)."""
from __future__ import annotations

import re
import uuid
from collections import Counter
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.jobs.ticks import JobContext
from outreach.mail.jobs import poll_mailboxes, send_due
from outreach.mail.mailboxes import MailError
from outreach.mail.sequences import StepInput, delete_template, save_sequence, save_template, step_input
from outreach.mail.unsubscribe import make_token, signing_secret
from outreach.mail.variants import MIN_SENT, VariantStats, _compare, assign_letters, fisher_exact, variant_stats
from outreach.models import Campaign, Prospect
from outreach.models.mail import Enrollment, Sequence, StepVariant, Template
from tests.mail.conftest import Dovecot, Sink
from tests.mail.test_inbound import dsn, reply_to
from tests.mail.test_sending import MONDAY, enroll, fresh, messages


def sequence_with_variants(db: Session, first: tuple[str, ...] = ("Alpha", "Bravo"), second: tuple[str, ...] = ("", ""),
                    third: tuple[str, ...] = ()) -> Sequence:
    """A sequence whose steps have one template per letter: each subject and body names its letter."""
    tag = uuid.uuid4().hex[:6]

    def template(word: str, position: int) -> int:
        return save_template(db, f"{word} {position} {tag}", f"{word} for {{{{ contact.first_name }}}}",
                             f"{word} body, step {position}: hi {{{{ contact.first_name }}}}.").id

    steps = []
    for position, words in enumerate((first, second, third), start=1):
        if words:
            ids = [template(word or f"Follow{position}{'ABCD'[i]}", position) for i, word in enumerate(words)]
            steps.append(StepInput(ids[0], 1, "days", False, tuple(ids[1:])))
    sequence = save_sequence(db, f"Test {tag}", steps)
    db.commit()
    return sequence


def letters(db: Session, campaign: Campaign) -> dict[int, str]:
    """prospect id -> the letter its enrolment got."""
    fresh(db)
    return dict(db.execute(select(Enrollment.prospect_id, Enrollment.variant)
                           .where(Enrollment.campaign_id == campaign.id)).all())


# --- assignment ------------------------------------------------------------------------------------

def test_letters_are_balanced_across_enrolments_and_kept_on_each(app, db, outreach_campaign):  # type: ignore[no-untyped-def]
    campaign, prospects = outreach_campaign(n=9, sequence=sequence_with_variants(db, ("Alpha", "Bravo", "Charlie")))
    enroll(db, app, campaign, prospects[:4])
    enroll(db, app, campaign, prospects[4:])
    given = letters(db, campaign)
    assert Counter(given.values()) == {"A": 3, "B": 3, "C": 3}
    # the first email was rendered from the letter's template, and the timeline says which
    for message in messages(db):
        word = {"A": "Alpha", "B": "Bravo", "C": "Charlie"}[given[message.prospect_id]]
        assert message.subject.startswith(word)


def test_the_same_prospects_get_the_same_letters_and_a_batch_never_leans(app, db, outreach_campaign):  # type: ignore[no-untyped-def]
    sequence = sequence_with_variants(db)
    campaign, prospects = outreach_campaign(n=7, sequence=sequence)
    ids = [p.id for p in prospects]
    first = assign_letters(db, campaign.id, sequence, ids)
    assert first == assign_letters(db, campaign.id, sequence, ids)
    assert abs(first.count("A") - first.count("B")) <= 1
    # every pair of prospects in a row gets one A and one B (block-balanced), not always A first
    assert all(sorted(first[i:i + 2]) == ["A", "B"] for i in range(0, 6, 2))
    enroll(db, app, campaign, prospects)
    assert [letters(db, campaign)[pid] for pid in ids] == first


def test_a_sequence_without_variants_assigns_nothing_and_renders_as_before(app, db, outreach_campaign):  # type: ignore[no-untyped-def]
    campaign, prospects = outreach_campaign(n=4)
    enroll(db, app, campaign, prospects[:2])
    assert set(letters(db, campaign).values()) == {""}
    assert all(m.subject.startswith("Hello Ann") for m in messages(db))
    assert variant_stats(db, campaign.id) is None
    # a variant added later: only the prospects enrolled from then on are in the test
    sequence = db.scalar(select(Sequence))
    steps = [step_input(step) for step in sequence.steps]
    other = save_template(db, "Other", "Other {{ contact.first_name }}", "Other body")
    save_sequence(db, sequence.name, [replace(steps[0], variants=(other.id,)), *steps[1:]], sequence)
    db.commit()
    enroll(db, app, campaign, prospects[2:])
    assert sorted(letters(db, campaign).values()) == ["", "", "A", "B"]
    result = variant_stats(db, campaign.id)
    assert [(v.letter, v.enrolled, v.sent) for v in result.variants] == [("A", 1, 0), ("B", 1, 0)]


# --- the save-time checks ------------------------------------------------------------------------------

def test_every_variant_must_be_a_different_template_that_passes_the_save_time_check(db):  # type: ignore[no-untyped-def]
    a = save_template(db, "A", "Hi {{ contact.first_name }}", "Body A")
    b = save_template(db, "B", "Yo {{ contact.first_name }}", "Body B")
    # a template saved before the check existed (or written straight into the table)
    old = Template(name="Old", subject="Hi {{ contact.frist_name }}", body_text="Old body")
    db.add(old)
    db.commit()
    cases = [
        ((a.id, 99999999), "step 1 variant B: choose an existing template"),
        ((a.id, a.id), "step 1: variant B uses the same template as variant A"),
        ((a.id, b.id, old.id), "step 1 variant C: template “Old”: "),
        ((a.id, b.id, b.id), "step 1: variant C uses the same template as variant B"),
    ]
    for ids, message in cases:
        with pytest.raises(MailError, match=message):
            save_sequence(db, "Tested", [StepInput(ids[0], variants=ids[1:])])
        db.rollback()
    with pytest.raises(MailError, match="at most 4 variants"):
        save_sequence(db, "Tested", [StepInput(a.id, variants=(b.id, old.id, 5, 6))])
    db.rollback()
    assert db.scalar(select(Sequence)) is None
    sequence = save_sequence(db, "Tested", [StepInput(a.id, variants=(b.id,))])
    assert [(v.letter, v.template_id) for v in sequence.steps[0].variants] == [("B", b.id)]
    with pytest.raises(MailError, match="cannot be deleted: 1 sequence steps use it"):
        delete_template(db, b)
    # saving again without variants removes them
    save_sequence(db, "Tested", [StepInput(a.id)], sequence)
    db.commit()
    assert db.scalar(select(StepVariant)) is None


# --- the hand-off: what the SMTP server receives --------------------------------------------------------

def test_each_prospect_receives_its_letters_emails_and_a_step_without_it_sends_a(  # type: ignore[no-untyped-def]
        app, db, smtp_sink, make_mailbox, outreach_campaign, job_context):
    sequence = sequence_with_variants(db, ("Alpha", "Bravo"), ("Again A", "Again B"), ("Last A",))
    campaign, prospects = outreach_campaign(make_mailbox(smtp_sink), n=4, sequence=sequence)
    with time_machine.travel(MONDAY, tick=False):
        enroll(db, app, campaign, prospects)
        assert send_due(job_context) == 4
    given = letters(db, campaign)
    assert sorted(given.values()) == ["A", "A", "B", "B"]
    # every later step is rendered at send time in another session, from the letter kept on the enrolment
    for day in (1, 2):
        with time_machine.travel(MONDAY + timedelta(days=day, minutes=1), tick=False):
            assert send_due(job_context) == 4
    for prospect in prospects:
        first, second, third = (r.message for r in smtp_sink.to(prospect.contact.email))
        if given[prospect.id] == "B":
            assert first["Subject"].startswith("Bravo for Ann")
            assert "Again B body, step 2" in second.get_payload(decode=True).decode()
        else:
            assert first["Subject"].startswith("Alpha for Ann")
            assert "Again A body, step 2" in second.get_payload(decode=True).decode()
        assert second["Subject"] == "Re: " + first["Subject"]
        assert "Last A body, step 3" in third.get_payload(decode=True).decode()  # step 3 has only A


# --- results from real events ----------------------------------------------------------------------------

@dataclass
class Scenario:
    campaign: Campaign
    prospects: list[Prospect]
    given: dict[int, str]


def run_a_test(app: Flask, db: Session, client: FlaskClient, sink: Sink, imap: Dovecot, make_mailbox: Any,
               outreach_campaign: Any, ctx: JobContext, n: int = 8) -> Scenario:
    """n prospects, A/B: one address refused at RCPT, one bounced by DSN, replies (2 B, 1 A), one unsubscribe."""
    campaign, prospects = outreach_campaign(make_mailbox(sink, imap), n=n, sequence=sequence_with_variants(db))
    with time_machine.travel(MONDAY, tick=False):
        enroll(db, app, campaign, prospects)
        given = letters(db, campaign)
        a = [p for p in prospects if given[p.id] == "A"]
        b = [p for p in prospects if given[p.id] == "B"]
        sink.rcpt_replies[a[0].contact.email] = "550 5.1.1 <nobody>: Recipient address rejected"
        assert send_due(ctx) == n - 1
    sent = {m.prospect_id: m for m in messages(db, "sent")}
    imap.append("INBOX", dsn(sent[b[0].id], "5.1.1"))
    for prospect in (b[1], b[2], a[1]):
        imap.append("INBOX", reply_to(sent[prospect.id]))
    with time_machine.travel(MONDAY + timedelta(hours=2), tick=False):
        assert poll_mailboxes(ctx) == 4  # messages read
    secret = signing_secret(app.extensions["outreach"].settings)
    response = client.post(f"/unsubscribe/{make_token(secret, sent[a[2].id].message_id)}",
                           data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    fresh(db)
    return Scenario(campaign, prospects, given)


def test_results_per_letter_are_counted_from_sends_replies_bounces_and_unsubscribes(  # type: ignore[no-untyped-def]
        app, db, client, team, login, smtp_sink, imap_server, make_mailbox, outreach_campaign, job_context):
    scenario = run_a_test(app, db, client, smtp_sink, imap_server, make_mailbox, outreach_campaign, job_context)
    result = variant_stats(db, scenario.campaign.id)
    assert result is not None
    assert [(v.letter, v.enrolled, v.sent, v.replied, v.bounced, v.unsubscribed) for v in result.variants] == [
        ("A", 4, 3, 1, 1, 1), ("B", 4, 4, 2, 1, 0)]
    # the address refused at RCPT TO never left: it is neither sent nor bounced; the DSN'd one was sent, then bounced
    assert [v.reply_rate for v in result.variants] == [pytest.approx(1 / 3), 0.5]
    assert not result.is_significant and result.p_value is None and result.leader is None
    assert result.note == f"Too few emails sent to tell the variants apart: each needs at least {MIN_SENT} " \
                          "(A has 3, B has 4)."
    # the Outreach tab shows the same numbers
    page = login(team["owner"]).get(f"/campaigns/{scenario.campaign.id}/outreach").get_data(as_text=True)
    card = page.split('data-testid="template-test"')[1].split("</section>")[0]
    cells = [re.findall(r'<td class="num">([^<]*)</td>', row) for row in card.split('data-testid="variant-')[1:]]
    assert cells == [["4", "3", "1", "1", "1", "33%"], ["4", "4", "2", "1", "0", "50%"]]
    assert "Too few emails sent to tell the variants apart" in card
    prospect = scenario.prospects[0]
    page = client.get(f"/prospects/{prospect.id}").get_data(as_text=True)
    assert f'data-testid="variant">variant {scenario.given[prospect.id]}</span>' in page


# --- the test itself ---------------------------------------------------------------------------------

def test_fishers_exact_test_gives_scipys_values() -> None:
    # scipy.stats.fisher_exact(...).pvalue for these tables
    assert fisher_exact(3, 1, 1, 3) == pytest.approx(0.4857142857)
    assert fisher_exact(1, 9, 11, 3) == pytest.approx(0.0027594562)
    assert fisher_exact(8, 2, 1, 5) == pytest.approx(0.0349650350)
    assert fisher_exact(0, 0, 0, 0) == 1.0
    assert fisher_exact(10, 190, 30, 170) == pytest.approx(0.001285, abs=1e-6)


def stats(letter: str, sent: int, replied: int) -> VariantStats:
    return VariantStats(letter, sent, sent, replied, 0, 0)


def test_the_note_names_a_winner_only_when_the_difference_is_significant() -> None:
    sequence = Sequence(name="S")
    clear = _compare(sequence, [stats("A", 200, 10), stats("B", 200, 30)])
    assert clear.is_significant and clear.leader == "B"
    assert clear.note.startswith("B gets more replies (B 15% vs A 5%; Fisher's exact test, p = 0.00")
    close = _compare(sequence, [stats("A", 40, 4), stats("B", 40, 6)])
    assert not close.is_significant and close.leader is None
    assert close.note.startswith("No clear winner yet: B 15% vs A 10% could be chance (Fisher's exact test, p = ")
    # three letters: the leader must beat each other one at 0.05 / 2
    three = _compare(sequence, [stats("A", 200, 10), stats("B", 200, 30), stats("C", 200, 22)])
    assert not three.is_significant and "B 15% vs C 11% vs A 5%" in three.note
    few = _compare(sequence, [stats("A", 19, 0), stats("B", 300, 100)])
    assert few.note.startswith("Too few emails sent") and few.p_value is None


# --- the sequence form ---------------------------------------------------------------------------------

def test_the_sequence_form_saves_variants_and_refuses_a_gap_in_one_line(db, team, login):  # type: ignore[no-untyped-def]
    ids = [save_template(db, name, f"{name} {{{{ contact.first_name }}}}", f"{name} body").id
           for name in ("Alpha", "Bravo", "Charlie", "Follow")]
    db.commit()
    client = login(team["owner"])
    form = {"name": "AB", "template_1": ids[0], "variant_1_B": ids[1], "variant_1_C": ids[2],
            "template_2": ids[3], "delay_2": 2, "unit_2": "days"}
    response = client.post("/mail/sequences/new", data=form)
    assert response.status_code == 302
    fresh(db)
    sequence = db.scalar(select(Sequence))
    assert [[(v.letter, v.template_id) for v in s.variants] for s in sequence.steps] == [
        [("B", ids[1]), ("C", ids[2])], []]
    page = client.get(f"/mail/sequences/{sequence.id}").get_data(as_text=True)
    assert f'<option value="{ids[2]}" selected>Charlie</option>' in page.split('name="variant_1_C"')[1]
    gap = client.post(f"/mail/sequences/{sequence.id}", data={**form, "variant_1_B": "", "variant_1_C": ids[2]})
    assert "step 1: choose variant B before the letters after it" in gap.get_data(as_text=True)
    same = client.post(f"/mail/sequences/{sequence.id}", data={**form, "variant_1_C": ids[1]})
    assert "step 1: variant C uses the same template as variant B" in same.get_data(as_text=True)
    fresh(db)
    assert len(db.get(Sequence, sequence.id).steps[0].variants) == 2  # nothing changed
