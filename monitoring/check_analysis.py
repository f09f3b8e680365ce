"""What a fairness check concludes from a window's counts and the checks before it. Pure: no Django.

Inputs are plain data (counts per attribute and group, score histograms, the earlier headline DIRs), so a
stored check can be recomputed from its stored inputs and must give the same result.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from monitoring.constants import INTERSECTION_SEPARATOR
from monitoring.fairness import (
    ConfusionCounts,
    FairnessPolicy,
    GroupedCounts,
    detect_change_point,
    ks_test_from_histograms,
    pre_alert_check,
    predict_drift,
    psi_from_histograms,
    rolling_average,
    to_native,
)
from monitoring.fairness.counts import COUNT_FIELDS
from monitoring.reporting import reports_from_counts

VIOLATION = "significant_violation"
POSSIBLE = "possible_violation"
TREND_WINDOW = 10


def label_of(group: Any) -> str:
    return INTERSECTION_SEPARATOR.join(group) if isinstance(group, tuple) else str(group)


def _stored_label(group: Any) -> str:
    # Intersection groups as JSON lists, as rollups store them: attribute values may contain the separator.
    return json.dumps(list(group), ensure_ascii=False) if isinstance(group, tuple) else str(group)


def counts_as_inputs(grouped_by_attribute: Mapping[str, GroupedCounts]) -> dict[str, dict[str, list[int]]]:
    """Counts in storable form: ``{attribute: {group: [tp, fp, tn, fn, unlabeled_pos, unlabeled_neg]}}``."""
    return {
        attribute: {
            _stored_label(group): [int(getattr(counts, name)) for name in COUNT_FIELDS]
            for group, counts in sorted(grouped.groups.items(), key=lambda item: _stored_label(item[0]))
        }
        for attribute, grouped in sorted(grouped_by_attribute.items())
    }


def counts_from_inputs(stored: Mapping[str, Mapping[str, Sequence[int]]]) -> dict[str, GroupedCounts]:
    """The inverse of :func:`counts_as_inputs`."""
    result = {}
    for attribute, groups in stored.items():
        names = tuple(attribute.split(INTERSECTION_SEPARATOR))
        labels = {
            (tuple(json.loads(group)) if len(names) > 1 else group): ConfusionCounts(*values)
            for group, values in groups.items()
        }
        result[attribute] = GroupedCounts(names, labels)
    return result


def inputs_digest(inputs: Mapping[str, Any]) -> str:
    """SHA-256 of the inputs as sorted, compact JSON: what a report cites so the check can be redone."""
    encoded = json.dumps(inputs, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return hashlib.sha256(encoded).hexdigest()


def headline_dir(reports: Mapping[str, Mapping[str, Any]]) -> float | None:
    """Lowest defined DIR over the single protected attributes (intersections are reported, not headlined:
    their groups are often too small to mean much on their own)."""
    values = [
        comparison["DIR"]
        for attribute, report in reports.items()
        if INTERSECTION_SEPARATOR not in attribute
        for comparison in report["comparisons"].values()
        if comparison["DIR"] is not None
    ]
    return min(values) if values else None


def violations(reports: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every (attribute, group, metric) whose verdict is a violation, with value and interval."""
    found = []
    for attribute, report in reports.items():
        for group, comparison in report["comparisons"].items():
            for metric, verdict in comparison["verdicts"].items():
                if verdict in (VIOLATION, POSSIBLE):
                    found.append(
                        {
                            "attribute": attribute,
                            "group": group,
                            "metric": metric,
                            "verdict": verdict,
                            "value": comparison[metric],
                            "interval": comparison["intervals"][metric],
                        }
                    )
    return found


def score_drift(
    current: Mapping[str, Mapping[str, Sequence[int]]], baseline: Mapping[str, Mapping[str, Sequence[int]]] | None
) -> dict[str, Any]:
    """KS (on fixed bins) and PSI of each group's score distribution against the version's baseline."""
    if not baseline:
        return {"baseline": None, "groups": {}}
    groups: dict[str, Any] = {}
    for attribute, histograms in current.items():
        for group, histogram in histograms.items():
            reference = baseline.get(attribute, {}).get(group)
            if reference is None or not sum(histogram):
                continue
            ks = ks_test_from_histograms(reference, histogram)
            psi = psi_from_histograms(reference, histogram)
            groups[f"{attribute}={group}"] = {
                "ks": to_native(asdict(ks)),
                "psi": to_native(asdict(psi)),
                "drifted": bool(ks.drifted) or bool(psi.drifted),
            }
    return {"baseline": "version", "groups": groups}


def trend_of(series: Sequence[float | None], threshold: float, *, seed: int) -> dict[str, Any]:
    """Rolling average, velocity, pre-alert, forecast and change point of the headline DIR series."""
    average = rolling_average(series, TREND_WINDOW)
    pre_alert = pre_alert_check(series, threshold, TREND_WINDOW)
    forecast = predict_drift(series[-3 * TREND_WINDOW :], threshold, n_bootstrap=1000, seed=seed)
    change = detect_change_point(series)
    return {
        "series": list(series[-3 * TREND_WINDOW :]),
        "moving_average": average.average,
        "velocity": average.velocity,
        "pre_alert": to_native(asdict(pre_alert)),
        "forecast": to_native(asdict(forecast)),
        "change_point": to_native(asdict(change)),
    }


def summarize(verdict: str, pre_alert_status: str, has_violation: bool) -> str:
    """The one word a person sees: alert, pre_alert, pass or insufficient_data."""
    if has_violation:
        return "alert"
    if pre_alert_status in ("pre_alert", "breached") or verdict == POSSIBLE:
        return "pre_alert"
    return "insufficient_data" if verdict == "insufficient_data" else "pass"


def analyse_window(
    *,
    counts: Mapping[str, GroupedCounts],
    privileged: Mapping[str, str],
    policy: FairnessPolicy,
    earlier_dirs: Sequence[float | None],
    threshold: float,
    histograms: Mapping[str, Mapping[str, Sequence[int]]],
    baseline_histograms: Mapping[str, Mapping[str, Sequence[int]]] | None,
    seed: int = 0,
) -> dict[str, Any]:
    """Everything a check stores as its result; see the module docstring."""
    reports = reports_from_counts(counts, privileged, policy)
    verdicts = [report["verdict"] for report in reports.values() if report["verdict"]]
    order = ["pass", "insufficient_data", POSSIBLE, VIOLATION]
    verdict = max(verdicts, key=order.index) if verdicts else "insufficient_data"
    dir_now = headline_dir(reports)
    trend = trend_of([*earlier_dirs, dir_now], threshold, seed=seed)
    found = violations(reports)
    significant = any(item["verdict"] == VIOLATION for item in found)
    return {
        "verdict": verdict,
        "status": summarize(verdict, trend["pre_alert"]["status"], significant),
        "headline_dir": dir_now,
        "threshold": threshold,
        "reports": reports,
        "violations": found,
        "trend": trend,
        "score_drift": score_drift(histograms, baseline_histograms),
    }
