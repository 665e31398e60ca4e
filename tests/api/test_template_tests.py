"""/api/v1 template tests: a step's variants (with the save-time check on each), the letter on an enrolment and the
results per letter, each answer checked against the OpenAPI document."""
from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from outreach.jobs.ticks import JobContext
from outreach.models.mail import StepVariant, Template
from tests.api.conftest import error_of
from tests.api.test_mail import count
from tests.mail.conftest import Dovecot, Sink
from tests.mail.test_variants import run_a_test


@pytest.fixture
def staff(api_as: Any, team: dict[str, Any]) -> Any:
    return api_as(team["owner"])


def templates(staff: Any, *names: str) -> list[int]:
    return [staff.post("/templates", {"name": n, "subject": f"{n} {{{{ contact.first_name }}}}",
                                      "body_text": f"{n} body"}).get_json()["id"] for n in names]


def test_it_saves_and_edits_a_steps_variants(db: Session, staff: Any) -> None:
    a, b, c, follow = templates(staff, "Alpha", "Bravo", "Charlie", "Follow")
    created = staff.post("/sequences", {"name": "AB", "steps": [
        {"template_id": a, "variants": [{"template_id": b}]}, {"template_id": follow, "delay": 2}]})
    assert created.status_code == 201
    first, second = created.get_json()["steps"]
    assert first["variants"] == [{"letter": "B", "template_id": b, "template_name": "Bravo"}]
    assert second["variants"] == []
    path = f"/sequences/{created.get_json()['id']}/steps"
    # a patch without variants keeps them; with a list it replaces them; letters follow the order
    assert staff.patch(f"{path}/1", {"delay": 0}).get_json()["variants"][0]["template_id"] == b
    three = staff.patch(f"{path}/1", {"variants": [{"template_id": b, "letter": "B"}, {"template_id": c}]})
    assert [(v["letter"], v["template_name"]) for v in three.get_json()["variants"]] == [("B", "Bravo"),
                                                                                         ("C", "Charlie")]
    assert staff.patch(f"{path}/2", {"variants": [{"template_id": a}]}).get_json()["variants"][0]["letter"] == "B"
    assert count(db, StepVariant) == 3
    assert staff.patch(f"{path}/1", {"variants": []}).get_json()["variants"] == []
    assert count(db, StepVariant) == 1


@pytest.mark.parametrize(("variants", "field", "message"), [
    ([{"template_id": 999999}], "steps", "step 1 variant B: choose an existing template"),
    ("B", "body.variants", "variants must be a list of at most 3 {template_id} (B to D; the step's own template is A)"),
    ([{"template_id": "same"}], "body.variants[0].template_id", None),
    ([{"template_id": 1, "letter": "C"}], "body.variants[0].letter",
     "variant 1 is B: letters follow the order of the list"),
    ([{"template_id": 1, "weight": 2}], "body.variants[0].weight", None),
    ("same", "steps", "step 1: variant B uses the same template as variant A"),
    ("misspelt", "steps", "step 1 variant B: template “Old”: "),
])
def test_a_bad_variant_is_refused_in_one_line_and_changes_nothing(db: Session, staff: Any, variants: Any, field: str,
                                                                   message: str | None) -> None:
    (a,) = templates(staff, "Alpha")
    old = Template(name="Old", subject="Hi {{ contact.frist_name }}", body_text="Old")  # saved before the check
    db.add(old)
    db.commit()
    sequence = staff.post("/sequences", {"name": "S", "steps": [{"template_id": a}]}).get_json()
    value = {"same": [{"template_id": a}], "misspelt": [{"template_id": old.id}]}.get(variants, variants) \
        if isinstance(variants, str) else variants
    response = staff.patch(f"/sequences/{sequence['id']}/steps/1", {"variants": value})
    assert response.status_code == 422
    error = error_of(response)
    assert error["field"] == field
    if message:
        assert error["message"].startswith(message)
    assert staff.get(f"/sequences/{sequence['id']}").get_json() == sequence
    assert count(db, StepVariant) == 0


def test_the_results_per_letter_and_each_enrolments_letter(  # type: ignore[no-untyped-def]
        app: Flask, db: Session, client: FlaskClient, staff: Any, smtp_sink: Sink, imap_server: Dovecot,
        make_mailbox: Any, outreach_campaign: Any, job_context: JobContext) -> None:
    scenario = run_a_test(app, db, client, smtp_sink, imap_server, make_mailbox, outreach_campaign, job_context)
    answer = staff.get(f"/campaigns/{scenario.campaign.id}/template-test").get_json()
    assert [(v["letter"], v["enrolled"], v["sent"], v["replied"], v["bounced"], v["unsubscribed"])
            for v in answer["variants"]] == [("A", 4, 3, 1, 1, 1), ("B", 4, 4, 2, 1, 0)]
    assert [v["reply_rate"] for v in answer["variants"]] == [pytest.approx(1 / 3), 0.5]
    assert (answer["test"], answer["min_sent"], answer["p_value"], answer["is_significant"], answer["leader"]) == (
        "fisher_exact", 20, None, False, None)
    assert answer["note"].startswith("Too few emails sent")
    for prospect in scenario.prospects:
        enrollment = staff.get(f"/prospects/{prospect.id}/enrollment").get_json()
        assert enrollment["variant"] == scenario.given[prospect.id]


def test_a_campaign_without_a_test_says_so(staff: Any, team: dict[str, Any], make_sequence: Any) -> None:
    answer = staff.get(f"/campaigns/{team['campaign'].id}/template-test").get_json()
    assert answer["variants"] == [] and answer["sequence_id"] is None and answer["leader"] is None
    assert "nothing is being tested" in answer["note"]


def test_enrolling_answers_each_prospects_letter_and_its_variants_first_email(
        staff: Any, team: dict[str, Any], make_prospect: Any) -> None:
    a, b = templates(staff, "Alpha", "Bravo")
    sequence = staff.post("/sequences", {"name": "AB", "steps": [
        {"template_id": a, "variants": [{"template_id": b}]}]}).get_json()
    campaign = team["campaign"]
    staff.patch(f"/campaigns/{campaign.id}/mail-settings", {"sequence_id": sequence["id"]})
    prospects = [make_prospect(campaign, f"https://s{i}.test/", email=f"ann@s{i}.test", contact_name="Ann Lee")
                 for i in range(2)]
    answer = staff.post(f"/campaigns/{campaign.id}/enrollments", {"prospect_ids": [p.id for p in prospects]})
    enrolled = answer.get_json()["enrolled"]
    assert sorted(e["variant"] for e in enrolled) == ["A", "B"]
    for e in enrolled:
        word = {"A": "Alpha", "B": "Bravo"}[e["variant"]]
        assert e["message"]["subject"] == f"{word} Ann"
