"""The formula guard on CSV cells."""
from __future__ import annotations

import pytest

from outreach.lib.spreadsheet import formula_safe


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", "  =HYPERLINK(\"x\")",
                                  "\u3000=1", "＝HYPERLINK(\"x\")", "＋1", "－1", "＠SUM(A1)"])
def test_it_quotes_what_a_spreadsheet_would_run(text: str) -> None:
    assert formula_safe(text) == "'" + text


@pytest.mark.parametrize("text", ["", "Acme widgets", "https://example.com/=x", "a=b", "100", " ", "'=already"])
def test_it_leaves_plain_text_alone(text: str) -> None:
    assert formula_safe(text) == text
