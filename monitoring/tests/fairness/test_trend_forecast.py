"""Rolling average, pre-alert rule, drift forecast and change-point detection on metric series."""

from __future__ import annotations

import numpy as np
import pytest

from monitoring.fairness import (
    InvalidParameterError,
    bootstrap_confidence_interval,
    detect_change_point,
    pre_alert_check,
    predict_drift,
    rolling_average,
)


def test_rolling_average_and_velocity_between_halves() -> None:
    assert rolling_average([1.0, 2.0, 3.0, 4.0], window=4) == (2.5, 2.0)
    average, velocity = rolling_average([0.0, 0.0, 5.0, 1.0, 2.0, 3.0, 4.0], window=4)
    assert (average, velocity) == (2.5, 2.0)


def test_rolling_average_odd_window_leaves_out_the_middle_value() -> None:
    # Halves [1, 2] and [4, 5]; the middle value 3 belongs to neither.
    assert rolling_average([1.0, 2.0, 3.0, 4.0, 5.0], window=5) == (3.0, 3.0)


def test_rolling_average_skips_undefined_points_and_handles_short_series() -> None:
    assert rolling_average([1.0, None, 3.0, float("nan")]) == (2.0, 2.0)
    assert rolling_average([0.9]) == (0.9, None)
    assert rolling_average([]) == (None, None)
    with pytest.raises(InvalidParameterError):
        rolling_average([1.0, 2.0], window=1)


def test_pre_alert_ok_when_stable() -> None:
    result = pre_alert_check([0.9] * 10)
    assert result.status == "ok"
    assert result.reason == "stable_or_improving"
    assert not result.pre_alert
    assert not result.breached


def test_pre_alert_not_raised_for_a_slow_fall_far_from_the_threshold() -> None:
    values = [0.95 - 0.01 * step for step in range(10)]
    result = pre_alert_check(values)
    assert result.velocity == pytest.approx(-0.05)
    assert result.velocity_per_step == pytest.approx(-0.01)
    # Average 0.905 sits 4.5 steps behind the latest point: 0.905 - 0.01 * (4.5 + 3) = 0.83.
    assert result.projected == pytest.approx(0.83)
    assert result.status == "ok"
    assert result.reason == "worsening_but_far_from_threshold"


def test_pre_alert_when_projected_to_cross() -> None:
    values = [1.0 - 0.02 * step for step in range(10)]
    result = pre_alert_check(values, threshold=0.8, horizon=3)
    assert result.moving_average == pytest.approx(0.91)
    assert result.projected == pytest.approx(0.76)
    assert result.pre_alert
    assert result.reason == "projected_to_cross_within_3_steps"
    # (0.91 - 0.8) / 0.02 = 5.5 steps from the average's position, i.e. 1 step after the latest value.
    assert result.steps_to_threshold == pytest.approx(1.0)


def test_pre_alert_within_margin_while_worsening() -> None:
    values = [0.84 - 0.001 * step for step in range(10)]
    result = pre_alert_check(values, threshold=0.8, margin=0.05)
    assert result.status == "pre_alert"
    assert result.reason == "within_margin_and_worsening"


def test_breached_when_the_moving_average_is_below_threshold() -> None:
    result = pre_alert_check([0.7, 0.72, 0.69, 0.71])
    assert result.status == "breached"
    assert result.breached
    assert not result.pre_alert


def test_pre_alert_for_a_metric_where_higher_is_worse() -> None:
    values = [0.02 + 0.01 * step for step in range(8)]
    result = pre_alert_check(values, threshold=0.1, higher_is_better=False)
    assert result.status == "pre_alert"
    assert pre_alert_check(values[::-1], threshold=0.1, higher_is_better=False).status == "ok"


def test_pre_alert_needs_two_values() -> None:
    result = pre_alert_check([0.9])
    assert result.status == "insufficient_data"
    assert result.moving_average == 0.9


def test_predict_drift_exact_line() -> None:
    values = [1.0 - 0.01 * step for step in range(10)]
    forecast = predict_drift(values, threshold=0.8)
    assert forecast.slope == pytest.approx(-0.01)
    assert forecast.predicted_next == pytest.approx(0.90)
    assert forecast.breach_probability == 0.0
    assert forecast.action == "none"


def test_predict_drift_falling_series_recommends_retraining() -> None:
    rng = np.random.default_rng(4)
    values = 0.95 - 0.02 * np.arange(10) + rng.normal(0, 0.005, 10)
    forecast = predict_drift(values.tolist(), threshold=0.8)
    assert forecast.predicted_next == pytest.approx(0.75, abs=0.02)
    assert forecast.breach_probability > 0.9
    assert forecast.action == "retrain"
    assert forecast.prediction_interval.upper < 0.8


def test_predict_drift_noisy_series_near_threshold_warns() -> None:
    # Flat around 0.82 with residual spread about 0.02: the next value falls below 0.8 roughly a quarter of the time.
    values = [0.84, 0.80, 0.85, 0.79, 0.83, 0.81, 0.84, 0.80, 0.82, 0.82]
    forecast = predict_drift(values, threshold=0.8)
    assert forecast.predicted_next == pytest.approx(0.8147, abs=1e-4)
    assert 0.2 <= forecast.breach_probability < 0.5
    assert forecast.action == "warn"


def test_predict_drift_stable_series_needs_no_action() -> None:
    rng = np.random.default_rng(2)
    forecast = predict_drift((0.95 + rng.normal(0, 0.01, 12)).tolist(), threshold=0.8)
    assert forecast.breach_probability < 0.05
    assert forecast.action == "none"


def test_predict_drift_is_reproducible_and_seeded_locally() -> None:
    values = [0.9, 0.88, 0.87, 0.86, 0.84, 0.83]
    # The legacy global generator is read on purpose: the forecast must not touch it.
    state = np.random.get_state()  # noqa: NPY002
    assert predict_drift(values, seed=5) == predict_drift(values, seed=5)
    assert np.array_equal(np.random.get_state()[1], state[1])  # noqa: NPY002


def test_predict_drift_with_too_few_values_and_bad_parameters() -> None:
    forecast = predict_drift([0.9, 0.85])
    assert forecast.predicted_next is None
    assert forecast.action == "none"
    assert forecast.reason == "need_at_least_3_values"
    with pytest.raises(InvalidParameterError):
        predict_drift([0.9, 0.8, 0.7], warn_probability=0.6, retrain_probability=0.5)


def test_three_points_give_a_point_forecast_and_at_most_a_warning() -> None:
    # A line through 0.9, 0.85, 0.8 predicts 0.75; three points cannot support a breach probability.
    forecast = predict_drift([0.9, 0.85, 0.8], threshold=0.8)
    assert forecast.predicted_next == pytest.approx(0.75)
    assert forecast.slope == pytest.approx(-0.05)
    assert forecast.prediction_interval is None
    assert forecast.breach_probability is None
    assert forecast.reason == "too_few_for_bootstrap"
    assert forecast.action == "warn"


@pytest.mark.parametrize(
    ("values", "higher_is_better", "threshold", "action"),
    [
        ([0.9, 0.89, 0.88, 0.87], True, 0.8, "none"),  # predicts 0.86
        ([0.84, 0.83, 0.82, 0.81], True, 0.8, "none"),  # predicts exactly 0.80: on the threshold
        ([0.83, 0.82, 0.81, 0.80], True, 0.8, "warn"),  # predicts 0.79
        ([0.02, 0.05, 0.08], False, 0.1, "warn"),  # predicts 0.11 where lower is better
        ([0.08, 0.05, 0.02], False, 0.1, "none"),
    ],
)
def test_short_series_action_follows_the_point_forecast(
    values: list[float], higher_is_better: bool, threshold: float, action: str
) -> None:
    forecast = predict_drift(values, threshold=threshold, higher_is_better=higher_is_better)
    assert forecast.reason == "too_few_for_bootstrap"
    assert forecast.prediction_interval is None
    assert forecast.action == action


def test_five_points_are_enough_for_the_bootstrap() -> None:
    forecast = predict_drift([0.9, 0.86, 0.85, 0.8, 0.79], threshold=0.8)
    assert forecast.prediction_interval is not None
    assert forecast.prediction_interval.upper > forecast.prediction_interval.lower
    assert forecast.breach_probability is not None


def test_short_series_still_validates_parameters() -> None:
    with pytest.raises(InvalidParameterError):
        predict_drift([0.9, 0.85, 0.8], confidence=1.0)
    with pytest.raises(InvalidParameterError):
        predict_drift([0.9, "high", 0.8])


def test_bootstrap_confidence_interval_needs_five_values() -> None:
    assert bootstrap_confidence_interval([0.9, 0.8, 0.85, 0.7]) is None
    interval = bootstrap_confidence_interval([0.9, 0.8, 0.85, 0.7, 0.75], seed=2)
    assert interval.lower < 0.8 < interval.upper


def test_bootstrap_confidence_interval_of_the_mean() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(0.85, 0.02, 200)
    interval = bootstrap_confidence_interval(values.tolist(), seed=1)
    assert interval.lower < values.mean() < interval.upper
    # The percentile interval of a mean is close to mean +- 1.96 * sd / sqrt(n).
    assert interval.upper - interval.lower == pytest.approx(2 * 1.96 * values.std() / np.sqrt(200), rel=0.15)
    assert bootstrap_confidence_interval(values.tolist(), seed=1) == interval
    median_interval = bootstrap_confidence_interval(values.tolist(), statistic=np.median, seed=1)
    assert median_interval.contains(float(np.median(values)))
    assert bootstrap_confidence_interval([]) is None


def test_change_point_dates_the_start_of_a_slip() -> None:
    rng = np.random.default_rng(21)
    values = np.concatenate([0.90 + rng.normal(0, 0.01, 20), 0.85 + rng.normal(0, 0.01, 10)])
    result = detect_change_point(values.tolist())
    assert result.detected
    assert abs(result.start_index - 20) <= 1
    assert 20 <= result.detection_index <= 24
    assert result.shift == pytest.approx(-0.05, abs=0.015)


def test_no_change_point_in_a_stable_series() -> None:
    rng = np.random.default_rng(3)
    result = detect_change_point((0.9 + rng.normal(0, 0.01, 40)).tolist())
    assert not result.detected
    assert result.start_index is None
    assert result.reason == "no_sustained_shift"


def test_change_point_on_a_flat_baseline_uses_the_sigma_floor() -> None:
    values = [0.9] * 10 + [0.85] * 5
    result = detect_change_point(values)
    assert result.sigma == 0.005
    assert result.start_index == 10
    assert result.detection_index == 10


def test_change_point_direction_and_explicit_target() -> None:
    rising = [0.02] * 10 + [0.08] * 5
    assert not detect_change_point(rising).detected
    upward = detect_change_point(rising, direction="increase")
    assert upward.detected
    assert upward.start_index == 10
    explicit = detect_change_point([0.86, 0.85, 0.86, 0.85, 0.84], target=0.95, sigma=0.01)
    assert explicit.detected
    assert explicit.start_index == 0


def test_change_point_input_checks() -> None:
    assert detect_change_point([0.9, 0.8]).reason == "need_at_least_3_values"
    with pytest.raises(InvalidParameterError):
        detect_change_point([0.9] * 5, direction="sideways")
    with pytest.raises(InvalidParameterError):
        detect_change_point([0.9] * 5, baseline=9)
