"""Guest-post targets: find a site's guidelines page and decide whether the site accepts guest posts.

A page is a guidelines page when its URL, title or headings say so (write-for-us, contribute, guest
post guidelines, submit an article). It *accepts* guest posts when its text invites the reader to
submit (at least two different kinds of invitation: "we accept guest posts", "send us your pitch",
"articles should be 1,500 words", ...) and nothing says the opposite. Decoys that must not count:

- "we no longer accept guest posts" (a refusal anywhere on the page wins);
- a story that mentions a guest post (an article about guest posting, told in the first person,
  without invitations addressed to the reader);
- a donation page called "contribute" (money words and no writing words).
"""
from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from selectolax.lexbor import LexborHTMLParser

from outreach.contacts.extraction import PageContacts, extract_contacts
from outreach.discovery.scoring import (
    SiteSignals,
    combine,
    merge_signals,
    quality_parts,
    relevance_by_site,
    signals_for_text,
)
from outreach.discovery.site_walk import WalkedPage, WalkProgress, same_host, walk_site
from outreach.lib.html import Link, ParsedPage, off_loop
from outreach.lib.http import Fetcher

#: paths tried on every site even when no link points at them
GUIDELINE_PATHS = ("/write-for-us", "/contribute", "/guest-post-guidelines", "/submission-guidelines")

_PATH = re.compile(
    r"write-?for-?us|guest-?(?:post|blog|author|contribut)|contribut(?:e|or|ors|ing)|submission|"
    r"submit-?(?:an?-?)?(?:article|post|guest|story|content)|become-?a-?(?:contributor|writer|author)|"
    r"writers?-?guidelines|pitch-?us|editorial-?guidelines", re.IGNORECASE)
_TITLE = re.compile(
    r"write\s+for\s+us|guest\s+(?:post|blog|author|contribut|writ)|contribut(?:e|or|ors|ing)\b|submission|"
    r"submit\s+(?:an?\s+|your\s+)?(?:article|post|guest|story|pitch)|become\s+a\s+(?:contributor|writer|author)|"
    r"writers?['’]?\s+guidelines|pitch\s+us|editorial\s+guidelines|writing\s+for\s+us",
    re.IGNORECASE)

#: invitations addressed to the reader, by kind; two different kinds are needed
INVITATIONS: dict[str, re.Pattern[str]] = {
    "accepts": re.compile(
        r"\bwe(?:['’]re| are)?\s+(?:happy\s+to\s+|always\s+|currently\s+|now\s+|gladly\s+)*"
        r"(?:accept(?:ing)?|welcom(?:e|ing)|look(?:ing)?\s+for|seek(?:ing)?|open\s+to|invit(?:e|ing))\b"
        r"[^.!?]{0,60}\b(?:guest|post|posts|article|articles|contribut|writer|writers|author|authors|pitch|"
        r"submission|content|stor(?:y|ies))", re.IGNORECASE),
    "submit": re.compile(
        r"\b(?:send|submit|email|e-mail|pitch)\s+(?:us\s+)?(?:your|a|an)\s+(?:[\w-]+\s+){0,2}"
        r"(?:pitch|idea|ideas|article|draft|post|proposal|outline|topic|story|submission)"
        r"|\bpitch\s+us\b|\bsubmission\s+form\b|\bsubmit\s+(?:it|here|via|through|using|below)\b", re.IGNORECASE),
    "length": re.compile(
        r"\b\d[\d,.]*\s*(?:\+|-|–|to)?\s*(?:\d[\d,.]*\s*)?words\b|\bword\s+count\b", re.IGNORECASE),
    "rules": re.compile(
        r"\b(?:articles?|posts?|submissions?|content|pieces?)\s+(?:must|should|need\s+to|has\s+to|have\s+to)\b"
        r"|\b(?:original|unpublished)\s+(?:content|work|articles?|posts?)\b"
        r"|\b(?:author\s+bio|bio\s+link|do-?follow|no-?follow|one\s+link|links?\s+(?:policy|allowed))\b",
        re.IGNORECASE),
    "guidelines": re.compile(r"\b(?:guest\s+post(?:ing)?|submission|contributor|writer['’]?s?|editorial)\s+"
                             r"guidelines\b|\bguidelines\s+for\s+(?:guest|contributors|writers)", re.IGNORECASE),
}
REFUSALS = re.compile(
    r"\b(?:no\s+longer|not\s+(?:currently\s+)?|do\s+not|don['’]t|won['’]t|will\s+not|stopped|cannot|can['’]t)\s+"
    r"(?:be\s+)?(?:accept(?:ing)?|tak(?:e|ing)|consider(?:ing)?|publish(?:ing)?|review(?:ing)?)\s+"
    r"(?:any\s+)?(?:new\s+)?(?:unsolicited\s+)?(?:guest|submissions|contribut|pitches|articles|posts)"
    r"|\b(?:guest\s+post(?:s|ing)?|submissions|contributions)\s+(?:are|is)\s+(?:now\s+|currently\s+)?"
    r"(?:closed|paused|suspended|on\s+hold)"
    r"|\bclosed\s+(?:to|for)\s+(?:guest|submissions|contributions|pitches)", re.IGNORECASE)
MONEY = re.compile(r"\b(?:donat(?:e|ion|ions)|tax[- ]deductible|one-time\s+gift|monthly\s+gift|"
                   r"give\s+(?:today|now)|support\s+our\s+(?:work|mission)|\$\s?\d+|€\s?\d+|£\s?\d+)", re.IGNORECASE)
WRITING = re.compile(r"\b(?:article|articles|post|posts|pitch|pitches|draft|words|writer|writers|author|"
                     r"byline|topics?)\b", re.IGNORECASE)
FIRST_PERSON_STORY = re.compile(r"\b(?:I|my|me)\b")
WORD_COUNT = re.compile(
    r"(?:(?:at\s+least|minimum(?:\s+of)?|min\.?|between|around|about|up\s+to|maximum(?:\s+of)?|max\.?)\s+)?"
    r"\d[\d,.]*\s*(?:\+|(?:-|–|to|and)\s*\d[\d,.]*)?\s*words\b", re.IGNORECASE)
FORM_HOSTS = ("docs.google.com", "forms.gle", "typeform.com", "jotform.com", "airtable.com", "tally.so",
              "forms.office.com", "wufoo.com", "formstack.com", "cognitoforms.com", "submittable.com")


@dataclass
class GuidelinesVerdict:
    """Whether a page is a site's guest-post guidelines and whether it accepts posts, with why."""

    is_guidelines_page: bool
    accepts: bool
    #: why, in short phrases the user sees (kinds of invitation found, or the refusal, or the decoy)
    reasons: list[str] = field(default_factory=list)
    #: requirements stated on the page
    requirements: dict[str, list[str]] = field(default_factory=dict)
    form_urls: list[str] = field(default_factory=list)


def looks_like_guidelines_link(link: Link) -> bool:
    return bool(_PATH.search(urlsplit(link.href).path) or _TITLE.search(link.anchor or ""))


def link_rank(link: Link) -> int:
    """For the site walk: guidelines-like links first, then nav/contact/about pages, then the rest."""
    if looks_like_guidelines_link(link):
        return 1
    if re.search(r"contact|about|advertis", f"{urlsplit(link.href).path} {link.anchor}", re.IGNORECASE):
        return 3
    return 10


def _headings(tree: LexborHTMLParser) -> list[str]:
    return [" ".join(n.text(deep=True).split()) for n in tree.css("h1, h2, h3")]


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n+", text) if s.strip()]


def classify(html: str, page: ParsedPage) -> GuidelinesVerdict:
    """Decide whether the page is a guidelines page that accepts guest posts (see the module doc)."""
    tree = LexborHTMLParser(html)
    headings = _headings(tree)
    path = urlsplit(page.url).path
    named = [where for where, text in (("url", path), ("title", page.title))
             if (_PATH if where == "url" else _TITLE).search(text)]
    if any(_TITLE.search(h) for h in headings):
        named.append("heading")
    text = page.text
    verdict = GuidelinesVerdict(is_guidelines_page=bool(named), accepts=False)
    if not named:
        verdict.reasons.append("not a guidelines page (URL, title and headings say nothing about contributing)")
        return verdict
    verdict.reasons.append("guidelines page by its " + ", ".join(named))
    refusal = REFUSALS.search(text)
    if refusal:
        sentence = next((x for x in _sentences(text) if refusal.group(0) in x), refusal.group(0))
        verdict.reasons.append(f"refuses: “{sentence[:200]}”")
        return verdict
    kinds = [kind for kind, pattern in INVITATIONS.items() if pattern.search(text)]
    money = len(MONEY.findall(text))
    writing = len(WRITING.findall(text))
    if money >= 2 and money > writing:
        verdict.reasons.append("a donation page (money words, no writing words)")
        return verdict
    if _is_story(tree, text, kinds):
        verdict.reasons.append("an article that mentions guest posting, not an invitation")
        return verdict
    verdict.requirements = requirements(text)
    verdict.form_urls = [link.href for link in page.links
                         if any(host in (urlsplit(link.href).hostname or "") for host in FORM_HOSTS)]
    if tree.css_first("form textarea, form input[type=file]") is not None and "submit" not in kinds:
        kinds.append("submit")
    if len(kinds) >= 2:
        verdict.accepts = True
        verdict.reasons.append("invites submissions: " + ", ".join(kinds))
    else:
        verdict.reasons.append("too little invitation to submit (" + (", ".join(kinds) or "none") + ")")
    return verdict


def _is_story(tree: LexborHTMLParser, text: str, kinds: list[str]) -> bool:
    """An article told in the first person, or marked up as a blog post, that does not address the reader."""
    is_article = bool(tree.css_first('meta[property="og:type"][content="article"]')) or any(
        '"BlogPosting"' in (n.text() or "") or '"NewsArticle"' in (n.text() or "")
        for n in tree.css('script[type="application/ld+json"]'))
    first_person = len(FIRST_PERSON_STORY.findall(text))
    addressed = {"accepts", "submit"} & set(kinds)
    if not addressed and (is_article or first_person >= 5):
        return True
    return is_article and first_person >= 8 and len(kinds) < 3


def requirements(text: str) -> dict[str, list[str]]:
    """Word count, topics and link policy as stated (sentences quoted, at most three of each)."""
    found: dict[str, list[str]] = {"word_count": [], "topics": [], "links": []}
    for match in WORD_COUNT.finditer(text):
        phrase = " ".join(match.group(0).split())
        if phrase not in found["word_count"]:
            found["word_count"].append(phrase)
    for sentence in _sentences(text):
        short = sentence[:240]
        lower = sentence.lower()
        if re.search(r"\b(?:topics?|we cover|we write about|subjects?|niches?|categories)\b", lower) and \
                short not in found["topics"]:
            found["topics"].append(short)
        if re.search(r"\b(?:links?|do-?follow|no-?follow|backlinks?|author bio)\b", lower) and \
                short not in found["links"]:
            found["links"].append(short)
    return {k: v[:3] for k, v in found.items() if v}


# --- the run over seeds -------------------------------------------------------------------------

@dataclass
class GuestPostTarget:
    site: str
    page: str
    verdict: GuidelinesVerdict
    emails: list[str] = field(default_factory=list)
    score: float = 0.0
    score_parts: dict[str, Any] = field(default_factory=dict)
    pages_crawled: int = 0
    #: email -> {"status", "reason", "is_role"} when the addresses were checked
    email_checks: dict[str, dict[str, Any]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"site": self.site, "page": self.page, "emails": self.emails, "score": self.score,
                "score_parts": self.score_parts, "requirements": self.verdict.requirements,
                "form_urls": self.verdict.form_urls, "reasons": self.verdict.reasons,
                "email_checks": self.email_checks}

    def details(self) -> dict[str, Any]:
        """The opportunity's evidence."""
        return {"guidelines_url": self.page, "emails": self.emails, "requirements": self.verdict.requirements,
                "form_urls": self.verdict.form_urls, "reasons": self.verdict.reasons,
                "score_parts": self.score_parts, "email_checks": self.email_checks}


@dataclass
class SiteVisit:
    """What walking one seed's site found: its best guidelines page (if any), rejected candidates, text."""

    seed: str
    origin: str
    pages: int = 0
    accepted: tuple[str, GuidelinesVerdict] | None = None
    rejected: list[tuple[str, GuidelinesVerdict]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    signals: list[SiteSignals] = field(default_factory=list)
    emails: dict[str, list[str]] = field(default_factory=dict)


def _read(page: WalkedPage) -> tuple[PageContacts, GuidelinesVerdict]:
    return extract_contacts(page.html, page.result.final_url), classify(page.html, page.parsed)


async def visit_site(fetcher: Fetcher, seed: str, *, max_pages: int, pages: list[str] | None = None,
                     progress: WalkProgress | None = None) -> SiteVisit:
    """Walk the seed's site (guidelines-like links first), classifying each guidelines-like page."""
    parts = urlsplit(seed)
    visit = SiteVisit(seed=seed, origin=f"{parts.scheme}://{parts.netloc}")
    walked = [page async for page in walk_site(fetcher, seed, max_pages=max_pages, rank=link_rank, pages=pages,
                                               extra_paths=("/", *GUIDELINE_PATHS), progress=progress)]
    # read in the walk's own order (best ranked first), not the order the pages answered in
    for page in sorted(walked, key=lambda p: (p.priority, p.order)):
        visit.pages += 1
        parsed = page.parsed
        visit.texts.append(f"{parsed.title} {parsed.text}")
        external = sum(1 for link in parsed.links if not same_host(link.href, page.url))
        visit.signals.append(signals_for_text(parsed.text, external))
        # read off the event loop like the walk's own parse (the page is within the parse limits)
        contacts, verdict = await off_loop(fetcher.settings.parse, page.html, _read, page)
        visit.emails[page.result.final_url] = [a.email for a in contacts.addresses]
        if not verdict.is_guidelines_page:
            continue
        if verdict.accepts and visit.accepted is None:
            visit.accepted = (page.result.final_url, verdict)
        elif not verdict.accepts:
            visit.rejected.append((page.result.final_url, verdict))
    if progress is not None:
        progress.sites_done += 1
        progress.found += visit.accepted is not None
    return visit


async def find_guest_post_targets(fetcher: Fetcher, seeds: list[str], *, max_pages: int = 20,
                                  keywords: list[str] | None = None, language: str = "en",
                                  metrics: dict[str, dict[str, float]] | None = None,
                                  pages: dict[str, list[str]] | None = None, progress: WalkProgress | None = None,
                                  ) -> tuple[list[GuestPostTarget], list[SiteVisit]]:
    """Targets (sites whose guidelines page accepts guest posts), best score first, and every visit.

    `metrics` are imported authority metrics by origin; `pages` extra URLs to visit by seed.
    """
    visits = list(await asyncio.gather(*(visit_site(fetcher, s, max_pages=max_pages, progress=progress,
                                                    pages=(pages or {}).get(s)) for s in seeds)))
    corpus = [(v.origin, text) for v in visits for text in v.texts]
    relevance = relevance_by_site(corpus, keywords or [])
    targets = []
    for visit in visits:
        if visit.accepted is None:
            continue
        url, verdict = visit.accepted
        signals = merge_signals(visit.signals)
        if metrics:
            signals.metrics = metrics.get(visit.origin, {})
        score, parts = combine(relevance.get(visit.origin) if keywords else None,
                               quality_parts(signals, language))
        emails = list(visit.emails.get(url, []))
        for page_emails in visit.emails.values():
            emails.extend(e for e in page_emails if e not in emails)
        targets.append(GuestPostTarget(site=visit.origin, page=url, verdict=verdict, emails=emails, score=score,
                                       score_parts=parts, pages_crawled=visit.pages))
    targets.sort(key=lambda t: (-t.score, t.site))
    return targets, visits
