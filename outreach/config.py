"""Settings: defaults <- TOML file <- OUTREACH_* environment, then validated, then frozen.

Every key is documented in config.example.toml. A bad value raises ConfigError with one line that
names the key, so `outreach run` can fail at start with a sentence instead of a traceback.

The section dataclasses below are the one home of every key, its type and its default; `DEFAULTS` is
derived from them. `load_settings` returns a read-only `Settings`; code that needs other values (the
demo, tests) builds a new one with `Settings.with_`, which goes through the same validation.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from outreach.lib.urls import host_key


class ConfigError(ValueError):
    """A setting is missing, unknown or has a bad value."""


@dataclass(frozen=True)
class AppSettings:
    secret_key: str = ""
    base_url: str = "http://127.0.0.1:5000"
    instance_path: str = "instance"
    session_cookie_secure: bool = False
    login_max_failures: int = 5
    login_lockout_minutes: int = 15
    page_size: int = 50


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = "sqlite:///instance/outreach.db"
    echo: bool = False
    #: connections kept open per process, and how many more a burst may open (PostgreSQL only)
    pool_size: int = 5
    max_overflow: int = 10


@dataclass(frozen=True)
class WebSettings:
    #: proxies in front of the app whose X-Forwarded-For/-Proto/-Host are trusted (0: none, the headers are ignored)
    proxy_hops: int = 0
    access_log: bool = True


@dataclass(frozen=True)
class SchedulerSettings:
    enabled: bool = True
    #: the interval of the ticks that have no setting of their own
    tick_seconds: int = 15
    #: how often the send tick looks for due messages (it also runs right at start)
    send_tick_seconds: int = 5
    #: how often the poll tick reads the mailboxes whose poll is due (mail.poll_minutes) or failed
    poll_tick_seconds: int = 15
    #: how often messages left in `sending` or `unknown` by a crash are looked up again
    reconcile_tick_seconds: int = 120
    workers: int = 4
    backend: str = "threads"
    broker_url: str = "redis://127.0.0.1:6379/0"
    #: a running run beats three times per interval; one whose heartbeat is older is taken over
    run_heartbeat_seconds: int = 30


@dataclass(frozen=True)
class CrawlSettings:
    allow_private_addresses: bool = False
    #: "host:port" entries, each in one spelling (see host_port)
    allow_private_hosts: tuple[str, ...] = ()
    user_agent: str = "OutreachBot/0.1 (+https://github.com/outreach/outreach; link checking)"
    concurrency: int = 32
    per_host_concurrency: int = 2
    per_host_delay: float = 1.0
    timeout: float = 15.0
    max_page_bytes: int = 5_000_000
    max_redirects: int = 10
    respect_robots: bool = True
    retries: int = 2
    #: threads that parse pages, off the event loop (shared by every run of the process)
    parse_workers: int = 2
    #: a page past any of these is not parsed but refused with reason too_complex
    max_parse_nodes: int = 200_000
    max_parse_depth: int = 512
    parse_timeout: float = 1.0
    #: processes of one crawl job (the CLI's --processes defaults to the number of cores)
    processes: int = 1


@dataclass(frozen=True)
class DnsSettings:
    nameservers: tuple[str, ...] = ()
    port: int = 53
    timeout: float = 5.0
    cache_seconds: int = 3600
    #: ask a domain's mail server whether it accepts a random address (RCPT TO, never DATA): off by default
    catch_all_probe: bool = False
    #: the port the probe connects to on the MX host (25; tests use a loopback server)
    catch_all_port: int = 25
    #: at most this many probes a minute in this process (per MX host at most one a minute)
    catch_all_per_minute: int = 6


@dataclass(frozen=True)
class MailSettings:
    outbox_dir: str = "instance/outbox"
    unsubscribe_secret: str = ""
    default_daily_cap: int = 50
    smtp_timeout: float = 60.0
    imap_timeout: float = 60.0
    poll_minutes: int = 5
    sending_lease_seconds: int = 600


@dataclass(frozen=True)
class SearchSettings:
    provider: str = ""
    api_key: str = ""
    endpoint: str = ""


@dataclass(frozen=True)
class BacklinksSettings:
    lost_after_failures: int = 3
    lost_after_hours: int = 48
    pending_check_hours: int = 24
    live_check_days: int = 7
    render_javascript: bool = False
    chromium_path: str = "/usr/bin/chromium"


@dataclass(frozen=True)
class AlertsSettings:
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_security: str = "none"
    smtp_username: str = ""
    smtp_password: str = ""
    from_email: str = "outreach@localhost"


@dataclass(frozen=True)
class LoggingSettings:
    level: str = "INFO"
    format: str = "text"


@dataclass(frozen=True)
class MetricsSettings:
    #: the bearer token of /metrics; empty: /metrics answers 404
    token: str = ""


@dataclass(frozen=True)
class HealthSettings:
    #: a scheduler heartbeat older than this makes /readyz fail and raises the stale-scheduler alert
    scheduler_stale_seconds: int = 120


@dataclass(frozen=True)
class Settings:
    """All settings, read-only; `settings.crawl.timeout`."""
    app: AppSettings = field(default_factory=AppSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    web: WebSettings = field(default_factory=WebSettings)
    scheduler: SchedulerSettings = field(default_factory=SchedulerSettings)
    crawl: CrawlSettings = field(default_factory=CrawlSettings)
    dns: DnsSettings = field(default_factory=DnsSettings)
    mail: MailSettings = field(default_factory=MailSettings)
    search: SearchSettings = field(default_factory=SearchSettings)
    backlinks: BacklinksSettings = field(default_factory=BacklinksSettings)
    alerts: AlertsSettings = field(default_factory=AlertsSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    health: HealthSettings = field(default_factory=HealthSettings)

    def with_(self, **changes: dict[str, Any]) -> Settings:
        """A copy with some keys changed, validated like the file: `settings.with_(crawl={"timeout": 2.0})`."""
        values = as_dict(self)
        _merge(values, changes, source="with_()")
        return _build(values)


def as_dict(settings: Settings) -> dict[str, dict[str, Any]]:
    """The settings as plain tables (section -> key -> value), e.g. to show or serialise them."""
    return {f.name: dataclasses.asdict(getattr(settings, f.name)) for f in dataclasses.fields(settings)}


#: section name -> its dataclass, in the order of config.example.toml
SECTIONS: dict[str, type[Any]] = {f.name: type(getattr(Settings(), f.name)) for f in dataclasses.fields(Settings)}
#: section -> key -> default, derived from the dataclasses (lists are tuples)
DEFAULTS: dict[str, dict[str, Any]] = as_dict(Settings())

CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("scheduler", "backend"): ("threads", "celery"),
    ("alerts", "smtp_security"): ("none", "starttls", "ssl"),
    ("search", "provider"): ("", "brave", "serpapi", "google_cse"),
    ("logging", "level"): ("DEBUG", "INFO", "WARNING", "ERROR"),
    ("logging", "format"): ("text", "json"),
}

POSITIVE = {
    ("app", "login_max_failures"), ("app", "login_lockout_minutes"), ("app", "page_size"),
    ("scheduler", "tick_seconds"), ("scheduler", "workers"), ("scheduler", "send_tick_seconds"),
    ("scheduler", "poll_tick_seconds"), ("scheduler", "reconcile_tick_seconds"), ("scheduler", "run_heartbeat_seconds"),
    ("crawl", "concurrency"), ("crawl", "per_host_concurrency"), ("crawl", "timeout"),
    ("crawl", "max_page_bytes"), ("crawl", "parse_workers"), ("crawl", "max_parse_nodes"),
    ("crawl", "max_parse_depth"), ("crawl", "parse_timeout"), ("crawl", "processes"), ("dns", "timeout"),
    ("mail", "default_daily_cap"),
    ("mail", "smtp_timeout"), ("mail", "imap_timeout"), ("mail", "poll_minutes"), ("mail", "sending_lease_seconds"),
    ("backlinks", "lost_after_failures"), ("backlinks", "pending_check_hours"),
    ("backlinks", "live_check_days"), ("database", "pool_size"),
}
#: the scheduler records its heartbeat this often (outreach.health.heartbeat); staleness needs a margin over it
HEARTBEAT_SECONDS = 10
#: a metrics token shorter than this is refused: it guards what the app is doing
METRICS_TOKEN_MIN = 16


def load_settings(path: str | os.PathLike[str] | None = None,
                  overrides: dict[str, dict[str, Any]] | None = None,
                  environ: dict[str, str] | None = None) -> Settings:
    """Merge defaults, the TOML file, OUTREACH_* variables and overrides; validate and freeze the result."""
    environ = os.environ if environ is None else environ
    settings = as_dict(Settings())
    path = path or environ.get("OUTREACH_CONFIG")
    if path:
        _merge(settings, _read_toml(Path(path)), source=str(path))
    _merge(settings, _from_environ(environ), source="environment")
    if overrides:
        _merge(settings, overrides, source="overrides")
    return _build(settings)


def _build(settings: dict[str, dict[str, Any]]) -> Settings:
    _validate(settings)
    return Settings(**{section: cls(**settings[section]) for section, cls in SECTIONS.items()})


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
    if isinstance(default, tuple):
        return tuple(part.strip() for part in raw.split(",") if part.strip())
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
            elif isinstance(default, tuple):
                if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                    raise ConfigError(f"{name}: expected a list of strings, got {value!r}")
                settings[section][key] = value = tuple(value)
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
    for name in ("database.max_overflow", "web.proxy_hops"):
        section, key = name.split(".")
        if settings[section][key] < 0:
            raise ConfigError(f"{name}: must be 0 or more, got {settings[section][key]!r}")
    if (stale := settings["health"]["scheduler_stale_seconds"]) < 3 * HEARTBEAT_SECONDS:
        raise ConfigError(f"health.scheduler_stale_seconds: must be {3 * HEARTBEAT_SECONDS} or more "
                          f"(the scheduler beats every {HEARTBEAT_SECONDS} s), got {stale!r}")
    if 0 < len(token := settings["metrics"]["token"]) < METRICS_TOKEN_MIN or token != token.strip():
        raise ConfigError(f"metrics.token: use {METRICS_TOKEN_MIN} or more characters without spaces "
                          "around them (or leave it empty to turn /metrics off)")
    url = settings["database"]["url"]
    if not url.startswith(("sqlite://", "postgresql://", "postgresql+psycopg://", "postgres://")):
        raise ConfigError(f"database.url: must start with sqlite:// or postgresql://, got {url!r}")
    base = urlsplit(settings["app"]["base_url"])
    if base.scheme not in ("http", "https") or not base.netloc:
        raise ConfigError(f"app.base_url: must be an http(s) URL, got {settings['app']['base_url']!r}")
    crawl = settings["crawl"]
    crawl["allow_private_hosts"] = tuple(host_port(entry) for entry in crawl["allow_private_hosts"])
    for ns in settings["dns"]["nameservers"]:
        try:
            ipaddress.ip_address(ns)
        except ValueError:
            raise ConfigError(f"dns.nameservers: {ns!r} is not an IP address") from None


def host_port(entry: str) -> str:
    """An allow_private_hosts entry in one spelling ("127.0.0.1:8765", "[::1]:8765"), or ConfigError."""

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
