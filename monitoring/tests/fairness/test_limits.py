"""Values exactly on a policy limit, and a clear 1e-6 to either side of it, are judged correctly.

Exact limits come from counts whose exact ratio or difference equals the limit although naive floating-point
arithmetic lands a unit in the last place outside (8/100 over 10/100 is 0.7999999999999999 when divided
rate by rate). The 1e-6 cases use a million rows so the values are exact multiples of 1e-6.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from monitoring.fairness import (
    Band,
    ConfusionCounts,
    FairnessPolicy,
    GroupedCounts,
    MetricValue,
    Verdict,
    calculate_disparate_impact_ratio,
    disparate_impact_ratio_from_counts,
    fairness_report,
    judge,
    pre_alert_check,
    predict_drift,
    statistical_parity_difference_from_counts,
)

MILLION = 1_000_000
EPSILON = 1e-6


def selected(chosen: int, total: int) -> ConfusionCounts:
    return ConfusionCounts(tp=chosen, tn=total - chosen)


def comparison(unprivileged: ConfusionCounts, privileged: ConfusionCounts, policy: FairnessPolicy):
    grouped = GroupedCounts(("g",), {"p": privileged, "u": unprivileged})
    return fairness_report(grouped, "p", policy=policy, n_bootstrap=0).comparison("u")


@pytest.mark.parametrize(
    ("band", "value", "inside"),
    [
        (Band(lower=0.8), 0.8, True),
        (Band(lower=0.8), 0.7999999999999999, True),  # exact 0.8 after rounding
        (Band(lower=0.8), 0.8 - EPSILON, False),
        (Band(lower=0.8), 0.8 + EPSILON, True),
        (Band(0.8, 1.25), 1.2500000000000002, True),
        (Band(0.8, 1.25), 1.25 + EPSILON, False),
        (Band(0.8, 1.25), 1.25 - EPSILON, True),
        (Band(-0.1, 0.1), -0.10000000000000003, True),  # 0.3 - 0.4
        (Band(-0.1, 0.1), -0.1 - EPSILON, False),
        (Band(-0.1, 0.1), 0.1 + EPSILON, False),
        (Band(-0.1, 0.1), 0.1 - EPSILON, True),
    ],
)
def test_band_contains_values_on_its_bounds(band: Band, value: float, inside: bool) -> None:
    assert band.contains(value) is inside


def test_band_excludes_an_interval_only_beyond_rounding_error() -> None:
    lower_band = Band(lower=0.8)
    assert not lower_band.excludes(0.7, 0.7999999999999999)
    assert lower_band.excludes(0.7, 0.8 - EPSILON)
    upper_band = Band(upper=1.25)
    assert not upper_band.excludes(1.2500000000000002, 1.4)
    assert upper_band.excludes(1.25 + EPSILON, 1.4)


def test_judge_on_the_minimum_group_size() -> None:
    metric = MetricValue(0.9, 0.85, 0.95)
    assert judge(metric, Band(lower=0.8), (30.000000000000004, 100), 30) is Verdict.PASS
    assert judge(metric, Band(lower=0.8), (29.999999999999996, 100), 30) is Verdict.PASS
    assert judge(metric, Band(lower=0.8), (30 - EPSILON, 100), 30) is Verdict.INSUFFICIENT_DATA


def test_disparate_impact_ratio_exactly_at_four_fifths_passes() -> None:
    # 8/100 against 10/100 is exactly 0.8.
    dir_value = disparate_impact_ratio_from_counts(selected(8, 100), selected(10, 100))
    assert dir_value.value == 0.8
    assert judge(dir_value, Band(lower=0.8), (100, 100), 30) is Verdict.PASS


@pytest.mark.parametrize(
    ("chosen", "expected"),
    [
        (MILLION * 4 // 5 - 1, Verdict.POSSIBLE_VIOLATION),  # DIR 0.799999
        (MILLION * 4 // 5, Verdict.PASS),
        (MILLION * 4 // 5 + 1, Verdict.PASS),  # DIR 0.800001
    ],
)
def test_dir_a_millionth_either_side_of_four_fifths(chosen: int, expected: Verdict) -> None:
    # Everyone in the privileged group is selected, so DIR = chosen / 1e6; the interval (about +-0.002) still
    # reaches 0.8, which makes 0.799999 a possible rather than a significant violation.
    result = comparison(selected(chosen, MILLION), selected(MILLION, MILLION), FairnessPolicy())
    assert result.disparate_impact_ratio.value == chosen / MILLION
    assert result.verdicts["disparate_impact_ratio"] is expected


@pytest.mark.parametrize(
    ("unprivileged", "privileged", "expected"),
    [
        (selected(5, 12), selected(4, 12), Verdict.PASS),  # exactly 1.25; (5/12) / (4/12) = 1.2500000000000002
        (selected(MILLION, MILLION), selected(800_000, MILLION), Verdict.PASS),  # exactly 1.25
        (selected(999_999, MILLION), selected(800_000, MILLION), Verdict.PASS),  # 1.25 - 1.25e-6
        (selected(MILLION, MILLION), selected(799_999, MILLION), Verdict.POSSIBLE_VIOLATION),  # 1.25 + 1.6e-6
    ],
)
def test_dir_on_the_upper_bound(unprivileged: ConfusionCounts, privileged: ConfusionCounts, expected: Verdict) -> None:
    policy = FairnessPolicy(bands={"disparate_impact_ratio": Band(0.8, 1.25)}, min_group_size=0)
    assert comparison(unprivileged, privileged, policy).verdicts["disparate_impact_ratio"] is expected


@pytest.mark.parametrize(
    ("unprivileged", "privileged", "expected"),
    [
        (selected(3, 10), selected(4, 10), Verdict.PASS),  # exactly -0.1
        (selected(4, 10), selected(3, 10), Verdict.PASS),  # exactly +0.1
        (selected(299_999, MILLION), selected(400_000, MILLION), Verdict.POSSIBLE_VIOLATION),  # -0.100001
        (selected(300_001, MILLION), selected(400_000, MILLION), Verdict.PASS),  # -0.099999
        (selected(400_001, MILLION), selected(300_000, MILLION), Verdict.POSSIBLE_VIOLATION),  # +0.100001
    ],
)
def test_statistical_parity_difference_on_the_band(
    unprivileged: ConfusionCounts, privileged: ConfusionCounts, expected: Verdict
) -> None:
    policy = FairnessPolicy(bands={"statistical_parity_difference": Band(-0.1, 0.1)}, min_group_size=0)
    assert comparison(unprivileged, privileged, policy).verdicts["statistical_parity_difference"] is expected


def test_statistical_parity_difference_of_exact_tenths_is_exact() -> None:
    assert statistical_parity_difference_from_counts(selected(3, 10), selected(4, 10), None).value == -0.1


@pytest.mark.parametrize(
    ("unprivileged_chosen", "total", "alert"),
    [
        (60, 100, False),  # gap exactly 0.2; 0.8 - 0.6 = 0.20000000000000007
        (599_999, MILLION, True),  # gap 0.200001
        (600_001, MILLION, False),  # gap 0.199999
    ],
)
def test_gap_rule_is_strictly_above_twenty_points(unprivileged_chosen: int, total: int, alert: bool) -> None:
    privileged = selected(total * 4 // 5, total)
    result = comparison(selected(unprivileged_chosen, total), privileged, FairnessPolicy())
    assert result.gap_alert is alert


def seed_frame(male_approved: int, female_approved: int, size: int) -> pd.DataFrame:
    gender = pd.Categorical(np.repeat(["Male", "Female"], size), categories=["Male", "Female"])
    approved = np.concatenate(
        [np.arange(size) < male_approved, np.arange(size) < female_approved],
    ).astype(np.int8)
    return pd.DataFrame({"gender": gender, "approved": approved})


@pytest.mark.parametrize(
    ("male_approved", "female_approved", "size", "dir_alert", "gap_alert"),
    [
        (10, 8, 100, False, False),  # DIR exactly 0.8: 0.08 / 0.1 = 0.7999999999999999
        (80, 60, 100, True, False),  # gap exactly 0.2, DIR 0.75
        (100_000, 79_999, MILLION, True, False),  # DIR 0.79999
        (100_000, 80_001, MILLION, False, False),  # DIR 0.80001
        (800_000, 599_999, MILLION, True, True),  # gap 0.200001
        (800_000, 600_001, MILLION, True, False),  # gap 0.199999
    ],
)
def test_seed_dir_check_on_its_limits(
    male_approved: int, female_approved: int, size: int, dir_alert: bool, gap_alert: bool
) -> None:
    result = calculate_disparate_impact_ratio(seed_frame(male_approved, female_approved, size))
    assert result["dir_alert"] is dir_alert
    assert result["gap_alert"] is gap_alert


@pytest.mark.parametrize(
    ("level", "breached"),
    [(0.8, False), (0.8 - EPSILON, True), (0.8 + EPSILON, False)],
)
def test_pre_alert_on_the_threshold(level: float, breached: bool) -> None:
    # Ten copies of 0.8 sum to 7.999999999999999 in naive left-to-right addition.
    result = pre_alert_check([level] * 10, threshold=0.8)
    assert result.breached is breached
    assert result.status == ("breached" if breached else "ok")


@pytest.mark.parametrize(
    ("threshold", "pre_alert"),
    [(-1.0, False), (-1.0 + EPSILON, True), (-1.0 - EPSILON, False)],
)
def test_pre_alert_projection_on_the_threshold(threshold: float, pre_alert: bool) -> None:
    # [1.0, 0.5]: average 0.75, slope -0.5 per step, average lags 0.5 steps: 0.75 - 0.5 * 3.5 = -1.0 exactly.
    result = pre_alert_check([1.0, 0.5], threshold=threshold, horizon=3, margin=0.0)
    assert result.projected == -1.0
    assert result.pre_alert is pre_alert


@pytest.mark.parametrize(
    ("level", "action"),
    [(0.8, "none"), (0.8 - EPSILON, "retrain"), (0.8 + EPSILON, "none")],
)
def test_forecast_of_a_flat_series_on_the_threshold(level: float, action: str) -> None:
    # The least-squares point forecast of six copies of 0.8 is 0.7999999999999999: on the threshold.
    forecast = predict_drift([level] * 6, threshold=0.8)
    assert forecast.action == action
    assert forecast.breach_probability == (1.0 if action == "retrain" else 0.0)
