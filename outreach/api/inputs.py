"""Reading JSON bodies and query parameters: each bad value becomes an ApiError naming its field."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from outreach.api.errors import ApiError, bad_parameter, invalid
from outreach.campaigns.metrics import BY_NAME
from outreach.campaigns.service import METRIC_FIELDS

MAX_PER_PAGE = 200
#: ids are 32-bit integers in PostgreSQL; a larger number can name no record
MAX_ID = 2**31 - 1


class Body:
    """A JSON object body whose fields are read by type; unknown fields are refused."""

    def __init__(self, data: Any, allowed: tuple[str, ...]) -> None:
        if not isinstance(data, dict):
            raise ApiError(400, "invalid_json", "the request body must be a JSON object")
        for key, value in data.items():
            if key not in allowed:
                raise invalid(str(key)[:60], f"unknown field {str(key)[:60]!r} (expected one of: {', '.join(allowed)})")
            if _has_nul(value):
                raise invalid(key, f"{key} contains a NUL character")
        self.data: dict[str, Any] = data

    def __contains__(self, name: str) -> bool:
        return name in self.data

    def string(self, name: str, *, required: bool = False, default: str = "", max_length: int = 10000) -> str:
        if name not in self.data or self.data[name] is None:
            if required:
                raise invalid(name, f"{name} is required")
            return default
        value = self.data[name]
        if not isinstance(value, str):
            raise invalid(name, f"{name} must be a string")
        if required and not value.strip():
            raise invalid(name, f"{name} must not be empty")
        if len(value) > max_length:
            raise invalid(name, f"{name} is longer than {max_length} characters")
        return value

    def optional_string(self, name: str, *, max_length: int = 10000) -> str | None:
        if self.data.get(name) is None:
            return None
        return self.string(name, max_length=max_length)

    def integer(self, name: str, *, required: bool = False) -> int | None:
        """An integer id (null allowed unless required)."""
        value = self.data.get(name)
        if value is None:
            if required:
                raise invalid(name, f"{name} is required")
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise invalid(name, f"{name} must be an integer")
        if not 1 <= value <= MAX_ID:
            raise invalid(name, f"{name} must be an id between 1 and {MAX_ID}")
        return value

    def whole(self, name: str, low: int, high: int, *, default: int) -> int:
        """An integer within [low, high] (a port, an hour, a cap); `default` when absent."""
        value = self.data.get(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise invalid(name, f"{name} must be an integer")
        if not low <= value <= high:
            raise invalid(name, f"{name} must be from {low} to {high}")
        return value

    def boolean(self, name: str, *, default: bool) -> bool:
        value = self.data.get(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise invalid(name, f"{name} must be true or false")
        return value

    def ids(self, name: str, *, max_items: int = 1000) -> list[int]:
        """A non-empty list of record ids."""
        value = self.data.get(name)
        if not isinstance(value, list) or not value:
            raise invalid(name, f"{name} must be a non-empty list of ids")
        if len(value) > max_items:
            raise invalid(name, f"{name} has more than {max_items} items")
        if any(isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= MAX_ID for v in value):
            raise invalid(name, f"every item of {name} must be an id between 1 and {MAX_ID}")
        return list(dict.fromkeys(value))

    def number(self, name: str) -> float | None:
        value = self.data.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise invalid(name, f"{name} must be a number")
        if not -1e15 <= value <= 1e15:
            raise invalid(name, f"{name} must be between -1e15 and 1e15")
        return float(value)

    def lines(self, name: str, *, max_items: int = 1000) -> str:
        """A list of strings (or one string with one item per line), as newline-separated text."""
        value = self.data.get(name)
        if value is None:
            return ""
        if isinstance(value, str):
            return value
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise invalid(name, f"{name} must be a list of strings")
        if len(value) > max_items:
            raise invalid(name, f"{name} has more than {max_items} items")
        if any("\n" in v for v in value):
            raise invalid(name, f"an item of {name} contains a line break")
        return "\n".join(value)

    def string_list(self, name: str, *, max_items: int = 100) -> list[str]:
        value = self.data.get(name)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise invalid(name, f"{name} must be a list of strings")
        if len(value) > max_items:
            raise invalid(name, f"{name} has more than {max_items} items")
        return value

    def metrics(self, name: str) -> dict[str, float]:
        value = self.data.get(name)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise invalid(name, f"{name} must be an object")
        out: dict[str, float] = {}
        for key, number in value.items():
            if key not in METRIC_FIELDS:
                raise invalid(f"{name}.{key}", f"unknown metric {key!r} (expected one of: {', '.join(METRIC_FIELDS)})")
            if number is None:
                continue
            high = BY_NAME[key].high
            if isinstance(number, bool) or not isinstance(number, int | float) or not 0 <= number <= high:
                raise invalid(f"{name}.{key}", f"{key} must be a number from 0 to {int(high)}")
            out[key] = float(number)
        return out


def _has_nul(value: Any) -> bool:
    """Whether a string anywhere in the value holds U+0000, which PostgreSQL text cannot store."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    return False


def check_query(args: Mapping[str, str]) -> None:
    """Refuse query parameters holding U+0000 before any of them reaches the database."""
    for name, value in args.items():
        if "\x00" in value or "\x00" in name:
            clean = name.replace("\x00", "")[:60]
            raise bad_parameter(clean, f"{clean} contains a NUL character")


def query_int(args: Mapping[str, str], name: str, *, default: int | None = None, minimum: int = 1,
              maximum: int = MAX_ID) -> int | None:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_parameter(name, f"{name} must be an integer, not {raw[:40]!r}") from None
    if value < minimum:
        raise bad_parameter(name, f"{name} must be at least {minimum}")
    if value > maximum:
        raise bad_parameter(name, f"{name} must be at most {maximum}")
    return value


def query_choice(args: Mapping[str, str], name: str, choices: tuple[str, ...], default: str | None = None
                 ) -> str | None:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    if raw not in choices:
        raise bad_parameter(name, f"{name} must be one of: {', '.join(choices)}")
    return raw


def pagination(args: Mapping[str, str], default_per_page: int) -> tuple[int, int]:
    page = query_int(args, "page", default=1, minimum=1, maximum=1_000_000)
    per_page = query_int(args, "per_page", default=min(default_per_page, MAX_PER_PAGE), minimum=1,
                         maximum=MAX_PER_PAGE)
    assert page is not None and per_page is not None
    return page, per_page
