from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from outreach.config import DEFAULTS, ConfigError, Settings, load_settings


def test_it_uses_defaults_without_a_file() -> None:
    settings = load_settings(environ={})
    assert settings.database.url == "sqlite:///instance/outreach.db"
    assert settings.crawl.allow_private_addresses is False


def test_it_merges_file_then_environment(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[crawl]\nconcurrency = 8\nper_host_delay = 0.5\n[database]\nurl = "sqlite:///x.db"\n')
    settings = load_settings(path, environ={"OUTREACH_CRAWL_CONCURRENCY": "4"})
    assert settings.crawl.concurrency == 4
    assert settings.crawl.per_host_delay == 0.5
    assert settings.database.url == "sqlite:///x.db"


@pytest.mark.parametrize(("content", "message"), [
    ("[crawl]\nconcurrency = 'many'\n", "crawl.concurrency: expected a number"),
    ("[crawl]\nconcurrency = 0\n", "crawl.concurrency: must be greater than 0"),
    ("[crawl]\nspeed = 3\n", "crawl.speed in"),
    ("[nonsense]\na = 1\n", "[nonsense] in"),
    ("[database]\nurl = 'mysql://x'\n", "database.url: must start with"),
    ("[crawl]\nallow_private_addresses = 'yes'\n", "crawl.allow_private_addresses: expected true or false"),
    ("[dns]\nnameservers = ['not-an-ip']\n", "dns.nameservers"),
    ("[crawl]\nallow_private_hosts = ['127.0.0.1']\n", "crawl.allow_private_hosts: '127.0.0.1' must be one host:port"),
    ("[crawl]\nallow_private_hosts = ['http://127.0.0.1:8765/']\n", "crawl.allow_private_hosts: 'http:"),
    ("[crawl]\nallow_private_hosts = '127.0.0.1:8765'\n", "crawl.allow_private_hosts: expected a list of strings"),
    ("[scheduler]\nbackend = 'rq'\n", "scheduler.backend: must be one of"),
    ("[backlinks]\nlost_after_hours = -1\n", "backlinks.lost_after_hours: must be 0 or more"),
    ("[backlinks]\nlost_after_hours = 'two days'\n", "backlinks.lost_after_hours: expected a number"),
    ("[backlinks]\nlost_after_failures = 0\n", "backlinks.lost_after_failures: must be greater than 0"),
    ("this is not toml", "is not valid TOML"),
])
def test_it_names_the_bad_key_in_one_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(content)
    with pytest.raises(ConfigError) as excinfo:
        load_settings(path, environ={})
    assert message in str(excinfo.value)
    assert "\n" not in str(excinfo.value)


def test_a_bad_environment_boolean_is_refused() -> None:
    with pytest.raises(ConfigError, match="OUTREACH_CRAWL_RESPECT_ROBOTS"):
        load_settings(environ={"OUTREACH_CRAWL_RESPECT_ROBOTS": "maybe"})


def test_a_missing_file_is_one_line() -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings("/nonexistent/outreach.toml", environ={})


def test_the_example_config_documents_every_key() -> None:
    import tomllib

    example = tomllib.loads((Path(__file__).parents[1] / "config.example.toml").read_text())
    for section, keys in DEFAULTS.items():
        assert section in example, section
        for key, value in keys.items():
            assert key in example[section], f"{section}.{key}"
            expected = list(value) if isinstance(value, tuple) else value  # TOML lists are tuples here
            assert example[section][key] == expected, f"{section}.{key}"


def test_allow_private_hosts_are_kept_in_one_spelling(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[crawl]\nallow_private_hosts = ['127.0.0.1:8765', 'Demo.Localhost:80', '[::1]:8765']\n")
    hosts = load_settings(path, environ={}).crawl.allow_private_hosts
    assert hosts == ("127.0.0.1:8765", "demo.localhost:80", "[::1]:8765")


def test_settings_are_read_only() -> None:
    settings = load_settings(environ={})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.crawl.timeout = 1.0  # type: ignore[misc]
    for section in dataclasses.fields(settings):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(settings, section.name, getattr(settings, section.name))
        part = getattr(settings, section.name)
        for key in dataclasses.fields(part):
            with pytest.raises(dataclasses.FrozenInstanceError):
                setattr(part, key.name, getattr(part, key.name))
    assert isinstance(settings.crawl.allow_private_hosts, tuple)  # lists are tuples: nothing to append to
    assert isinstance(settings.dns.nameservers, tuple)


def test_with_gives_a_validated_copy_and_leaves_the_original() -> None:
    settings = load_settings(environ={})
    changed = settings.with_(crawl={"allow_private_hosts": ["Demo.Localhost:80"], "timeout": "2.5"})
    assert changed.crawl.allow_private_hosts == ("demo.localhost:80",)
    assert changed.crawl.timeout == 2.5
    assert changed.mail == settings.mail
    assert settings.crawl.allow_private_hosts == () and settings.crawl.timeout == 15.0
    with pytest.raises(ConfigError, match=r"^crawl\.speed in with_\(\) is not a known setting$"):
        settings.with_(crawl={"speed": 3})
    with pytest.raises(ConfigError, match=r"^crawl\.concurrency: must be greater than 0, got 0$"):
        settings.with_(crawl={"concurrency": 0})


def test_a_typo_in_the_file_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[crawl]\ntimout = 3\n")
    with pytest.raises(ConfigError) as excinfo:
        load_settings(path, environ={})
    assert str(excinfo.value) == f"crawl.timout in {path} is not a known setting"


def test_every_default_is_a_field_of_its_section() -> None:
    defaults = Settings()
    for section, keys in DEFAULTS.items():
        for key, value in keys.items():
            assert getattr(getattr(defaults, section), key) == value, f"{section}.{key}"
    assert load_settings(environ={}) == defaults


@pytest.mark.parametrize(("content", "message"), [
    ("[database]\npool_size = 0\n", "database.pool_size: must be greater than 0"),
    ("[database]\nmax_overflow = -1\n", "database.max_overflow: must be 0 or more"),
    ("[web]\nproxy_hops = -1\n", "web.proxy_hops: must be 0 or more"),
    ("[logging]\nformat = 'xml'\n", "logging.format: must be one of 'text', 'json'"),
    ("[logging]\nlevel = 'info'\n", "logging.level: must be one of"),
    ("[metrics]\ntoken = 'short'\n", "metrics.token: use 16 or more characters"),
    ("[health]\nscheduler_stale_seconds = 15\n", "health.scheduler_stale_seconds: must be 30 or more"),
])
def test_operations_settings_are_checked(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_settings(path, environ={})


def test_the_pool_size_applies_on_postgresql_only(tmp_path: Path) -> None:
    from outreach.db import engine_from

    settings = load_settings(environ={}, overrides={"database": {"pool_size": 3, "max_overflow": 2}})
    postgres = engine_from(settings.with_(database={"url": "postgresql://outreach@127.0.0.1:5432/outreach"}).database)
    assert (postgres.pool.size(), postgres.pool._max_overflow) == (3, 2)  # type: ignore[attr-defined]
    sqlite = engine_from(settings.with_(database={"url": f"sqlite:///{tmp_path / 'x.db'}"}).database)
    assert sqlite.pool.size() == 5  # type: ignore[attr-defined]  # SQLAlchemy's own: one writer at a time anyway
    postgres.dispose()
    sqlite.dispose()
