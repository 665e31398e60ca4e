"""CSV cells a spreadsheet will not run: text that would start a formula gets a leading quote."""
from __future__ import annotations

import unicodedata

#: what starts a formula in Excel, LibreOffice or Google Sheets (after leading spaces, and in full width)
_FORMULA_STARTS = ("=", "+", "-", "@")
_CONTROL_STARTS = ("\t", "\r", "\n")


def formula_safe(text: str) -> str:
    """text, with a leading apostrophe when a spreadsheet would read it as a formula."""
    if not text:
        return text
    if text.startswith(_CONTROL_STARTS):
        return "'" + text
    first = text.lstrip()[:1]
    if first and unicodedata.normalize("NFKC", first).startswith(_FORMULA_STARTS):
        return "'" + text
    return text
