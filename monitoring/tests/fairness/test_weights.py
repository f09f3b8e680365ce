"""Sample weights are relative weights: intervals and the minimum group size use Kish's effective size.

``n_eff = (sum w)^2 / sum w^2``, so multiplying every weight by a constant must change no interval or verdict,
and weights that are all equal must give the unweighted answer.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from scipy.stats import beta, norm

from monitoring.fairness import (
    METRIC_NAMES,
    Band,
    ConfusionCounts,
    FairnessPolicy,
    GroupedCounts,
    InvalidParameterError,
    Verdict,
    confusion_counts,
    evaluate_fairness,
    selection_rate,
    theil_bootstrap_intervals,
)

ALL_BANDS = FairnessPolicy(
    bands={
        "disparate_impact_ratio": Band(0.8, 1.25),
        "statistical_parity_difference": Band(-0.1, 0.1),
        "equal_opportunity_difference": Band(-0.1, 0.1),
        "average_odds_difference": Band(-0.1, 0.1),
        "false_positive_rate_difference": Band(-0.1, 0.1),
    }
)


@pytest.fixture
def rows() -> dict[str, np.ndarray]:
    # The reviewer's example: 100 rows per group, selection rates about 0.5 and 0.36, labels partly agreeing.
    rng = np.random.default_rng(0)
    groups = np.repeat([0, 1], 100)
    y_pred = np.r_[rng.random(100) < 0.5, rng.random(100) < 0.36].astype(int)
    y_true = np.where(rng.random(200) < 0.8, y_pred, 1 - y_pred)
    return {"groups": groups, "y_pred": y_pred, "y_true": y_true, "uneven": rng.uniform(0.2, 3.0, 200)}


def summary(report: Any) -> tuple[list[float | None], list[Any]]:
    """Every value and interval bound of a report, and every reason and verdict."""
    numbers: list[float | None] = []
    labels: list[Any] = []
    metrics = []
    for comparison in report.comparisons:
        metrics += [comparison.metric(name) for name in METRIC_NAMES] + [comparison.selection_rate_gap]
        labels += [comparison.verdicts, comparison.verdict, comparison.gap_alert]
    for group in report.groups:
        metrics += [group.selection_rate, group.true_positive_rate, group.false_positive_rate, group.impact_ratio]
    for metric in metrics:
        numbers += [metric.value, metric.lower, metric.upper]
        labels.append(metric.reason)
    return numbers, labels


def report_for(rows: dict[str, np.ndarray], weights: np.ndarray | None) -> Any:
    return evaluate_fairness(
        rows["groups"], rows["y_pred"], rows["y_true"], privileged=0, sample_weight=weights, policy=ALL_BANDS
    )


@pytest.mark.parametrize("scale", [0.01, 1000.0])
@pytest.mark.parametrize("shape", ["equal", "uneven"])
def test_scaling_every_weight_changes_no_interval_or_verdict(
    rows: dict[str, np.ndarray], scale: float, shape: str
) -> None:
    base = np.ones(200) if shape == "equal" else rows["uneven"]
    numbers, labels = summary(report_for(rows, base))
    scaled_numbers, scaled_labels = summary(report_for(rows, base * scale))
    assert scaled_labels == labels
    assert [value is None for value in scaled_numbers] == [value is None for value in numbers]
    defined = [(a, b) for a, b in zip(scaled_numbers, numbers, strict=True) if a is not None]
    assert [a for a, _ in defined] == pytest.approx([b for _, b in defined], rel=1e-9, abs=1e-12)


def test_equal_weights_give_the_unweighted_report(rows: dict[str, np.ndarray]) -> None:
    unweighted_numbers, unweighted_labels = summary(report_for(rows, None))
    for weight in (0.01, 1.0, 1000.0):
        numbers, labels = summary(report_for(rows, np.full(200, weight)))
        assert labels == unweighted_labels
        assert numbers == pytest.approx(unweighted_numbers, rel=1e-9, abs=1e-12)


def test_reviewer_example_is_a_possible_violation_at_every_weight_scale(rows: dict[str, np.ndarray]) -> None:
    verdicts = {
        evaluate_fairness(
            rows["groups"], rows["y_pred"], rows["y_true"], privileged=0, sample_weight=np.full(200, weight)
        )
        .comparison(1)
        .verdict
        for weight in (0.01, 1.0, 1000.0)
    }
    unweighted = evaluate_fairness(rows["groups"], rows["y_pred"], rows["y_true"], privileged=0).comparison(1)
    assert verdicts == {unweighted.verdict}


def test_one_dominant_weight_leaves_too_little_data() -> None:
    # 100 rows in group 1, one weighing 100: sum w = 199 but n_eff = 199^2 / (100^2 + 99) = 3.92 < 30.
    groups = np.repeat([0, 1], 100)
    y_pred = np.tile([1, 0], 100)
    weights = np.ones(200)
    weights[100] = 100.0
    report = evaluate_fairness(groups, y_pred, privileged=0, sample_weight=weights, n_bootstrap=0)
    counts = report.group(1).counts
    assert counts.n == 199.0
    assert counts.effective_n == pytest.approx(199**2 / 10_099)
    assert report.comparison(1).verdict is Verdict.INSUFFICIENT_DATA
    assert evaluate_fairness(groups, y_pred, privileged=0, n_bootstrap=0).comparison(1).verdict is not (
        Verdict.INSUFFICIENT_DATA
    )


def textbook_wilson(successes: float, trials: float, confidence: float) -> tuple[float, float]:
    """Wilson (1927) in its usual textbook form: (p + z^2/2n +- z sqrt(p q / n + z^2/4n^2)) / (1 + z^2/n)."""
    z = norm.ppf(1 - (1 - confidence) / 2)
    p = successes / trials
    centre = p + z * z / (2 * trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return (centre - half) / (1 + z * z / trials), (centre + half) / (1 + z * z / trials)


def test_weighted_rate_interval_is_exact_at_a_small_effective_size() -> None:
    # Four rows weighing 1, 1, 2 and 4; the two light rows are selected: SR = 2 / 8, n_eff = 8^2 / 22 (under
    # SMALL_GROUP_ROWS, so Clopper-Pearson at the effective size: beta quantiles with real parameters).
    grouped = confusion_counts(["g"] * 4, [1, 1, 0, 0], sample_weight=[1.0, 1.0, 2.0, 4.0])
    counts = grouped["g"]
    assert counts.squared_weights == (0.0, 0.0, 0.0, 0.0, 2.0, 20.0)
    rate = selection_rate(counts, confidence=0.9)
    effective = 64 / 22
    selected = 0.25 * effective
    lower = beta.ppf(0.05, selected, effective - selected + 1)
    upper = beta.ppf(0.95, selected + 1, effective - selected)
    assert rate.value == 0.25
    assert (rate.lower, rate.upper) == pytest.approx((lower, upper), rel=1e-9)


def test_weighted_rate_interval_is_wilson_at_the_effective_size() -> None:
    # Forty rows, the same weights ten times over: n_eff = 80^2 / 220, about 29 (Wilson's range).
    grouped = confusion_counts(["g"] * 40, [1, 1, 0, 0] * 10, sample_weight=[1.0, 1.0, 2.0, 4.0] * 10)
    rate = selection_rate(grouped["g"], confidence=0.9)
    effective = 6400 / 220
    lower, upper = textbook_wilson(0.25 * effective, effective, 0.9)
    assert rate.value == pytest.approx(0.25)
    assert (rate.lower, rate.upper) == pytest.approx((lower, upper), rel=1e-9)


def test_effective_sizes_by_hand() -> None:
    # TP rows weigh 1 and 2 (sum 3, squares 5), one FN row weighs 1, one FP row 0.5, TN rows 1 and 1.
    counts = ConfusionCounts(tp=3.0, fn=1.0, fp=0.5, tn=2.0, squared_weights=(5.0, 0.25, 2.0, 1.0, 0.0, 0.0))
    assert counts.effective_actual_positive == pytest.approx(16 / 6)
    assert counts.effective_actual_negative == pytest.approx(2.5**2 / 2.25)
    assert counts.effective_n == pytest.approx(6.5**2 / 8.25)
    unweighted = ConfusionCounts(tp=3, fn=1, fp=1, tn=2)
    assert (unweighted.effective_n, unweighted.effective_actual_positive) == (7, 4)


def test_squared_weights_add_like_counts() -> None:
    rng = np.random.default_rng(5)
    groups = rng.integers(0, 3, 300)
    y_pred, y_true = rng.integers(0, 2, 300), rng.integers(0, 2, 300)
    weights = rng.uniform(0.1, 4.0, 300)
    whole = confusion_counts(groups, y_pred, y_true, sample_weight=weights)
    halves = [
        confusion_counts(groups[part], y_pred[part], y_true[part], sample_weight=weights[part])
        for part in (slice(0, 140), slice(140, 300))
    ]
    merged = sum(halves)
    for label in whole.groups:
        assert merged[label].as_tuple() == pytest.approx(whole[label].as_tuple())
        assert merged[label].squared_weights == pytest.approx(whole[label].squared_weights)
        members = groups == label
        true_positive = members & (y_pred == 1) & (y_true == 1)
        assert whole[label].squared_weights[0] == pytest.approx(np.sum(weights[true_positive] ** 2))


def test_stored_integer_counts_add_to_weighted_counts() -> None:
    stored = ConfusionCounts(tp=3, tn=2)
    weighted = ConfusionCounts(tp=1.5, fn=0.5, squared_weights=(2.25, 0, 0, 0.25, 0, 0))
    # An integer count is a sum of weights of one, so its sum of squares is the count itself.
    expected = ConfusionCounts(tp=4.5, tn=2, fn=0.5, squared_weights=(5.25, 0, 2, 0.25, 0, 0))
    assert stored + weighted == expected
    assert weighted + stored == expected
    assert stored + stored == ConfusionCounts(tp=6, tn=4)


def test_weighted_counts_round_trip_through_a_mapping() -> None:
    weighted = ConfusionCounts(tp=1.5, fn=0.5, squared_weights=(2.25, 0.0, 0.0, 0.25, 0.0, 0.0))
    assert ConfusionCounts.from_mapping(weighted.to_dict()) == weighted
    assert "squared_weights" not in ConfusionCounts(tp=2).to_dict()


def test_integer_valued_weights_are_not_resampled_as_rows() -> None:
    # Weights of 1000 give whole-number counts; resampling 1000 times as many rows would shrink the interval.
    grouped = confusion_counts(np.repeat([0, 1], 50), np.tile([1, 0], 50), np.tile([1, 1, 0, 0], 25))
    heavy = confusion_counts(
        np.repeat([0, 1], 50), np.tile([1, 0], 50), np.tile([1, 1, 0, 0], 25), sample_weight=np.full(100, 1000.0)
    )
    assert heavy[0].tp == 1000 * grouped[0].tp
    theil, between = theil_bootstrap_intervals(heavy, n_resamples=200)
    assert theil.value == pytest.approx(theil_bootstrap_intervals(grouped, n_resamples=200)[0].value)
    assert theil.interval is None
    assert theil.reason == between.reason == "bootstrap_needs_unweighted_counts"


def test_weighted_comparison_intervals_contain_their_estimates() -> None:
    rng = np.random.default_rng(8)
    for _ in range(50):
        size = int(rng.integers(4, 60))
        groups = np.r_[0, 1, rng.integers(0, 2, size - 2)]
        weights = rng.uniform(0.01, 50.0, size)
        report = evaluate_fairness(
            groups,
            rng.integers(0, 2, size),
            rng.integers(0, 2, size),
            privileged=0,
            sample_weight=weights,
            n_bootstrap=0,
        )
        metrics = [report.comparison(1).metric(name) for name in METRIC_NAMES]
        metrics += [rate for group in report.groups for rate in (group.selection_rate, group.impact_ratio)]
        for metric in metrics:
            if metric.interval is not None:
                assert metric.lower <= metric.value <= metric.upper


def test_squared_weights_are_validated() -> None:
    with pytest.raises(InvalidParameterError):
        ConfusionCounts(tp=1.0, squared_weights=(1.0, 0.0))
    with pytest.raises(InvalidParameterError):
        ConfusionCounts(tp=1.0, squared_weights=(-1.0, 0, 0, 0, 0, 0))
    with pytest.raises(InvalidParameterError):
        ConfusionCounts.from_mapping({"tp": 1.0, "squared_weights": "1"})


def test_grouped_weighted_counts_are_summable_with_unweighted_windows() -> None:
    stored = GroupedCounts(("g",), {"a": ConfusionCounts(tp=4, tn=6)})
    weighted = confusion_counts(["a", "a"], [1, 0], [1, 0], sample_weight=[0.5, 2.0], attribute="g")
    total = (stored + weighted)["a"]
    assert total == ConfusionCounts(tp=4.5, tn=8.0, squared_weights=(4.25, 0.0, 10.0, 0.0, 0.0, 0.0))
