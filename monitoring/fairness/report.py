"""The fairness report of one protected attribute: every group against the privileged (reference) group.

The front door is :func:`evaluate`: per-group counts or a DataFrame in, one :class:`FairnessReport` out, read as
a table (:meth:`FairnessReport.by_group`) or as JSON (:meth:`FairnessReport.to_dict`). Counts are taken as they
are (the platform feeds it summed rollup rows, where an empty group is just an undefined metric); a DataFrame is
counted first and validated strictly (one group only, or a privileged value that never occurs, is an input
error). :func:`fairness_report` (counts), :func:`evaluate_frame` (a DataFrame) and :func:`evaluate_fairness`
(raw arrays) are the spellings the rest of the code and the seed's callers already use; all three build the
same report.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from monitoring.fairness.counts import ConfusionCounts, GroupedCounts, confusion_counts, counts_from_frame
from monitoring.fairness.errors import InvalidParameterError, PrivilegedValueMissingError, SingleGroupError
from monitoring.fairness.limits import is_above
from monitoring.fairness.metrics import (
    MetricValue,
    average_odds_difference_from_counts,
    disparate_impact_ratio_from_counts,
    equal_opportunity_difference_from_counts,
    false_positive_rate,
    false_positive_rate_difference_from_counts,
    impact_ratios,
    selection_rate,
    selection_rate_gap,
    statistical_parity_difference_from_counts,
    true_positive_rate,
)
from monitoring.fairness.policy import FairnessPolicy, Verdict, judge, worst_verdict
from monitoring.fairness.serialization import to_native
from monitoring.fairness.theil import theil_score_intervals


@dataclass(frozen=True)
class GroupSummary:
    """Counts, rates (with Wilson intervals) and LL144 impact ratio of one group."""

    group: Hashable
    counts: ConfusionCounts
    selection_rate: MetricValue
    true_positive_rate: MetricValue
    false_positive_rate: MetricValue
    impact_ratio: MetricValue


@dataclass(frozen=True)
class GroupComparison:
    """One group compared with the reference group, with a verdict for every metric that has a policy band."""

    group: Hashable
    reference: Hashable
    disparate_impact_ratio: MetricValue
    statistical_parity_difference: MetricValue
    equal_opportunity_difference: MetricValue
    average_odds_difference: MetricValue
    false_positive_rate_difference: MetricValue
    selection_rate_gap: MetricValue
    gap_alert: bool | None
    verdicts: dict[str, Verdict]
    verdict: Verdict | None

    def metric(self, name: str) -> MetricValue:
        """The metric called ``name`` (one of ``policy.METRIC_NAMES``)."""
        value = getattr(self, name)
        if not isinstance(value, MetricValue):
            raise KeyError(name)
        return value


@dataclass(frozen=True)
class WorstCase:
    """The comparison that is furthest from parity for one metric (``group`` is ``None`` if none is defined).

    Distance from parity is ``|ln DIR|`` for the disparate impact ratio, so a favoured group at 1.58 ranks
    above a disadvantaged one at 0.79, and the absolute value for differences. The impact ratio (never above 1)
    takes the lowest value.
    """

    metric: str
    group: Hashable | None
    value: MetricValue


@dataclass(frozen=True)
class FairnessReport:
    """All metrics, intervals and verdicts for one protected attribute (or intersection)."""

    attributes: tuple[str, ...]
    privileged: Hashable
    confidence: float
    groups: tuple[GroupSummary, ...]
    comparisons: tuple[GroupComparison, ...]
    theil_index: MetricValue
    between_group_theil_index: MetricValue
    worst: dict[str, WorstCase]
    verdict: Verdict | None
    policy: FairnessPolicy

    @property
    def attribute(self) -> str:
        """Display name of the attribute (``"race x sex"`` for an intersection)."""
        return " x ".join(self.attributes)

    def group(self, label: Hashable) -> GroupSummary:
        """Summary of the group ``label``."""
        for summary in self.groups:
            if summary.group == label:
                return summary
        raise KeyError(label)

    def comparison(self, label: Hashable) -> GroupComparison:
        """Comparison of the group ``label`` with the reference group."""
        for comparison in self.comparisons:
            if comparison.group == label:
                return comparison
        raise KeyError(label)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready nested dict of native Python types (tuple group labels become lists)."""
        return to_native(self) | {"attribute": self.attribute}

    def by_group(self, *, intervals: bool = False) -> pd.DataFrame:
        """One row per group (the reference group first), like fairlearn's ``MetricFrame.by_group``.

        Columns: ``n``, the group's rates and impact ratio, then each comparison with the reference group
        (``NaN`` in the reference row, and wherever a metric is undefined) and the comparison's ``verdict``.
        ``intervals=True`` adds ``<metric>_lower`` and ``<metric>_upper`` after each metric.
        """
        comparisons = {comparison.group: comparison for comparison in self.comparisons}
        ordered = sorted(self.groups, key=lambda summary: summary.group != self.privileged)
        rows = []
        for summary in ordered:
            row: dict[str, Any] = {"group": summary.group, "n": summary.counts.n}
            metrics = {name: getattr(summary, name) for name in _GROUP_METRICS}
            comparison = comparisons.get(summary.group)
            for name in _COMPARISON_FUNCTIONS:
                metrics[name] = comparison.metric(name) if comparison else MetricValue.undefined("reference_group")
            for name, metric in metrics.items():
                row[name] = math.nan if metric.value is None else metric.value
                if intervals:
                    row[f"{name}_lower"] = math.nan if metric.lower is None else metric.lower
                    row[f"{name}_upper"] = math.nan if metric.upper is None else metric.upper
            row["verdict"] = comparison.verdict.value if comparison and comparison.verdict else None
            rows.append(row)
        index_name = self.attribute if len(self.attributes) == 1 else self.attributes
        table = pd.DataFrame(rows).set_index("group")
        table.index.name = index_name if isinstance(index_name, str) else " x ".join(index_name)
        return table


_GROUP_METRICS = ("selection_rate", "true_positive_rate", "false_positive_rate", "impact_ratio")


# Which group sizes a metric depends on: its verdict is "insufficient_data" when any of them is too small.
# Effective sizes, so that weights scaled by a constant neither create nor hide data.
_SIZES: dict[str, Callable[[ConfusionCounts], Sequence[float]]] = {
    "disparate_impact_ratio": lambda counts: (counts.effective_n,),
    "statistical_parity_difference": lambda counts: (counts.effective_n,),
    "equal_opportunity_difference": lambda counts: (counts.effective_actual_positive,),
    "false_positive_rate_difference": lambda counts: (counts.effective_actual_negative,),
    "average_odds_difference": lambda counts: (counts.effective_actual_positive, counts.effective_actual_negative),
}

_COMPARISON_FUNCTIONS = {
    "disparate_impact_ratio": disparate_impact_ratio_from_counts,
    "statistical_parity_difference": statistical_parity_difference_from_counts,
    "equal_opportunity_difference": equal_opportunity_difference_from_counts,
    "average_odds_difference": average_odds_difference_from_counts,
    "false_positive_rate_difference": false_positive_rate_difference_from_counts,
}


def compare_groups(
    group: Hashable,
    counts: ConfusionCounts,
    reference: Hashable,
    reference_counts: ConfusionCounts,
    policy: FairnessPolicy,
) -> GroupComparison:
    """Compare ``counts`` (group ``group``) with ``reference_counts``: all metrics, intervals and verdicts."""
    values = {
        name: function(counts, reference_counts, policy.confidence) for name, function in _COMPARISON_FUNCTIONS.items()
    }
    verdicts = {
        name: judge(values[name], band, (*_SIZES[name](counts), *_SIZES[name](reference_counts)), policy.min_group_size)
        for name, band in policy.bands.items()
    }
    gap = selection_rate_gap(counts, reference_counts, policy.confidence)
    return GroupComparison(
        group=group,
        reference=reference,
        **values,
        selection_rate_gap=gap,
        gap_alert=None if gap.value is None else is_above(gap.value, policy.gap_threshold),
        verdicts=verdicts,
        verdict=worst_verdict(verdicts.values()) if verdicts else None,
    )


def _log_distance_from_parity(ratio: float) -> float:
    """``|ln ratio|``; a ratio of 0 (nobody selected) is infinitely far from parity."""
    return math.inf if ratio <= 0 else abs(math.log(ratio))


def _worst_cases(comparisons: Sequence[GroupComparison], groups: Sequence[GroupSummary]) -> dict[str, WorstCase]:
    worst: dict[str, WorstCase] = {}
    for name in _COMPARISON_FUNCTIONS:
        defined = [(c.group, c.metric(name)) for c in comparisons if c.metric(name).value is not None]
        if not defined:
            worst[name] = WorstCase(name, None, MetricValue.undefined("no_defined_comparison"))
            continue
        # Furthest from parity: for the ratio on the log scale (0.8 and 1.25 are equally far from 1), for
        # differences by absolute value.
        if name == "disparate_impact_ratio":
            label, value = max(defined, key=lambda item: _log_distance_from_parity(item[1].value))
        else:
            label, value = max(defined, key=lambda item: abs(item[1].value))
        worst[name] = WorstCase(name, label, value)
    ratios = [(g.group, g.impact_ratio) for g in groups if g.impact_ratio.value is not None]
    if ratios:
        label, value = min(ratios, key=lambda item: item[1].value)
        worst["impact_ratio"] = WorstCase("impact_ratio", label, value)
    else:
        worst["impact_ratio"] = WorstCase("impact_ratio", None, MetricValue.undefined("no_defined_comparison"))
    return worst


def evaluate(
    data: GroupedCounts | pd.DataFrame,
    privileged: Hashable,
    *,
    policy: FairnessPolicy | None = None,
    protected: str | Sequence[str] | None = None,
    prediction: str | None = None,
    label: str | None = None,
    favorable_label: Any = 1,
    weight: str | None = None,
    allow_unlabeled: bool = False,
) -> FairnessReport:
    """The engine's front door: the fairness report of ``data`` against the ``privileged`` group under ``policy``.

    ``data`` is either :class:`GroupedCounts` (one attribute or intersection; taken as they are) or a DataFrame,
    for which ``protected`` (a column, or columns for an intersection with a tuple ``privileged``) and
    ``prediction`` name the columns, ``label`` the true outcome if known, and ``weight`` a sample-weight column.
    """
    if isinstance(data, GroupedCounts):
        frame_only = {"protected": protected, "prediction": prediction, "label": label, "weight": weight}
        given = sorted(name for name, value in frame_only.items() if value is not None)
        if given or allow_unlabeled or favorable_label != 1:
            raise InvalidParameterError(
                f"{', '.join(given) or 'favorable_label/allow_unlabeled'} describe DataFrame columns; counts are "
                "already counted (flip the counts for favorable_label=0 before passing them)."
            )
        return fairness_report(data, privileged, policy=policy)
    if isinstance(data, pd.DataFrame):
        if protected is None or prediction is None:
            raise InvalidParameterError("A DataFrame needs protected= and prediction= (its column names).")
        grouped = counts_from_frame(
            data,
            protected,
            prediction=prediction,
            label=label,
            favorable_label=favorable_label,
            weight=weight,
            allow_unlabeled=allow_unlabeled,
        )
        require_comparable(grouped, privileged)
        return fairness_report(grouped, privileged, policy=policy)
    raise InvalidParameterError(
        f"evaluate() takes GroupedCounts or a pandas DataFrame, not {type(data).__name__}.", value=type(data).__name__
    )


def fairness_report(
    grouped: GroupedCounts,
    privileged: Hashable,
    *,
    policy: FairnessPolicy | None = None,
    n_bootstrap: int = 2000,
    seed: int = 0,
) -> FairnessReport:
    """Build the full report from per-group counts.

    Per group: SR, TPR, FPR (Wilson) and impact ratio ``SR_g / max SR``. Per non-reference group: DIR, SPD,
    EOD, AOD, FPR difference with intervals and verdicts. Overall: Theil index and its between-group component
    with intervals valid at parity (:func:`theil_score_intervals`), the worst case per metric and the most
    severe verdict. A privileged group with no rows yields undefined comparisons, not an error.
    ``n_bootstrap`` and ``seed`` are accepted for callers of the former bootstrap intervals and no longer used:
    the Theil intervals are closed-form.
    """
    policy = policy or FairnessPolicy()
    counts_by_group = dict(grouped.groups)
    counts_by_group.setdefault(privileged, ConfusionCounts())
    complete = GroupedCounts(grouped.attributes, counts_by_group)
    ratios = impact_ratios(complete, policy.confidence)
    summaries = tuple(
        GroupSummary(
            group=label,
            counts=counts,
            selection_rate=selection_rate(counts, policy.confidence),
            true_positive_rate=true_positive_rate(counts, policy.confidence),
            false_positive_rate=false_positive_rate(counts, policy.confidence),
            impact_ratio=ratios[label],
        )
        for label, counts in counts_by_group.items()
    )
    reference_counts = counts_by_group[privileged]
    comparisons = tuple(
        compare_groups(label, counts, privileged, reference_counts, policy)
        for label, counts in counts_by_group.items()
        if label != privileged
    )
    theil, between = theil_score_intervals(complete, policy.confidence)
    judged = [c.verdict for c in comparisons if c.verdict is not None]
    return FairnessReport(
        attributes=grouped.attributes,
        privileged=privileged,
        confidence=policy.confidence,
        groups=summaries,
        comparisons=comparisons,
        theil_index=theil,
        between_group_theil_index=between,
        worst=_worst_cases(comparisons, summaries),
        verdict=worst_verdict(judged) if policy.bands else None,
        policy=policy,
    )


def require_comparable(grouped: GroupedCounts, privileged: Hashable) -> None:
    """Raise :class:`SingleGroupError` with fewer than two non-empty groups and
    :class:`PrivilegedValueMissingError` when the privileged group has no rows."""
    present = grouped.present_groups()
    if len(present) < 2:
        raise SingleGroupError(grouped.name, present)
    if privileged not in present:
        raise PrivilegedValueMissingError(grouped.name, privileged, present)


def evaluate_fairness(
    groups: Any,
    y_pred: Any,
    y_true: Any = None,
    *,
    privileged: Hashable,
    favorable_label: Any = 1,
    sample_weight: Any = None,
    group_labels: Sequence[Hashable] | None = None,
    allow_unlabeled: bool = False,
    attribute: str = "group",
    policy: FairnessPolicy | None = None,
    n_bootstrap: int = 2000,
    seed: int = 0,
) -> FairnessReport:
    """Count raw arrays with :func:`confusion_counts`, validate, and build :func:`fairness_report`."""
    grouped = confusion_counts(
        groups,
        y_pred,
        y_true,
        favorable_label=favorable_label,
        sample_weight=sample_weight,
        group_labels=group_labels,
        allow_unlabeled=allow_unlabeled,
        attribute=attribute,
    )
    require_comparable(grouped, privileged)
    return fairness_report(grouped, privileged, policy=policy, n_bootstrap=n_bootstrap, seed=seed)


def evaluate_frame(
    frame: pd.DataFrame,
    protected: str | Sequence[str],
    *,
    privileged: Hashable,
    prediction: str,
    label: str | None = None,
    favorable_label: Any = 1,
    weight: str | None = None,
    allow_unlabeled: bool = False,
    policy: FairnessPolicy | None = None,
    n_bootstrap: int = 2000,
    seed: int = 0,
) -> FairnessReport:
    """:func:`evaluate` of a DataFrame (``n_bootstrap`` and ``seed`` are accepted and unused, as in
    :func:`fairness_report`)."""
    return evaluate(
        frame,
        privileged,
        policy=policy,
        protected=protected,
        prediction=prediction,
        label=label,
        favorable_label=favorable_label,
        weight=weight,
        allow_unlabeled=allow_unlabeled,
    )
