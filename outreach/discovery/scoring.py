"""Scores for prospects: relevance of a site's text to the campaign keywords, and quality signals.

Relevance is Okapi BM25 (k1 = 1.2, b = 0.75) of the keyword query over every page crawled in the
run (the corpus gives the IDF), taking a site's best page, divided by the best score a page could
reach for that query (every term saturated), so it reads as 0..1 whatever the corpus size.

Quality is the mean of the signals that are known: outbound-link density (external links per 100
words: 2 or fewer is fine, 10 or more looks like a link farm), spam footprints, the page language
against the campaign's, and imported authority metrics (DR, DA, AS) when present — never invented.
The score is 100 × (0.5 × relevance + 0.5 × quality), or 100 × quality when there are no keywords;
its parts are kept with it so the user sees why.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

K1, B = 1.2, 0.75
_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)
_STOP_TEXT = {
    "en": "the and of to a in is for that with on you it are as be this we our your by or from at",
    "de": "der die und in den von zu das mit sich des auf für ist im dem nicht ein eine als auch es",
    "fr": "le la les de des et en un une du est que pour dans qui sur pas par au avec vous nous",
    "es": "el la los las de y en un una que del es por con para se al lo como más pero sus",
    "it": "il la le di e che un una per in non con del della sono si è da al gli",
    "nl": "de het een en van in is dat op te zijn voor met die niet aan er om ook als",
}
STOPWORDS: dict[str, frozenset[str]] = {lang: frozenset(words.split()) for lang, words in _STOP_TEXT.items()}
SPAM = re.compile(
    r"\b(?:casino|poker|betting|viagra|cialis|payday\s+loans?|cbd\s+oil|escort|porn|xxx|essay\s+writing\s+service|"
    r"buy\s+(?:followers|likes|backlinks)|backlinks?\s+for\s+sale|sponsored\s+post\s+(?:price|rates?)|"
    r"paid\s+guest\s+posts?|crypto\s+signals|replica\s+watches)\b", re.IGNORECASE)


def tokens(text: str) -> list[str]:
    return [t.lower() for t in _TOKEN.findall(text)]


class BM25:
    """BM25 over a corpus of documents (each a token list); query scores and their upper bound."""

    def __init__(self, documents: Iterable[list[str]]) -> None:
        self.docs = [Counter(d) for d in documents]
        self.lengths = [sum(c.values()) for c in self.docs]
        self.n = len(self.docs)
        self.avgdl = (sum(self.lengths) / self.n) if self.n else 0.0
        self.df: Counter[str] = Counter()
        for counts in self.docs:
            self.df.update(counts.keys())

    def idf(self, term: str) -> float:
        df = self.df.get(term, 0)
        return math.log(1 + (self.n - df + 0.5) / (df + 0.5))

    def score(self, index: int, query: list[str]) -> float:
        counts, length = self.docs[index], self.lengths[index]
        total = 0.0
        for term in set(query):
            tf = counts.get(term, 0)
            if tf:
                norm = tf + K1 * (1 - B + B * length / (self.avgdl or 1))
                total += self.idf(term) * tf * (K1 + 1) / norm
        return total

    def ceiling(self, query: list[str]) -> float:
        """The score a document would get if every query term were saturated in it."""
        return sum(self.idf(t) * (K1 + 1) for t in set(query))


def detect_language(words: list[str]) -> tuple[str | None, float]:
    """The language whose stopwords are most frequent, and their share of the words (None when unsure)."""
    if len(words) < 20:
        return None, 0.0
    best, share = None, 0.0
    for lang, stop in STOPWORDS.items():
        hits = sum(1 for w in words if w in stop) / len(words)
        if hits > share:
            best, share = lang, hits
    return (best, share) if share >= 0.08 else (None, share)


@dataclass
class SiteSignals:
    """What the crawl saw of one site, for its quality score."""

    words: int = 0
    external_links: int = 0
    spam_hits: list[str] = field(default_factory=list)
    language: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)


def quality_parts(signals: SiteSignals, expected_language: str = "en") -> dict[str, float]:
    parts: dict[str, float] = {}
    if signals.words:
        density = 100.0 * signals.external_links / signals.words
        parts["link_density"] = round(max(0.0, min(1.0, (10.0 - density) / 8.0)), 3)
    parts["spam"] = round(max(0.0, 1.0 - len(set(signals.spam_hits)) / 3.0), 3)
    if signals.language is not None:
        parts["language"] = 1.0 if signals.language == expected_language else 0.3
    rated = [v for k, v in signals.metrics.items() if k in ("domain_rating", "domain_authority", "authority_score")
             and v is not None]
    if rated:
        parts["authority"] = round(max(0.0, min(1.0, sum(rated) / len(rated) / 100.0)), 3)
    return parts


def combine(relevance: float | None, quality: dict[str, float]) -> tuple[float, dict[str, Any]]:
    """The 0–100 score and its parts (relevance, quality and the quality signals)."""
    q = sum(quality.values()) / len(quality) if quality else 0.0
    score = 100.0 * (0.5 * relevance + 0.5 * q) if relevance is not None else 100.0 * q
    parts: dict[str, Any] = {"relevance": None if relevance is None else round(relevance, 3),
                             "quality": round(q, 3), "signals": quality}
    return round(score, 1), parts


def signals_for_text(text: str, external_links: int) -> SiteSignals:
    words = tokens(text)
    language, _ = detect_language(words)
    return SiteSignals(words=len(words), external_links=external_links,
                       spam_hits=[m.lower() for m in SPAM.findall(text)], language=language)


def merge_signals(many: Iterable[SiteSignals]) -> SiteSignals:
    total = SiteSignals()
    languages: Counter[str] = Counter()
    for s in many:
        total.words += s.words
        total.external_links += s.external_links
        total.spam_hits.extend(s.spam_hits)
        if s.language:
            languages[s.language] += s.words
    total.language = languages.most_common(1)[0][0] if languages else None
    return total


def relevance_by_site(pages: list[tuple[str, str]], keywords: list[str]) -> dict[str, float]:
    """Best-page BM25 relevance (0..1) per site, from (site, page text) pairs; {} without keywords."""
    query = [t for k in keywords for t in tokens(k)]
    if not query or not pages:
        return {}
    index = BM25(tokens(text) for _, text in pages)
    ceiling = index.ceiling(query) or 1.0
    best: dict[str, float] = {}
    for i, (site, _) in enumerate(pages):
        best[site] = max(best.get(site, 0.0), min(1.0, index.score(i, query) / ceiling))
    return best
