"""What ``/metrics`` tells Prometheus, read from the database and the broker at scrape time.

Counts that live in the database (ingested rows, open alerts, deliveries, the audit log) are read from it when
Prometheus scrapes, so every web worker answers the same and a restart loses nothing. Request latencies are
observed in-process (``core.request_metrics``) and, under gunicorn, added up over the workers. Series per model
version are capped at ``METRICS_MAX_SERIES``; how many were left out is itself a metric.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from compliance.integrity import integrity_status
from compliance.selectors import last_seq
from monitoring.alerts.selectors import delivery_counts, open_alert_counts
from monitoring.checks.selectors import checked_version_count, latest_checks_per_version, recent_check_durations
from monitoring.ingestion.selectors import ingestion_totals

DEFAULT_QUEUE = "celery"


def _lowest_dir(result: dict[str, Any]) -> dict[str, float]:
    """The lowest DIR over the compared groups of each attribute of a check's result."""
    lowest = {}
    for attribute, report in (result.get("reports") or {}).items():
        values = [
            comparison.get("DIR")
            for comparison in (report.get("comparisons") or {}).values()
            if isinstance(comparison.get("DIR"), int | float) and math.isfinite(comparison["DIR"])
        ]
        if values:
            lowest[attribute] = min(values)
    return lowest


def queue_depth() -> int | None:
    """Messages waiting in the default Celery queue: Redis LLEN, or the embedded broker's message files."""
    url = settings.CELERY_BROKER_URL
    if url.startswith(("redis://", "rediss://")):
        import redis

        try:
            return int(redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).llen(DEFAULT_QUEUE))
        except redis.RedisError:
            return None
    if url.startswith("atomicfs://"):
        folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
        return sum(1 for path in folder.glob("*.msg")) if folder.is_dir() else 0
    return None


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


class FairLensCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        rows = CounterMetricFamily(
            "fairlens_ingestion_rows",
            "Rows ingested since the start, by source and outcome.",
            labels=["source", "outcome"],
        )
        for source, outcomes in sorted(ingestion_totals().items()):
            for outcome, count in outcomes.items():
                rows.add_metric([source, outcome], count)
        yield rows

        alerts = GaugeMetricFamily("fairlens_alerts_open", "Unresolved alerts, by severity.", labels=["severity"])
        for severity, count in sorted(open_alert_counts().items()):
            alerts.add_metric([severity], count)
        yield alerts

        deliveries = GaugeMetricFamily(
            "fairlens_deliveries",
            "Deliveries by channel and status (pending: the backlog).",
            labels=["channel", "status"],
        )
        for (channel, status), count in sorted(delivery_counts().items()):
            deliveries.add_metric([channel, status], count)
        yield deliveries

        durations = recent_check_durations()
        check_seconds = GaugeMetricFamily(
            "fairlens_check_duration_seconds", "Claim-to-completion time of the latest 200 checks.", labels=["quantile"]
        )
        for q in (0.5, 0.95, 1.0):
            if durations:
                check_seconds.add_metric([str(q)], _quantile(durations, q))
        yield check_seconds

        yield from self._per_version()

        integrity = integrity_status()
        run = integrity.run
        verified = GaugeMetricFamily("fairlens_audit_verified", "1 when the latest audit log verification passed.")
        verified.add_metric([], 1.0 if run is not None and run.ok else 0.0)
        yield verified
        if run is not None:
            finished = GaugeMetricFamily("fairlens_audit_verified_timestamp_seconds", "When the log was last verified.")
            finished.add_metric([], run.finished_at.timestamp())
            yield finished
        entries = CounterMetricFamily("fairlens_audit_entries", "Entries in the audit log.")
        entries.add_metric([], last_seq())
        yield entries

        depth = queue_depth()
        broker = GaugeMetricFamily("fairlens_celery_queue_depth", "Tasks waiting in the default Celery queue.")
        if depth is not None:
            broker.add_metric([], depth)
        yield broker

    def _per_version(self) -> Iterator[Metric]:
        cap = settings.METRICS_MAX_SERIES
        now = timezone.now()
        dirs = GaugeMetricFamily(
            "fairlens_latest_dir",
            "Lowest disparate impact ratio over the groups of an attribute, in the version's latest check.",
            labels=["model", "version", "attribute"],
        )
        lag = GaugeMetricFamily(
            "fairlens_check_lag_seconds",
            "Time since the end of the version's latest checked window.",
            labels=["model", "version"],
        )
        checks = latest_checks_per_version(cap)  # each version has a series at least, so at most cap are read
        series, dropped = 0, checked_version_count() - len(checks)
        for check in checks:
            version = check.model_version
            lag.add_metric([version.model.name, version.version], max((now - check.window_end).total_seconds(), 0.0))
            for attribute, value in sorted(_lowest_dir(check.result or {}).items()):
                if series >= cap:
                    dropped += 1
                    continue
                dirs.add_metric([version.model.name, version.version, attribute], value)
                series += 1
        yield dirs
        yield lag
        left_out = GaugeMetricFamily(
            "fairlens_metrics_series_dropped",
            "Per-version DIR series left out by METRICS_MAX_SERIES (a version not read at all counts once).",
        )
        left_out.add_metric([], dropped)
        yield left_out


def metrics_payload() -> tuple[bytes, str]:
    """The exposition text and its content type: this process's (or, under gunicorn, every worker's) request
    metrics, and the database's numbers."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        processes = CollectorRegistry()
        multiprocess.MultiProcessCollector(processes)
    else:
        processes = REGISTRY
    database = CollectorRegistry()
    database.register(FairLensCollector())
    return generate_latest(processes) + generate_latest(database), CONTENT_TYPE_LATEST
