"""The campaigns part's refusal: one line, and the form field it is about."""
from __future__ import annotations


class CampaignError(ValueError):
    """A one-line reason an operation was refused; `field` names the form field when there is one."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
