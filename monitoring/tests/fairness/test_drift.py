"""Drift tests from raw values and from fixed-bin histograms, and the per-group drift report."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from monitoring.fairness import (
    InvalidParameterError,
    LengthMismatchError,
    MissingColumnError,
    NaNValueError,
    chi_square_from_counts,
    chi_square_test,
    feature_drift_report,
    fixed_bin_counts,
    generate_loan_data,
    ks_test,
    ks_test_from_histograms,
    population_stability_index,
    psi_from_histograms,
    quantile_bin_edges,
    wasserstein_drift,
    wasserstein_from_histograms,
)


@pytest.fixture
def samples() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(10)
    reference = rng.normal(0.0, 1.0, 800)
    same = rng.normal(0.0, 1.0, 700)
    shifted = rng.normal(0.5, 1.0, 700)
    return reference, same, shifted


def test_ks_matches_scipy_and_flags_a_shift(samples: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    reference, same, shifted = samples
    expected = stats.ks_2samp(reference, shifted)
    result = ks_test(reference, shifted)
    assert result.statistic == pytest.approx(expected.statistic)
    assert result.p_value == pytest.approx(expected.pvalue)
    assert result.drifted is True
    assert ks_test(reference, same).drifted is False


def test_ks_from_histograms_is_a_conservative_approximation(
    samples: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    reference, _, shifted = samples
    edges = np.linspace(-4, 4, 41)
    raw = ks_test(reference, shifted)
    binned = ks_test_from_histograms(fixed_bin_counts(reference, edges), fixed_bin_counts(shifted, edges))
    assert binned.statistic <= raw.statistic + 1e-12
    assert binned.statistic == pytest.approx(raw.statistic, abs=0.03)
    # A smaller statistic under the same asymptotic distribution: never more significant than the raw test.
    assert binned.p_value >= stats.ks_2samp(reference, shifted, method="asymp").pvalue
    assert binned.drifted is True


@pytest.mark.parametrize(("low", "high", "seed"), [(1, 11, 3), (0, 10, 4)])
def test_ks_from_histograms_equals_scipy_asymptotic_test_when_binning_loses_nothing(
    low: int, high: int, seed: int
) -> None:
    # Integer data with bin edges at the half-integers: the binned CDFs equal the raw ones at every data point.
    rng = np.random.default_rng(seed)
    reference = rng.integers(0, 10, 300).astype(float)
    current = rng.integers(low, high, 250).astype(float)
    edges = np.arange(0, 12) - 0.5
    binned = ks_test_from_histograms(fixed_bin_counts(reference, edges), fixed_bin_counts(current, edges))
    expected = stats.ks_2samp(reference, current, method="asymp")
    assert binned.statistic == pytest.approx(expected.statistic, abs=1e-12)
    assert binned.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert binned.drifted is bool(expected.pvalue < 0.05)


def test_ks_from_identical_histograms() -> None:
    result = ks_test_from_histograms([5, 10, 5], [10, 20, 10])
    assert result.statistic == 0.0
    assert result.p_value == 1.0
    assert result.drifted is False


def test_wasserstein_raw_matches_scipy(samples: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    reference, _, shifted = samples
    distance = stats.wasserstein_distance(reference, shifted)
    assert wasserstein_drift(reference, shifted, normalize=False).statistic == pytest.approx(distance)
    normalised = wasserstein_drift(reference, shifted)
    assert normalised.statistic == pytest.approx(distance / np.std(reference))
    assert normalised.drifted is True


def test_wasserstein_from_histograms_is_exact_for_midpoint_data() -> None:
    edges = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    midpoints = np.array([0.5, 1.5, 2.5, 3.5])
    reference_counts = np.array([10, 20, 30, 40])
    current_counts = np.array([40, 30, 20, 10])
    expected = stats.wasserstein_distance(midpoints, midpoints, reference_counts, current_counts)
    result = wasserstein_from_histograms(edges, reference_counts, current_counts, normalize=False)
    assert result.statistic == pytest.approx(expected)


def test_wasserstein_from_histograms_is_within_one_bin_of_raw(
    samples: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    reference, _, shifted = samples
    edges = np.linspace(-5, 5, 51)
    raw = wasserstein_drift(reference, shifted, normalize=False).statistic
    binned = wasserstein_from_histograms(
        edges, fixed_bin_counts(reference, edges), fixed_bin_counts(shifted, edges), normalize=False
    ).statistic
    assert abs(binned - raw) <= edges[1] - edges[0]


def test_wasserstein_undefined_cases() -> None:
    assert wasserstein_drift([1.0, 1.0], [2.0]).reason == "zero_reference_spread"
    assert wasserstein_drift([], [2.0]).reason == "empty_sample"
    with pytest.raises(InvalidParameterError):
        wasserstein_from_histograms([0.0, 1.0], [1, 2], [2, 1])


def test_psi_by_hand() -> None:
    # Shares 0.5/0.5 -> 0.25/0.75: (0.25 - 0.5) ln(0.5) + (0.75 - 0.5) ln(1.5).
    result = psi_from_histograms([50, 50], [25, 75])
    assert result.statistic == pytest.approx(-0.25 * math.log(0.5) + 0.25 * math.log(1.5))
    assert result.drifted is True
    assert psi_from_histograms([50, 50], [45, 55]).drifted is False


def test_psi_empty_bin_uses_epsilon() -> None:
    result = psi_from_histograms([100, 0], [50, 50], epsilon=1e-4)
    expected = (0.5 - 1.0) * math.log(0.5 / 1.0) + (0.5 - 1e-4) * math.log(0.5 / 1e-4)
    assert result.statistic == pytest.approx(expected)


def test_psi_from_raw_values_with_reference_deciles(samples: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    reference, same, shifted = samples
    edges = quantile_bin_edges(reference, 10)
    assert len(edges) == 11
    assert np.all(fixed_bin_counts(reference, edges) == 80)
    assert population_stability_index(reference, same).statistic < 0.1
    assert (
        population_stability_index(reference, shifted).statistic > population_stability_index(reference, same).statistic
    )
    explicit = population_stability_index(reference, shifted, bins=edges)
    assert explicit == population_stability_index(reference, shifted)


def test_fixed_bins_keep_values_outside_the_edges() -> None:
    assert fixed_bin_counts([-5.0, 0.1, 0.5, 0.9, 1.0, 7.0], [0.0, 0.5, 1.0]).tolist() == [2, 4]


def test_chi_square_by_hand() -> None:
    # Expected counts 40/60 per row: 2 * (10^2 / 40 + 10^2 / 60) = 8.333...
    result = chi_square_from_counts({"a": 30, "b": 70}, {"a": 50, "b": 50})
    assert result.statistic == pytest.approx(25 / 3)
    assert result.p_value == pytest.approx(stats.chi2.sf(25 / 3, 1))
    assert result.drifted is True


def test_chi_square_from_raw_values_with_a_new_category() -> None:
    reference = ["North"] * 40 + ["South"] * 60
    current = ["North"] * 40 + ["South"] * 40 + ["East"] * 20
    result = chi_square_test(reference, current)
    table = np.array([[40, 60, 0], [40, 40, 20]])
    assert result.statistic == pytest.approx(stats.chi2_contingency(table, correction=False).statistic)
    assert result.drifted is True


def test_chi_square_single_category_and_empty_sample() -> None:
    single = chi_square_test(["a"] * 5, ["a"] * 9)
    assert single.statistic == 0.0
    assert single.p_value is None
    assert single.drifted is False
    assert single.reason == "single_category"
    assert chi_square_from_counts({}, {"a": 3}).reason == "empty_sample"


def test_drift_input_validation() -> None:
    with pytest.raises(NaNValueError):
        ks_test([1.0, np.nan], [1.0])
    with pytest.raises(NaNValueError):
        chi_square_test(["a", None], ["a"])
    with pytest.raises(LengthMismatchError):
        psi_from_histograms([1, 2, 3], [1, 2])
    with pytest.raises(InvalidParameterError):
        psi_from_histograms([1, 2], [2, 1], epsilon=0)
    assert ks_test([], [1.0]).reason == "empty_sample"


@pytest.mark.parametrize("bad", [np.inf, -np.inf])
def test_non_finite_values_are_rejected_by_every_drift_test(bad: float) -> None:
    finite = [1.0, 2.0, 3.0, 4.0]
    with_bad = [1.0, 2.0, bad, 4.0]
    calls = [
        lambda: ks_test(with_bad, finite),
        lambda: ks_test(finite, with_bad),
        lambda: wasserstein_drift(with_bad, finite),
        lambda: wasserstein_drift(finite, with_bad, normalize=False),
        lambda: population_stability_index(with_bad, finite),
        lambda: population_stability_index(finite, with_bad),
        lambda: ks_test_from_histograms(with_bad, finite),
        lambda: psi_from_histograms(finite, with_bad),
        lambda: wasserstein_from_histograms([0.0, 1.0, 2.0, 3.0, 4.0], with_bad, finite),
        lambda: fixed_bin_counts(with_bad, [0.0, 2.0, 5.0]),
        lambda: chi_square_from_counts({"a": bad, "b": 2}, {"a": 1, "b": 2}),
    ]
    for call in calls:
        with pytest.raises(InvalidParameterError):
            call()


def test_non_numeric_drift_input_is_an_input_error() -> None:
    with pytest.raises(InvalidParameterError):
        ks_test(["a", "b"], [1.0, 2.0])
    with pytest.raises(InvalidParameterError):
        chi_square_from_counts({"a": "x", "b": 2}, {"a": 3, "b": 1})
    with pytest.raises(NaNValueError):
        ks_test(np.array([1.0, None], dtype=object), [1.0])


def test_open_outer_bin_edges_stay_allowed() -> None:
    edges = quantile_bin_edges([1.0, 2.0, 3.0, 4.0], 2)
    assert edges[0] == -np.inf
    assert edges[-1] == np.inf
    assert fixed_bin_counts([0.0, 2.5, 9.0], edges).tolist() == [1, 2]


@pytest.mark.parametrize("bins", [np.int64(4), np.int32(4), np.uint8(4)])
def test_numpy_integer_bin_counts(bins: object, samples: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    reference, _, shifted = samples
    assert population_stability_index(reference, shifted, bins=bins) == population_stability_index(
        reference, shifted, bins=4
    )


@pytest.mark.parametrize("bins", [True, 0, 2.5])
def test_invalid_bin_counts(bins: object) -> None:
    with pytest.raises(InvalidParameterError):
        population_stability_index([1.0, 2.0], [1.0, 2.0], bins=bins)


def test_feature_drift_report_finds_the_group_that_drifted() -> None:
    reference = generate_loan_data(4000, drift_level=0.0, seed=1)
    current = generate_loan_data(4000, drift_level=1.0, seed=2)
    report = feature_drift_report(
        reference, current, numeric=["credit_score"], categorical=["region"], group_column="gender", alpha=0.01
    )
    assert {(item.feature, item.group) for item in report.results} == {
        (feature, group) for feature in ("credit_score", "region") for group in (None, "Male", "Female")
    }
    # Drift only lowered women's approvals, which pulls their credit scores down.
    assert ("credit_score", "Female") in report.drifted_features
    assert ("credit_score", "Male") not in report.drifted_features
    assert not any(feature == "region" for feature, _ in report.drifted_features)
    assert report.drifted


def test_feature_drift_report_requires_columns() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    with pytest.raises(MissingColumnError):
        feature_drift_report(frame, frame, numeric=["y"])
