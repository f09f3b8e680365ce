"""Fairness reports in the API's shape, from the engine (``monitoring.fairness``) and a model's policy.

Policies name metrics by their short names (DIR, SPD, EOD, AOD, FPR_DIFF); the engine by full names.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from monitoring.constants import INTERSECTION_SEPARATOR
from monitoring.fairness import (
    Band,
    ConfusionCounts,
    FairnessPolicy,
    FairnessReport,
    GroupedCounts,
    fairness_report,
)
from monitoring.fairness.counts import flip_favorable
from monitoring.fairness.metrics import MetricValue
from monitoring.group_labels import display_label
from monitoring.ingestion.rollup_math import rollup_deltas

SHORT_NAMES = {
    "DIR": "disparate_impact_ratio",
    "SPD": "statistical_parity_difference",
    "EOD": "equal_opportunity_difference",
    "AOD": "average_odds_difference",
    "FPR_DIFF": "false_positive_rate_difference",
}


def engine_policy(
    *, metric_bands: Mapping[str, Mapping[str, float | None]], min_group_size: int, confidence_level: float
) -> FairnessPolicy:
    return FairnessPolicy(
        bands={
            SHORT_NAMES[name]: Band(lower=band.get("min"), upper=band.get("max")) for name, band in metric_bands.items()
        },
        min_group_size=min_group_size,
        confidence=confidence_level,
    )


def _value(metric: MetricValue) -> float | None:
    return None if metric.value is None else float(metric.value)


def _interval(metric: MetricValue) -> list[float] | None:
    return None if metric.lower is None or metric.upper is None else [float(metric.lower), float(metric.upper)]


def report_as_dict(report: FairnessReport) -> dict[str, Any]:
    """The API shape of one attribute's report: groups with rates, comparisons with intervals and verdicts."""
    groups = {
        display_label(summary.group): {
            "n": int(summary.counts.n),
            "selection_rate": _value(summary.selection_rate),
            "tpr": _value(summary.true_positive_rate),
            "fpr": _value(summary.false_positive_rate),
            "impact_ratio": _value(summary.impact_ratio),
        }
        for summary in report.groups
    }
    comparisons = {}
    for comparison in report.comparisons:
        metrics = {short: comparison.metric(full) for short, full in SHORT_NAMES.items()}
        comparisons[display_label(comparison.group)] = {
            **{short: _value(metric) for short, metric in metrics.items()},
            "intervals": {short: _interval(metric) for short, metric in metrics.items()},
            "undefined_reasons": {short: metric.reason for short, metric in metrics.items() if metric.value is None},
            "verdicts": {
                short: comparison.verdicts[full].value
                for short, full in SHORT_NAMES.items()
                if full in comparison.verdicts
            },
            "verdict": comparison.verdict.value if comparison.verdict else None,
            "gap": _value(comparison.selection_rate_gap),
            "gap_alert": comparison.gap_alert,
        }
    return {
        "privileged": display_label(report.privileged),
        "n": int(sum(summary.counts.n for summary in report.groups)),
        "theil_index": _value(report.theil_index),
        "between_group_theil_index": _value(report.between_group_theil_index),
        "theil_index_interval": _interval(report.theil_index),
        "between_group_theil_index_interval": _interval(report.between_group_theil_index),
        "groups": groups,
        "comparisons": comparisons,
        "verdict": report.verdict.value if report.verdict else None,
    }


def reports_from_counts(
    grouped_by_attribute: Mapping[str, GroupedCounts],
    privileged: Mapping[str, str],
    policy: FairnessPolicy,
    *,
    n_bootstrap: int = 0,
) -> dict[str, dict[str, Any]]:
    """A report per attribute (and intersection) whose privileged value is known."""
    reports = {}
    for attribute, grouped in grouped_by_attribute.items():
        names = attribute.split(INTERSECTION_SEPARATOR)
        if not all(name in privileged for name in names):
            continue
        reference: Any = tuple(privileged[name] for name in names) if len(names) > 1 else privileged[names[0]]
        reports[attribute] = report_as_dict(fairness_report(grouped, reference, policy=policy, n_bootstrap=n_bootstrap))
    return reports


def counts_of_frame(frame: pd.DataFrame, attributes: Sequence[str], favorable_label: int) -> dict[str, GroupedCounts]:
    """Counts per attribute and intersection of validated batch rows, by the same code that fills rollups.

    So the metrics of a request are exactly what its stored rollups will give.
    """
    per_cell = rollup_deltas(frame, attributes, include_scores=False)
    grouped: dict[str, dict[Any, ConfusionCounts]] = {}
    for (_bucket, attribute, group), delta in per_cell.items():
        label = tuple(json.loads(group)) if INTERSECTION_SEPARATOR in attribute else group
        counts = ConfusionCounts(*delta.counts)
        cells = grouped.setdefault(attribute, {})
        cells[label] = cells[label] + counts if label in cells else counts
    return {
        attribute: GroupedCounts(
            tuple(attribute.split(INTERSECTION_SEPARATOR)),
            {label: flip_favorable(c) if favorable_label == 0 else c for label, c in groups.items()},
        )
        for attribute, groups in grouped.items()
    }
