"""What a fairness check concludes from a window's counts, its evidence and the checks before it. Pure: no Django.

Inputs are plain data (counts per attribute and group, score histograms, the earlier headline DIRs, the
evidence of :mod:`monitoring.checks.evidence`), so a stored check can be recomputed from its stored inputs and
must give the same result.

Windows are for reading: each window's estimates, 95% intervals and verdicts (``significant_violation``,
``possible_violation``) are reported as before. Alerts come from the evidence: a check's status is ``alert``
only when a paging comparison's evidence has passed the family threshold, ``pre_alert`` when evidence is
building up (half-way in log space) or an exploratory intersection finding was raised.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from monitoring.checks.evidence import change_summary, subjects
from monitoring.constants import INTERSECTION_SEPARATOR
from monitoring.fairness import (
    ConfusionCounts,
    FairnessPolicy,
    GroupedCounts,
    forecast_from_counts,
    ks_test_from_histograms,
    pre_alert_check,
    predict_drift,
    psi_from_histograms,
    rolling_average,
    to_native,
)
from monitoring.fairness.counts import COUNT_FIELDS
from monitoring.fairness.headline import worst_group_headline
from monitoring.group_labels import display_label, stored_label
from monitoring.reporting import reports_from_counts

VIOLATION = "significant_violation"
POSSIBLE = "possible_violation"
TREND_WINDOW = 10


def counts_as_inputs(grouped_by_attribute: Mapping[str, GroupedCounts]) -> dict[str, dict[str, list[int]]]:
    """Counts in storable form: ``{attribute: {group: [tp, fp, tn, fn, unlabeled_pos, unlabeled_neg]}}``."""
    return {
        attribute: {
            stored_label(group): [int(getattr(counts, name)) for name in COUNT_FIELDS]
            for group, counts in sorted(grouped.groups.items(), key=lambda item: stored_label(item[0]))
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


def worst_group(
    counts: Mapping[str, GroupedCounts], privileged: Mapping[str, str], confidence: float, *, seed: int = 0
) -> dict[str, Any]:
    """The worst group's DIR over the single protected attributes with a simultaneous interval (Bonferroni
    over the comparisons) and a bias-corrected point estimate; see :mod:`monitoring.fairness.headline`.

    ``headline_dir`` stays the lowest point DIR, which is biased low when groups are close; this is the figure
    with a valid interval."""
    attributes = {
        attribute: (
            grouped.groups[privileged[attribute]],
            {group: group_counts for group, group_counts in grouped.groups.items() if group != privileged[attribute]},
        )
        for attribute, grouped in counts.items()
        if INTERSECTION_SEPARATOR not in attribute
        and attribute in privileged
        and privileged[attribute] in grouped.groups
    }
    headline = worst_group_headline(attributes, confidence, seed=seed)
    return {
        "value": headline.value,
        "interval": None if headline.lower is None else [headline.lower, headline.upper],
        "attribute": headline.group[0] if headline.group else None,
        "group": display_label(headline.group[1]) if headline.group else None,
        "naive_minimum": headline.naive_minimum,
        "comparisons": headline.comparisons,
        "confidence": headline.confidence,
        "method": headline.method,
        "bias_correction": headline.bias_correction,
        "reason": headline.reason,
    }


def violations(
    reports: Mapping[str, Mapping[str, Any]], evidence: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Every (attribute, group, metric) whose window verdict is a violation or whose evidence says more than
    "none", with the window's value, interval and verdict (for reading) and the evidence's decision (what
    alerts are opened on)."""
    decided = subjects(evidence or {})
    found = []
    for attribute, report in reports.items():
        for group, comparison in report["comparisons"].items():
            for metric, verdict in comparison["verdicts"].items():
                summary = decided.pop((attribute, group, metric), None)
                if verdict in (VIOLATION, POSSIBLE) or (summary and summary["decision"] != "none"):
                    found.append(
                        {
                            "attribute": attribute,
                            "group": group,
                            "metric": metric,
                            "verdict": verdict,
                            "value": comparison[metric],
                            "interval": comparison["intervals"][metric],
                            "evidence": summary,
                        }
                    )
    for (attribute, group, metric), summary in sorted(decided.items()):
        if summary["decision"] != "none":  # evidence for a group absent from this window
            found.append(
                {
                    "attribute": attribute,
                    "group": group,
                    "metric": metric,
                    "verdict": "insufficient_data",
                    "value": None,
                    "interval": None,
                    "evidence": summary,
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


def trend_of(
    series: Sequence[float | None],
    threshold: float,
    *,
    seed: int,
    evidence: Mapping[str, Any] | None = None,
    forecast_periods: Mapping[str, Any] | None = None,
    privileged: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Rolling average, velocity and pre-alert of the headline DIR series, the forecast of the next window's
    worst-group DIR, and the calibrated change detector on the hourly bucket counts (the evidence's
    e-detector, not a CUSUM on overlapping windows).

    The forecast comes from the per-group counts of non-overlapping periods (``forecast_periods``, see
    ``forecast_from_counts``); checks stored before those were read keep the series forecast of the headline
    DIRs (``predict_drift``), so they are redrawn as they were."""
    average = rolling_average(series, TREND_WINDOW)
    pre_alert = pre_alert_check(series, threshold, TREND_WINDOW)
    if forecast_periods is not None:
        forecast = forecast_from_counts(
            forecast_periods["counts"],
            privileged or {},
            threshold,
            period_hours=int(forecast_periods["period_hours"]),
            seed=seed,
        )
    else:
        forecast = predict_drift(series[-3 * TREND_WINDOW :], threshold, n_bootstrap=1000, seed=seed)
    return {
        "series": list(series[-3 * TREND_WINDOW :]),
        "moving_average": average.average,
        "velocity": average.velocity,
        "pre_alert": to_native(asdict(pre_alert)),
        "forecast": to_native(asdict(forecast)),
        "change_point": change_summary(evidence or {}),
    }


def summarize(verdict: str, decisions: Sequence[str]) -> str:
    """The one word a person sees: alert (evidence past the family threshold), pre_alert (evidence building
    up, or an exploratory finding), else pass or insufficient_data from the window."""
    if "alert" in decisions:
        return "alert"
    if "pre_alert" in decisions or "finding" in decisions:
        return "pre_alert"
    return "insufficient_data" if verdict == "insufficient_data" else "pass"


def pre_alert_reason(found: Sequence[Mapping[str, Any]]) -> str:
    """Why a check is a pre-alert, in words: the subjects whose evidence is building up or were found."""
    parts = [
        f"{item['attribute']}={item['group']} {item['metric']}: {item['evidence']['decision']} "
        f"(e-value {item['evidence']['e_value']:.3g}, alert at {math.exp(item['evidence']['log_threshold']):.3g})"
        for item in found
        if item.get("evidence") and item["evidence"]["decision"] in ("pre_alert", "finding")
    ]
    return "; ".join(parts) or "no evidence building up"


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
    evidence: Mapping[str, Any] | None = None,
    forecast_periods: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything a check stores as its result; see the module docstring."""
    reports = reports_from_counts(counts, privileged, policy)
    verdicts = [report["verdict"] for report in reports.values() if report["verdict"]]
    order = ["pass", "insufficient_data", POSSIBLE, VIOLATION]
    verdict = max(verdicts, key=order.index) if verdicts else "insufficient_data"
    dir_now = headline_dir(reports)
    trend = trend_of(
        [*earlier_dirs, dir_now],
        threshold,
        seed=seed,
        evidence=evidence,
        forecast_periods=forecast_periods,
        privileged=privileged,
    )
    found = violations(reports, evidence)
    # A subject whose evidence of compliance has reached its threshold no longer alerts (its alert resolves).
    decisions = [
        "none" if item["evidence"]["compliant"] else item["evidence"]["decision"]
        for item in found
        if item.get("evidence")
    ]
    return {
        "verdict": verdict,
        "status": summarize(verdict, decisions),
        "pre_alert_reason": pre_alert_reason(found),
        "headline_dir": dir_now,
        "headline": worst_group(counts, privileged, policy.confidence, seed=seed),
        "threshold": threshold,
        "reports": reports,
        "violations": found,
        "trend": trend,
        "score_drift": score_drift(histograms, baseline_histograms),
        "evidence": dict(evidence) if evidence is not None else None,
    }
