"""Reads and assembly for the audit report pages and their evidence bundle.

A report covers one model version over a period of whole UTC days ``[start 00:00, end + 1 day 00:00)``. Its
verdicts come from the period's rollup counts (``window_counts``) under the policy in force, through the same
engine code as the checks (``reports_from_counts``). Everything the verdicts depend on (the counts, the period,
the policy version, model and version) is kept as the report's ``inputs``, whose SHA-256 lets anyone redo the
report exactly. The evidence bundle is deterministic for unchanged data: it carries no generation time, so its
``bundle_sha256`` is the same for the JSON and the CSV download of the same request.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone

from alerts.models import Alert
from monitoring.check_analysis import counts_as_inputs, inputs_digest
from monitoring.checks import policy_threshold
from monitoring.constants import INTERSECTION_SEPARATOR
from monitoring.fairness.version import ENGINE_VERSION
from monitoring.models import FairnessCheck
from monitoring.reporting import SHORT_NAMES, engine_policy, reports_from_counts
from monitoring.selectors import window_counts
from registry.models import MLModel, ModelVersion, MonitoringPolicy
from registry.services import current_policy
from web.integrity import Integrity, integrity_status, iso

DEFAULT_DAYS = 7
MAX_DAYS = 366
HTML_METRICS = ("DIR", "SPD", "EOD", "AOD")
ALL_METRICS = tuple(SHORT_NAMES)
CSV_COLUMNS = ("attribute", "group", "metric", "value", "lower", "upper", "verdict", "n")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

VERDICT_LABELS = {
    "pass": "Pass",
    "possible_violation": "Possible violation",
    "significant_violation": "Significant violation",
    "insufficient_data": "Insufficient data",
}
VERDICT_BADGES = {
    "pass": "badge-ok",
    "possible_violation": "badge-warn",
    "significant_violation": "badge-bad",
    "insufficient_data": "badge-none",
}


# --- Period and version ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Whole UTC days from ``start_date`` through ``end_date`` (inclusive): ``[start, end)`` as instants."""

    start_date: date
    end_date: date

    @property
    def start(self) -> datetime:
        return datetime.combine(self.start_date, time.min, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.end_date, time.min, tzinfo=UTC) + timedelta(days=1)

    def as_dict(self) -> dict[str, str]:
        return {
            "start_date": self.start_date.isoformat(),
            "end_date": self.end_date.isoformat(),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
        }


@dataclass
class PeriodChoice:
    """What the period form asked for: the period (None when invalid) and a message per bad field."""

    period: Period | None
    start_text: str
    end_text: str
    version_text: str
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def query(self) -> dict[str, str]:
        """The form's values, for links and hidden fields that keep the same report."""
        values = {"start": self.start_text, "end": self.end_text}
        if self.version_text:
            values["version"] = self.version_text
        return values


def _parse_date(text: str) -> date | None:
    if not _DATE.match(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def parse_period(params: Mapping[str, Any], now: datetime | None = None) -> PeriodChoice:
    """The period of ``?start=YYYY-MM-DD&end=YYYY-MM-DD``; by default the last 7 days up to today (UTC)."""
    today = (now or timezone.now()).astimezone(UTC).date()
    start_text = str(params.get("start") or "").strip() or (today - timedelta(days=DEFAULT_DAYS)).isoformat()
    end_text = str(params.get("end") or "").strip() or today.isoformat()
    version_text = str(params.get("version") or "").strip()
    errors: dict[str, str] = {}
    start, end = _parse_date(start_text), _parse_date(end_text)
    if start is None:
        errors["start"] = "Enter the start as a date, YYYY-MM-DD (for example 2026-10-01)."
    if end is None:
        errors["end"] = "Enter the end as a date, YYYY-MM-DD (for example 2026-10-07)."
    elif end >= date.max:
        errors["end"] = "Enter an end date before 9999-12-31."
        end = None
    if start is not None and end is not None:
        if start > end:
            errors["start"] = "The start date is after the end date."
        elif (end - start).days + 1 > MAX_DAYS:
            errors["end"] = f"A report covers at most {MAX_DAYS} days."
    period = Period(start, end) if not errors and start is not None and end is not None else None
    return PeriodChoice(period, start_text[:40], end_text[:40], version_text[:50], errors)


def default_version(model: MLModel) -> ModelVersion | None:
    """The newest production version, else the newest version not retired, else the newest one."""
    versions = model.versions.order_by("-created_at", "-id")
    return (
        versions.filter(stage=ModelVersion.Stage.PRODUCTION).first()
        or versions.exclude(stage=ModelVersion.Stage.RETIRED).first()
        or versions.first()
    )


def choose_version(model: MLModel, requested: str) -> ModelVersion | None:
    if requested:
        return model.versions.filter(version=requested).first()
    return default_version(model)


# --- Small conversions -----------------------------------------------------------------------------------------


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


def canonical_sha256(value: Any) -> str:
    """SHA-256 of sorted, compact JSON: how the bundle's and the inputs' digests are computed."""
    encoded = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return hashlib.sha256(encoded).hexdigest()


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
        "created_at": iso(policy.created_at),
    }


def band_text(band: Mapping[str, Any] | None) -> str:
    band = band or {}
    low, high = band.get("min"), band.get("max")
    if low is not None and high is not None:
        return f"{low:g} to {high:g}"
    if low is not None:
        return f"at least {low:g}"
    if high is not None:
        return f"at most {high:g}"
    return "no band"


# --- Verdicts --------------------------------------------------------------------------------------------------


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


def _metric_cell(comparison: Mapping[str, Any] | None, metric: str) -> dict[str, Any]:
    if comparison is None:
        return {"metric": metric, "value": None, "interval": None, "verdict": None, "reason": ""}
    verdict = comparison["verdicts"].get(metric)
    return {
        "metric": metric,
        "value": comparison.get(metric),
        "interval": comparison["intervals"].get(metric),
        "verdict": verdict,
        "verdict_label": VERDICT_LABELS.get(verdict, verdict),
        "badge": VERDICT_BADGES.get(verdict, "badge-none"),
        "reason": comparison.get("undefined_reasons", {}).get(metric, ""),
    }


def verdict_tables(reports: Mapping[str, Mapping[str, Any]], metrics: tuple[str, ...]) -> list[dict[str, Any]]:
    """Per attribute: one row per group (the privileged one first) with n, selection rate and the metrics."""
    tables = []
    for attribute, report in reports.items():
        privileged = report["privileged"]
        order = sorted(report["groups"], key=lambda group: (group != privileged, group))
        rows = []
        for group in order:
            summary = report["groups"][group]
            comparison = report["comparisons"].get(group)
            verdict = comparison["verdict"] if comparison else None
            rows.append(
                {
                    "group": group,
                    "privileged": group == privileged,
                    "n": summary["n"],
                    "selection_rate": summary["selection_rate"],
                    "metrics": [_metric_cell(comparison, metric) for metric in metrics],
                    "verdict": verdict,
                    "verdict_label": VERDICT_LABELS.get(verdict, verdict or ""),
                    "badge": VERDICT_BADGES.get(verdict, "badge-none"),
                }
            )
        verdict = report["verdict"]
        tables.append(
            {
                "attribute": attribute,
                "privileged": privileged,
                "n": report["n"],
                "verdict": verdict,
                "verdict_label": VERDICT_LABELS.get(verdict, verdict or "No verdict"),
                "badge": VERDICT_BADGES.get(verdict, "badge-none"),
                "rows": rows,
            }
        )
    return tables


# --- Checks, alerts, integrity ----------------------------------------------------------------------------------


def checks_in(version: ModelVersion, period: Period) -> list[FairnessCheck]:
    """Checks of ``version`` whose window ends in the period (start, end], oldest first."""
    return list(
        FairnessCheck.objects.filter(model_version=version, window_end__gt=period.start, window_end__lte=period.end)
        .select_related("policy")
        .order_by("window_end", "id")
    )


def check_as_dict(check: FairnessCheck) -> dict[str, Any]:
    return native(
        {
            "id": check.pk,
            "window_start": iso(check.window_start),
            "window_end": iso(check.window_end),
            "status": check.status,
            "status_summary": check.status_summary,
            "verdict": check.verdict,
            "headline_dir": check.headline_dir,
            "n_predictions": check.n_predictions,
            "policy_version": check.policy.version,
            "inputs_sha256": check.inputs_sha256,
            "engine_version": check.engine_version,
            "completed_at": iso(check.completed_at),
        }
    )


def alerts_in(version: ModelVersion, period: Period) -> list[Alert]:
    """Alerts of ``version`` opened in the period or open during it (opened before its end, not resolved before
    its start), and alerts raised or seen by checks of windows ending in the period."""
    opened_or_open = Q(opened_at__lt=period.end) & (Q(resolved_at__isnull=True) | Q(resolved_at__gte=period.start))
    by_check = Q(first_check__window_end__gt=period.start, first_check__window_end__lte=period.end) | Q(
        last_check__window_end__gt=period.start, last_check__window_end__lte=period.end
    )
    return list(
        Alert.objects.filter(model_version=version)
        .filter(opened_or_open | by_check)
        .select_related("acknowledged_by", "resolved_by")
        .distinct()
        .order_by("opened_at", "id")
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
            "opened_at": iso(alert.opened_at),
            "last_seen_at": iso(alert.last_seen_at),
            "acknowledged_at": iso(alert.acknowledged_at),
            "acknowledged_by": _username(alert.acknowledged_by),
            "acknowledgement_note": alert.acknowledgement_note,
            "resolved_at": iso(alert.resolved_at),
            "resolved_by": _username(alert.resolved_by),
            "resolution": alert.resolution,
            "resolution_note": alert.resolution_note,
            "explanation_encrypted": bool(alert.encrypted_explanation),
        }
    )


# --- The report ------------------------------------------------------------------------------------------------


@dataclass
class Report:
    model: MLModel
    version: ModelVersion
    period: Period
    policy: MonitoringPolicy | None
    reports: dict[str, dict[str, Any]]
    inputs: dict[str, Any]
    inputs_sha256: str
    counts_sha256: str
    predictions: int
    checks: list[FairnessCheck]
    alerts: list[Alert]
    integrity: Integrity

    @property
    def completed_checks(self) -> list[FairnessCheck]:
        return [check for check in self.checks if check.status == FairnessCheck.Status.COMPLETED]

    @property
    def threshold(self) -> float | None:
        return policy_threshold(self.policy) if self.policy is not None else None

    @property
    def confidence_percent(self) -> str:
        return f"{self.policy.confidence_level * 100:g}" if self.policy is not None else ""

    @property
    def html_metrics(self) -> tuple[str, ...]:
        banded = tuple(m for m in (self.policy.metric_bands if self.policy else {}) if m not in HTML_METRICS)
        return HTML_METRICS + tuple(m for m in ALL_METRICS if m in banded)

    def tables(self) -> list[dict[str, Any]]:
        return verdict_tables(self.reports, self.html_metrics)

    def rows(self) -> list[dict[str, Any]]:
        return verdict_rows(self.reports)


def build_report(model: MLModel, version: ModelVersion, period: Period) -> Report:
    """Sum the period's rollups, run the engine under the policy in force, gather checks, alerts, integrity."""
    policy = current_policy(model)
    favorable = policy.favorable_label if policy is not None else 1
    counts = window_counts(model_version=version, start=period.start, end=period.end, favorable_label=favorable)
    stored_counts = counts_as_inputs(counts)
    reports: dict[str, dict[str, Any]] = {}
    if policy is not None:
        reports = reports_from_counts(
            counts,
            policy.privileged,
            engine_policy(
                metric_bands=policy.metric_bands,
                min_group_size=policy.min_group_size,
                confidence_level=policy.confidence_level,
            ),
        )
    inputs = {
        "model": model.name,
        "version": version.version,
        "period": period.as_dict(),
        "policy_version": policy.version if policy is not None else None,
        "engine_version": ENGINE_VERSION,
        "counts": stored_counts,
    }
    return Report(
        model=model,
        version=version,
        period=period,
        policy=policy,
        reports=reports,
        inputs=inputs,
        inputs_sha256=inputs_digest(inputs),
        counts_sha256=inputs_digest(stored_counts),
        predictions=predictions_in(stored_counts),
        checks=checks_in(version, period),
        alerts=alerts_in(version, period),
        integrity=integrity_status(),
    )


def predictions_in(stored_counts: Mapping[str, Mapping[str, list[int]]]) -> int:
    """Predictions in the period: every prediction is counted once under each single attribute, so the largest
    single-attribute total (attributes can be missing on some rows) is the number of predictions."""
    singles = [groups for attribute, groups in stored_counts.items() if INTERSECTION_SEPARATOR not in attribute]
    return max((sum(sum(values) for values in groups.values()) for groups in singles), default=0)
