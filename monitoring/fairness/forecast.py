"""Bootstrap intervals and forecasts of the next window's DIR: from a series (the seed's API) or from counts.

:func:`predict_drift` fits a line to a series of values with a residual bootstrap. It is kept for the seed's
series-only endpoints; on the hourly headline series of overlapping windows its intervals are too narrow (the
values are autocorrelated and the minimum over groups hides each group's noise).

:func:`forecast_from_counts` is what checks use. It reads, per single protected attribute and group, the
selected and total counts of consecutive *non-overlapping* periods of the window's length, and fits to each
group's log selection rate a local-linear-trend state-space model whose observation variance is that period's
binomial (delta-method) variance. The next window's DIR of each group is then simulated from the groups'
predictive rates and a binomial draw of the next window's counts, so the interval includes the sampling noise
of the next window, and the breach probability is that of the worst group.

Random numbers come from a local ``numpy.random.Generator`` seeded by the caller, so results are reproducible
and no global state is touched.

Bootstraps need ``MIN_BOOTSTRAP_POINTS`` (5) values. With fewer, resampling has so few distinct outcomes that
it reports spuriously narrow intervals: a straight line through three points leaves residuals of almost zero,
every replicate reproduces the line, and the "interval" has zero width and a breach probability of 0 or 1.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

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


def _action(probability: float, warn_probability: float, retrain_probability: float) -> tuple[str, str]:
    if probability >= retrain_probability:
        return "retrain", f"breach_probability_at_least_{retrain_probability:g}"
    if probability >= warn_probability:
        return "warn", f"breach_probability_at_least_{warn_probability:g}"
    return "none", f"breach_probability_below_{warn_probability:g}"


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
    action, reason = _action(probability, warn_probability, retrain_probability)
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


# Process noise of the local linear trend, per period on the log selection rate: a grid the likelihood weighs.
# Averaging the forecasts over the grid with the posterior weights (uniform prior) instead of taking the single
# maximum-likelihood point keeps the uncertainty about the noise in the interval, which matters for the few
# dozen periods a check has; zero level and slope noise is a fixed straight line, the largest level noise a
# rate that moves by about 15% from one period to the next.
LEVEL_NOISE_SD = (0.0, 0.005, 0.01, 0.02, 0.04, 0.08, 0.15)
SLOPE_NOISE_SD = (0.0, 0.002, 0.005, 0.01)
DIFFUSE_VARIANCE = 1e6  # approximate diffuse prior of the initial level and slope (as statsmodels' default)
MIN_FORECAST_PERIODS = 4
FORECAST_PERIODS = 30
N_SIMULATIONS = 4000


@dataclass(frozen=True)
class TrendFilter:
    """Kalman filter of a local linear trend, one entry per (level noise, slope noise) pair.

    ``level``/``slope`` and their (co)variances are the one-step-ahead prediction of the state after the last
    observation; ``log_likelihood`` is the diffuse log likelihood (the first two observations, which only
    locate the diffuse level and slope, are left out); ``observations`` counts the observations used.
    """

    level: np.ndarray
    slope: np.ndarray
    level_variance: np.ndarray
    log_likelihood: np.ndarray
    observations: int


def local_linear_trend_filter(
    observations: Sequence[float | None],
    variances: Sequence[float | None],
    level_noise_sd: Sequence[float] | float,
    slope_noise_sd: Sequence[float] | float,
) -> TrendFilter:
    """Filter ``y_t = level_t + e_t``, ``e_t ~ N(0, variances[t])`` (known, one per observation),
    ``level_{t+1} = level_t + slope_t + u_t``, ``slope_{t+1} = slope_t + w_t`` with ``sd(u), sd(w)`` given
    (vectorised over equal-length sequences of them). ``None`` observations are missing (prediction only).
    """
    level_q = np.square(np.atleast_1d(np.asarray(level_noise_sd, dtype=np.float64)))
    slope_q = np.square(np.atleast_1d(np.asarray(slope_noise_sd, dtype=np.float64)))
    if level_q.shape != slope_q.shape:
        raise InvalidParameterError("level_noise_sd and slope_noise_sd must have the same length.")
    if len(observations) != len(variances):
        raise InvalidParameterError("observations and variances must have the same length.")
    shape = level_q.shape
    a0, a1 = np.zeros(shape), np.zeros(shape)
    p00, p01, p11 = np.full(shape, DIFFUSE_VARIANCE), np.zeros(shape), np.full(shape, DIFFUSE_VARIANCE)
    log_likelihood = np.zeros(shape)
    seen = 0
    for index, (value, variance) in enumerate(zip(observations, variances, strict=True)):
        if index:  # predict: level += slope, plus the process noise
            a0 = a0 + a1
            p00, p01, p11 = p00 + 2 * p01 + p11 + level_q, p01 + p11, p11 + slope_q
        if value is None or variance is None:
            continue
        if not variance > 0 or not math.isfinite(value):
            raise InvalidParameterError(f"observation variances must be positive, got {variance!r}.")
        total = p00 + variance
        innovation = value - a0
        if seen >= 2:
            log_likelihood = log_likelihood - 0.5 * (np.log(2 * np.pi * total) + innovation**2 / total)
        gain0, gain1 = p00 / total, p01 / total
        a0, a1 = a0 + gain0 * innovation, a1 + gain1 * innovation
        p00, p01, p11 = p00 - gain0 * p00, p01 - gain0 * p01, p11 - gain1 * p01
        seen += 1
    # One step beyond the last period: the next window's state.
    return TrendFilter(a0 + a1, a1, p00 + 2 * p01 + p11 + level_q, log_likelihood, seen)


def _grid() -> tuple[np.ndarray, np.ndarray]:
    level, slope = np.meshgrid(LEVEL_NOISE_SD, SLOPE_NOISE_SD, indexing="ij")
    return level.ravel(), slope.ravel()


def log_rate_observations(periods: Sequence[Sequence[float]]) -> list[tuple[float, float] | None]:
    """Each period's log selection rate (half a count added, so a period with no or all selections stays
    finite) and its delta-method binomial variance ``(1 - p) / (n p)``; ``None`` for an empty period.

    ``p`` in the variance is the group's rate pooled over the periods, not the period's own: with its own
    rate a period of few selections would get a larger variance, so less weight, and the fitted level would
    be biased upwards (measured: breach probabilities 0.1-0.3 under-stated by up to 0.2 at 200 rows a day).
    """
    selected_total = sum(float(selected) for selected, _ in periods)
    rows_total = sum(float(total) for _, total in periods)
    pooled = (selected_total + 0.5) / (rows_total + 1.0)
    observations: list[tuple[float, float] | None] = []
    for selected, total in periods:
        if total <= 0:
            observations.append(None)
            continue
        rate = (float(selected) + 0.5) / (float(total) + 0.5)
        observations.append((math.log(rate), (1.0 - pooled) / (float(total) * pooled)))
    return observations


@dataclass(frozen=True)
class GroupRateForecast:
    """Posterior predictive of a group's next-period log selection rate: a mixture of normals over the grid."""

    means: np.ndarray
    variances: np.ndarray
    weights: np.ndarray
    filtered_log_rate: float  # the weighted one-step prediction's level minus its slope: the last period's level
    periods_used: int
    next_total: int


def group_rate_forecast(periods: Sequence[Sequence[float]]) -> GroupRateForecast | None:
    """Fit the trend to ``[[selected, total], ...]`` (oldest first); ``None`` with fewer than
    ``MIN_FORECAST_PERIODS`` non-empty periods or an empty last period (no size for the next window)."""
    pairs = log_rate_observations(periods)
    used = sum(pair is not None for pair in pairs)
    if used < MIN_FORECAST_PERIODS or pairs[-1] is None:
        return None
    level_sd, slope_sd = _grid()
    fit = local_linear_trend_filter(
        [pair[0] if pair else None for pair in pairs], [pair[1] if pair else None for pair in pairs], level_sd, slope_sd
    )
    weights = np.exp(fit.log_likelihood - fit.log_likelihood.max())
    weights /= weights.sum()
    filtered = float(weights @ (fit.level - fit.slope))
    return GroupRateForecast(fit.level, fit.level_variance, weights, filtered, used, int(periods[-1][1]))


def _simulate_rates(forecast: GroupRateForecast, rng: np.random.Generator, size: int) -> np.ndarray:
    """Observed selection rates of simulated next windows: a true rate from the predictive, then a binomial
    draw of the next window's selections at the last period's size."""
    component = rng.choice(len(forecast.weights), size=size, p=forecast.weights)
    log_rate = rng.normal(forecast.means[component], np.sqrt(forecast.variances[component]))
    rate = np.exp(np.minimum(log_rate, 0.0))
    return rng.binomial(forecast.next_total, rate) / forecast.next_total


@dataclass(frozen=True)
class CountDriftForecast(DriftForecast):
    """:class:`DriftForecast` of the worst group's next-window DIR, with each group's forecast in ``groups``
    (``{attribute: {group: {...}}}``). ``slope`` is the worst group's expected DIR change per period and
    ``intercept`` its filtered DIR at the last period; ``points_used`` counts the periods read."""

    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    period_hours: int | None = None


def _no_forecast(threshold: float, reason: str, periods: int, groups: dict, period_hours: int | None):
    return CountDriftForecast(None, None, None, None, None, threshold, "none", reason, periods, groups, period_hours)


def forecast_from_counts(
    periods: Mapping[str, Mapping[str, Sequence[Sequence[float]]]],
    privileged: Mapping[str, str],
    threshold: float = 0.8,
    *,
    period_hours: int | None = None,
    n_simulations: int = N_SIMULATIONS,
    seed: int = 0,
    confidence: float = 0.95,
    warn_probability: float = 0.2,
    retrain_probability: float = 0.5,
) -> CountDriftForecast:
    """Forecast of each group's and the worst group's DIR over the next window, from period counts.

    ``periods`` is ``{attribute: {group: [[selected, total], ...]}}``: consecutive non-overlapping periods of
    the window's length, oldest first, the last one being the current window, aligned across groups. Each
    group with at least ``MIN_FORECAST_PERIODS`` non-empty periods, the attribute's privileged group
    included, gets its own trend (:func:`group_rate_forecast`). ``n_simulations`` joint draws of the next
    window (groups independent given their rates: they are different people) give each group's DIR draws
    ``rate_g / rate_privileged`` and the worst group's, the minimum over every forecast group of every
    attribute. The prediction interval is the central ``confidence`` range of the worst DIR draws, the point
    forecast their median, the breach probability the share below ``threshold``; the action rule is
    :func:`predict_drift`'s.

    No forecast (action ``none``) when no attribute has a privileged group and another group with enough
    periods: reason ``need_at_least_4_periods``.
    """
    if not 0.0 <= warn_probability <= retrain_probability <= 1.0:
        raise InvalidParameterError("Need 0 <= warn_probability <= retrain_probability <= 1.")
    if n_simulations < 1:
        raise InvalidParameterError(f"n_simulations must be positive, got {n_simulations!r}.", value=n_simulations)
    z_value(confidence)
    rng = np.random.default_rng(seed)
    lengths = {len(series) for groups in periods.values() for series in groups.values()}
    points = max(lengths, default=0)
    details: dict[str, dict[str, Any]] = {}
    worst: np.ndarray | None = None
    worst_point: tuple[float, float, float] | None = None  # (median, filtered DIR, expected DIR)
    margin = slack(threshold)
    for attribute in sorted(periods):
        groups = periods[attribute]
        reference_label = privileged.get(attribute)
        reference = group_rate_forecast(groups[reference_label]) if reference_label in groups else None
        if reference is None:
            continue
        reference_rates = _simulate_rates(reference, rng, n_simulations)
        for label in sorted(groups):
            if label == reference_label:
                continue
            forecast = group_rate_forecast(groups[label])
            if forecast is None:
                details.setdefault(attribute, {})[label] = {"reason": f"need_at_least_{MIN_FORECAST_PERIODS}_periods"}
                continue
            with np.errstate(divide="ignore", invalid="ignore"):
                draws = _simulate_rates(forecast, rng, n_simulations) / reference_rates
            draws = np.where(np.isnan(draws), 1.0, draws)  # 0/0: neither group selected anyone, no disparity
            filtered = math.exp(forecast.filtered_log_rate - reference.filtered_log_rate)
            expected = math.exp(float(forecast.weights @ forecast.means) - float(reference.weights @ reference.means))
            details.setdefault(attribute, {})[label] = {
                "predicted_next": float(np.median(draws)),
                "prediction_interval": percentile_interval(draws, confidence),
                "breach_probability": float((draws < threshold - margin).mean()),
                "filtered_dir": filtered,
                "periods_used": forecast.periods_used,
                "reason": "forecast",
            }
            median = float(np.median(draws))
            if worst_point is None or median < worst_point[0]:
                worst_point = (median, filtered, expected)
            worst = draws if worst is None else np.minimum(worst, draws)
    if worst is None or worst_point is None:
        return _no_forecast(threshold, f"need_at_least_{MIN_FORECAST_PERIODS}_periods", points, details, period_hours)
    probability = float((worst < threshold - margin).mean())
    action, reason = _action(probability, warn_probability, retrain_probability)
    return CountDriftForecast(
        predicted_next=float(np.median(worst)),
        slope=worst_point[2] - worst_point[1],
        intercept=worst_point[1],
        prediction_interval=percentile_interval(worst, confidence),
        breach_probability=probability,
        threshold=threshold,
        action=action,
        reason=reason,
        points_used=points,
        groups=details,
        period_hours=period_hours,
    )
