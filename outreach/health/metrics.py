"""The Prometheus exposition of /metrics, built from a health snapshot at each scrape.

Every figure comes from the database (outreach.health.service), so any web process answers for the whole
deployment: the scheduler's and the workers' ticks included. Counters are totals since the first start;
`rate(outreach_emails_sent_total[5m]) * 60` is emails sent per minute.
"""
from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from outreach.health.service import Snapshot

CONTENT_TYPE = CONTENT_TYPE_LATEST


class SnapshotCollector(Collector):
    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        s = self.snapshot
        yield _gauge("outreach_messages_due", "Emails due to be sent now (scheduled, send_at passed).",
                     s.messages_due)
        yield _gauge("outreach_backlinks_due", "Backlinks due to be checked now.", s.backlinks_due)
        yield _gauge("outreach_runs_queued", "Crawls and prospecting runs waiting for a worker.", s.runs_queued)
        yield _gauge("outreach_runs_running", "Crawls and prospecting runs running now.", s.runs_running)
        jobs = GaugeMetricFamily("outreach_jobs", "Crawls and prospecting runs by kind and state.",
                                 labels=["kind", "state"])
        for (kind, state), count in sorted(s.jobs.items()):
            jobs.add_metric([kind, state], count)
        yield jobs
        messages = GaugeMetricFamily("outreach_messages", "Outgoing emails by state (failed ones are errors).",
                                     labels=["state"])
        for state, count in sorted(s.messages.items()):
            messages.add_metric([state], count)
        yield messages
        yield _counter("outreach_emails_sent", "Emails sent by the mail.send tick.", s.tick_units("mail.send"))
        yield _counter("outreach_backlink_checks", "Backlink checks done by the backlinks.check tick.",
                       s.tick_units("backlinks.check"))
        families = {
            "runs": CounterMetricFamily("outreach_tick_runs", "Runs of each tick.", labels=["tick"]),
            "units": CounterMetricFamily("outreach_tick_units", "Units of work each tick did.", labels=["tick"]),
            "errors": CounterMetricFamily("outreach_tick_errors", "Runs of each tick that failed.", labels=["tick"]),
            "seconds": CounterMetricFamily("outreach_tick_duration_seconds", "Time spent in each tick.",
                                           labels=["tick"]),
        }
        last = GaugeMetricFamily("outreach_tick_last_duration_seconds", "Duration of each tick's last run.",
                                 labels=["tick"])
        for tick in s.ticks:
            for name, family in families.items():
                family.add_metric([tick.tick_id], getattr(tick, name))
            last.add_metric([tick.tick_id], tick.last_seconds)
        yield from families.values()
        yield last
        if s.scheduler.age_seconds is not None:
            yield _gauge("outreach_scheduler_heartbeat_age_seconds", "Seconds since the newest scheduler heartbeat.",
                         s.scheduler.age_seconds)
        yield _gauge("outreach_scheduler_up", "1 when a scheduler heartbeat is fresh.", int(s.scheduler.is_fresh))
        yield _gauge("outreach_schema_at_head", "1 when the database schema is the one the code expects.",
                     int(s.revision_problem is None))


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, value=value)


def exposition(snapshot: Snapshot) -> bytes:
    """The snapshot in the Prometheus text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot))
    return generate_latest(registry)
