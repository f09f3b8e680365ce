"""Reads that assemble an audit report: the period's verdicts from rollups, its checks, alerts and integrity."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Q

from compliance.crypto.canonical import sorted_json_sha256
from compliance.integrity import Integrity, integrity_status
from monitoring.alerts.models import Alert
from monitoring.audit_report.period import Period
from monitoring.checks.analysis import counts_as_inputs
from monitoring.checks.services import policy_threshold
from monitoring.constants import INTERSECTION_SEPARATOR
from monitoring.fairness.labels import label_coverage
from monitoring.fairness.version import ENGINE_VERSION
from monitoring.ingestion.selectors import window_counts
from monitoring.models import FairnessCheck
from monitoring.reporting import engine_policy, reports_from_counts
from registry.models import MLModel, ModelVersion, MonitoringPolicy
from registry.selectors import current_version
from registry.services import current_policy


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
    labels: dict[str, Any] | None = None  # label coverage of the period: are EOD, AOD and FPR final?

    @property
    def completed_checks(self) -> list[FairnessCheck]:
        return [check for check in self.checks if check.status == FairnessCheck.Status.COMPLETED]

    @property
    def threshold(self) -> float | None:
        return policy_threshold(self.policy) if self.policy is not None else None


def report_version(model: MLModel, requested: str) -> ModelVersion | None:
    """The version named in the request (retired ones included), else the model's current version."""
    if requested:
        return model.versions.filter(version=requested).first()
    return current_version(model)


def checks_in(version: ModelVersion, period: Period) -> list[FairnessCheck]:
    """Checks of ``version`` whose window ends in the period (start, end], oldest first."""
    return list(
        FairnessCheck.objects.filter(model_version=version, window_end__gt=period.start, window_end__lte=period.end)
        .select_related("policy")
        .order_by("window_end", "id")
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
        inputs_sha256=sorted_json_sha256(inputs),
        counts_sha256=sorted_json_sha256(stored_counts),
        predictions=predictions_in(stored_counts),
        checks=checks_in(version, period),
        alerts=alerts_in(version, period),
        integrity=integrity_status(),
        labels=None
        if policy is None
        else label_coverage(stored_counts, final_at=policy.label_coverage_final, min_group_size=policy.min_group_size),
    )


def predictions_in(stored_counts: Mapping[str, Mapping[str, list[int]]]) -> int:
    """Predictions in the period: every prediction is counted once under each single attribute, so the largest
    single-attribute total (attributes can be missing on some rows) is the number of predictions."""
    singles = [groups for attribute, groups in stored_counts.items() if INTERSECTION_SEPARATOR not in attribute]
    return max((sum(sum(values) for values in groups.values()) for groups in singles), default=0)
