"""A person's name written next to an address: a mailto link's text, "Editor: Jane Doe – jane@…", a table row.

Conservative on purpose: a name is two to four capitalised words that are not labels or roles
("Contact us", "Email the editor", "Managing Editor" are not names), never the site's own brand; a
single word only as a mailto link's text that the address spells ("Jane" for ``jane@``). A team's
address (``editor@``) takes a name only when it is written right beside it or in its link text.
"""
from __future__ import annotations

import re
import unicodedata


#: words that are labels, roles or calls to action, never part of a person's name (lower case)
def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


NOT_NAME = _words("""
    contact contacts contacting us me email e-mail emails mail mailto send write writing reach get touch our your
    the a an for and or at by via to of in on with from this that here please click now today more read follow
    editor editors editorial editor-in-chief chief managing senior junior associate assistant deputy executive head
    lead manager director founder co-founder cofounder owner ceo cto cfo coo president publisher author authors
    writer writers contributor contributors team staff office press media support help helpdesk sales marketing
    advertising advertise partnerships partner partners business general inquiries enquiries inquiry enquiry
    questions question info information hello hi hey submissions submission submit guest post posts posting pitch
    pitches news newsroom tips phone tel telephone mobile fax address website site blog web webmaster admin
    administrator customer service services department desk feedback privacy legal jobs careers hr pr content
    community social events home about copyright rights reserved policy terms newsletter subscribe sponsored
    sponsorship mr mrs ms miss dr prof sir madam name names first last full dear regards thanks thank
    ltd inc llc gmbh corp company group limited plc srl bv ag
    kontakt kontaktieren sie uns redaktion impressum herausgeber chefredakteur chefredakteurin ansprechpartner
    ansprechpartnerin verantwortlich schreiben schreibt contacto correo escríbenos escribenos redacción redaccion
    nosotros nous contactez contacter rédaction redaction courriel écrivez ecrivez contatti contattaci scrivici
    redazione scrivi noi
""")
#: words that turn the capitalised words before them into a place or an organisation ("New York Office")
ORGANISATION = _words("""
    office offices team department dept desk group media company inc ltd llc gmbh corp limited blog magazine
    news newsroom press support sales marketing service services hq headquarters branch store shop studio agency
    network editorial staff club association foundation institute university school college center centre
    project partners consulting
""")
#: lower-case particles allowed inside a name ("Anna de la Cruz", "Jan van der Berg")
PARTICLES = _words("de da del della di du la le van von der den ter ten bin ibn dos das y")

_TOKEN = re.compile(r"[^\W\d_](?:[\w'’\-]*[^\W\d_])?\.?")
#: what may stand between a name and the address it names ("Jane Doe <", "Jane Doe – ", "Jane Doe, email: ")
_SEPARATORS = re.compile(r"[ \t:,;|()<>\[\]\-–—/]*")
#: at most this many label words between them ("Jane Doe, Managing Editor: …")
MAX_LABEL_WORDS = 2


def _adjacent(between: str) -> bool:
    """Whether only separators and a label or two stand between a name and an address (not a sentence end)."""
    if "\n" in between or re.search(r"[.!?]\s", between):
        return False
    words = _TOKEN.findall(between)
    if not _SEPARATORS.fullmatch(_TOKEN.sub("", between)):
        return False
    if words and not re.match(r"\s*[^\w\s]", between):
        return False  # "New York Office: …" is a place's office; "Jane Doe, Editor: …" is a person's
    return len(words) <= MAX_LABEL_WORDS and all(_fold(w.rstrip(".")) in NOT_NAME for w in words)


def _names_a_place(following: str) -> bool:
    """Whether the words before this text are a place's or an organisation's name ("New York| Office")."""
    match = re.match(r" ([^\W\d_][\w\-]*)", following)
    return match is not None and _fold(match.group(1)) in ORGANISATION


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def _is_name_word(word: str) -> bool:
    bare = word.rstrip(".")
    if _fold(bare) in NOT_NAME or bare.lower() in NOT_NAME or not bare[:1].isupper():
        return False
    if len(bare) == 1:
        return word.endswith(".")  # an initial: "Jane Q. Public"
    return not bare.isupper()  # "FAQ", "CEO", "PR" are not names


def candidates(text: str) -> list[tuple[int, int, str]]:
    """(start, end, name) of every run of two to four name words in the text (one word runs too, marked by
    their length, for callers that can confirm them)."""
    runs: list[tuple[int, int, str]] = []
    words: list[re.Match[str]] = []

    def close() -> None:
        while words and words[-1].group(0).lower() in PARTICLES:
            words.pop()
        count = sum(1 for w in words if w.group(0).lower() not in PARTICLES)
        if 1 <= count <= 4 and not (count == 1 and words[0].group(0).endswith(".")):
            name = " ".join(w.group(0) for w in words)
            runs.append((words[0].start(), words[-1].end(), name if re.search(r"\b\w\.$", name) else
                         name.rstrip(".")))
        words.clear()

    previous_end = -1
    for match in _TOKEN.finditer(text):
        word = match.group(0)
        gap = text[previous_end:match.start()] if previous_end >= 0 else ""
        joined = previous_end >= 0 and gap.strip() == "" and "\n" not in gap
        if not joined:
            close()
        if _is_name_word(word) or (words and word.lower() in PARTICLES):
            words.append(match)
        else:
            close()
        previous_end = match.end()
    close()
    return runs


def matches_address(name: str, email: str) -> bool:
    """Whether the address's local part spells the name (jane.doe, jdoe, janed, doe, jane)."""
    local = re.sub(r"[^a-z]", "", _fold(email.split("@", 1)[0]))
    parts = [re.sub(r"[^a-z]", "", _fold(p)) for p in name.split() if p.lower() not in PARTICLES]
    parts = [p for p in parts if p]
    if not local or not parts:
        return False
    if any(len(p) >= 3 and p in local for p in parts):
        return True
    return len(parts) >= 2 and (parts[0][0] + parts[-1] in local or local in (parts[0] + parts[-1][0],
                                                                              parts[0][0] + parts[-1][0]))


def is_brand(name: str, email: str) -> bool:
    """"Widget Weekly" for hello@widgetweekly.test is the site, not a person."""
    letters = re.sub(r"[^a-z]", "", _fold(name))
    domain = re.sub(r"[^a-z.]", "", _fold(email.rsplit("@", 1)[-1]))
    return len(letters) >= 4 and any(letters in label or (len(label) >= 4 and label in letters)
                                     for label in domain.split(".")[:-1])


def _acceptable(name: str, email: str, *, single: bool = False) -> bool:
    """Two to four words that are not the site's brand; one word only where allowed and the address spells it."""
    if is_brand(name, email):
        return False
    return len(name.split()) >= 2 or (single and matches_address(name, email))


def name_in_link_text(text: str, email: str) -> str:
    """The person a mailto link's text names ("Jane Doe", "Email Jane Doe"), or "" ("Contact us", "Email")."""
    text = " ".join(text.split())
    if not text or "@" in text or len(text) > 80:
        return ""
    runs = [name for _, _, name in candidates(text)]
    if len(runs) != 1 or not _acceptable(runs[0], email, single=True):
        return ""
    return runs[0][:200]


def name_beside(before: str, after: str, email: str, *, is_role: bool) -> str:
    """The person named beside an address in its list item, paragraph or table row, or "".

    `before` and `after` are the text on either side of the address, other addresses cut off, with a
    newline wherever one block (cell, paragraph, heading) ends and another begins. A name the address
    spells (Jane Doe for jdoe@) may be in a neighbouring block, as in a table row or a profile card;
    any other name must be in the address's own block: written right beside it ("Jane Doe <…>",
    "Editor: Jane Doe – …", "… (Jane Doe)"), or for a person's own address, the one name before it.
    """
    def people(text: str) -> list[tuple[int, int, str]]:
        return [(s, e, n) for s, e, n in candidates(text) if _acceptable(n, email) and not _names_a_place(text[e:])]

    found_before, found_after = people(before), people(after)
    spelled = [n for _, _, n in reversed(found_before) if matches_address(n, email)] + \
              [n for _, _, n in found_after if matches_address(n, email)]
    if spelled:
        return spelled[0][:200]
    own_start, own_end = before.rfind("\n") + 1, after.find("\n") if "\n" in after else len(after)
    mine_before = [(s, e, n) for s, e, n in found_before if s >= own_start]
    mine_after = [(s, e, n) for s, e, n in found_after if e <= own_end]
    adjacent = [n for _, e, n in mine_before[-1:] if _adjacent(before[e:])]
    adjacent += [n for s, _, n in mine_after[:1] if _adjacent(after[:s])]
    if adjacent:
        return adjacent[0][:200]
    if is_role:
        return ""
    # a person's own address: the one name written before it in its block
    named = [n for _, _, n in mine_before if len(n.split()) >= 2]
    return named[0][:200] if len(named) == 1 else ""
