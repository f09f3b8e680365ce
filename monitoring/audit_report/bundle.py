"""The audit report as plain data: the evidence bundle (JSON, with the SHA-256 of its sorted JSON) and the same
verdict rows as CSV after comment lines naming the digests to check. The page's downloads and the API's answer
are these bytes."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping
from typing import Any

from compliance.crypto.canonical import sorted_json_sha256
from core.timestamps import rfc3339_utc_or_none
from monitoring.alerts.models import Alert
from monitoring.audit_report.build import Report
from monitoring.fairness.version import ENGINE_VERSION
from monitoring.models import FairnessCheck
from monitoring.reporting import SHORT_NAMES
from registry.models import MonitoringPolicy

ALL_METRICS = tuple(SHORT_NAMES)
CSV_COLUMNS = ("attribute", "group", "metric", "value", "lower", "upper", "verdict", "n")


def native(value: Any) -> Any:
    """JSON-safe: non-finite floats become None (JSON has no NaN or Infinity)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(key): native(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [native(item) for item in value]
    return value


def _username(user: Any) -> str | None:
    return user.get_username() if user is not None else None


def policy_as_dict(policy: MonitoringPolicy) -> dict[str, Any]:
    return {
        "version": policy.version,
        "protected_attributes": policy.protected_attributes,
        "privileged": policy.privileged,
        "favorable_label": policy.favorable_label,
        "metric_bands": policy.metric_bands,
        "min_group_size": policy.min_group_size,
        "confidence_level": policy.confidence_level,
        "window_hours": policy.window_hours,
        "check_interval_minutes": policy.check_interval_minutes,
        "alpha": policy.alpha,
        "review_period_days": policy.review_period_days,
        "channels": policy.channels,
        "label_coverage_final": policy.label_coverage_final,
        "created_at": rfc3339_utc_or_none(policy.created_at),
    }


def verdict_rows(reports: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The verdict table flat, one row per (attribute, group, metric): each group's selection rate, then each
    compared group's metrics with intervals and verdicts (the CSV rows)."""
    rows: list[dict[str, Any]] = []
    for attribute, report in reports.items():
        for group, summary in report["groups"].items():
            rows.append(
                {
                    "attribute": attribute,
                    "group": group,
                    "metric": "selection_rate",
                    "value": summary["selection_rate"],
                    "lower": None,
                    "upper": None,
                    "verdict": None,
                    "n": summary["n"],
                }
            )
        for group, comparison in report["comparisons"].items():
            n = report["groups"].get(group, {}).get("n")
            for metric in ALL_METRICS:
                interval = comparison["intervals"].get(metric) or [None, None]
                rows.append(
                    {
                        "attribute": attribute,
                        "group": group,
                        "metric": metric,
                        "value": comparison.get(metric),
                        "lower": interval[0],
                        "upper": interval[1],
                        "verdict": comparison["verdicts"].get(metric),
                        "n": n,
                    }
                )
    return native(rows)


def check_as_dict(check: FairnessCheck) -> dict[str, Any]:
    return native(
        {
            "id": check.pk,
            "window_start": rfc3339_utc_or_none(check.window_start),
            "window_end": rfc3339_utc_or_none(check.window_end),
            "status": check.status,
            "status_summary": check.status_summary,
            "verdict": check.verdict,
            "headline_dir": check.headline_dir,
            "n_predictions": check.n_predictions,
            "policy_version": check.policy.version,
            "inputs_sha256": check.inputs_sha256,
            "engine_version": check.engine_version,
            "completed_at": rfc3339_utc_or_none(check.completed_at),
        }
    )


def alert_as_dict(alert: Alert) -> dict[str, Any]:
    """An alert's subject, numbers and lifecycle; never its explanation (that is encrypted)."""
    return native(
        {
            "id": alert.pk,
            "attribute": alert.attribute,
            "group": alert.group,
            "metric": alert.metric,
            "severity": alert.severity,
            "status": alert.status,
            "value": alert.value,
            "interval": [alert.interval_lower, alert.interval_upper],
            "band": alert.band,
            "occurrences": alert.occurrences,
            "first_check_id": alert.first_check_id,
            "last_check_id": alert.last_check_id,
            "opened_at": rfc3339_utc_or_none(alert.opened_at),
            "last_seen_at": rfc3339_utc_or_none(alert.last_seen_at),
            "acknowledged_at": rfc3339_utc_or_none(alert.acknowledged_at),
            "acknowledged_by": _username(alert.acknowledged_by),
            "acknowledgement_note": alert.acknowledgement_note,
            "resolved_at": rfc3339_utc_or_none(alert.resolved_at),
            "resolved_by": _username(alert.resolved_by),
            "resolution": alert.resolution,
            "resolution_note": alert.resolution_note,
            "explanation_encrypted": bool(alert.encrypted_explanation),
        }
    )


def evidence_bundle(report: Report) -> dict[str, Any]:
    """Everything the report shows, as plain data, with ``bundle_sha256`` over the rest (canonical JSON)."""
    bundle = native(
        {
            "kind": "fairlens.audit_report",
            "model": report.model.name,
            "version": report.version.version,
            "version_stage": report.version.stage,
            "period": report.period.as_dict(),
            "policy": policy_as_dict(report.policy) if report.policy is not None else None,
            "engine_version": ENGINE_VERSION,
            "verdicts": report.reports,
            "verdict_rows": verdict_rows(report.reports),
            "labels": report.labels,
            "volumes": {
                "predictions": report.predictions,
                "checks": len(report.checks),
                "completed_checks": len(report.completed_checks),
                "alerts": len(report.alerts),
            },
            "checks": [check_as_dict(check) for check in report.checks],
            "alerts": [alert_as_dict(alert) for alert in report.alerts],
            "integrity": report.integrity.as_dict(),
            "inputs": report.inputs,
            "inputs_sha256": report.inputs_sha256,
            "counts_sha256": report.counts_sha256,
        }
    )
    bundle["bundle_sha256"] = sorted_json_sha256(bundle)
    return bundle


def _csv_number(value: Any) -> str:
    return "" if value is None else repr(value) if isinstance(value, float) else str(value)


def evidence_csv_text(bundle: Mapping[str, Any]) -> str:
    """The bundle's verdict rows as CSV, header row first, so that a spreadsheet opens it as a table. What the
    rows are (model, version, period, policy, digests) is in the JSON bundle, whose ``verdict_rows`` are these
    rows: a file of metadata before the header would be read as data."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in bundle["verdict_rows"]:
        writer.writerow([csv_cell(row[column]) for column in CSV_COLUMNS])
    return buffer.getvalue()


def csv_cell(value: Any) -> str:
    text = _csv_number(value)
    # Keep spreadsheet programs from reading a group name as a formula.
    return "'" + text if text[:1] in ("=", "+", "@") or (text[:1] == "-" and not _is_number(text)) else text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
