"""Reads and assembly for the audit report pages and their evidence bundle.

A report covers one model version over a period of whole UTC days ``[start 00:00, end + 1 day 00:00)``. Its
verdicts come from the period's rollup counts (``window_counts``) under the policy in force, through the same
engine code as the checks (``reports_from_counts``). Everything the verdicts depend on (the counts, the period,
the policy version, model and version) is kept as the report's ``inputs``, whose SHA-256 lets anyone redo the
report exactly. The evidence bundle is deterministic for unchanged data: it carries no generation time, so its
``bundle_sha256`` is the same for the JSON and the CSV download of the same request.
"""

from __future__ import annotations

import csv
import hashlib
import io
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
from compliance.models import Anchor, Checkpoint, VerificationRun
from compliance.verification import latest_checkpoint
from monitoring.check_analysis import counts_as_inputs, inputs_digest
from monitoring.checks import policy_threshold
from monitoring.constants import INTERSECTION_SEPARATOR
from monitoring.fairness.version import ENGINE_VERSION
from monitoring.models import FairnessCheck
from monitoring.reporting import SHORT_NAMES, engine_policy, reports_from_counts
from monitoring.selectors import window_counts
from registry.models import MLModel, ModelVersion, MonitoringPolicy
from registry.services import current_policy

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


def _native(value: Any) -> Any:
    """JSON-safe: non-finite floats become None (JSON has no NaN or Infinity)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(key): _native(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_native(item) for item in value]
    return value


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None


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
        "channels": policy.channels,
        "created_at": _iso(policy.created_at),
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
    return _native(rows)


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
    return _native(
        {
            "id": check.pk,
            "window_start": _iso(check.window_start),
            "window_end": _iso(check.window_end),
            "status": check.status,
            "status_summary": check.status_summary,
            "verdict": check.verdict,
            "headline_dir": check.headline_dir,
            "n_predictions": check.n_predictions,
            "policy_version": check.policy.version,
            "inputs_sha256": check.inputs_sha256,
            "engine_version": check.engine_version,
            "completed_at": _iso(check.completed_at),
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
    return _native(
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
            "opened_at": _iso(alert.opened_at),
            "last_seen_at": _iso(alert.last_seen_at),
            "acknowledged_at": _iso(alert.acknowledged_at),
            "acknowledged_by": _username(alert.acknowledged_by),
            "acknowledgement_note": alert.acknowledgement_note,
            "resolved_at": _iso(alert.resolved_at),
            "resolved_by": _username(alert.resolved_by),
            "resolution": alert.resolution,
            "resolution_note": alert.resolution_note,
            "explanation_encrypted": bool(alert.encrypted_explanation),
        }
    )


@dataclass(frozen=True)
class Integrity:
    run: VerificationRun | None
    checkpoint: Checkpoint | None
    anchor: Anchor | None

    @property
    def ok(self) -> bool:
        return self.run is not None and self.run.ok

    @property
    def css_class(self) -> str:
        return "integrity-ok" if self.ok else "integrity-bad"

    @property
    def text(self) -> str:
        run = self.run
        if run is None:
            return "Audit log not verified yet."
        when = f"{run.finished_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
        if run.ok:
            return f"Audit log verified: {run.checked_entries} entries checked at {when}."
        where = f"first bad seq {run.first_bad_seq}" if run.first_bad_seq is not None else "at a checkpoint"
        return f"Audit log verification FAILED ({where}) at {when}: {run.problem or 'no detail'}"

    def as_dict(self) -> dict[str, Any]:
        run, checkpoint, anchor = self.run, self.checkpoint, self.anchor
        return {
            "verification": None
            if run is None
            else {
                "id": run.pk,
                "ok": run.ok,
                "checked_entries": run.checked_entries,
                "first_bad_seq": run.first_bad_seq,
                "problem": run.problem,
                "checkpoint_tree_size": run.checkpoint.tree_size if run.checkpoint else None,
                "started_at": _iso(run.started_at),
                "finished_at": _iso(run.finished_at),
            },
            "checkpoint": None
            if checkpoint is None
            else {
                "tree_size": checkpoint.tree_size,
                "root_hash": checkpoint.root_hash,
                "key_id": checkpoint.key_id,
                "signed_at": _iso(checkpoint.timestamp),
                "signed_note": checkpoint.signed_note,
            },
            "anchor": None
            if anchor is None
            else {
                "sink": anchor.sink,
                "tx_id": anchor.tx_id,
                "anchored_hash": anchor.anchored_hash,
                "anchored_at": _iso(anchor.anchored_at),
            },
        }


def integrity_status() -> Integrity:
    run = VerificationRun.objects.select_related("checkpoint").order_by("-finished_at", "-id").first()
    checkpoint = latest_checkpoint()
    anchor = checkpoint.anchors.order_by("-anchored_at", "-id").first() if checkpoint is not None else None
    return Integrity(run, checkpoint, anchor)


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


# --- Evidence --------------------------------------------------------------------------------------------------


def evidence_bundle(report: Report) -> dict[str, Any]:
    """Everything the report shows, as plain data, with ``bundle_sha256`` over the rest (canonical JSON)."""
    bundle = _native(
        {
            "kind": "fairlens.audit_report",
            "model": report.model.name,
            "version": report.version.version,
            "version_stage": report.version.stage,
            "period": report.period.as_dict(),
            "policy": policy_as_dict(report.policy) if report.policy is not None else None,
            "engine_version": ENGINE_VERSION,
            "verdicts": report.reports,
            "verdict_rows": report.rows(),
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
    bundle["bundle_sha256"] = canonical_sha256(bundle)
    return bundle


def _csv_number(value: Any) -> str:
    return "" if value is None else repr(value) if isinstance(value, float) else str(value)


def _csv_comment(text: str) -> str:
    return "# " + " ".join(text.split())


def evidence_csv_text(report: Report, bundle: Mapping[str, Any]) -> str:
    """The verdict rows as CSV, after ``#`` comment lines naming what they are and the digests to check."""
    policy_version = report.policy.version if report.policy is not None else "none"
    lines = [
        _csv_comment("FairLens audit report evidence"),
        _csv_comment(f"model: {report.model.name}"),
        _csv_comment(f"version: {report.version.version}"),
        _csv_comment(f"period: {report.period.start.isoformat()} to {report.period.end.isoformat()} (end exclusive)"),
        _csv_comment(f"policy_version: {policy_version}"),
        _csv_comment(f"engine_version: {ENGINE_VERSION}"),
        _csv_comment(f"inputs_sha256: {report.inputs_sha256}"),
        _csv_comment(f"bundle_sha256: {bundle['bundle_sha256']}"),
    ]
    buffer = io.StringIO()
    buffer.write("\n".join(lines) + "\n")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in bundle["verdict_rows"]:
        writer.writerow([_csv_cell(row[column]) for column in CSV_COLUMNS])
    return buffer.getvalue()


def _csv_cell(value: Any) -> str:
    text = _csv_number(value)
    # Keep spreadsheet programs from reading a group name as a formula.
    return "'" + text if text[:1] in ("=", "+", "@") or (text[:1] == "-" and not _is_number(text)) else text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
