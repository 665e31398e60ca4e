"""Replies that ask to be removed ("unsubscribe", "remove me", "take me off your list"...), in a few languages.

Only the sender's own words count: the quoted email below a reply holds our unsubscribe footer, and a
signature may hold anything. A match only *suggests* do-not-contact to a person (outreach.mail.inbox).
"""
from __future__ import annotations

import re

#: where the quoted original starts in the usual mail clients ("On ... wrote:", "Le ... a écrit :", ...)
_QUOTE_HEADER = re.compile(
    r"^\s*(?:on\b.{0,200}\bwrote:|le\b.{0,200}\ba écrit\s*:|am\b.{0,200}\bschrieb\b.{0,80}:|"
    r"el\b.{0,200}\bescribió:|il\b.{0,200}\bha scritto:|op\b.{0,200}\bschreef\b.{0,80}:|"
    r"em\b.{0,200}\bescreveu:|-{2,}\s*(?:original message|ursprüngliche nachricht|message d'origine|"
    r"mensaje original|messaggio originale|oorspronkelijk bericht)\s*-{2,}|_{10,}|from:\s.+@.+|"
    r"de\s*:\s.+@.+|von\s*:\s.+@.+)\s*$", re.I | re.M)
#: our own footer (outreach.mail.smtp.build_message), in case it is quoted without ">"
_OUR_FOOTER = re.compile(r"^--\s*$\n^If you would rather not hear from me again.*$", re.I | re.M)

_PATTERNS = [
    # English
    r"\bunsubscribe\b", r"\bremove\s+(?:me|us|my\s+(?:e-?mail|address|name)|this\s+(?:e-?mail|address))\b",
    r"\btake\s+(?:me|us|my\s+(?:e-?mail|address|name))\s+off\b", r"\bopt(?:ing)?[\s-]?out\b",
    r"\b(?:stop|quit|cease)\s+(?:e-?mailing|contacting|messaging|spamming|writing\s+to)\s+(?:me|us)\b",
    r"\b(?:do\s+not|don'?t|never)\s+(?:e-?mail|contact|message|write\s+to)\s+(?:me|us)\b",
    r"\bno\s+(?:more|further)\s+(?:e-?mails|messages|contact)\b", r"\boff\s+(?:your|the)\s+(?:mailing\s+)?list\b",
    r"\bnot\s+interested[,.;]?\s+(?:please\s+)?(?:stop|remove)\b",
    # German
    r"\babmelden\b", r"\babbestellen\b", r"\baustragen\b", r"\bentfernen\s+sie\s+mich\b",
    r"\bkeine\s+(?:weiteren\s+)?(?:e-?mails|nachrichten)\b", r"\bnicht\s+mehr\s+(?:kontaktieren|anschreiben)\b",
    # French
    r"\bd[ée]sabonn", r"\bd[ée]sinscri", r"\bretirez[\s-]moi\b", r"\bsupprimez[\s-]moi\b",
    r"\bne\s+(?:plus\s+me|me\s+plus)\s+(?:contacter|[ée]crire)\b", r"\bne\s+me\s+contactez\s+plus\b",
    # Spanish
    r"\bdar(?:me)?\s+de\s+baja\b", r"\bdarme\s+de\s+baja\b", r"\belim[ií]n(?:e|a)(?:me|nos)\b",
    r"\bno\s+(?:me|nos)\s+(?:contacten|contactes|escriban|escribas)\b", r"\bno\s+quiero\s+recibir\b",
    # Italian
    r"\bcancellami\b", r"\bdisiscriv", r"\brimuovet?emi\b", r"\bnon\s+contattarmi\b", r"\bnon\s+scrivermi\b",
    # Dutch
    r"\buitschrijven\b", r"\bafmelden\b", r"\bverwijder\s+(?:mij|me)\b", r"\bniet\s+meer\s+(?:mailen|benaderen)\b",
    # Portuguese
    r"\bdescadastr", r"\bremova[\s-]me\b", r"\bn[ãa]o\s+quero\s+(?:mais\s+)?receber\b",
]
_ASKS = re.compile("|".join(_PATTERNS), re.I)


def own_words(text: str) -> str:
    """The part of a reply its sender wrote: above the quoted original, without ">" lines or our footer."""
    found = _QUOTE_HEADER.search(text)
    if found is not None:
        text = text[:found.start()]
    text = _OUR_FOOTER.split(text)[0]
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith(">"))


def asks_removal(text: str) -> bool:
    """Whether the sender's own words ask to stop receiving emails."""
    return _ASKS.search(own_words(text)) is not None
