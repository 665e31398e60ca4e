"""The one error shape of the API: {"error": {"code", "message", "field"}}."""
from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error answered as JSON with this status; `field` names the bad input when there is one."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "field": self.field, **self.extra}}


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"no such {what}")


def forbidden(message: str = "your role may read but not change this") -> ApiError:
    return ApiError(403, "forbidden", message)


def invalid(field: str, message: str) -> ApiError:
    """422: the request was well-formed but a field's value is refused."""
    return ApiError(422, "invalid", message, field)


def bad_parameter(field: str, message: str) -> ApiError:
    """400: a query parameter cannot be understood."""
    return ApiError(400, "bad_parameter", message, field)
