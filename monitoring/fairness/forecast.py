"""Bootstrap intervals and a linear-trend forecast of the next value of a fairness metric series.

Random numbers come from a local ``numpy.random.Generator`` seeded by the caller, so results are reproducible
and no global state is touched.

Bootstraps need ``MIN_BOOTSTRAP_POINTS`` (5) values. With fewer, resampling has so few distinct outcomes that
it reports spuriously narrow intervals: a straight line through three points leaves residuals of almost zero,
every replicate reproduces the line, and the "interval" has zero width and a breach probability of 0 or 1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from monitoring.fairness.errors import InvalidParameterError
from monitoring.fairness.intervals import Interval, percentile_interval, z_value
from monitoring.fairness.limits import is_above, is_below, slack
from monitoring.fairness.trend import defined_values

ACTIONS = ("none", "warn", "retrain")
MIN_BOOTSTRAP_POINTS = 5
MIN_FORECAST_POINTS = 3


def bootstrap_confidence_interval(
    values: Iterable[float | None],
    statistic: Callable[..., np.ndarray] = np.mean,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> Interval | None:
    """Percentile bootstrap interval of ``statistic`` over the defined values.

    Draws ``n_resamples`` samples of the same size with replacement and returns the ``(1-c)/2`` and
    ``(1+c)/2`` quantiles of the statistic. ``statistic`` must accept ``axis=1`` (numpy reductions do).
    ``None`` for fewer than ``MIN_BOOTSTRAP_POINTS`` defined values.
    """
    data = np.asarray(defined_values(values), dtype=np.float64)
    if len(data) < MIN_BOOTSTRAP_POINTS:
        return None
    if n_resamples < 1:
        raise InvalidParameterError(f"n_resamples must be positive, got {n_resamples!r}.", value=n_resamples)
    rng = np.random.default_rng(seed)
    samples = data[rng.integers(0, len(data), size=(n_resamples, len(data)))]
    return percentile_interval(np.asarray(statistic(samples, axis=1)), confidence)


@dataclass(frozen=True)
class DriftForecast:
    """Forecast of the next value of a metric series and the recommended action (``none``/``warn``/``retrain``)."""

    predicted_next: float | None
    slope: float | None
    intercept: float | None
    prediction_interval: Interval | None
    breach_probability: float | None
    threshold: float
    action: str
    reason: str
    points_used: int


def _fit_lines(times: np.ndarray, series: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares slope and intercept of each row of ``series`` against ``times`` (vectorised over rows)."""
    centred = times - times.mean()
    slope = (series - series.mean(axis=-1, keepdims=True)) @ centred / (centred @ centred)
    intercept = series.mean(axis=-1) - slope * times.mean()
    return slope, intercept


def predict_drift(
    recent_values: Iterable[float | None],
    threshold: float = 0.8,
    *,
    n_bootstrap: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
    warn_probability: float = 0.2,
    retrain_probability: float = 0.5,
    higher_is_better: bool = True,
) -> DriftForecast:
    """Linear-trend forecast of the next value with a residual bootstrap.

    Fit ``y_t = a + b t`` (t = 0..n-1) by least squares; the point forecast is ``a + b n``. Each bootstrap
    replicate adds resampled residuals (scaled by ``sqrt(n / (n - 2))`` to undo the shrinkage of fitted
    residuals) to the fitted line, refits, and draws one more residual as the noise of the next value. The
    probability of a breach is the share of replicate forecasts below ``threshold`` (above it when
    ``higher_is_better`` is false).

    Action rule: ``retrain`` when that probability is at least ``retrain_probability`` (a breach is more likely
    than not, by default), ``warn`` when at least ``warn_probability``, else ``none``.

    Short series: fewer than 3 values give no forecast and action ``none`` (``need_at_least_3_values``). With
    3 or 4 values (below ``MIN_BOOTSTRAP_POINTS``) the fitted line still gives the point forecast, but there
    is no prediction interval and no breach probability (reason ``too_few_for_bootstrap``); the action is at
    most ``warn``: ``warn`` when the point forecast is beyond the threshold, else ``none``. A few points
    can justify a look at the metric, never a retraining.
    """
    if not 0.0 <= warn_probability <= retrain_probability <= 1.0:
        raise InvalidParameterError("Need 0 <= warn_probability <= retrain_probability <= 1.")
    if n_bootstrap < 1:
        raise InvalidParameterError(f"n_bootstrap must be positive, got {n_bootstrap!r}.", value=n_bootstrap)
    z_value(confidence)  # validates the level even when a short series never reaches the interval
    series = np.asarray(defined_values(recent_values), dtype=np.float64)
    n = len(series)
    if n < MIN_FORECAST_POINTS:
        return DriftForecast(None, None, None, None, None, threshold, "none", "need_at_least_3_values", n)
    times = np.arange(n, dtype=np.float64)
    slope, intercept = _fit_lines(times, series)
    predicted = float(intercept + slope * n)
    if n < MIN_BOOTSTRAP_POINTS:
        beyond = is_below(predicted, threshold) if higher_is_better else is_above(predicted, threshold)
        return DriftForecast(
            predicted_next=predicted,
            slope=float(slope),
            intercept=float(intercept),
            prediction_interval=None,
            breach_probability=None,
            threshold=threshold,
            action="warn" if beyond else "none",
            reason="too_few_for_bootstrap",
            points_used=n,
        )
    fitted = intercept + slope * times
    residuals = (series - fitted) * np.sqrt(n / (n - 2))
    rng = np.random.default_rng(seed)
    resampled = fitted + residuals[rng.integers(0, n, size=(n_bootstrap, n))]
    boot_slope, boot_intercept = _fit_lines(times, resampled)
    forecasts = boot_intercept + boot_slope * n + residuals[rng.integers(0, n, size=n_bootstrap)]
    # Replicates equal to the threshold up to rounding are not breaches (see ``limits``).
    margin = slack(threshold)
    breaches = forecasts < threshold - margin if higher_is_better else forecasts > threshold + margin
    probability = float(breaches.mean())
    if probability >= retrain_probability:
        action, reason = "retrain", f"breach_probability_at_least_{retrain_probability:g}"
    elif probability >= warn_probability:
        action, reason = "warn", f"breach_probability_at_least_{warn_probability:g}"
    else:
        action, reason = "none", f"breach_probability_below_{warn_probability:g}"
    return DriftForecast(
        predicted_next=predicted,
        slope=float(slope),
        intercept=float(intercept),
        prediction_interval=percentile_interval(forecasts, confidence),
        breach_probability=probability,
        threshold=threshold,
        action=action,
        reason=reason,
        points_used=n,
    )
