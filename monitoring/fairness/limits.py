"""Comparison of computed values with policy limits, tolerant of floating-point rounding.

A metric computed from counts can land a unit in the last place beside its exact value: a mean of ten values of
0.8 is 0.7999999999999999, and 0.3 - 0.4 is -0.10000000000000003. Compared naively, an exact four-fifths ratio
or an exact 0.1 difference would count as a breach. Every comparison with a limit therefore treats a value
within ``1e-12 * max(1, |limit|)`` of the limit as equal to it: far above the rounding of a few floating-point
operations and far below any difference that matters for a fairness metric.
"""

from __future__ import annotations

RELATIVE_TOLERANCE = 1e-12


def slack(limit: float) -> float:
    """Distance from ``limit`` within which a value counts as equal to it."""
    return RELATIVE_TOLERANCE * max(1.0, abs(limit))


def is_below(value: float, limit: float) -> bool:
    """True when ``value < limit`` by more than rounding error."""
    return value < limit - slack(limit)


def is_above(value: float, limit: float) -> bool:
    """True when ``value > limit`` by more than rounding error."""
    return value > limit + slack(limit)
