"""Placeholders left in a template ("[FIRST NAME]", "{{…}}" as text, "[insert …]") are refused at enrolment."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.mail.mailboxes import MailError
from outreach.mail.render import leftover_placeholder
from outreach.models.mail import Enrollment, Message
from tests.mail.test_sending import enroll


@pytest.mark.parametrize(("text", "found"), [
    ("Hi [FIRST NAME], I liked your post.", "[FIRST NAME]"),
    ("See [insert link to our guide] for more.", "[insert link to our guide]"),
    ("See [Insert URL].", "[Insert URL]"),
    ("Hi {{first_name}}, hello", "{{first_name}}"),
    ("Hi {% if x %}", "{% if x %}"),
    ("As [1] and [sic] and [Acme] show, arrays like a[i] are fine.", None),
    ("Hi Ann, see https://example.test/?q=[a]", None),
])
def test_it_finds_placeholders_but_not_ordinary_brackets(text: str, found: str | None) -> None:
    assert leftover_placeholder(text) == found


@pytest.mark.parametrize(("subject", "body"), [
    ("Hello [FIRST NAME]", "Hi {{ contact.first_name }}"),
    ("Hello", "Hi {{ contact.first_name }}, here is [insert the article title]."),
    ("Hello", "Hi {% raw %}{{ first name }}{% endraw %}, nice site."),
])
def test_enrolment_refuses_a_template_with_a_placeholder_and_schedules_nothing(
        app: Any, db: Session, make_sequence: Any, outreach_campaign: Any, subject: str, body: str) -> None:
    sequence = make_sequence([(subject, body, 0)])
    campaign, prospects = outreach_campaign(None, n=2, sequence=sequence)
    with pytest.raises(MailError, match=r"nothing was scheduled: step 1: site0-\w+\.test: template “T \w+”: the "
                                        r"(subject|plain-text body) still holds the placeholder “"):
        enroll(db, app, campaign, prospects)
    db.rollback()
    assert db.scalar(select(Enrollment.id)) is None and db.scalar(select(Message.id)) is None


def test_a_placeholder_in_a_follow_up_is_refused_at_enrolment_too(app: Any, db: Session, make_sequence: Any,
                                                                   outreach_campaign: Any) -> None:
    sequence = make_sequence([("Hello", "Hi {{ contact.first_name }}", 0), ("Re", "Hi [NAME], bumping this.", 3)])
    campaign, prospects = outreach_campaign(None, n=1, sequence=sequence)
    with pytest.raises(MailError, match=r"step 2: .* “\[NAME\]”"):
        enroll(db, app, campaign, prospects)
