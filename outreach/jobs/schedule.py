"""Every scheduled tick, in one list: what runs, how often, and how late it may still start."""
from __future__ import annotations

from outreach.analytics import jobs as analytics
from outreach.backlinks import jobs as backlinks
from outreach.campaigns import jobs as campaigns
from outreach.campaigns.imports import jobs as imports
from outreach.contacts import jobs as contacts
from outreach.crawler import jobs as crawler
from outreach.discovery.prospecting import jobs as prospecting
from outreach.jobs.ticks import Tick
from outreach.mail import domain_checks
from outreach.mail import jobs as mail
from outreach.reports import jobs as reports
from outreach.webhooks import jobs as webhooks

TICKS: list[Tick] = [
    Tick("backlinks.check", backlinks.check_due, seconds=60, misfire_grace_time=120),
    Tick("backlinks.alerts", backlinks.send_alerts, seconds=60, misfire_grace_time=120),
    Tick("prospecting-runs", prospecting.run_prospecting, seconds=5, misfire_grace_time=30),
    Tick("short-runs", prospecting.run_short, seconds=2, misfire_grace_time=30),
    Tick("reports.monthly", reports.send_monthly_reports, seconds=3600, misfire_grace_time=900),
    Tick("analytics.pull", analytics.pull_due, seconds=300, misfire_grace_time=600),
    Tick("mail.send", mail.send_due, setting="send_tick_seconds", misfire_grace_time=60, at_start=True),
    Tick("mail.poll", mail.poll_mailboxes, setting="poll_tick_seconds", misfire_grace_time=120, at_start=True),
    Tick("mail.domain-checks", domain_checks.recheck_tick, seconds=3600, misfire_grace_time=1800),
    Tick("mail.reconcile", mail.reconcile, setting="reconcile_tick_seconds", misfire_grace_time=300),
    Tick("crawl-jobs", crawler.run_crawl_jobs, seconds=5, misfire_grace_time=30),
    Tick("contacts.validate", contacts.validate_unchecked, seconds=60),
    Tick("import-runs", imports.run_imports, seconds=2, misfire_grace_time=30),
    Tick("webhooks.deliver", webhooks.deliver_webhooks, seconds=10, misfire_grace_time=60),
    Tick("campaigns.stage-counts", campaigns.fold_stage_counts, seconds=30, misfire_grace_time=60),
]


def tick_by_id(tick_id: str) -> Tick | None:
    return next((t for t in TICKS if t.id == tick_id), None)
