"""Small helpers for WTForms."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from wtforms.fields.choices import SelectChoice


def options(pairs: Iterable[tuple[object, str]]) -> list[SelectChoice]:
    """Select options from (value, label) pairs (WTForms 3.3 deprecates bare tuples)."""
    return [SelectChoice(value, label) for value, label in pairs]


def error_next_to_field(form: Any, exc: Exception, default: str) -> None:
    """Show a service's refusal next to the field it names (`exc.field`), or next to `default`."""
    field = getattr(form, getattr(exc, "field", None) or default, None) or getattr(form, default)
    field.errors = [*list(field.errors), str(exc)]
