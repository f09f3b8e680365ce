"""How the audit report page shows a report: verdict names and badges, bands as words, one table per attribute.
The report itself (its reads, verdicts and digests) is ``monitoring.audit_report``, shared with the API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from monitoring.audit_report.build import Report
from monitoring.audit_report.bundle import ALL_METRICS
from monitoring.group_labels import display_label, group_from_stored

HTML_METRICS = ("DIR", "SPD", "EOD", "AOD")

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


def html_metrics(report: Report) -> tuple[str, ...]:
    """The page's metric columns: the four headline metrics, then any other metric the policy bands."""
    banded = tuple(m for m in (report.policy.metric_bands if report.policy else {}) if m not in HTML_METRICS)
    return HTML_METRICS + tuple(m for m in ALL_METRICS if m in banded)


def confidence_percent(report: Report) -> str:
    return f"{report.policy.confidence_level * 100:g}" if report.policy is not None else ""


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


LABEL_STATUS = {"final": "final", "provisional": "provisional", "no_labels": "no labels yet"}


def _label_coverage_by_group(labels: Mapping[str, Any] | None, attribute: str) -> dict[str, float | None]:
    groups = ((labels or {}).get("attributes", {}).get(attribute) or {}).get("groups", {})
    return {display_label(group_from_stored(attribute, group)): row["coverage"] for group, row in groups.items()}


def verdict_tables(
    reports: Mapping[str, Mapping[str, Any]], metrics: tuple[str, ...], labels: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Per attribute: one row per group (the privileged one first) with n, selection rate, TPR, FPR and the
    metrics, each with its interval and verdict; with ``labels`` (``monitoring.fairness.labels``), each group's
    label coverage and whether the label-based metrics (TPR, FPR, EOD, AOD) are final."""
    tables = []
    for attribute, report in reports.items():
        coverage = _label_coverage_by_group(labels, attribute)
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
                    "tpr": summary.get("tpr"),
                    "fpr": summary.get("fpr"),
                    "label_coverage": coverage.get(group),
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
                "labels": None
                if labels is None
                else {"status": LABEL_STATUS.get(labels["status"], labels["status"]), "final_at": labels["final_at"]},
            }
        )
    return tables
