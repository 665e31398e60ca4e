"""CSV cells a spreadsheet will not run: text that would start a formula gets a leading quote."""
from __future__ import annotations

import string
import unicodedata

#: what starts a formula in Excel, LibreOffice or Google Sheets (after leading spaces, and in full width)
_FORMULA_STARTS = ("=", "+", "-", "@")
_CONTROL_STARTS = ("\t", "\r", "\n")
#: first characters that start no formula, whatever follows (most cells: names, URLs, numbers)
_PLAIN_FIRST = frozenset(string.ascii_letters + string.digits + "/.:_#()[]'\"")


def formula_safe(text: str) -> str:
    """text, with a leading apostrophe when a spreadsheet would read it as a formula."""
    if not text or text[0] in _PLAIN_FIRST:
        return text
    if text.startswith(_CONTROL_STARTS):
        return "'" + text
    first = text.lstrip()[:1]
    if first and unicodedata.normalize("NFKC", first).startswith(_FORMULA_STARTS):
        return "'" + text
    return text
