"""Confidence intervals: published reference values, edge cases, and coverage by simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import norm

from monitoring.fairness import (
    ConfusionCounts,
    InvalidParameterError,
    average_odds_difference_from_counts,
    katz_ratio_interval,
    newcombe_difference_interval,
    wilson_interval,
    z_value,
)
from monitoring.fairness.intervals import katz_bounds, mover_bounds, newcombe_bounds, wilson_bounds
from monitoring.tests.fairness.support import property_settings


def test_z_value() -> None:
    assert z_value(0.95) == pytest.approx(1.959963984540054)
    assert z_value(0.90) == pytest.approx(1.6448536269514722)
    with pytest.raises(InvalidParameterError):
        z_value(1.0)


def test_wilson_matches_newcombe_1998_example() -> None:
    # Newcombe (1998), Statistics in Medicine 17:857, example 81/263: Wilson score 0.2553 to 0.3662.
    interval = wilson_interval(81, 263)
    assert interval.lower == pytest.approx(0.2553, abs=5e-5)
    assert interval.upper == pytest.approx(0.3662, abs=5e-5)


def test_wilson_edge_cases() -> None:
    assert wilson_interval(0, 0) is None
    zero = wilson_interval(0, 20)
    assert zero.lower == 0.0
    assert 0.0 < zero.upper < 0.2
    full = wilson_interval(20, 20)
    assert full.upper == 1.0
    assert 0.8 < full.lower < 1.0


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        # Newcombe (1998), Statistics in Medicine 17:873, Table II, method 10.
        ((56, 70, 48, 80), (0.0524, 0.3339)),
        ((9, 10, 3, 10), (0.1705, 0.8090)),
        ((5, 56, 0, 29), (-0.0381, 0.1926)),
        ((0, 10, 0, 20), (-0.1611, 0.2775)),
        ((10, 10, 0, 20), (0.6791, 1.0000)),
    ],
)
def test_newcombe_matches_published_table(counts: tuple[int, int, int, int], expected: tuple[float, float]) -> None:
    interval = newcombe_difference_interval(*counts)
    assert interval.lower == pytest.approx(expected[0], abs=5e-5)
    assert interval.upper == pytest.approx(expected[1], abs=5e-5)


def test_newcombe_with_empty_group() -> None:
    assert newcombe_difference_interval(1, 0, 2, 5) is None


def test_katz_by_hand() -> None:
    # R = (10/20) / (20/25) = 0.625; SE(ln R) = sqrt(1/10 - 1/20 + 1/20 - 1/25) = sqrt(0.06).
    interval = katz_ratio_interval(10, 20, 20, 25)
    spread = 1.959963984540054 * math.sqrt(0.06)
    assert interval.lower == pytest.approx(0.625 * math.exp(-spread), rel=1e-12)
    assert interval.upper == pytest.approx(0.625 * math.exp(spread), rel=1e-12)


def test_katz_zero_cell_correction_by_hand() -> None:
    # x_a = 0: cells become 0.5, 10.5, 5.5, 5.5, so ln R' = ln(1/11), var = 2 - 1/11 + 1/5.5 - 1/11 = 2.
    interval = katz_ratio_interval(0, 10, 5, 10)
    assert interval.lower == 0.0
    assert interval.upper == pytest.approx(math.exp(math.log(1 / 11) + 1.959963984540054 * math.sqrt(2)), rel=1e-12)


def test_katz_undefined_cases() -> None:
    assert katz_ratio_interval(3, 10, 0, 10) is None
    assert katz_ratio_interval(3, 0, 2, 10) is None


def test_katz_interval_contains_estimate_when_both_rates_are_one() -> None:
    interval = katz_ratio_interval(10, 10, 20, 20)
    assert interval.contains(1.0)
    assert interval.lower < 1.0 < interval.upper


# ---- independent references at other confidence levels ----
#
# Each reference is the textbook formula written out here with scipy's normal quantile, in a different
# algebraic form from the engine's (Wilson as (p + z^2/2n +- ...) / (1 + z^2/n), not (x + z^2/2) / (n + z^2)).

LEVELS = (0.90, 0.99, 0.999)


def normal_quantile(confidence: float) -> float:
    return float(norm.ppf(1 - (1 - confidence) / 2))


def reference_wilson(x: float, n: float, confidence: float) -> tuple[float, float]:
    z = normal_quantile(confidence)
    p = x / n
    centre = p + z * z / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - half) / (1 + z * z / n), (centre + half) / (1 + z * z / n)


def reference_newcombe(x_a: int, n_a: int, x_b: int, n_b: int, confidence: float) -> tuple[float, float]:
    """Newcombe (1998) method 10: ``D -+ sqrt((p_a - l_a)^2 + (u_b - p_b)^2)`` and the mirrored upper term."""
    (l_a, u_a), (l_b, u_b) = reference_wilson(x_a, n_a, confidence), reference_wilson(x_b, n_b, confidence)
    p_a, p_b = x_a / n_a, x_b / n_b
    return (
        p_a - p_b - math.sqrt((p_a - l_a) ** 2 + (u_b - p_b) ** 2),
        p_a - p_b + math.sqrt((u_a - p_a) ** 2 + (p_b - l_b) ** 2),
    )


def reference_katz(x_a: int, n_a: int, x_b: int, n_b: int, confidence: float) -> tuple[float, float]:
    """Katz et al. (1978): ``R exp(-+ z sqrt(1/x_a - 1/n_a + 1/x_b - 1/n_b))`` (no zero cells here)."""
    ratio = (x_a / n_a) / (x_b / n_b)
    spread = normal_quantile(confidence) * math.sqrt(1 / x_a - 1 / n_a + 1 / x_b - 1 / n_b)
    return ratio * math.exp(-spread), ratio * math.exp(spread)


REFERENCE_TABLES = [(17, 40, 25, 45), (81, 263, 40, 200), (9, 10, 3, 10), (250, 1000, 310, 1000)]


@pytest.mark.parametrize("confidence", LEVELS)
@pytest.mark.parametrize("table", REFERENCE_TABLES)
def test_wilson_newcombe_and_katz_match_textbook_formulas(table: tuple[int, int, int, int], confidence: float) -> None:
    x_a, n_a, x_b, n_b = table
    wilson = wilson_interval(x_a, n_a, confidence)
    assert (wilson.lower, wilson.upper) == pytest.approx(reference_wilson(x_a, n_a, confidence), rel=1e-9)
    newcombe = newcombe_difference_interval(*table, confidence)
    assert (newcombe.lower, newcombe.upper) == pytest.approx(reference_newcombe(*table, confidence), rel=1e-9)
    katz = katz_ratio_interval(*table, confidence)
    assert (katz.lower, katz.upper) == pytest.approx(reference_katz(*table, confidence), rel=1e-9)


def test_newcombe_and_katz_at_90_percent_by_number() -> None:
    # 17/40 against 25/45 at z = 1.6448536, from an independent evaluation of the same textbook formulas.
    newcombe = newcombe_difference_interval(17, 40, 25, 45, 0.90)
    assert (newcombe.lower, newcombe.upper) == pytest.approx((-0.2967514, 0.0468692), abs=5e-7)
    katz = katz_ratio_interval(17, 40, 25, 45, 0.90)
    assert (katz.lower, katz.upper) == pytest.approx((0.5264899, 1.1115597), abs=5e-7)


@pytest.mark.parametrize("confidence", LEVELS)
def test_average_odds_difference_interval_is_mover_over_four_wilson_intervals(confidence: float) -> None:
    # Unprivileged FPR 6/60, TPR 12/40; privileged FPR 10/50, TPR 30/50 (Zou and Donner's MOVER, halved).
    unprivileged = ConfusionCounts(tp=12, fp=6, tn=54, fn=28)
    privileged = ConfusionCounts(tp=30, fp=10, tn=40, fn=20)
    terms = [(1, 6, 60), (1, 12, 40), (-1, 10, 50), (-1, 30, 50)]
    estimate = below = above = 0.0
    for sign, x, n in terms:
        p = x / n
        low, high = reference_wilson(x, n, confidence)
        estimate += sign * p
        if sign > 0:
            below, above = below + (p - low) ** 2, above + (high - p) ** 2
        else:
            below, above = below + (high - p) ** 2, above + (p - low) ** 2
    result = average_odds_difference_from_counts(unprivileged, privileged, confidence)
    assert result.value == pytest.approx(estimate / 2, rel=1e-12)
    assert result.lower == pytest.approx((estimate - math.sqrt(below)) / 2, rel=1e-9)
    assert result.upper == pytest.approx((estimate + math.sqrt(above)) / 2, rel=1e-9)


@pytest.mark.parametrize("confidence", LEVELS)
def test_z_value_matches_scipy(confidence: float) -> None:
    assert z_value(confidence) == pytest.approx(normal_quantile(confidence), rel=1e-12)


counts_pair = st.integers(min_value=1, max_value=400).flatmap(
    lambda n: st.tuples(st.integers(min_value=0, max_value=n), st.just(n))
)


@property_settings(150)
@given(first=counts_pair, second=counts_pair, confidence=st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_vectorised_limits_equal_scalar_intervals(
    first: tuple[int, int], second: tuple[int, int], confidence: float
) -> None:
    z = z_value(confidence)
    (x_a, n_a), (x_b, n_b) = first, second
    wilson = wilson_interval(x_a, n_a, confidence)
    assert np.allclose(wilson_bounds(x_a, n_a, z), (wilson.lower, wilson.upper), rtol=1e-12, atol=1e-15)
    newcombe = newcombe_difference_interval(x_a, n_a, x_b, n_b, confidence)
    assert np.allclose(newcombe_bounds(x_a, n_a, x_b, n_b, z), (newcombe.lower, newcombe.upper), rtol=1e-12, atol=1e-15)
    katz = katz_ratio_interval(x_a, n_a, x_b, n_b, confidence)
    vector = katz_bounds(x_a, n_a, x_b, n_b, z)
    if katz is None:
        assert np.isnan(vector).all()
    else:
        assert np.allclose(vector, (katz.lower, katz.upper), rtol=1e-12)


@property_settings(150)
@given(first=counts_pair, second=counts_pair)
def test_intervals_contain_their_estimates(first: tuple[int, int], second: tuple[int, int]) -> None:
    (x_a, n_a), (x_b, n_b) = first, second
    assert wilson_interval(x_a, n_a).contains(x_a / n_a)
    assert newcombe_difference_interval(x_a, n_a, x_b, n_b).contains(x_a / n_a - x_b / n_b)
    if x_b > 0:
        assert katz_ratio_interval(x_a, n_a, x_b, n_b).contains((x_a / n_a) / (x_b / n_b))


# ---- coverage of the nominal 95% intervals, by simulation ----
#
# Each scenario draws binomial counts for REPLICATIONS independent repetitions (vectorised: counts, not rows)
# and records how often the interval covers the true value. With 100,000 replications the Monte Carlo standard
# error of a coverage near 95% is about 0.07 points, so the 93-97% band is a meaningful check.

REPLICATIONS = 100_000
SIZES = (50, 500, 5000)
# (unprivileged rate, privileged rate): a four-fifths breach, a mild gap, low rates, and parity.
SCENARIOS = ((0.50, 0.70), (0.30, 0.40), (0.20, 0.25), (0.60, 0.60))


def coverage(lower: np.ndarray, upper: np.ndarray, truth: float) -> float:
    return float(np.mean((lower <= truth) & (truth <= upper)))


@pytest.mark.slow
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize(("p_unprivileged", "p_privileged"), SCENARIOS)
def test_nominal_95_percent_intervals_cover_93_to_97_percent(
    size: int, p_unprivileged: float, p_privileged: float
) -> None:
    rng = np.random.default_rng(size * 1000 + round(p_unprivileged * 100))
    z = z_value(0.95)
    x_u = rng.binomial(size, p_unprivileged, REPLICATIONS)
    x_p = rng.binomial(size, p_privileged, REPLICATIONS)
    results = {
        "rate (Wilson)": coverage(*wilson_bounds(x_u, size, z), p_unprivileged),
        "ratio (Katz)": coverage(*katz_bounds(x_u, size, x_p, size, z), p_unprivileged / p_privileged),
        "difference (Newcombe)": coverage(*newcombe_bounds(x_u, size, x_p, size, z), p_unprivileged - p_privileged),
    }
    # AOD: FPRs at half the TPRs, every rate estimated from `size` independent rows.
    rates = (p_unprivileged / 2, p_privileged / 2, p_unprivileged, p_privileged)
    signs = (1.0, -1.0, 1.0, -1.0)
    terms = []
    for sign, rate in zip(signs, rates, strict=True):
        successes = rng.binomial(size, rate, REPLICATIONS)
        terms.append((sign, successes / size, *wilson_bounds(successes, size, z)))
    lower, upper = mover_bounds(terms)
    true_aod = sum(sign * rate for sign, rate in zip(signs, rates, strict=True))
    results["sum of differences (AOD, MOVER)"] = coverage(lower, upper, true_aod)
    for name, value in results.items():
        assert 0.93 <= value <= 0.97, f"{name} coverage {value:.4f} at n={size}"
