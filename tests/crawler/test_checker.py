"""Small pieces of the link checker: Retry-After, similarity, settings."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from outreach.config import Settings
from outreach.crawler.checker import retry_after_seconds, similar
from outreach.lib.http import FetchSettings


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert retry_after_seconds("120") == 120.0
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert retry_after_seconds(later, now=now.timestamp()) == 30.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_similarity_tells_a_template_from_a_different_page() -> None:
    oops = "Sorry, we could not find this page. Try the search box or go back to the home page."
    assert similar(oops.replace("this page", "this old page"), oops) >= 0.5
    assert similar("A guide to widgets and how to fit them in a small kitchen.", oops) < 0.1


def test_fetch_settings_come_from_the_crawl_and_dns_tables() -> None:
    settings = FetchSettings.from_settings(Settings().with_(
        crawl={"concurrency": 7, "parse_workers": 3, "max_parse_depth": 100}, dns={"nameservers": ["127.0.0.1"]}))
    assert settings.concurrency == 7 and settings.max_bytes == 5_000_000 and not settings.allow_private_addresses
    assert settings.parse.workers == 3 and settings.parse.max_depth == 100 and settings.parse.timeout == 1.0
    assert settings.dns.nameservers == ("127.0.0.1",)
    assert FetchSettings.from_settings(Settings()).user_agent.startswith("OutreachBot/")
