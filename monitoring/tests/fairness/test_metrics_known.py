"""Known answers worked out by hand, including every zero-denominator case."""

from __future__ import annotations

import math

import pytest

from monitoring.fairness import (
    ConfusionCounts,
    GroupedCounts,
    average_odds_difference_from_counts,
    between_group_theil_index_from_counts,
    disparate_impact_ratio_from_counts,
    equal_opportunity_difference_from_counts,
    false_positive_rate,
    false_positive_rate_difference_from_counts,
    impact_ratios,
    selection_rate,
    selection_rate_gap,
    statistical_parity_difference_from_counts,
    theil_bootstrap_intervals,
    theil_index_from_counts,
    true_positive_rate,
)

# Privileged: 100 rows, SR = 40/100, TPR = 30/50, FPR = 10/50.
PRIVILEGED = ConfusionCounts(tp=30, fp=10, tn=40, fn=20)
# Unprivileged: 100 rows, SR = 18/100, TPR = 12/40, FPR = 6/60.
UNPRIVILEGED = ConfusionCounts(tp=12, fp=6, tn=54, fn=28)


def test_group_rates() -> None:
    assert selection_rate(PRIVILEGED).value == pytest.approx(0.40)
    assert true_positive_rate(PRIVILEGED).value == pytest.approx(0.60)
    assert false_positive_rate(PRIVILEGED).value == pytest.approx(0.20)
    assert selection_rate(UNPRIVILEGED).value == pytest.approx(0.18)
    assert true_positive_rate(UNPRIVILEGED).value == pytest.approx(0.30)
    assert false_positive_rate(UNPRIVILEGED).value == pytest.approx(0.10)


def test_selection_rate_counts_unlabeled_predictions() -> None:
    counts = ConfusionCounts(tp=1, fp=1, tn=1, fn=1, unlabeled_pos=3, unlabeled_neg=1)
    assert selection_rate(counts).value == pytest.approx(5 / 8)
    assert true_positive_rate(counts).value == pytest.approx(1 / 2)


def test_comparison_metrics() -> None:
    assert disparate_impact_ratio_from_counts(UNPRIVILEGED, PRIVILEGED).value == pytest.approx(0.45)
    assert statistical_parity_difference_from_counts(UNPRIVILEGED, PRIVILEGED).value == pytest.approx(-0.22)
    assert equal_opportunity_difference_from_counts(UNPRIVILEGED, PRIVILEGED).value == pytest.approx(-0.30)
    assert false_positive_rate_difference_from_counts(UNPRIVILEGED, PRIVILEGED).value == pytest.approx(-0.10)
    # ((0.1 - 0.2) + (0.3 - 0.6)) / 2
    assert average_odds_difference_from_counts(UNPRIVILEGED, PRIVILEGED).value == pytest.approx(-0.20)
    assert selection_rate_gap(UNPRIVILEGED, PRIVILEGED).value == pytest.approx(0.22)


def test_theil_index_by_hand() -> None:
    # Over 200 rows: FP = 16 (b = 2), FN = 48 (b = 0), TP + TN = 136 (b = 1); mu = (136 + 32) / 200 = 0.84.
    # Theil = [136 (1/0.84) ln(1/0.84) + 16 (2/0.84) ln(2/0.84)] / 200.
    theil = theil_index_from_counts(PRIVILEGED + UNPRIVILEGED)
    assert theil.value == pytest.approx(0.30638142153714826, rel=1e-12)


def test_between_group_theil_by_hand() -> None:
    # mu_p = (70 + 20) / 100 = 0.9, mu_u = (66 + 12) / 100 = 0.78, mu = 0.84.
    # [100 (0.9/0.84) ln(0.9/0.84) + 100 (0.78/0.84) ln(0.78/0.84)] / 200.
    between = between_group_theil_index_from_counts([PRIVILEGED, UNPRIVILEGED])
    assert between.value == pytest.approx(0.002553194082353114, rel=1e-12)


def test_theil_of_perfect_predictions_is_zero() -> None:
    assert theil_index_from_counts(ConfusionCounts(tp=5, tn=7)).value == 0.0


def test_theil_with_only_false_negatives_and_true_outcomes() -> None:
    # b = (1, 1, 0): mu = 2/3, Theil = (1/3) * 2 * (1.5 ln 1.5) = ln 1.5.
    counts = ConfusionCounts(tp=1, tn=1, fn=1)
    assert theil_index_from_counts(counts).value == pytest.approx(math.log(1.5), rel=1e-12)


# ---- every zero-denominator / empty-group case gives None with a reason ----


def test_empty_group_rates() -> None:
    empty = ConfusionCounts()
    assert selection_rate(empty).value is None
    assert selection_rate(empty).reason == "no_rows"
    assert true_positive_rate(empty).reason == "no_actual_positives"
    assert false_positive_rate(empty).reason == "no_actual_negatives"


def test_rates_of_unlabeled_only_group() -> None:
    counts = ConfusionCounts(unlabeled_pos=3, unlabeled_neg=1)
    assert selection_rate(counts).value == pytest.approx(0.75)
    assert true_positive_rate(counts).reason == "no_actual_positives"
    assert false_positive_rate(counts).reason == "no_actual_negatives"


@pytest.mark.parametrize(
    "metric",
    [
        disparate_impact_ratio_from_counts,
        statistical_parity_difference_from_counts,
        equal_opportunity_difference_from_counts,
        average_odds_difference_from_counts,
        false_positive_rate_difference_from_counts,
    ],
)
def test_empty_groups_make_every_comparison_undefined(metric) -> None:
    assert metric(ConfusionCounts(), PRIVILEGED).value is None
    assert metric(ConfusionCounts(), PRIVILEGED).reason.startswith("unprivileged_")
    assert metric(UNPRIVILEGED, ConfusionCounts()).value is None
    assert metric(UNPRIVILEGED, ConfusionCounts()).reason.startswith("privileged_")


def test_dir_with_privileged_selection_rate_zero() -> None:
    never_selected = ConfusionCounts(tn=10, fn=5)
    result = disparate_impact_ratio_from_counts(UNPRIVILEGED, never_selected)
    assert result.value is None
    assert result.reason == "privileged_selection_rate_zero"
    # SPD stays defined: SR_u - 0.
    assert statistical_parity_difference_from_counts(UNPRIVILEGED, never_selected).value == pytest.approx(0.18)


def test_dir_with_unprivileged_selection_rate_zero_is_zero_with_interval_from_zero() -> None:
    never_selected = ConfusionCounts(tn=10)
    result = disparate_impact_ratio_from_counts(never_selected, PRIVILEGED)
    assert result.value == 0.0
    assert result.lower == 0.0
    assert result.upper > 0.0


def test_eod_without_actual_positives() -> None:
    no_positives = ConfusionCounts(fp=3, tn=7)
    assert equal_opportunity_difference_from_counts(no_positives, PRIVILEGED).reason == (
        "unprivileged_no_actual_positives"
    )
    assert average_odds_difference_from_counts(no_positives, PRIVILEGED).reason == "unprivileged_no_actual_positives"
    # FPR difference only needs negatives: 0.3 - 0.2.
    assert false_positive_rate_difference_from_counts(no_positives, PRIVILEGED).value == pytest.approx(0.1)


def test_fpr_difference_without_actual_negatives() -> None:
    no_negatives = ConfusionCounts(tp=3, fn=7)
    assert false_positive_rate_difference_from_counts(UNPRIVILEGED, no_negatives).reason == (
        "privileged_no_actual_negatives"
    )
    assert average_odds_difference_from_counts(UNPRIVILEGED, no_negatives).reason == "privileged_no_actual_negatives"
    assert equal_opportunity_difference_from_counts(UNPRIVILEGED, no_negatives).value == pytest.approx(0.3 - 0.3)


def test_theil_without_labeled_rows() -> None:
    result = theil_index_from_counts(ConfusionCounts(unlabeled_pos=4))
    assert result.value is None
    assert result.reason == "no_labeled_rows"
    assert between_group_theil_index_from_counts([ConfusionCounts(unlabeled_neg=2)]).reason == "no_labeled_rows"


def test_theil_when_every_row_is_a_false_negative() -> None:
    result = theil_index_from_counts(ConfusionCounts(fn=6))
    assert result.value is None
    assert result.reason == "zero_mean_benefit"
    assert between_group_theil_index_from_counts([ConfusionCounts(fn=2), ConfusionCounts(fn=3)]).reason == (
        "zero_mean_benefit"
    )


def test_between_group_theil_skips_empty_groups() -> None:
    with_empty = between_group_theil_index_from_counts([PRIVILEGED, UNPRIVILEGED, ConfusionCounts()])
    without = between_group_theil_index_from_counts([PRIVILEGED, UNPRIVILEGED])
    assert with_empty.value == without.value


def test_impact_ratios_against_the_highest_selection_rate() -> None:
    grouped = GroupedCounts(
        ("race",),
        {
            "A": ConfusionCounts(tp=30, tn=70),  # SR 0.30
            "B": ConfusionCounts(tp=60, tn=40),  # SR 0.60 (highest)
            "C": ConfusionCounts(tp=15, tn=85),  # SR 0.15
            "D": ConfusionCounts(),
        },
    )
    ratios = impact_ratios(grouped)
    assert ratios["A"].value == pytest.approx(0.5)
    assert ratios["B"].value == 1.0
    assert ratios["C"].value == pytest.approx(0.25)
    assert ratios["D"].value is None
    assert ratios["D"].reason == "no_rows"
    assert ratios["A"].lower < 0.5 < ratios["A"].upper


def test_impact_ratios_when_nobody_is_selected() -> None:
    grouped = GroupedCounts(("g",), {"a": ConfusionCounts(tn=3), "b": ConfusionCounts(fn=2)})
    assert {value.reason for value in impact_ratios(grouped).values()} == {"highest_selection_rate_zero"}


def test_no_confidence_means_no_interval() -> None:
    result = disparate_impact_ratio_from_counts(UNPRIVILEGED, PRIVILEGED, confidence=None)
    assert result.value == pytest.approx(0.45)
    assert result.interval is None


def test_theil_bootstrap_interval_brackets_estimate_and_is_reproducible() -> None:
    grouped = GroupedCounts(("g",), {"p": PRIVILEGED, "u": UNPRIVILEGED})
    theil, between = theil_bootstrap_intervals(grouped, n_resamples=500, seed=7)
    assert theil.lower < theil.value < theil.upper
    assert between.lower <= between.value <= between.upper
    assert theil_bootstrap_intervals(grouped, n_resamples=500, seed=7) == (theil, between)


IDENTICAL = ConfusionCounts(tp=300, fp=100, tn=400, fn=200)


@pytest.mark.parametrize(
    "groups",
    [
        # Identical groups: the between-group component is exactly 0, but every replicate's is positive.
        {"a": IDENTICAL, "b": IDENTICAL},
        # Perfect predictions: every benefit is 1, so the estimate and every replicate are 0.
        {"a": ConfusionCounts(tp=40, tn=60), "b": ConfusionCounts(tp=25, tn=25)},
        # One false positive among 1000 rows: most replicates have none and sit at 0.
        {"a": ConfusionCounts(tp=500, tn=499, fp=1), "b": ConfusionCounts(tp=300, tn=300)},
        # A group that is all false negatives next to a perfect one.
        {"a": ConfusionCounts(fn=12), "b": ConfusionCounts(tp=30, tn=30)},
    ],
)
def test_theil_bootstrap_intervals_bracket_degenerate_estimates(groups: dict[str, ConfusionCounts]) -> None:
    for confidence in (0.9, 0.95, 0.999):
        for metric in theil_bootstrap_intervals(GroupedCounts(("g",), groups), confidence, 1000, seed=3):
            assert metric.lower <= metric.value <= metric.upper


def test_between_group_theil_of_identical_groups_starts_at_zero() -> None:
    grouped = GroupedCounts(("g",), {"a": IDENTICAL, "b": IDENTICAL})
    _, between = theil_bootstrap_intervals(grouped, 0.95, 2000, seed=0)
    assert between.value == 0.0
    assert between.lower == 0.0
    assert between.upper > 0.0


def test_weighted_counts_get_no_theil_interval_rather_than_a_wrong_one() -> None:
    # Weighted counts cannot be resampled as rows; the estimate is still reported, with the reason.
    weighted = GroupedCounts(
        ("g",),
        {
            "a": ConfusionCounts(tp=30.0, fn=10.0, tn=60.0, squared_weights=(90.0, 0, 120.0, 40.0, 0, 0)),
            "b": ConfusionCounts(tp=20.0, fp=20.0, tn=60.0, squared_weights=(40.0, 40.0, 120.0, 0, 0, 0)),
        },
    )
    theil, between = theil_bootstrap_intervals(weighted)
    assert theil.value == pytest.approx(theil_index_from_counts(weighted.total()).value)
    assert theil.interval is None
    assert between.interval is None
    assert theil.reason == between.reason == "bootstrap_needs_unweighted_counts"


def test_one_row_groups_give_no_bootstrap_interval() -> None:
    # Benefits 2 (a false positive) and 1 (a true positive): mu = 1.5, Theil = [2/1.5 ln(2/1.5) + 1/1.5 ln(1/1.5)]/2.
    grouped = GroupedCounts(("g",), {"a": ConfusionCounts(fp=1), "b": ConfusionCounts(tp=1)})
    theil, between = theil_bootstrap_intervals(grouped, 0.999, 200)
    expected = (4 / 3 * math.log(4 / 3) + 2 / 3 * math.log(2 / 3)) / 2
    assert theil.value == pytest.approx(expected, rel=1e-12)
    assert between.value == pytest.approx(expected, rel=1e-12)
    for metric in (theil, between):
        assert metric.interval is None
        assert metric.reason == "too_few_for_bootstrap"


@pytest.mark.parametrize(("rows", "has_interval"), [(9, False), (10, True)])
def test_theil_bootstrap_needs_ten_labeled_rows_in_every_group(rows: int, has_interval: bool) -> None:
    small = ConfusionCounts(tp=rows - 4, fp=2, fn=1, tn=1, unlabeled_pos=50)
    theil, between = theil_bootstrap_intervals(GroupedCounts(("g",), {"p": PRIVILEGED, "u": small}), n_resamples=200)
    assert (theil.interval is not None) is has_interval
    assert (between.interval is not None) is has_interval
    assert theil.reason == (None if has_interval else "too_few_for_bootstrap")


def test_theil_bootstrap_disabled_and_weighted() -> None:
    grouped = GroupedCounts(("g",), {"p": PRIVILEGED, "u": UNPRIVILEGED})
    theil, _ = theil_bootstrap_intervals(grouped, n_resamples=0)
    assert theil.value == pytest.approx(0.30638142153714826)
    assert theil.reason == "bootstrap_disabled"
    weighted = GroupedCounts(("g",), {"p": ConfusionCounts(tp=2.5, fn=1.0), "u": ConfusionCounts(fp=0.5, tn=1.0)})
    theil, between = theil_bootstrap_intervals(weighted)
    assert theil.reason == between.reason == "bootstrap_needs_unweighted_counts"


def test_selection_rate_gap_interval_folds_the_spd_interval() -> None:
    spd = statistical_parity_difference_from_counts(UNPRIVILEGED, PRIVILEGED)
    gap = selection_rate_gap(UNPRIVILEGED, PRIVILEGED)
    assert spd.upper < 0
    assert (gap.lower, gap.upper) == pytest.approx((-spd.upper, -spd.lower))
    straddling = selection_rate_gap(ConfusionCounts(tp=5, tn=5), ConfusionCounts(tp=6, tn=4))
    assert straddling.lower == 0.0
    assert straddling.upper > straddling.value
