"""Why a link was lost or is worth less, in words an account manager can repeat to the client.

The one mapping from what a check saw (its status, HTTP answer, fetch error, problems, redirects) and the
agreed terms it missed to a plain reason. The link page, alert emails, the client report (losses grouped by
reason), the API and reclaim emails (`backlink.lost_reason`) all read it from here. A reason has a stable
`code` (stored on the backlink and its events), a `label` (the group a report counts) and a `detail` (the
label with what this check saw: "page gone (HTTP 410)").
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from outreach.backlinks.verify import link_key

#: code -> label; the order is the order a report lists its groups in
LABELS: dict[str, str] = {
    "link_removed": "Link removed",
    "page_gone": "Page gone (404/410)",
    "redirected": "Page redirected elsewhere",
    "noindex": "Now noindex",
    "canonical": "Canonical moved away",
    "robots": "Search engines blocked by robots.txt",
    "rel": "Now nofollow/sponsored/ugc",
    "anchor": "Anchor changed",
    "blocked": "Blocked to our checker",
    "unreachable": "Page unreachable",
    "page_not_found": "Page not found on the site",
}
CODES = tuple(LABELS)
#: HTTP answers that mean "not for you" rather than "not here": a bot wall, a login, a rate limit
BLOCKING_STATUSES = (401, 403, 407, 429, 451, 999)
#: what the page says about itself that makes a link on it count for less, most serious first
_PAGE_PROBLEMS = (("noindex", "noindex"), ("canonical_elsewhere", "canonical"), ("robots_disallowed", "robots"),
                  ("redirected_home", "redirected"))
#: fetch errors in plain words
_ERRORS = {"dns": "the site's name does not resolve", "refused": "the server refused the connection",
           "timeout": "no answer in time", "reset": "the connection was cut", "tls": "its HTTPS certificate failed",
           "too_large": "the page is too large to read", "redirect_loop": "its redirects go round in a loop",
           "too_many_redirects": "too many redirects", "blocked_address": "it is on a private address",
           "bad_scheme": "it redirects to a non-web address", "bad_url": "its address is not valid",
           "unreachable": "no answer"}


@dataclass(frozen=True)
class Reason:
    code: str
    #: what was seen, in words: "HTTP 410", "now sponsored", "to https://blog.example/"
    seen: str = ""

    @property
    def label(self) -> str:
        return LABELS.get(self.code, self.code.replace("_", " ").capitalize())

    @property
    def detail(self) -> str:
        """The label with what the check saw: "Page gone (404/410): HTTP 410"."""
        return f"{self.label}: {self.seen}" if self.seen else self.label

    def as_json(self) -> dict[str, str]:
        return {"code": self.code, "label": self.label, "detail": self.detail}


def label(code: str) -> str:
    """The words for a stored code ("" for none)."""
    return Reason(code).label if code else ""


#: each reason as a sentence to the publisher says it (a reclaim email's `backlink.lost_reason`)
PHRASES: dict[str, str] = {
    "link_removed": "the link was removed from the page",
    "page_gone": "the page is gone",
    "redirected": "the page now redirects elsewhere",
    "noindex": "the page is now noindex",
    "canonical": "the page's canonical now points elsewhere",
    "robots": "robots.txt now blocks the page for search engines",
    "rel": "the link is now nofollow, sponsored or ugc",
    "anchor": "the link's text changed",
    "blocked": "the page blocks our link checker",
    "unreachable": "the page does not answer",
    "page_not_found": "the article was never found on the site",
}


def phrase(reason: Reason) -> str:
    """"the page is gone (HTTP 404)": the reason as a sentence's clause, with what was seen."""
    text = PHRASES.get(reason.code, reason.label.lower())
    if reason.seen.startswith("HTTP "):
        text += f" ({reason.seen})"
    return text


def _same_page(a: str, b: str) -> bool:
    return link_key(a) == link_key(b)


def loss(status: str, http_status: int | None, error: str | None, problems: Iterable[str], page: str,
         final_url: str | None) -> Reason:
    """Why a check did not find the link (status missing or error)."""
    problems = list(problems)
    if "page_not_found" in problems:
        return Reason("page_not_found", "no page of the site links to the target yet")
    if http_status in BLOCKING_STATUSES:
        return Reason("blocked", f"HTTP {http_status}")
    if status == "error" or http_status is None:
        if error in ("redirect_loop", "too_many_redirects"):
            return Reason("redirected", _ERRORS[error])
        if http_status is not None:
            return Reason("unreachable", f"HTTP {http_status}")
        return Reason("unreachable", _ERRORS.get(error or "unreachable", error or "no answer"))
    if http_status >= 500:
        return Reason("unreachable", f"HTTP {http_status}")
    if http_status >= 400:
        return Reason("page_gone", f"HTTP {http_status}")
    if final_url and page and not _same_page(page, final_url):
        return Reason("redirected", f"to {final_url}")
    if "not_html" in problems:
        return Reason("link_removed", "the address no longer serves a web page")
    return Reason("link_removed", "the page answers but no longer links to the target")


def degradations(unmet_terms: Iterable[Mapping[str, str]], problems: Iterable[str]) -> list[Reason]:
    """What makes a link that is on its page count for less: the agreed terms it misses and what the page says
    about itself (noindex, a canonical elsewhere, robots.txt, a redirect to the home page)."""
    found: list[Reason] = []
    for difference in unmet_terms:
        if difference.get("term") == "rel":
            found.append(Reason("rel", f"now {difference.get('found', '')}"))
        elif difference.get("term") == "anchor":
            found.append(Reason("anchor", f"“{difference.get('found') or '(no text)'}”, agreed "
                                          f"“{difference.get('agreed', '')}”"))
    problems = set(problems)
    for problem, code in _PAGE_PROBLEMS:
        if problem in problems:
            found.append(Reason(code))
    return found


def of_check(check: Any) -> Reason:
    """The loss reason of a stored BacklinkCheck or a CheckResult (anything with their fields)."""
    return loss(check.status, check.http_status, getattr(check, "error", None) or None, check.problems or [],
                check.page_url if hasattr(check, "page_url") else check.page, check.final_url)


def why(backlink: Any, latest_check: Any | None) -> list[Reason]:
    """Every reason a link is lost, missed, failing or worth less now; empty for a healthy or pending link.

    A lost link says why it was lost (the code kept on it when it was lost); a link on its page says what its
    latest checks miss (failing checks first, then unmet terms and page problems).
    """
    status = backlink.status
    if status in ("lost", "missed"):
        # a check that could not read the page ("unknown": too complex, too large) saw nothing to say why
        seen = of_check(latest_check) if latest_check is not None and latest_check.status in ("missing", "error") \
            else None
        if backlink.lost_reason and (seen is None or seen.code != backlink.lost_reason):
            return [Reason(backlink.lost_reason)]  # checked since: what it was lost for still says why
        return [seen] if seen is not None else []
    if status not in ("live", "terms_not_met"):
        return []
    reasons: list[Reason] = []
    if backlink.consecutive_failures and latest_check is not None and latest_check.status != "live":
        reasons.append(of_check(latest_check))
    problems = latest_check.problems if latest_check is not None and latest_check.status == "live" else []
    reasons += degradations(backlink.unmet_terms or [], problems)
    return reasons


def grouped(codes: Iterable[str]) -> list[tuple[str, str, int]]:
    """(code, label, count) of each reason among codes, in LABELS order; unknown codes last."""
    counts: dict[str, int] = {}
    for code in codes:
        key = code or "unknown"
        counts[key] = counts.get(key, 0) + 1
    order = {code: i for i, code in enumerate(CODES)}
    return [(code, "Reason not recorded" if code == "unknown" else label(code), n)
            for code, n in sorted(counts.items(), key=lambda item: (order.get(item[0], len(order)), item[0]))]
