"""Template tests: a step's variants, the letter each enrolment gets, and what each letter's emails achieved."""
from __future__ import annotations

import hashlib
import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, distinct, func, select
from sqlalchemy.orm import Session

from outreach.models import Activity
from outreach.models.mail import (
    RECLAIM_STEP,
    VARIANT_LETTERS,
    CampaignMail,
    Enrollment,
    InboundMessage,
    Message,
    Sequence,
    SequenceStep,
    Template,
)

#: each variant needs this many sent before a difference is worth testing: below it, Fisher's exact test has
#: too little power to find even a doubling of a 5–10% reply rate, and a "no difference" would mislead
MIN_SENT = 20
#: the significance level; with more than two variants the leader is compared with each other one (Bonferroni)
ALPHA = 0.05


def sequence_letters(sequence: Sequence) -> list[str]:
    """The letters a sequence tests: A and every letter one of its steps has (["A"] alone: no test)."""
    used = {variant.letter for step in sequence.steps for variant in step.variants}
    return [letter for letter in VARIANT_LETTERS if letter == "A" or letter in used]


def template_for(step: SequenceStep, letter: str) -> Template:
    """The template a prospect with this letter gets at this step: its variant, else the step's own (A)."""
    for variant in step.variants:
        if variant.letter == letter:
            return variant.template
    return step.template


def assign_letters(session: Session, campaign_id: int, sequence: Sequence, prospect_ids: list[int]) -> list[str]:
    """A letter for each prospect, balanced with the campaign's earlier enrolments ("" when nothing is tested).

    Each prospect gets the least-used letter so far, so the counts never differ by more than one. Ties are
    broken by a hash of the campaign, prospect and letter rather than by the alphabet: with plain alternation
    the letter would follow the order prospects were added in (often a list sorted by authority or by site).
    The same prospects in the same state always get the same letters; the letter is then kept on the enrolment.
    Two enrolments committed at the same moment each count without the other's prospects: the letters may then
    differ by one more, which a test of hundreds of prospects does not notice.
    """
    letters = sequence_letters(sequence)
    if len(letters) < 2:
        return [""] * len(prospect_ids)
    used: Counter[str] = Counter(dict(session.execute(
        select(Enrollment.variant, func.count()).where(Enrollment.campaign_id == campaign_id,
                                                       Enrollment.sequence_id == sequence.id,
                                                       Enrollment.variant.in_(letters))
        .group_by(Enrollment.variant)).all()))
    chosen = []
    for prospect_id in prospect_ids:
        letter = min(letters, key=lambda x: (used[x], _tiebreak(campaign_id, prospect_id, x)))
        used[letter] += 1
        chosen.append(letter)
    return chosen


def _tiebreak(campaign_id: int, prospect_id: int, letter: str) -> str:
    return hashlib.sha256(f"{campaign_id}:{prospect_id}:{letter}".encode()).hexdigest()


# --- results -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class VariantStats:
    """What one letter's prospects did; every count is of prospects (enrolments), not of emails."""

    letter: str
    enrolled: int
    #: at least one email of the sequence left (one refused at RCPT TO never did; one bounced by a DSN later did)
    sent: int
    replied: int
    bounced: int
    unsubscribed: int

    @property
    def reply_rate(self) -> float | None:
        return self.replied / self.sent if self.sent else None


@dataclass(frozen=True)
class TemplateTest:
    sequence: Sequence
    variants: list[VariantStats]
    #: one sentence: who leads, or why the numbers cannot tell the variants apart yet
    note: str
    #: True when the leader's reply rate is significantly higher than every other variant's
    is_significant: bool
    #: the largest of the leader's p-values against the others (Fisher's exact test), None below MIN_SENT
    p_value: float | None
    leader: str | None


def variant_stats(session: Session, campaign_id: int) -> TemplateTest | None:
    """Per letter of the campaign's sequence: sent, replied, bounced, unsubscribed; None when nothing is tested."""
    config = session.get(CampaignMail, campaign_id)
    sequence = config.sequence if config else None
    if sequence is None:
        return None
    letters = sequence_letters(sequence)
    tested = [Enrollment.campaign_id == campaign_id, Enrollment.sequence_id == sequence.id, Enrollment.variant != ""]
    enrolled = _per_letter(session, select(Enrollment.variant, func.count()).where(*tested))
    if len(letters) < 2 and not enrolled:
        return None

    def with_message(*conditions: Any, answered: bool = False) -> Counter[str]:
        """Enrolments with at least one sequence email (not a reclaim email or a reply) meeting the conditions."""
        query = select(Enrollment.variant, func.count(distinct(Enrollment.id))) \
            .join(Message, Message.enrollment_id == Enrollment.id)
        if answered:
            query = query.join(InboundMessage, InboundMessage.reply_to_message_id == Message.id)
        return _per_letter(session, query.where(*tested, Message.step < RECLAIM_STEP, *conditions))

    sent = with_message(Message.sent_at.is_not(None))
    bounced = with_message(Message.status == "bounced")
    replied = with_message(InboundMessage.kind == "reply", answered=True)
    unsubscribed = _per_letter(session, select(Enrollment.variant, func.count(distinct(Enrollment.id)))
                               .join(Activity, Activity.prospect_id == Enrollment.prospect_id)
                               .where(*tested, Activity.kind == "unsubscribed"))
    shown = sorted(set(letters) | set(enrolled))
    stats = [VariantStats(x, enrolled[x], sent[x], replied[x], bounced[x], unsubscribed[x]) for x in shown]
    return _compare(sequence, stats)


def _per_letter(session: Session, query: Select[Any]) -> Counter[str]:
    return Counter(dict(session.execute(query.group_by(Enrollment.variant)).all()))


def _rate(stats: VariantStats) -> str:
    return f"{stats.letter} {100 * (stats.reply_rate or 0):.0f}%"


def _compare(sequence: Sequence, stats: list[VariantStats]) -> TemplateTest:
    """Fisher's exact test (two-sided) of the leader's replies against each other variant's, once each has MIN_SENT."""
    if len(stats) < 2:
        return TemplateTest(sequence, stats, "Only one variant: add a B to a step to test templates.", False, None,
                            None)
    short = [s for s in stats if s.sent < MIN_SENT]
    if short:
        counts = ", ".join(f"{s.letter} has {s.sent}" for s in stats)
        return TemplateTest(sequence, stats, f"Too few emails sent to tell the variants apart: each needs at least "
                          f"{MIN_SENT} ({counts}).", False, None, None)
    ranked = sorted(stats, key=lambda s: (-(s.reply_rate or 0), s.letter))
    leader = ranked[0]
    p_values = [fisher_exact(leader.replied, leader.sent - leader.replied, other.replied, other.sent - other.replied)
                for other in ranked[1:]]
    p = max(p_values)
    level = ALPHA / len(p_values)
    rates = " vs ".join(_rate(s) for s in ranked)
    if p < level:
        note = f"{leader.letter} gets more replies ({rates}; Fisher's exact test, p = {p:.3g})."
    else:
        note = f"No clear winner yet: {rates} could be chance (Fisher's exact test, p = {p:.2g})."
    return TemplateTest(sequence, stats, note, p < level, p, leader.letter if p < level else None)


def fisher_exact(a: int, b: int, c: int, d: int) -> float:
    """Two-sided p-value of Fisher's exact test for the 2×2 table [[a, b], [c, d]].

    The sum of the probabilities (hypergeometric, margins fixed) of every table at most as likely as the one
    seen, as scipy.stats.fisher_exact computes it; written here because scipy is not a dependency.
    """
    row1, col1, n = a + b, a + c, a + b + c + d
    if n == 0:
        return 1.0
    low, high = max(0, col1 - (n - row1)), min(row1, col1)

    def log_p(x: int) -> float:
        return (_log_comb(row1, x) + _log_comb(n - row1, col1 - x)) - _log_comb(n, col1)

    observed = log_p(a)
    total = sum(math.exp(log_p(x)) for x in range(low, high + 1) if log_p(x) <= observed + 1e-7)
    return min(1.0, total)


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
