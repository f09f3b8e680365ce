"""Theil index (generalised entropy, alpha = 1) of the benefit ``b_i = yhat_i - y_i + 1`` from counts.

For binary outcomes ``b`` takes three values: 2 for a false positive, 0 for a false negative and 1 for a true
positive or true negative. So over the labeled rows in scope, with ``n = TP + FP + TN + FN``::

    mu    = (TP + TN + 2 FP) / n
    Theil = (1/n) * sum_i (b_i / mu) ln(b_i / mu)
          = [ (TP + TN) (1/mu) ln(1/mu) + FP (2/mu) ln(2/mu) ] / n        (0 ln 0 = 0 removes the FN term)

The between-group component replaces every row's benefit by its group's mean ``mu_g``::

    Theil_between = (1/n) sum_g n_g (mu_g / mu) ln(mu_g / mu)

which is AIF360's ``between_all_groups_theil_index`` when the groups are all values of the attribute.
Unlabeled rows are excluded because ``b`` needs the true label.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from monitoring.fairness.counts import ConfusionCounts, GroupedCounts
from monitoring.fairness.intervals import Interval, percentile_interval
from monitoring.fairness.metrics import MetricValue

# A group with fewer labeled rows has so few distinct resamples that the percentile interval collapses
# (one row: every replicate equals the estimate, a zero-width "interval"); no interval is reported then.
MIN_BOOTSTRAP_ROWS_PER_GROUP = 10


def _x_log_x_over(benefit: float, mean: float) -> float:
    ratio = benefit / mean
    return ratio * math.log(ratio) if ratio > 0 else 0.0


def theil_index_from_counts(counts: ConfusionCounts) -> MetricValue:
    """Theil index over all labeled rows in ``counts`` (formula in the module docstring).

    Undefined with reason ``no_labeled_rows`` when there is no labeled row and ``zero_mean_benefit`` when every
    labeled row is a false negative (``mu = 0``).
    """
    n = counts.labeled
    if n <= 0:
        return MetricValue.undefined("no_labeled_rows")
    mean = (counts.tp + counts.tn + 2.0 * counts.fp) / n
    if mean <= 0:
        return MetricValue.undefined("zero_mean_benefit")
    total = (counts.tp + counts.tn) * _x_log_x_over(1.0, mean) + counts.fp * _x_log_x_over(2.0, mean)
    return MetricValue(total / n)


def between_group_theil_index_from_counts(groups: Iterable[ConfusionCounts]) -> MetricValue:
    """Between-group Theil component ``(1/n) sum_g n_g (mu_g/mu) ln(mu_g/mu)`` over the given groups."""
    members = [counts for counts in groups if counts.labeled > 0]
    n = sum(counts.labeled for counts in members)
    if n <= 0:
        return MetricValue.undefined("no_labeled_rows")
    benefit = sum(counts.tp + counts.tn + 2.0 * counts.fp for counts in members)
    mean = benefit / n
    if mean <= 0:
        return MetricValue.undefined("zero_mean_benefit")
    total = 0.0
    for counts in members:
        group_mean = (counts.tp + counts.tn + 2.0 * counts.fp) / counts.labeled
        total += counts.labeled * _x_log_x_over(group_mean, mean)
    return MetricValue(total / n)


def _theil_from_arrays(false_negatives: np.ndarray, neutral: np.ndarray, false_positives: np.ndarray) -> np.ndarray:
    """Vectorised Theil index over replicate rows of (FN, TP + TN, FP) counts; NaN where undefined."""
    n = false_negatives + neutral + false_positives
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = (neutral + 2.0 * false_positives) / n
        one = np.where(mean > 0, (1.0 / mean) * np.log(1.0 / mean), np.nan)
        two = np.where(mean > 0, (2.0 / mean) * np.log(2.0 / mean), np.nan)
        return (neutral * one + false_positives * two) / n


def theil_bootstrap_intervals(
    grouped: GroupedCounts, confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0
) -> tuple[MetricValue, MetricValue]:
    """Percentile bootstrap intervals for the Theil index and its between-group component.

    Resampling is parametric on the counts, stratified by group: each replicate draws every group's
    (FN, TP + TN, FP) from a multinomial with that group's size and observed proportions, so no row data is
    needed. Returns ``(theil, between_group)``. No interval (only the point value, with a reason) for weighted
    counts (``bootstrap_needs_unweighted_counts``), for ``n_resamples <= 0`` (``bootstrap_disabled``) and when
    a group with labeled rows has fewer than ``MIN_BOOTSTRAP_ROWS_PER_GROUP`` of them
    (``too_few_for_bootstrap``). An interval always contains its estimate: the between-group component of
    identical groups is 0 while every replicate is positive, so a percentile bound is extended to the estimate.
    """
    members = [counts for counts in grouped.groups.values() if counts.labeled > 0]
    point_total = theil_index_from_counts(grouped.total())
    point_between = between_group_theil_index_from_counts(members)
    if point_total.value is None or point_between.value is None:
        return point_total, point_between
    if any(counts.is_weighted for counts in members):
        return (
            MetricValue(point_total.value, reason="bootstrap_needs_unweighted_counts"),
            MetricValue(point_between.value, reason="bootstrap_needs_unweighted_counts"),
        )
    if n_resamples <= 0:
        return (
            MetricValue(point_total.value, reason="bootstrap_disabled"),
            MetricValue(point_between.value, reason="bootstrap_disabled"),
        )
    if min(counts.labeled for counts in members) < MIN_BOOTSTRAP_ROWS_PER_GROUP:
        return (
            MetricValue(point_total.value, reason="too_few_for_bootstrap"),
            MetricValue(point_between.value, reason="too_few_for_bootstrap"),
        )
    rng = np.random.default_rng(seed)
    shape = (n_resamples, len(members))
    fn = np.empty(shape)
    neutral = np.empty(shape)
    fp = np.empty(shape)
    for column, counts in enumerate(members):
        size = int(counts.labeled)
        probabilities = np.array([counts.fn, counts.tp + counts.tn, counts.fp], dtype=np.float64) / size
        draws = rng.multinomial(size, probabilities, size=n_resamples)
        fn[:, column], neutral[:, column], fp[:, column] = draws[:, 0], draws[:, 1], draws[:, 2]
    total_samples = _theil_from_arrays(fn.sum(axis=1), neutral.sum(axis=1), fp.sum(axis=1))
    sizes = fn + neutral + fp
    with np.errstate(divide="ignore", invalid="ignore"):
        n = sizes.sum(axis=1, keepdims=True)
        mean = (neutral + 2.0 * fp).sum(axis=1, keepdims=True) / n
        ratio = ((neutral + 2.0 * fp) / sizes) / mean
        terms = np.where(ratio > 0, ratio * np.log(ratio), 0.0)
        between_samples = np.where(mean[:, 0] > 0, (sizes * terms).sum(axis=1) / n[:, 0], np.nan)
    total_interval = percentile_interval(total_samples, confidence)
    between_interval = percentile_interval(between_samples, confidence)
    return _attach(point_total.value, total_interval), _attach(point_between.value, between_interval)


def _attach(value: float, interval: Interval | None) -> MetricValue:
    if interval is None:
        return MetricValue(value, reason="bootstrap_undefined")
    return MetricValue(value, min(interval.lower, value), max(interval.upper, value))
