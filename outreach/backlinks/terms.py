"""The agreed terms of a link (its anchor and whether it is followed) against what a check found, and how a
link's state reads wherever it is shown (ledger, link page, prospect page, reports, API, alert emails)."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from outreach.backlinks.evidence import WEAK_RELS, CheckResult, FoundLink

STATUS_LABELS = {
    "pending": "Pending", "live": "Live", "terms_not_met": "Live – terms not met", "lost": "Lost",
    "missed": "Missed deadline", "paused": "Paused",
}
#: the badge classes of each status in the app's pages ("long": its label says what differs, so it may wrap)
STATUS_BADGES = {"live": "ok", "terms_not_met": "warn long", "lost": "bad", "missed": "bad", "pending": "warn"}
#: a link is on its page in these states (and can be failing, then lost)
ON_PAGE = ("live", "terms_not_met")
#: what a page-level nofollow (meta robots or X-Robots-Tag) reads as
PAGE_NOFOLLOW = "nofollow (whole page)"

#: one difference: {"term": "rel" | "anchor", "found": what the check saw, "agreed": what was agreed}
Difference = dict[str, str]


class HasState(Protocol):
    status: str
    unmet_terms: list[Difference]
    consecutive_failures: int
    failing_since: datetime | None


def norm_anchor(text: str) -> str:
    """Anchors compare without regard to case or whitespace."""
    return " ".join(text.split()).casefold()


def _score(link: FoundLink, agreed_anchor: str, agreed_rel: str, page_nofollow: bool) -> tuple[bool, bool, bool]:
    rel_ok = agreed_rel != "follow" or (link.is_followed and not page_nofollow)
    anchor_ok = not agreed_anchor.strip() or norm_anchor(link.anchor) == norm_anchor(agreed_anchor)
    return rel_ok, anchor_ok, link.is_followed


def compared_link(result: CheckResult, agreed_anchor: str, agreed_rel: str) -> FoundLink | None:
    """The found link closest to the terms (when the page has several to the target), the one a check reports."""
    if not result.links:
        return None
    page_nofollow = _page_nofollow(result)
    return max(result.links, key=lambda link: _score(link, agreed_anchor, agreed_rel, page_nofollow))


def _page_nofollow(result: CheckResult) -> bool:
    return any(link.is_followed for link in result.links) and not result.follow


def unmet_terms(result: CheckResult, agreed_anchor: str, agreed_rel: str) -> list[Difference]:
    """How the link found differs from the agreed terms; empty when they are met (or nothing was found).

    Only a followed link is a term about rel: an agreed nofollow, sponsored or ugc link that turns out followed
    is better than agreed, and "any" accepts every kind.
    """
    link = compared_link(result, agreed_anchor, agreed_rel)
    if link is None:
        return []
    differences: list[Difference] = []
    if agreed_rel == "follow":
        weak = sorted({t for t in link.rel if t in WEAK_RELS})
        if weak:
            differences.append({"term": "rel", "found": " ".join(weak), "agreed": "follow"})
        elif _page_nofollow(result):
            differences.append({"term": "rel", "found": PAGE_NOFOLLOW, "agreed": "follow"})
    agreed = " ".join(agreed_anchor.split())
    if agreed and norm_anchor(link.anchor) != norm_anchor(agreed):
        differences.append({"term": "anchor", "found": " ".join(link.anchor.split()), "agreed": agreed})
    return differences


def sentence(difference: Difference) -> str:
    """One difference as a timeline or an alert says it: "rel is nofollow, agreed follow"."""
    if difference["term"] == "rel":
        return f"rel is {difference['found']}, agreed {difference['agreed']}"
    return f"anchor is “{difference['found'] or '(no text)'}”, agreed “{difference['agreed']}”"


def describe(differences: list[Difference]) -> str:
    """Every difference, in one line: "rel is nofollow, agreed follow; anchor is “x”, agreed “y”"."""
    return "; ".join(sentence(d) for d in differences)


def short(difference: Difference) -> str:
    """One difference as a status label names it: "nofollow", "anchor “click here”"."""
    if difference["term"] == "rel":
        return difference["found"]
    return f"anchor “{difference['found'] or '(no text)'}”"


def status_label(backlink: HasState) -> str:
    """The status as people read it: "Live", "Live – terms not met: nofollow", "Missed deadline"."""
    label = STATUS_LABELS.get(backlink.status, backlink.status)
    if backlink.status == "terms_not_met" and backlink.unmet_terms:
        label += ": " + ", ".join(short(d) for d in backlink.unmet_terms)
    return label


def agreed_label(agreed_anchor: str, agreed_rel: str) -> str:
    """What was agreed, in words: "anchor “Acme widgets”, followed"; "any anchor, any link type"."""
    anchor = f"anchor “{agreed_anchor}”" if agreed_anchor.strip() else "any anchor"
    rel = {"follow": "followed", "any": "any link type"}.get(agreed_rel, f"{agreed_rel} or followed")
    return f"{anchor}, {rel}"


def failing_label(backlink: HasState) -> str:
    """"failing: 2 failed checks since 2026-11-02 09:00 UTC" for a link on its page whose checks fail, else ""."""
    if backlink.status not in ON_PAGE or not backlink.consecutive_failures:
        return ""
    n = backlink.consecutive_failures
    since = f" since {backlink.failing_since.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if backlink.failing_since else ""
    return f"failing: {n} failed check{'s' if n != 1 else ''} in a row{since}"
