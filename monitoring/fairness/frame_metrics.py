"""DataFrame-level metric functions with the prototype's names and defaults (loan data, gender, approved).

These are thin wrappers over the count-based engine: they validate the columns, count the two named groups
and return plain Python values (``None`` where a metric is undefined), so results serialise directly. Like
the strict entry points they raise :class:`SingleGroupError` / :class:`PrivilegedValueMissingError`;
``calculate_disparate_impact_ratio`` alone keeps the prototype's lenient handling of a missing group.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import pandas as pd

from monitoring.fairness.counts import ConfusionCounts, counts_from_frame
from monitoring.fairness.limits import is_above, is_below
from monitoring.fairness.metrics import (
    MetricValue,
    average_odds_difference_from_counts,
    disparate_impact_ratio_from_counts,
    equal_opportunity_difference_from_counts,
    rate_difference,
    rate_ratio,
    statistical_parity_difference_from_counts,
)
from monitoring.fairness.policy import Band, FairnessPolicy
from monitoring.fairness.report import fairness_report, require_comparable
from monitoring.fairness.serialization import to_native
from monitoring.fairness.theil import theil_index_from_counts

DIR_THRESHOLD = 0.8
GAP_THRESHOLD = 0.2


def _pair(
    df: pd.DataFrame,
    protected: str,
    outcome: str,
    label: str | None,
    privileged: Hashable,
    unprivileged: Hashable,
    favorable_label: Any,
) -> tuple[ConfusionCounts, ConfusionCounts]:
    grouped = counts_from_frame(df, protected, prediction=outcome, label=label, favorable_label=favorable_label)
    require_comparable(grouped, privileged)
    return grouped[unprivileged], grouped[privileged]


def calc_rates(
    df: pd.DataFrame,
    protected: str = "gender",
    outcome: str = "approved",
    privileged: Hashable = "Male",
    unprivileged: Hashable = "Female",
    favorable_label: Any = 1,
) -> dict[str, Any]:
    """Approval (selection) rates ``SR_g = favorable outcomes in g / rows in g`` of the two named groups.

    Returns ``{"privileged_rate", "unprivileged_rate", "privileged_count", "unprivileged_count"}``; a rate is
    ``None`` when its group is empty.
    """
    unprivileged_counts, privileged_counts = _pair(
        df, protected, outcome, None, privileged, unprivileged, favorable_label
    )
    return {
        "privileged_rate": _rate(privileged_counts),
        "unprivileged_rate": _rate(unprivileged_counts),
        "privileged_count": to_native(privileged_counts.n),
        "unprivileged_count": to_native(unprivileged_counts.n),
    }


def _rate(counts: ConfusionCounts) -> float | None:
    return counts.predicted_positive / counts.n if counts.n > 0 else None


def disparate_impact_ratio(
    df: pd.DataFrame,
    protected: str = "gender",
    outcome: str = "approved",
    privileged: Hashable = "Male",
    unprivileged: Hashable = "Female",
    favorable_label: Any = 1,
) -> float | None:
    """``DIR = SR_unprivileged / SR_privileged``; ``None`` when the privileged rate is 0 or a group is empty."""
    pair = _pair(df, protected, outcome, None, privileged, unprivileged, favorable_label)
    return disparate_impact_ratio_from_counts(*pair, confidence=None).value


def statistical_parity_diff(
    df: pd.DataFrame,
    protected: str = "gender",
    outcome: str = "approved",
    privileged: Hashable = "Male",
    unprivileged: Hashable = "Female",
    favorable_label: Any = 1,
) -> float | None:
    """``SPD = P(yhat = 1 | unprivileged) - P(yhat = 1 | privileged)``; ``None`` when a group is empty."""
    pair = _pair(df, protected, outcome, None, privileged, unprivileged, favorable_label)
    return statistical_parity_difference_from_counts(*pair, confidence=None).value


def equal_opportunity_diff(
    df: pd.DataFrame,
    protected: str = "gender",
    outcome: str = "approved",
    label: str = "creditworthy",
    privileged: Hashable = "Male",
    unprivileged: Hashable = "Female",
    favorable_label: Any = 1,
) -> float | None:
    """``EOD = TPR_unprivileged - TPR_privileged`` with ``TPR = TP / (TP + FN)`` against the ``label`` column."""
    pair = _pair(df, protected, outcome, label, privileged, unprivileged, favorable_label)
    return equal_opportunity_difference_from_counts(*pair, confidence=None).value


def average_odds_diff(
    df: pd.DataFrame,
    protected: str = "gender",
    outcome: str = "approved",
    label: str = "creditworthy",
    privileged: Hashable = "Male",
    unprivileged: Hashable = "Female",
    favorable_label: Any = 1,
) -> float | None:
    """``AOD = ((FPR_u - FPR_p) + (TPR_u - TPR_p)) / 2`` against the ``label`` column."""
    pair = _pair(df, protected, outcome, label, privileged, unprivileged, favorable_label)
    return average_odds_difference_from_counts(*pair, confidence=None).value


def theil_index(
    df: pd.DataFrame, outcome: str = "approved", label: str = "creditworthy", favorable_label: Any = 1
) -> float | None:
    """Theil index ``(1/n) sum_i (b_i/mu) ln(b_i/mu)`` with ``b_i = yhat_i - y_i + 1`` over all rows of ``df``."""
    grouped = counts_from_frame(df, (), prediction=outcome, label=label, favorable_label=favorable_label)
    return theil_index_from_counts(grouped.total()).value


def calculate_disparate_impact_ratio(
    df: pd.DataFrame,
    protected_attribute: str = "gender",
    protected_value: Hashable = "Female",
    privileged_value: Hashable = "Male",
    outcome: str = "approved",
    favorable_label: Any = 1,
) -> dict[str, Any]:
    """Seed DIR check: rates, ``dir = female_rate / male_rate``, the 80% rule and the 20-point gap rule.

    ``dir`` is ``None`` (reason ``male_rate_zero``) when the privileged rate is 0; ``dir_alert`` is true when
    ``dir`` is ``None`` or ``< 0.8`` (EEOC four-fifths rule); ``gap = |male_rate - female_rate|`` and
    ``gap_alert = gap > 0.2``. Both rules compare with a rounding tolerance, so an exact 0.8 or 0.2 is no
    alert. Unlike the strict entry points, a missing group is not an error here: its rate is ``None`` and
    ``messages`` says which group is missing, and an uncomputable rule counts as an alert.
    """
    grouped = counts_from_frame(df, protected_attribute, prediction=outcome, favorable_label=favorable_label)
    female, male = grouped[protected_value], grouped[privileged_value]
    female_rate, male_rate = _rate(female), _rate(male)
    messages = [
        f"no rows for {name} group {value!r}"
        for name, value, counts in (
            ("protected", protected_value, female),
            ("privileged", privileged_value, male),
        )
        if counts.n <= 0
    ]
    dir_value: float | None = None
    reason = None
    if male_rate is None:
        reason = "male_group_empty"
    elif male_rate == 0:
        reason = "male_rate_zero"
    elif female_rate is None:
        reason = "female_group_empty"
    else:
        dir_value = rate_ratio(female.predicted_positive, female.n, male.predicted_positive, male.n)
    gap = None
    if male_rate is not None and female_rate is not None:
        gap = abs(rate_difference(male.predicted_positive, male.n, female.predicted_positive, female.n))
    return {
        "female_rate": female_rate,
        "male_rate": male_rate,
        "dir": dir_value,
        "dir_reason": reason,
        # Four-fifths rule: a selection rate under 80% of the privileged group's is evidence of adverse impact.
        "dir_alert": dir_value is None or is_below(dir_value, DIR_THRESHOLD),
        "gap": gap,
        "gap_alert": gap is None or is_above(gap, GAP_THRESHOLD),
        "details": {"female_count": to_native(female.n), "male_count": to_native(male.n)},
        "messages": messages,
    }


def _group_key(value: Hashable) -> str:
    return str(value).strip().lower().replace(" ", "_")


def compute_all_metrics(
    df: pd.DataFrame,
    protected: str = "gender",
    outcome: str = "approved",
    label: str | None = "creditworthy",
    privileged: Hashable = "Male",
    unprivileged: Hashable = "Female",
    favorable_label: Any = 1,
    policy: FairnessPolicy | None = None,
) -> dict[str, Any]:
    """All metrics for the two named groups, as native Python types, with intervals, verdict and a message.

    Keys: ``dir, spd, eod, aod, fpr_diff, theil, between_group_theil`` (``None`` when undefined, with the reason
    in ``reasons``), ``intervals`` (``[lower, upper]``), ``<group>_rate`` for both groups, ``gap``/``gap_alert``
    (``|SR_p - SR_u| > 0.2``), ``alert`` (``dir`` is ``None`` or below the DIR band), ``verdict`` and
    ``message``. ``label=None`` skips the label-based metrics (EOD, AOD, FPR difference, Theil).
    """
    policy = policy or FairnessPolicy()
    grouped = counts_from_frame(df, protected, prediction=outcome, label=label, favorable_label=favorable_label)
    require_comparable(grouped, privileged)
    report = fairness_report(grouped, privileged, policy=policy, n_bootstrap=0)
    comparison = report.comparison(unprivileged) if unprivileged in grouped.groups else None
    named: dict[str, MetricValue] = {}
    if comparison is None:
        missing = MetricValue.undefined("unprivileged_group_empty")
        named = dict.fromkeys(("dir", "spd", "eod", "aod", "fpr_diff"), missing)
    else:
        named = {
            "dir": comparison.disparate_impact_ratio,
            "spd": comparison.statistical_parity_difference,
            "eod": comparison.equal_opportunity_difference,
            "aod": comparison.average_odds_difference,
            "fpr_diff": comparison.false_positive_rate_difference,
        }
    named["theil"] = report.theil_index
    named["between_group_theil"] = report.between_group_theil_index
    if label is None:
        for key in ("eod", "aod", "fpr_diff", "theil", "between_group_theil"):
            named[key] = MetricValue.undefined("no_true_labels")
    dir_band = policy.bands.get("disparate_impact_ratio", Band(lower=DIR_THRESHOLD))
    dir_value = named["dir"].value
    result: dict[str, Any] = {key: metric.value for key, metric in named.items()}
    result["intervals"] = {
        key: [metric.lower, metric.upper] for key, metric in named.items() if metric.lower is not None
    }
    result["reasons"] = {key: metric.reason for key, metric in named.items() if metric.value is None}
    for group in (privileged, unprivileged):
        result[f"{_group_key(group)}_rate"] = _rate(grouped[group])
    result["privileged_rate"] = _rate(grouped[privileged])
    result["unprivileged_rate"] = _rate(grouped[unprivileged])
    gap = comparison.selection_rate_gap.value if comparison else None
    result["gap"] = gap
    result["gap_alert"] = gap is None or is_above(gap, policy.gap_threshold)
    result["alert"] = dir_value is None or not dir_band.contains(dir_value)
    result["verdict"] = comparison.verdict if comparison else None
    result["counts"] = {str(group): grouped[group].to_dict() for group in (privileged, unprivileged)}
    threshold = dir_band.lower if dir_band.lower is not None else DIR_THRESHOLD
    result["message"] = _message(dir_value, threshold, unprivileged, result["verdict"], named["dir"].reason)
    return to_native(result)


def _message(
    dir_value: float | None, threshold: float, unprivileged: Hashable, verdict: Any, reason: str | None
) -> str:
    if dir_value is None:
        return f"DIR not computable ({reason})."
    status = f" Verdict: {verdict}." if verdict is not None else ""
    if is_below(dir_value, threshold):
        return f"DIR = {dir_value:.2f} (<{threshold:g}): potential adverse impact on group {unprivileged!r}.{status}"
    return f"DIR = {dir_value:.2f} (>={threshold:g}): no adverse impact under the four-fifths rule.{status}"
