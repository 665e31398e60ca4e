"""Settings: defaults <- TOML file <- OUTREACH_* environment, then validated.

Every key is documented in config.example.toml. A bad value raises ConfigError with one line that
names the key, so `outreach run` can fail at start with a sentence instead of a traceback.
"""
from __future__ import annotations

import copy
import os
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


class ConfigError(ValueError):
    """A setting is missing, unknown or has a bad value."""


DEFAULTS: dict[str, dict[str, Any]] = {
    "app": {
        "secret_key": "",
        "base_url": "http://127.0.0.1:5000",
        "instance_path": "instance",
        "session_cookie_secure": False,
        "login_max_failures": 5,
        "login_lockout_minutes": 15,
        "page_size": 50,
    },
    "database": {
        "url": "sqlite:///instance/outreach.db",
        "echo": False,
    },
    "scheduler": {
        "enabled": True,
        "tick_seconds": 15,
        "workers": 4,
        "backend": "threads",
        "broker_url": "redis://127.0.0.1:6379/0",
    },
    "crawl": {
        "allow_private_addresses": False,
        "allow_private_hosts": [],
        "user_agent": "OutreachBot/0.1 (+https://github.com/outreach/outreach; link checking)",
        "concurrency": 32,
        "per_host_concurrency": 2,
        "per_host_delay": 1.0,
        "timeout": 15.0,
        "max_page_bytes": 5_000_000,
        "max_redirects": 10,
        "respect_robots": True,
        "retries": 2,
    },
    "dns": {
        "nameservers": [],
        "port": 53,
        "timeout": 5.0,
        "cache_seconds": 3600,
    },
    "mail": {
        "outbox_dir": "instance/outbox",
        "unsubscribe_secret": "",
        "default_daily_cap": 50,
        "smtp_timeout": 60.0,
        "imap_timeout": 60.0,
        "poll_minutes": 5,
        "sending_lease_seconds": 600,
    },
    "search": {
        "provider": "",
        "api_key": "",
        "endpoint": "",
    },
    "backlinks": {
        "lost_after_failures": 3,
        "lost_after_hours": 48,
        "pending_check_hours": 24,
        "live_check_days": 7,
        "render_javascript": False,
        "chromium_path": "/usr/bin/chromium",
    },
    "alerts": {
        "smtp_host": "",
        "smtp_port": 25,
        "smtp_security": "none",
        "smtp_username": "",
        "smtp_password": "",
        "from_email": "outreach@localhost",
    },
}

CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("scheduler", "backend"): ("threads", "celery"),
    ("alerts", "smtp_security"): ("none", "starttls", "ssl"),
    ("search", "provider"): ("", "brave", "serpapi", "google_cse"),
}

POSITIVE = {
    ("app", "login_max_failures"), ("app", "login_lockout_minutes"), ("app", "page_size"),
    ("scheduler", "tick_seconds"), ("scheduler", "workers"),
    ("crawl", "concurrency"), ("crawl", "per_host_concurrency"), ("crawl", "timeout"),
    ("crawl", "max_page_bytes"), ("dns", "timeout"), ("mail", "default_daily_cap"),
    ("mail", "smtp_timeout"), ("mail", "imap_timeout"), ("mail", "poll_minutes"), ("mail", "sending_lease_seconds"),
    ("backlinks", "lost_after_failures"), ("backlinks", "pending_check_hours"),
    ("backlinks", "live_check_days"),
}


def load_settings(path: str | os.PathLike[str] | None = None,
                  overrides: dict[str, dict[str, Any]] | None = None,
                  environ: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """Merge defaults, the TOML file, OUTREACH_* variables and overrides; validate the result."""
    environ = os.environ if environ is None else environ
    settings = copy.deepcopy(DEFAULTS)
    path = path or environ.get("OUTREACH_CONFIG")
    if path:
        _merge(settings, _read_toml(Path(path)), source=str(path))
    _merge(settings, _from_environ(environ), source="environment")
    if overrides:
        _merge(settings, overrides, source="overrides")
    _validate(settings)
    return settings


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _from_environ(environ: dict[str, str] | os._Environ[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for section, keys in DEFAULTS.items():
        for key, default in keys.items():
            name = f"OUTREACH_{section}_{key}".upper()
            if name in environ:
                found.setdefault(section, {})[key] = _parse_env_value(name, environ[name], default)
    return found


def _parse_env_value(name: str, raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{name}: expected true or false, got {raw!r}")
    if isinstance(default, list):
        return [part.strip() for part in raw.split(",") if part.strip()]
    return raw  # numbers are coerced and checked in _validate


def _merge(settings: dict[str, dict[str, Any]], new: dict[str, Any], source: str) -> None:
    for section, values in new.items():
        if section not in DEFAULTS:
            raise ConfigError(f"[{section}] in {source} is not a known section "
                              f"(known: {', '.join(DEFAULTS)})")
        if not isinstance(values, dict):
            raise ConfigError(f"[{section}] in {source} must be a table")
        for key, value in values.items():
            if key not in DEFAULTS[section]:
                raise ConfigError(f"{section}.{key} in {source} is not a known setting")
            settings[section][key] = value


def _validate(settings: dict[str, dict[str, Any]]) -> None:
    for section, keys in DEFAULTS.items():
        for key, default in keys.items():
            value = settings[section][key]
            name = f"{section}.{key}"
            if isinstance(default, bool):
                if not isinstance(value, bool):
                    raise ConfigError(f"{name}: expected true or false, got {value!r}")
            elif isinstance(default, int):
                settings[section][key] = value = _coerce(name, value, int)
            elif isinstance(default, float):
                settings[section][key] = value = _coerce(name, value, float)
            elif isinstance(default, list):
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise ConfigError(f"{name}: expected a list of strings, got {value!r}")
            elif isinstance(default, str) and not isinstance(value, str):
                raise ConfigError(f"{name}: expected a string, got {value!r}")
            if (section, key) in POSITIVE and value <= 0:
                raise ConfigError(f"{name}: must be greater than 0, got {value!r}")
            choices = CHOICES.get((section, key))
            if choices is not None and value not in choices:
                shown = ", ".join(repr(c) for c in choices)
                raise ConfigError(f"{name}: must be one of {shown}, got {value!r}")
    if settings["crawl"]["per_host_delay"] < 0:
        raise ConfigError("crawl.per_host_delay: must be 0 or more")
    if (hours := settings["backlinks"]["lost_after_hours"]) < 0:
        raise ConfigError(f"backlinks.lost_after_hours: must be 0 or more, got {hours!r}")
    url = settings["database"]["url"]
    if not url.startswith(("sqlite://", "postgresql://", "postgresql+psycopg://", "postgres://")):
        raise ConfigError(f"database.url: must start with sqlite:// or postgresql://, got {url!r}")
    base = urlsplit(settings["app"]["base_url"])
    if base.scheme not in ("http", "https") or not base.netloc:
        raise ConfigError(f"app.base_url: must be an http(s) URL, got {settings['app']['base_url']!r}")
    settings["crawl"]["allow_private_hosts"] = [host_port(entry) for entry in settings["crawl"]["allow_private_hosts"]]
    for ns in settings["dns"]["nameservers"]:
        import ipaddress

        try:
            ipaddress.ip_address(ns)
        except ValueError:
            raise ConfigError(f"dns.nameservers: {ns!r} is not an IP address") from None


def host_port(entry: str) -> str:
    """An allow_private_hosts entry in one spelling ("127.0.0.1:8765", "[::1]:8765"), or ConfigError."""
    from outreach.lib.urls import host_key

    bad = ConfigError(f"crawl.allow_private_hosts: {entry!r} must be one host:port, e.g. \"127.0.0.1:8765\"")
    parts = urlsplit(f"//{entry.strip()}")
    try:
        port = parts.port
    except ValueError:
        raise bad from None
    if not parts.hostname or port is None or port == 0 or parts.path or parts.query or parts.username:
        raise bad
    return host_key(parts.hostname, port)


def _coerce(name: str, value: Any, kind: type) -> Any:
    if isinstance(value, bool):
        raise ConfigError(f"{name}: expected a number, got {value!r}")
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: expected a number, got {value!r}") from None
