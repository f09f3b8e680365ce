"""Rolling average, velocity and the pre-alert rule for a fairness metric series (oldest value first).

Undefined points (``None`` or NaN, e.g. a window whose DIR was not computable) are skipped, so the series is
the sequence of defined values. Means are exactly rounded sums (``math.fsum``) and every comparison with the
threshold allows for rounding error (``limits``), so a series sitting exactly on the threshold is not a breach.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from monitoring.fairness.errors import InvalidParameterError
from monitoring.fairness.limits import is_above, is_below


class RollingAverage(NamedTuple):
    """``(average, velocity)`` of the last ``window`` values; unpacks like the prototype's tuple."""

    average: float | None
    velocity: float | None


def defined_values(values: Iterable[float | None]) -> list[float]:
    """The finite values of ``values`` in order, skipping ``None`` and NaN."""
    result = []
    for value in values:
        if value is None:
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise InvalidParameterError(
                f"Metric series values must be numbers, got {value!r}.", value=repr(value)
            ) from None
        if math.isnan(number):
            continue
        if math.isinf(number):
            raise InvalidParameterError(f"Metric series values must be finite, got {value!r}.", value=value)
        result.append(number)
    return result


def _check_window(window: int) -> None:
    if window < 2:
        raise InvalidParameterError(f"window must be at least 2, got {window!r}.", value=window)


def rolling_average(values: Iterable[float | None], window: int = 10) -> RollingAverage:
    """Moving average and velocity of the last ``window`` defined values.

    ``average = mean(last w values)``; ``velocity = mean(second half) - mean(first half)`` where each half has
    ``floor(w/2)`` values (the middle value of an odd window belongs to neither). With fewer than ``window``
    values all of them are used; with one value the velocity is ``None``; with none both are ``None``.
    """
    _check_window(window)
    recent = defined_values(values)[-window:]
    if not recent:
        return RollingAverage(None, None)
    average = mean(recent)
    if len(recent) < 2:
        return RollingAverage(average, None)
    return RollingAverage(average, _half_delta(recent))


def mean(values: list[float]) -> float:
    """Arithmetic mean from an exactly rounded sum: ten values of 0.8 average to 0.8, not 0.7999999999999999."""
    return math.fsum(values) / len(values)


def _half_delta(recent: list[float]) -> float:
    half = len(recent) // 2
    return mean(recent[-half:]) - mean(recent[:half])


def _half_distance(count: int) -> int:
    # Distance in steps between the centres of the two halves: ceil(count / 2).
    return count - count // 2


@dataclass(frozen=True)
class PreAlert:
    """Result of :func:`pre_alert_check`; ``status`` is ``ok``, ``pre_alert``, ``breached`` or ``insufficient_data``."""

    status: str
    pre_alert: bool
    breached: bool
    moving_average: float | None
    velocity: float | None
    velocity_per_step: float | None
    projected: float | None
    steps_to_threshold: float | None
    points_used: int
    reason: str


def pre_alert_check(
    values: Iterable[float | None],
    threshold: float = 0.8,
    window: int = 10,
    *,
    horizon: int = 3,
    margin: float = 0.05,
    higher_is_better: bool = True,
) -> PreAlert:
    """Moving-average and velocity rule that warns before a metric crosses its threshold.

    With ``m`` = number of values used (last ``window``, at least 2), ``A`` = moving average and
    ``v = velocity / ceil(m/2)`` the per-step slope (velocity is the delta between the two halves, whose
    centres are ``ceil(m/2)`` steps apart). ``A`` describes the point ``(m-1)/2`` steps before the latest, so
    the value projected ``horizon`` steps past the latest is ``P = A + v * ((m - 1)/2 + horizon)``.

    * ``breached``: ``A`` is already on the wrong side of ``threshold`` (``A`` equal to it is not a breach);
    * ``pre_alert``: not breached, the metric is worsening (``v < 0``), and either ``P`` crosses the threshold
      or ``A`` is within ``margin`` of it;
    * ``ok`` otherwise. For metrics where lower is better (``higher_is_better=False``) every comparison flips.
    """
    _check_window(window)
    if horizon < 0 or margin < 0:
        raise InvalidParameterError("horizon and margin must be non-negative.")
    recent = defined_values(values)[-window:]
    sign = 1.0 if higher_is_better else -1.0
    if len(recent) < 2:
        average = recent[0] if recent else None
        return PreAlert(
            "insufficient_data", False, False, average, None, None, None, None, len(recent), "need_2_values"
        )
    average = mean(recent)
    velocity = _half_delta(recent)
    per_step = velocity / _half_distance(len(recent))
    lag = (len(recent) - 1) / 2.0
    projected = average + per_step * (lag + horizon)
    # Work in "higher is better" orientation so one rule covers both kinds of metric.
    level, slope, projection, limit = sign * average, sign * per_step, sign * projected, sign * threshold
    worsening = is_below(slope, 0.0)
    steps = None
    if worsening:
        steps = max((level - limit) / -slope - lag, 0.0)
    if is_below(level, limit):
        status, reason = "breached", "moving_average_beyond_threshold"
    elif worsening and is_below(projection, limit):
        status, reason = "pre_alert", f"projected_to_cross_within_{horizon}_steps"
    elif worsening and not is_above(level - limit, margin):
        status, reason = "pre_alert", "within_margin_and_worsening"
    else:
        status, reason = "ok", "worsening_but_far_from_threshold" if worsening else "stable_or_improving"
    return PreAlert(
        status=status,
        pre_alert=status == "pre_alert",
        breached=status == "breached",
        moving_average=average,
        velocity=velocity,
        velocity_per_step=per_step,
        projected=projected,
        steps_to_threshold=steps,
        points_used=len(recent),
        reason=reason,
    )
