"""The label lifecycle on hand-computed counts: coverage per group and among predicted positives and negatives,
provisional until every compared group reaches the policy's coverage, final after; uneven arrival flagged when the
gap is material and beyond chance, with its false-warning rate and power measured by simulation; and the delay
summary's quantiles and bins."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from monitoring.fairness.labels import (
    FINAL,
    NO_LABELS,
    PROVISIONAL,
    UNEVEN_ALPHA,
    delay_summary,
    group_coverage,
    label_coverage,
)

# [tp, fp, tn, fn, unlabeled_pos, unlabeled_neg]
WELL_LABELED = [30, 10, 45, 5, 4, 6]  # n = 100, labeled 90; positives 40 of 44, negatives 50 of 56
HALF_LABELED = [10, 5, 20, 5, 20, 40]  # n = 100, labeled 40


def test_coverage_of_a_group_counts_labeled_predictions_overall_and_by_prediction() -> None:
    row = group_coverage(WELL_LABELED)
    assert row["n"] == 100
    assert row["labeled"] == 90
    assert row["coverage"] == pytest.approx(0.90)
    assert row["coverage_predicted_positive"] == pytest.approx(40 / 44)
    assert row["coverage_predicted_negative"] == pytest.approx(50 / 56)
    assert group_coverage([0, 0, 0, 0, 0, 0])["coverage"] is None


def test_label_based_metrics_are_provisional_until_every_compared_group_reaches_the_coverage() -> None:
    counts = {"sex": {"F": HALF_LABELED, "M": WELL_LABELED, "X": [0, 0, 0, 0, 3, 2]}}
    provisional = label_coverage(counts, final_at=0.9, min_group_size=30)
    assert provisional["status"] == PROVISIONAL
    assert provisional["lowest_group_coverage"] == pytest.approx(0.40)
    assert provisional["coverage"] == pytest.approx(130 / 205)
    # X has 5 predictions: below min_group_size, so it is neither compared nor holds the status back
    assert provisional["attributes"]["sex"]["groups"]["X"]["coverage"] == 0
    final = label_coverage(
        {"sex": {"F": WELL_LABELED, "M": WELL_LABELED, "X": [0, 0, 0, 0, 3, 2]}}, final_at=0.9, min_group_size=30
    )
    assert final["status"] == FINAL
    assert label_coverage({"sex": {"F": [0, 0, 0, 0, 50, 50]}}, final_at=0.9, min_group_size=30)["status"] == NO_LABELS


def test_uneven_arrival_is_flagged_with_its_gap_and_p_value() -> None:
    result = label_coverage({"sex": {"F": HALF_LABELED, "M": WELL_LABELED}}, final_at=0.5, min_group_size=30)
    details = result["attributes"]["sex"]
    assert details["gap"] == pytest.approx(0.50)
    expected = stats.chi2_contingency([[40, 60], [90, 10]], correction=False)[1]
    assert details["p_value"] == pytest.approx(expected)
    assert details["uneven"] is True
    assert result["uneven"] == ["sex"]
    # a small gap is not flagged even when it is beyond chance
    big = label_coverage(
        {"sex": {"F": [0, 0, 90_000, 0, 0, 10_000], "M": [0, 0, 91_000, 0, 0, 9_000]}}, final_at=0.5, min_group_size=30
    )
    assert big["attributes"]["sex"]["p_value"] < UNEVEN_ALPHA
    assert big["attributes"]["sex"]["uneven"] is False


def _simulated_counts(rng: np.random.Generator, n: int, coverage: float) -> list[int]:
    labeled = int(rng.binomial(n, coverage))
    return [0, 0, labeled, 0, 0, n - labeled]


def test_equal_arrival_rarely_warns_and_uneven_arrival_almost_always_does() -> None:
    rng = np.random.default_rng(20261207)
    trials = 400
    # The same true coverage (0.6) in both groups of 60 predictions: a warning is a false one. Each trial is a
    # Bernoulli with p <= UNEVEN_ALPHA, so over 400 trials more than 11 warnings has probability < 0.2%.
    false = sum(
        label_coverage(
            {"sex": {"F": _simulated_counts(rng, 60, 0.6), "M": _simulated_counts(rng, 60, 0.6)}},
            final_at=0.9,
            min_group_size=30,
        )["attributes"]["sex"]["uneven"]
        for _ in range(trials)
    )
    assert false <= stats.binom.ppf(0.998, trials, UNEVEN_ALPHA)
    # Coverage 0.85 against 0.55 in groups of 200: the warning's power is near 1 (at least 390 of 400).
    found = sum(
        label_coverage(
            {"sex": {"F": _simulated_counts(rng, 200, 0.55), "M": _simulated_counts(rng, 200, 0.85)}},
            final_at=0.9,
            min_group_size=30,
        )["attributes"]["sex"]["uneven"]
        for _ in range(trials)
    )
    assert found >= 390


def test_the_delay_summary_has_quantiles_and_bins() -> None:
    summary = delay_summary([0.5, 2.0, 3.0, 30.0, 200.0])
    assert summary["labeled"] == 5
    assert summary["median_hours"] == 3.0
    assert summary["p90_hours"] == pytest.approx(30.0 + 0.6 * 170.0)
    assert summary["max_hours"] == 200.0
    assert [item["count"] for item in summary["bins"]] == [1, 2, 0, 1, 0, 1]
    assert delay_summary([])["median_hours"] is None
