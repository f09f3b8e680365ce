"""Group rates and group-comparison metrics computed from confusion counts alone.

Conventions follow AIF360 (favorable outcome = 1 after mapping the configured favorable label)::

    SR_g  = (TP_g + FP_g + unlabeled predicted positives_g) / n_g
    TPR_g = TP_g / (TP_g + FN_g)            FPR_g = FP_g / (FP_g + TN_g)
    DIR = SR_u / SR_p    SPD = SR_u - SR_p    EOD = TPR_u - TPR_p    FPR diff = FPR_u - FPR_p
    AOD = ((FPR_u - FPR_p) + (TPR_u - TPR_p)) / 2

``u`` is the group being compared and ``p`` the privileged (reference) group. A value that cannot be
computed is ``MetricValue(value=None, reason=...)``; nothing here raises on empty groups or zero denominators.

Ratios and differences of two rates are computed with one division, ``DIR = (x_u n_p) / (n_u x_p)`` and
``SPD = (x_u n_p - x_p n_u) / (n_u n_p)``, so integer counts give the correctly rounded value (8/100 against
10/100 is exactly 0.8, not 0.7999999999999999).

Intervals of weighted counts use Kish's effective sample size of each denominator (see ``counts``): the rate
``x / n`` is kept and the interval is computed as for ``p * n_eff`` successes in ``n_eff`` trials, so scaling
every weight by a constant changes no interval. Every interval contains its point estimate.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass

import numpy as np

from monitoring.fairness.counts import ConfusionCounts, GroupedCounts
from monitoring.fairness.intervals import (
    Interval,
    katz_ratio_interval,
    mover_interval,
    newcombe_difference_interval,
    wilson_interval,
)


@dataclass(frozen=True)
class MetricValue:
    """A metric with its confidence interval.

    ``value`` is ``None`` when the metric is undefined, and ``reason`` says why (for example
    ``"privileged_no_actual_positives"``). ``reason`` is also set when only the interval is missing.
    """

    value: float | None
    lower: float | None = None
    upper: float | None = None
    reason: str | None = None

    @property
    def interval(self) -> Interval | None:
        """The interval as an :class:`Interval`, or ``None``."""
        if self.lower is None or self.upper is None:
            return None
        return Interval(self.lower, self.upper)

    @classmethod
    def undefined(cls, reason: str) -> MetricValue:
        """A metric that cannot be computed, with the reason."""
        return cls(None, reason=reason)


def _with_interval(value: float, interval: Interval | None, missing_reason: str | None = None) -> MetricValue:
    if interval is None:
        return MetricValue(value, reason=missing_reason)
    # A bound computed by a separate formula can sit a rounding error beside the estimate; never exclude it.
    return MetricValue(value, min(interval.lower, value), max(interval.upper, value))


def _interval_counts(successes: float, trials: float, effective_trials: float) -> tuple[float, float]:
    """Successes and trials that give a weighted rate its interval: the same rate over ``n_eff`` trials."""
    if effective_trials == trials:
        return successes, trials
    return successes / trials * effective_trials, effective_trials


def _rate(
    successes: float, trials: float, effective_trials: float, confidence: float | None, empty_reason: str
) -> MetricValue:
    if trials <= 0:
        return MetricValue.undefined(empty_reason)
    value = successes / trials
    if confidence is None:
        return MetricValue(value)
    return _with_interval(value, wilson_interval(*_interval_counts(successes, trials, effective_trials), confidence))


def selection_rate(counts: ConfusionCounts, confidence: float | None = 0.95) -> MetricValue:
    """Selection rate ``SR = (TP + FP + unlabeled_pos) / n`` with a Wilson interval; undefined when ``n = 0``."""
    return _rate(*_selection_fraction(counts), confidence, "no_rows")


def true_positive_rate(counts: ConfusionCounts, confidence: float | None = 0.95) -> MetricValue:
    """True positive rate ``TPR = TP / (TP + FN)`` with a Wilson interval; undefined without actual positives."""
    return _rate(*_tpr_fraction(counts), confidence, "no_actual_positives")


def false_positive_rate(counts: ConfusionCounts, confidence: float | None = 0.95) -> MetricValue:
    """False positive rate ``FPR = FP / (FP + TN)`` with a Wilson interval; undefined without actual negatives."""
    return _rate(*_fpr_fraction(counts), confidence, "no_actual_negatives")


# (successes, trials, effective trials) of one rate of a group.
_Fraction = Callable[[ConfusionCounts], tuple[float, float, float]]


def _selection_fraction(counts: ConfusionCounts) -> tuple[float, float, float]:
    return counts.predicted_positive, counts.n, counts.effective_n


def _tpr_fraction(counts: ConfusionCounts) -> tuple[float, float, float]:
    return counts.tp, counts.actual_positive, counts.effective_actual_positive


def _fpr_fraction(counts: ConfusionCounts) -> tuple[float, float, float]:
    return counts.fp, counts.actual_negative, counts.effective_actual_negative


def _native(*values: float) -> tuple[float, ...]:
    # Python ints multiply exactly; numpy int64 products of large counts would overflow silently.
    return tuple(value.item() if isinstance(value, np.generic) else value for value in values)


def rate_ratio(successes_a: float, trials_a: float, successes_b: float, trials_b: float) -> float:
    """``(x_a / n_a) / (x_b / n_b)`` with a single rounding: ``(x_a n_b) / (n_a x_b)``."""
    x_a, n_a, x_b, n_b = _native(successes_a, trials_a, successes_b, trials_b)
    return (x_a * n_b) / (n_a * x_b)


def rate_difference(successes_a: float, trials_a: float, successes_b: float, trials_b: float) -> float:
    """``x_a / n_a - x_b / n_b`` with a single rounding for integer counts: ``(x_a n_b - x_b n_a) / (n_a n_b)``."""
    x_a, n_a, x_b, n_b = _native(successes_a, trials_a, successes_b, trials_b)
    return (x_a * n_b - x_b * n_a) / (n_a * n_b)


_EMPTY_REASON = {
    _selection_fraction: "group_empty",
    _tpr_fraction: "no_actual_positives",
    _fpr_fraction: "no_actual_negatives",
}


def _empty_reason(unprivileged: ConfusionCounts, privileged: ConfusionCounts, fraction: _Fraction) -> str | None:
    for role, counts in (("unprivileged", unprivileged), ("privileged", privileged)):
        if fraction(counts)[1] <= 0:
            return f"{role}_{_EMPTY_REASON[fraction]}"
    return None


def _difference(
    unprivileged: ConfusionCounts, privileged: ConfusionCounts, fraction: _Fraction, confidence: float | None
) -> MetricValue:
    reason = _empty_reason(unprivileged, privileged, fraction)
    if reason:
        return MetricValue.undefined(reason)
    x_u, n_u, effective_u = fraction(unprivileged)
    x_p, n_p, effective_p = fraction(privileged)
    value = rate_difference(x_u, n_u, x_p, n_p)
    if confidence is None:
        return MetricValue(value)
    interval = newcombe_difference_interval(
        *_interval_counts(x_u, n_u, effective_u), *_interval_counts(x_p, n_p, effective_p), confidence
    )
    return _with_interval(value, interval)


def disparate_impact_ratio_from_counts(
    unprivileged: ConfusionCounts, privileged: ConfusionCounts, confidence: float | None = 0.95
) -> MetricValue:
    """Disparate impact ratio ``DIR = SR_u / SR_p`` with a Katz log interval.

    Undefined when either group is empty or ``SR_p = 0`` (reason ``privileged_selection_rate_zero``).
    """
    reason = _empty_reason(unprivileged, privileged, _selection_fraction)
    if reason:
        return MetricValue.undefined(reason)
    x_u, n_u, effective_u = _selection_fraction(unprivileged)
    x_p, n_p, effective_p = _selection_fraction(privileged)
    if x_p <= 0:
        return MetricValue.undefined("privileged_selection_rate_zero")
    value = rate_ratio(x_u, n_u, x_p, n_p)
    if confidence is None:
        return MetricValue(value)
    interval = katz_ratio_interval(
        *_interval_counts(x_u, n_u, effective_u), *_interval_counts(x_p, n_p, effective_p), confidence
    )
    return _with_interval(value, interval)


def statistical_parity_difference_from_counts(
    unprivileged: ConfusionCounts, privileged: ConfusionCounts, confidence: float | None = 0.95
) -> MetricValue:
    """Statistical parity difference ``SPD = SR_u - SR_p`` with a Newcombe hybrid score interval."""
    return _difference(unprivileged, privileged, _selection_fraction, confidence)


def equal_opportunity_difference_from_counts(
    unprivileged: ConfusionCounts, privileged: ConfusionCounts, confidence: float | None = 0.95
) -> MetricValue:
    """Equal opportunity difference ``EOD = TPR_u - TPR_p`` with a Newcombe hybrid score interval."""
    return _difference(unprivileged, privileged, _tpr_fraction, confidence)


def false_positive_rate_difference_from_counts(
    unprivileged: ConfusionCounts, privileged: ConfusionCounts, confidence: float | None = 0.95
) -> MetricValue:
    """False positive rate difference ``FPR_u - FPR_p`` with a Newcombe hybrid score interval."""
    return _difference(unprivileged, privileged, _fpr_fraction, confidence)


def average_odds_difference_from_counts(
    unprivileged: ConfusionCounts, privileged: ConfusionCounts, confidence: float | None = 0.95
) -> MetricValue:
    """Average odds difference ``AOD = ((FPR_u - FPR_p) + (TPR_u - TPR_p)) / 2``.

    Interval: MOVER over the four independent Wilson intervals (TPR and FPR of a group use disjoint rows),
    halved; it reduces to Newcombe's method when one of the two differences is known exactly.
    """
    reason = _empty_reason(unprivileged, privileged, _tpr_fraction) or _empty_reason(
        unprivileged, privileged, _fpr_fraction
    )
    if reason:
        return MetricValue.undefined(reason)
    fpr_u, fpr_p = _fpr_fraction(unprivileged), _fpr_fraction(privileged)
    tpr_u, tpr_p = _tpr_fraction(unprivileged), _tpr_fraction(privileged)
    value = (rate_difference(*fpr_u[:2], *fpr_p[:2]) + rate_difference(*tpr_u[:2], *tpr_p[:2])) / 2.0
    if confidence is None:
        return MetricValue(value)
    terms = []
    for sign, (successes, trials, effective_trials) in ((1.0, fpr_u), (-1.0, fpr_p), (1.0, tpr_u), (-1.0, tpr_p)):
        interval = wilson_interval(*_interval_counts(successes, trials, effective_trials), confidence)
        if interval is None:
            return MetricValue(value, reason="interval_undefined")
        terms.append((sign, successes / trials, interval))
    combined = mover_interval(terms)
    return _with_interval(value, Interval(combined.lower / 2.0, combined.upper / 2.0))


def selection_rate_gap(
    unprivileged: ConfusionCounts, privileged: ConfusionCounts, confidence: float | None = 0.95
) -> MetricValue:
    """Absolute selection-rate gap ``|SR_p - SR_u|`` (the prototype's 20-point gap rule uses it).

    The interval folds the Newcombe interval ``[L, U]`` of SPD onto the absolute value: ``[L, U]`` when
    ``L >= 0``, ``[-U, -L]`` when ``U <= 0``, else ``[0, max(-L, U)]``.
    """
    difference = _difference(unprivileged, privileged, _selection_fraction, confidence)
    if difference.value is None:
        return difference
    gap = abs(difference.value)
    if difference.lower is None or difference.upper is None:
        return MetricValue(gap, reason=difference.reason)
    lower, upper = difference.lower, difference.upper
    if lower >= 0:
        return MetricValue(gap, lower, upper)
    if upper <= 0:
        return MetricValue(gap, -upper, -lower)
    return MetricValue(gap, 0.0, max(-lower, upper))


def impact_ratios(grouped: GroupedCounts, confidence: float | None = 0.95) -> dict[Hashable, MetricValue]:
    """NYC LL144-style impact ratio of every group: ``SR_g / max_h SR_h`` over the non-empty groups.

    The interval is the Katz interval against the top group treated as fixed (it ignores that the top group
    was chosen by its observed rate). Empty groups get reason ``no_rows``; every group is undefined when the
    highest selection rate is 0 (reason ``highest_selection_rate_zero``).
    """
    rates = {label: counts.predicted_positive / counts.n for label, counts in grouped.groups.items() if counts.n > 0}
    result: dict[Hashable, MetricValue] = {}
    if not rates:
        return {label: MetricValue.undefined("no_rows") for label in grouped.groups}
    top_label = max(rates, key=lambda label: rates[label])
    top = grouped.groups[top_label]
    for label, counts in grouped.groups.items():
        if counts.n <= 0:
            result[label] = MetricValue.undefined("no_rows")
        elif rates[top_label] <= 0:
            result[label] = MetricValue.undefined("highest_selection_rate_zero")
        elif label == top_label:
            result[label] = MetricValue(1.0, 1.0, 1.0)
        else:
            value = rate_ratio(counts.predicted_positive, counts.n, top.predicted_positive, top.n)
            interval = (
                None
                if confidence is None
                else katz_ratio_interval(
                    *_interval_counts(*_selection_fraction(counts)),
                    *_interval_counts(*_selection_fraction(top)),
                    confidence,
                )
            )
            result[label] = _with_interval(value, interval)
    return result
