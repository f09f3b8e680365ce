"""Theil intervals valid at parity, and the worst-group headline with its own interval.

Coverage checks draw seeded replicates and accept a coverage that is plausible for a method covering at least
93%: the count of hits must not fall below the 0.1% quantile of Binomial(R, 0.93).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from monitoring.checks.analysis import worst_group
from monitoring.fairness import (
    ConfusionCounts,
    FairnessPolicy,
    GroupedCounts,
    fairness_report,
    katz_ratio_interval,
    theil_index_from_counts,
    theil_score_intervals,
    worst_group_headline,
)
from monitoring.fairness.theil import between_group_theil_index_from_counts, between_theil_bounds, total_theil_bounds
from monitoring.reporting import reports_from_counts


def plausible_hits(replicates: int, coverage: float = 0.93) -> int:
    return int(stats.binom.ppf(0.001, replicates, coverage))


def draw_groups(rng: np.random.Generator, sizes: tuple[int, ...], probabilities: list[list[float]]) -> GroupedCounts:
    groups = {}
    for index, (size, p) in enumerate(zip(sizes, probabilities, strict=True)):
        tp, fn, fp, tn = rng.multinomial(size, p)
        groups[f"g{index}"] = ConfusionCounts(tp=int(tp), fn=int(fn), fp=int(fp), tn=int(tn))
    return GroupedCounts(("g",), groups)


PARITY = [0.4, 0.1, 0.1, 0.4]  # TP, FN, FP, TN: mean benefit 1 in every group


def test_theil_by_hand() -> None:
    # Benefits: 2 false positives (b = 2), 1 false negative (b = 0), 7 others (b = 1); mu = 11/10.
    counts = ConfusionCounts(tp=3, tn=4, fp=2, fn=1)
    mu = 1.1
    expected = (7 * (1 / mu) * math.log(1 / mu) + 2 * (2 / mu) * math.log(2 / mu)) / 10
    assert theil_index_from_counts(counts).value == pytest.approx(expected, rel=1e-12)
    # Two groups of 10 with means 1.1 and 0.9: overall mean 1.
    other = ConfusionCounts(tp=5, tn=4, fn=1)
    expected_between = (10 * 1.1 * math.log(1.1) + 10 * 0.9 * math.log(0.9)) / 20
    assert between_group_theil_index_from_counts([counts, other]).value == pytest.approx(expected_between, rel=1e-12)


def test_total_interval_is_the_exact_range_over_the_rate_box() -> None:
    # The closed-form extremes equal a brute-force search over the box of the two Wilson intervals.
    fn, neutral, fp = 12.0, 70.0, 18.0
    lower, upper = total_theil_bounds(fn, neutral, fp, 0.95)
    z = stats.norm.ppf(1 - 0.05 / 4)

    def wilson(x: float, n: float) -> tuple[float, float]:
        centre, half = (x + z * z / 2) / (n + z * z), z * math.sqrt(x * (n - x) / n + z * z / 4) / (n + z * z)
        return centre - half, centre + half

    (la, ua), (lc, uc) = wilson(fn, 100), wilson(fp, 100)
    a, c = np.meshgrid(np.linspace(la, ua, 401), np.linspace(lc, uc, 401))
    mean = 1 - a + c
    values = 2 * c * math.log(2) / mean - np.log(mean)
    assert float(lower) == pytest.approx(values.min(), rel=1e-9)
    assert float(upper) == pytest.approx(values.max(), rel=1e-4)
    assert float(lower) <= theil_index_from_counts(ConfusionCounts(fn=12, tp=70, fp=18)).value <= float(upper)


def test_between_interval_is_the_range_over_the_box_of_group_means() -> None:
    # Three separated groups: the lower limit is positive and no point of a fine grid over the box goes
    # below it or above the upper limit.
    fn = np.array([40.0, 10.0, 20.0])
    fp = np.array([5.0, 40.0, 20.0])
    neutral = np.array([155.0, 150.0, 160.0])
    lower, upper = between_theil_bounds(fn, neutral, fp, 0.95)
    sizes = fn + neutral + fp
    weights = sizes / sizes.sum()
    z = stats.norm.ppf(1 - 0.05 / 12)
    centre = lambda x, n: (x + z * z / 2) / (n + z * z)  # noqa: E731
    half = lambda x, n: z * np.sqrt(x * (n - x) / n + z * z / 4) / (n + z * z)  # noqa: E731
    low = 1 - (centre(fn, sizes) + half(fn, sizes)) + (centre(fp, sizes) - half(fp, sizes))
    high = 1 - (centre(fn, sizes) - half(fn, sizes)) + (centre(fp, sizes) + half(fp, sizes))
    grid = np.stack(np.meshgrid(*(np.linspace(low[g], high[g], 41) for g in range(3))), -1).reshape(-1, 3)
    overall = grid @ weights
    ratio = grid / overall[:, None]
    values = (weights * ratio * np.log(ratio)).sum(axis=1)
    assert 0 < float(lower) <= values.min() + 1e-12
    assert values.min() == pytest.approx(float(lower), rel=1e-3)
    assert values.max() == pytest.approx(float(upper), rel=1e-12)  # the corners are on the grid


def test_between_interval_of_identical_groups_starts_at_zero() -> None:
    same = ConfusionCounts(tp=300, fp=100, tn=400, fn=200)
    _, between = theil_score_intervals(GroupedCounts(("g",), {"a": same, "b": same}))
    assert between.value == 0.0
    assert between.lower == 0.0
    assert between.upper > 0.0


@pytest.mark.parametrize("sizes", [(2500, 2500), (500, 4500)])
def test_between_interval_covers_zero_at_parity(sizes: tuple[int, int]) -> None:
    # The former percentile bootstrap covered 0.1-3.5% here: every resample of equal groups is above 0.
    rng = np.random.default_rng(11)
    replicates = 200
    hits = 0
    for _ in range(replicates):
        _, between = theil_score_intervals(draw_groups(rng, sizes, [PARITY, PARITY]))
        hits += between.lower <= 0.0 <= between.upper
    assert hits >= plausible_hits(replicates)


@pytest.mark.parametrize("sizes", [(15, 15), (25, 25), (5, 45)])
def test_total_interval_covers_at_thirty_and_fifty_rows(sizes: tuple[int, int]) -> None:
    # The former bootstrap covered 88-93% at n <= 50 and gave no interval when a group had fewer than 10 rows.
    probabilities = [[0.45, 0.05, 0.15, 0.35], [0.3, 0.2, 0.05, 0.45]]
    weights = np.array(sizes) / sum(sizes)
    fn = float(weights @ [p[1] for p in probabilities])
    fp = float(weights @ [p[2] for p in probabilities])
    truth = 2 * fp * math.log(2) / (1 - fn + fp) - math.log(1 - fn + fp)
    rng = np.random.default_rng(5)
    replicates = 300
    hits = 0
    for _ in range(replicates):
        total, _ = theil_score_intervals(draw_groups(rng, sizes, probabilities))
        hits += total.lower <= truth <= total.upper
    assert hits >= plausible_hits(replicates)


def test_report_stores_theil_intervals() -> None:
    groups = {"p": ConfusionCounts(tp=40, fp=10, tn=40, fn=10), "u": ConfusionCounts(tp=20, fp=5, tn=55, fn=20)}
    report = reports_from_counts({"g": GroupedCounts(("g",), groups)}, {"g": "p"}, FairnessPolicy())["g"]
    for name in ("theil_index", "between_group_theil_index"):
        lower, upper = report[f"{name}_interval"]
        assert lower <= report[name] <= upper
    engine = fairness_report(GroupedCounts(("g",), groups), "p", n_bootstrap=0)
    assert engine.between_group_theil_index.interval is not None


def selected(rows: int, picked: int) -> ConfusionCounts:
    return ConfusionCounts(unlabeled_pos=picked, unlabeled_neg=rows - picked)


def test_headline_interval_is_the_minimum_of_bonferroni_katz_intervals() -> None:
    reference = selected(400, 200)
    groups = {"a": selected(300, 120), "b": selected(200, 95), "c": selected(100, 30)}
    headline = worst_group_headline({"race": (reference, groups)}, 0.95, seed=1)
    by_hand = [katz_ratio_interval(g.predicted_positive, g.n, 200, 400, 1 - 0.05 / 3) for g in groups.values()]
    assert headline.lower == pytest.approx(min(i.lower for i in by_hand), rel=1e-12)
    assert headline.upper == pytest.approx(min(i.upper for i in by_hand), rel=1e-12)
    assert headline.group == ("race", "c")
    assert headline.naive_minimum == pytest.approx(0.3 / 0.5)
    assert headline.comparisons == 3
    assert headline.lower <= headline.value <= headline.upper


def test_headline_covers_and_is_less_biased_than_the_minimum() -> None:
    # Four groups at a true DIR of 0.85: the lowest point DIR is biased low.
    rng = np.random.default_rng(3)
    replicates = 200
    hits = 0
    naive, corrected = [], []
    for replicate in range(replicates):
        reference = selected(500, int(rng.binomial(500, 0.5)))
        groups = {f"g{i}": selected(500, int(rng.binomial(500, 0.425))) for i in range(4)}
        headline = worst_group_headline({"a": (reference, groups)}, 0.95, n_resamples=400, seed=replicate)
        hits += headline.lower <= 0.85 <= headline.upper
        naive.append(headline.naive_minimum)
        corrected.append(headline.value)
    assert hits >= plausible_hits(replicates)
    assert np.mean(naive) < 0.83  # the bias being removed is real
    # Paired: the correction moves the mean up by well over its standard error.
    gain = np.array(corrected) - np.array(naive)
    assert gain.mean() > 5 * gain.std(ddof=1) / math.sqrt(replicates)
    assert np.mean(corrected) < 0.85 + 0.01


def test_headline_of_a_check_reads_single_attributes_and_skips_undefined() -> None:
    counts = {
        "sex": GroupedCounts(("sex",), {"m": selected(100, 50), "f": selected(100, 35)}),
        "race": GroupedCounts(("race",), {"w": selected(100, 0), "b": selected(100, 20)}),  # reference selects none
        "race|sex": GroupedCounts(("race", "sex"), {("w", "m"): selected(50, 10), ("b", "f"): selected(50, 1)}),
    }
    result = worst_group(counts, {"sex": "m", "race": "w"}, 0.95)
    assert (result["attribute"], result["group"], result["comparisons"]) == ("sex", "f", 1)
    assert result["naive_minimum"] == pytest.approx(0.7)
    low, high = result["interval"]
    assert (low, high) == pytest.approx(tuple(katz_ratio_interval(35, 100, 50, 100, 0.95).__dict__.values()))
    empty = worst_group({"race": counts["race"]}, {"race": "w"}, 0.95)
    assert empty["value"] is None
    assert empty["interval"] is None
    assert empty["reason"] == "no_defined_comparison"
