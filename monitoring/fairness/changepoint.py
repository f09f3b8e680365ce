"""Change-point detection on a fairness metric series: when did the metric start slipping?

Method: a one-sided (lower) tabular CUSUM on standardised values, as used for individuals control charts::

    z_t = (x_t - target) / sigma
    S_0 = 0,  S_t = min(0, S_{t-1} + z_t + k)          alarm at the first t with S_t < -h

``target`` defaults to the mean of the first ``baseline`` values and ``sigma`` to their average moving range
divided by 1.128 (the unbiasing constant d2 for ranges of two), floored at ``min_sigma`` so a perfectly flat
baseline does not turn tiny wiggles into alarms. ``k = 0.5`` tunes the chart to a one-sigma shift and
``h = 5`` keeps false alarms rare (in-control average run length of several hundred points).

The slip is dated at the step after the CUSUM last sat at zero before the alarm: from there on every value
pushed the sum down, which is the usual CUSUM estimate of the change time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from monitoring.fairness.errors import InvalidParameterError
from monitoring.fairness.trend import defined_values

MOVING_RANGE_D2 = 1.128


@dataclass(frozen=True)
class ChangePoint:
    """Result of :func:`detect_change_point`; indices refer to the series of defined values."""

    detected: bool
    start_index: int | None
    detection_index: int | None
    target: float | None
    sigma: float | None
    shift: float | None
    reason: str


def detect_change_point(
    values: Iterable[float | None],
    *,
    direction: str = "decrease",
    target: float | None = None,
    sigma: float | None = None,
    baseline: int | None = None,
    k: float = 0.5,
    h: float = 5.0,
    min_sigma: float = 0.005,
) -> ChangePoint:
    """Detect a sustained shift of the series (downwards by default) with the CUSUM in the module docstring.

    ``baseline`` defaults to the first half of the series, capped at 20 values. Returns the index where the
    slip started, the index where it was detected, and ``shift`` = mean of the values from the start index
    on minus ``target``. ``direction="increase"`` watches for upward shifts (metrics where higher is worse).
    """
    if direction not in ("decrease", "increase"):
        raise InvalidParameterError(f"direction must be 'decrease' or 'increase', got {direction!r}.")
    if k < 0 or h <= 0 or min_sigma <= 0:
        raise InvalidParameterError("Need k >= 0, h > 0 and min_sigma > 0.")
    series = np.asarray(defined_values(values), dtype=np.float64)
    if len(series) < 3:
        return ChangePoint(False, None, None, target, sigma, None, "need_at_least_3_values")
    size = baseline if baseline is not None else min(20, max(2, len(series) // 2))
    if size < 2 or size > len(series):
        raise InvalidParameterError(f"baseline must be between 2 and {len(series)}, got {size!r}.")
    reference = series[:size]
    centre = float(reference.mean()) if target is None else float(target)
    if sigma is None:
        moving_range = float(np.abs(np.diff(reference)).mean())
        spread = max(moving_range / MOVING_RANGE_D2, min_sigma)
    else:
        if sigma <= 0:
            raise InvalidParameterError(f"sigma must be positive, got {sigma!r}.")
        spread = float(sigma)
    orientation = 1.0 if direction == "decrease" else -1.0
    standardised = orientation * (series - centre) / spread
    cusum = 0.0
    last_zero = -1
    for index, value in enumerate(standardised):
        cusum = min(0.0, cusum + value + k)
        if cusum == 0.0:
            last_zero = index
        elif cusum < -h:
            start = last_zero + 1
            shift = float(series[start:].mean() - centre)
            return ChangePoint(True, start, index, centre, spread, shift, f"cusum_below_minus_{h:g}")
    return ChangePoint(False, None, None, centre, spread, None, "no_sustained_shift")
