"""The count-based forecast: its Kalman filter by hand and against statsmodels, its coverage, its output."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy.stats import binom

from monitoring.fairness.forecast import (
    MIN_FORECAST_PERIODS,
    CountDriftForecast,
    DriftForecast,
    forecast_from_counts,
    local_linear_trend_filter,
)


def test_constant_series_without_process_noise_is_a_least_squares_line() -> None:
    # given a constant series with known variance and no process noise: the filter is weighted least squares
    n, variance = 12, 0.04
    fit = local_linear_trend_filter([0.3] * n, [variance] * n, [0.0], [0.0])
    times = np.arange(n)
    # then the next level is the constant, the slope 0, and the level's variance that of the OLS prediction at n
    expected = variance * (1 / n + (n - times.mean()) ** 2 / ((times - times.mean()) ** 2).sum())
    assert fit.level[0] == pytest.approx(0.3, abs=1e-6)
    assert fit.slope[0] == pytest.approx(0.0, abs=1e-6)
    assert fit.level_variance[0] == pytest.approx(expected, rel=1e-4)
    assert fit.observations == n


def test_missing_periods_are_predicted_over() -> None:
    # given a straight line with a missing period
    values = [0.1 * t for t in range(8)]
    fit = local_linear_trend_filter([*values[:3], None, *values[4:]], [0.01] * 8, [0.0], [0.0])
    assert fit.level[0] == pytest.approx(0.8, abs=1e-6)
    assert fit.observations == 7


def test_filter_matches_statsmodels_unobserved_components() -> None:
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(3)
    values = np.cumsum(rng.normal(0, 0.05, 25)) + 0.02 * np.arange(25)
    variance, level_sd, slope_sd = 0.01, 0.05, 0.01
    fit = local_linear_trend_filter(list(values), [variance] * 25, [level_sd], [slope_sd])
    reference = sm.tsa.UnobservedComponents(values, level="local linear trend").smooth(
        [variance, level_sd**2, slope_sd**2]
    )
    prediction = reference.get_forecast(1)
    assert fit.level[0] == pytest.approx(prediction.predicted_mean[0], rel=1e-6)
    assert fit.level_variance[0] == pytest.approx(prediction.var_pred_mean[0] - variance, rel=1e-5)
    # statsmodels' exact diffuse likelihood leaves out the same two observations
    assert fit.log_likelihood[0] == pytest.approx(reference.llf, rel=1e-6)


def _periods(rng: np.random.Generator, rates: tuple[float, float], n: int, count: int) -> dict:
    return {
        "sex": {
            group: [[int(rng.binomial(n, rate)), n] for _ in range(count)]
            for group, rate in zip(("M", "F"), rates, strict=True)
        }
    }


def test_prediction_intervals_cover_the_next_window_at_their_level() -> None:
    # given 300 stable series of 12 periods (DIR 0.8), forecast, then a fresh next window drawn
    rng = np.random.default_rng(20)
    trials, covered, breaches, stated = 300, 0, 0, []
    for seed in range(trials):
        periods = _periods(rng, (0.5, 0.4), 300, 12)
        forecast = forecast_from_counts(periods, {"sex": "M"}, 0.8, n_simulations=2000, seed=seed)
        realised = (rng.binomial(300, 0.4) / 300) / (rng.binomial(300, 0.5) / 300)
        covered += forecast.prediction_interval.lower <= realised <= forecast.prediction_interval.upper
        breaches += realised < 0.8
        stated.append(forecast.breach_probability)
    # then coverage lies within the binomial 99.9% range of a 95% interval
    assert binom.ppf(0.0005, trials, 0.95) <= covered <= binom.isf(0.0005, trials, 0.95)
    # and breaches happen about as often as stated on average (binomial bound at the mean stated probability)
    mean_stated = float(np.mean(stated))
    assert binom.ppf(0.0005, trials, mean_stated) <= breaches <= binom.isf(0.0005, trials, mean_stated)


def test_output_keeps_the_drift_forecast_fields_and_adds_groups() -> None:
    # given a group whose rate falls steadily below four fifths of the privileged one
    periods = {
        "sex": {
            "M": [[500, 1000]] * 10,
            "F": [[int(1000 * (0.5 - 0.02 * t)), 1000] for t in range(10)],
        }
    }
    forecast = forecast_from_counts(periods, {"sex": "M"}, 0.8, period_hours=24)
    assert isinstance(forecast, DriftForecast)
    assert isinstance(forecast, CountDriftForecast)
    names = {f.name for f in dataclasses.fields(forecast)}
    assert {f.name for f in dataclasses.fields(DriftForecast)} <= names
    # then the next window's DIR is about (0.5 - 0.2) / 0.5 = 0.6, a breach is near certain: retrain
    assert forecast.predicted_next == pytest.approx(0.6, abs=0.03)
    assert forecast.action == "retrain"
    assert forecast.breach_probability > 0.99
    assert forecast.slope == pytest.approx(-0.04, abs=0.01)
    assert forecast.points_used == 10
    assert forecast.period_hours == 24
    assert set(forecast.groups["sex"]) == {"F"}
    assert forecast.groups["sex"]["F"]["periods_used"] == 10
    # and a stable group at parity needs nothing
    parity = forecast_from_counts({"sex": {"M": [[500, 1000]] * 10, "F": [[500, 1000]] * 10}}, {"sex": "M"})
    assert parity.action == "none"
    assert parity.breach_probability < 0.01
    assert parity.prediction_interval.lower < 1.0 < parity.prediction_interval.upper


def test_short_histories_give_no_forecast_with_a_reason() -> None:
    short = {"sex": {"M": [[50, 100]] * 3, "F": [[10, 100]] * 3}}
    forecast = forecast_from_counts(short, {"sex": "M"})
    reason = f"need_at_least_{MIN_FORECAST_PERIODS}_periods"
    assert (forecast.predicted_next, forecast.action, forecast.reason, forecast.points_used) == (
        None,
        "none",
        reason,
        3,
    )
    assert forecast.groups == {}
    # a new group with too few periods is listed, not forecast; the others still are
    mixed = {"sex": {"M": [[50, 100]] * 6, "F": [[45, 100]] * 6, "X": [[0, 0]] * 4 + [[5, 10]] * 2}}
    forecast = forecast_from_counts(mixed, {"sex": "M"})
    assert forecast.groups["sex"]["X"] == {"reason": reason}
    assert forecast.groups["sex"]["F"]["reason"] == "forecast"
    assert forecast.predicted_next is not None
    # no privileged group: no forecast
    assert forecast_from_counts(mixed, {"sex": "Z"}).reason == reason
    # the same seed gives the same forecast
    assert forecast_from_counts(mixed, {"sex": "M"}, seed=4) == forecast_from_counts(mixed, {"sex": "M"}, seed=4)
