"""How large a violation the current volume can catch, and how fast: the minimum detectable effect.

For a DIR band ``DIR >= c`` a unit pairs one row of the smaller group with a block of ``r`` rows of the other
(:mod:`monitoring.fairness.sequential`). With group rate ``R_u = X R_p`` the unit's increment has mean and
variance::

    mu = R_u - c R_p            sigma^2 = R_u (1 - R_u) / r_u + c^2 R_p (1 - R_p) / r_p

(one of ``r_u``, ``r_p`` is 1). A log-optimal bet grows log-wealth by about ``g = mu^2 / (2 sigma^2)`` per unit,
so the evidence reaches ``L = log(m / alpha) + log(1 / w)`` (the family threshold plus the mixture's price) after
about ``n`` units with ``n g = L + overhead(n)``. The bet is learnt from the data as it comes, which costs
about ``(1/2) log(n g)`` nats plus a constant (the regret of a plug-in bettor); ``OVERHEAD_NATS`` was fitted to
the benchmark's sudden-drop cells and is checked by a small simulation in the tests. Turned around at the
current unit rate this gives the statement a check reports: "at 200 rows/day (group share 20%), a DIR below X
would be caught within 7 days (median)".

:func:`fixed_sample_units` is the comparison point the benchmark uses: the units a one-shot z-test at level
``alpha / m`` needs for 50% power, ``z^2 sigma^2 / mu^2``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

from monitoring.fairness.errors import InvalidParameterError

OVERHEAD_NATS = 1.5


def unit_moments(rate_group: float, rate_reference: float, band: float, share_group: float, share_reference: float):
    """``(mu, sigma^2, units per row)`` of the DIR-band increment for the given rates and group shares."""
    if share_group <= 0 or share_reference <= 0:
        raise InvalidParameterError("Group shares must be positive.")
    mu = rate_group - band * rate_reference
    if share_group <= share_reference:
        block_group, block_reference, per_row = 1.0, share_reference / share_group, share_group
    else:
        block_group, block_reference, per_row = share_group / share_reference, 1.0, share_reference
    variance = rate_group * (1 - rate_group) / block_group + band**2 * rate_reference * (1 - rate_reference) / (
        block_reference
    )
    return mu, variance, per_row


def sequential_units(mu: float, variance: float, log_threshold: float, overhead: float = OVERHEAD_NATS) -> float:
    """Units until the evidence of a violation ``mu < 0`` reaches ``log_threshold`` (median, approximately)."""
    if mu >= 0:
        return math.inf
    growth = mu * mu / (2.0 * variance)
    units = (log_threshold + overhead) / growth
    for _ in range(50):
        following = (log_threshold + overhead + 0.5 * math.log(max(units * growth, 1.0))) / growth
        if following == units:  # a fixed point: further steps would return it unchanged
            break
        units = following
    return units


def fixed_sample_units(mu: float, variance: float, level: float) -> float:
    """Units a one-shot one-sided z-test at ``level`` needs for 50% power against ``mu``: ``z^2 sigma^2 / mu^2``."""
    if mu >= 0:
        return math.inf
    z = NormalDist().inv_cdf(1.0 - level)
    return z * z * variance / (mu * mu)


@dataclass(frozen=True)
class DetectableEffect:
    """The smallest violation caught within ``days`` (median) at the stated volume, and its delay."""

    rows_per_day: float
    share_group: float
    days: float
    dir_below: float | None
    statement: str


def minimum_detectable_dir(
    rows_per_day: float,
    share_group: float,
    share_reference: float,
    reference_rate: float,
    *,
    band: float = 0.8,
    family_size: int = 1,
    alpha: float = 0.05,
    mixture_nats: float = math.log(1 / 0.75),
    days: float = 7.0,
) -> DetectableEffect:
    """Largest true DIR below ``band`` whose median detection delay is at most ``days`` (``None``: none is).

    ``mixture_nats`` is the restart mixture's price for the evidence at hand (``log(1 / start_weight)`` for a
    new model). Monotone in the DIR, so found by bisection.
    """
    if rows_per_day <= 0 or days <= 0:
        raise InvalidParameterError("Need rows_per_day > 0 and days > 0.")
    threshold = math.log(family_size / alpha) + mixture_nats

    def delay_days(ratio: float) -> float:
        mu, variance, per_row = unit_moments(ratio * reference_rate, reference_rate, band, share_group, share_reference)
        return sequential_units(mu, variance, threshold) / (rows_per_day * per_row)

    low, high = 0.0, band
    if delay_days(1e-9) > days:
        return DetectableEffect(
            rows_per_day, share_group, days, None, _statement(rows_per_day, share_group, days, None)
        )
    for _ in range(60):
        middle = 0.5 * (low + high)
        if middle in (low, high):  # adjacent floats: further steps change nothing
            break
        if delay_days(middle) <= days:
            low = middle
        else:
            high = middle
    value = round(low, 3)
    return DetectableEffect(rows_per_day, share_group, days, value, _statement(rows_per_day, share_group, days, value))


def _statement(rows_per_day: float, share: float, days: float, value: float | None) -> str:
    volume = f"at {rows_per_day:,.0f} rows/day (group share {share:.0%})"
    if value is None:
        return f"{volume}, no DIR violation would be caught within {days:g} days (median)"
    return f"{volume}, a DIR below {value:.2f} would be caught within {days:g} days (median)"
