"""Anytime-valid evidence per banded comparison, built from hourly counts by testing by betting.

What is tested
--------------
Each :class:`~monitoring.fairness.comparisons.Comparison` is a linear null ``mu = e + sum_i a_i R_i >= 0``
(compliance) on the rates ``R_i`` of its legs. The evidence against it is a *wealth* process ``K_t``: a
non-negative supermartingale with ``K_0 <= 1`` whenever every processed bucket satisfies the null, so by Ville's
inequality ``P(K_t ever reaches 1/alpha) <= alpha`` however often it is looked at.

Units from counts (Chugg et al. 2023; Waudby-Smith & Ramdas 2023)
--------------------------------------------------------------------
Rollups keep counts, not rows. A *bucket* is one hour (several hours when some leg had no row: the hours are
pooled until every leg has one, at most ``max_pool_hours``; a pool older than that is dropped). In a bucket
with ``n_i`` rows in leg ``i``, ``Q = min_i n_i`` *units* are formed; a unit takes a block of ``n_i // Q`` or
``n_i // Q + 1`` rows from each leg, so every row of the bucket is used and the larger group's data is not
thrown away. A unit's increment ``y = e + sum_i a_i * (block mean of leg i)`` has mean ``mu`` and lies in
``[min_increment, max_increment]``.

Rows of one leg within a bucket are exchangeable, so a uniformly random arrangement of the bucket's counts has
the law of the real rows. Betting ``lambda`` on each unit would give the factor ``W = prod_units (1 - lambda
y_j)`` with ``E[W] <= 1`` under the null. Instead of drawing an arrangement, the bucket's factor is the
deterministic ``F = exp(E[log W | counts])`` (expectation over the arrangement): by Jensen ``F <= E[W |
counts]``, and ``E[E[W | counts]] = E[W] <= 1``, so ``F`` is a valid factor, needs no random numbers, is the
same on every recomputation, and has the expected log-growth of the randomised scheme without its noise.
``E[log W | counts]`` is computed exactly for two-leg comparisons (DIR, SPD, EOD, FPR_DIFF): one leg's block is
a single row (Bernoulli), the other's is hypergeometric. For the four-leg AOD it is bounded below with Fan et
al.'s inequality ``log(1 + u) >= u + phi(c) u^2`` for ``u >= -c`` (``phi(c) = (log(1 - c) + c) / c^2``),
which needs only the hypergeometric means and variances of the four block means: still a valid factor,
slightly less powerful.

The bet
-------
``lambda`` for a bucket is fixed before the bucket is read (predictable), in ``[0, bet_cap / max_increment]``
so every factor stays >= ``1 - bet_cap``: ``lambda = clip(-M1 / M2)`` (aGRAPA), where ``M1`` and ``M2`` are
*discounted* sums of the units' expected ``y`` and ``y^2`` (half-life ``half_life_units`` units). Discounting
keeps the bet responsive after a long compliant history; predictability is all validity needs. Under
compliance the estimate of ``mu`` is positive and the bet is 0, so wealth barely sinks.

A mixture over bets
-------------------
The adaptive stake is noisy (its estimate rests on a few hundred units), and a noisy stake loses growth: at
DIR 0.70 it keeps about two thirds of the best fixed stake's rate. So the evidence mixes ``B`` bets with
weights ``v_b`` summing to 1 (``adaptive_weight`` for the adaptive bet, the rest equally over ``bet_sizes``)::

    K_t = sum_b v_b K_t^(b),   K^(b) = the restart mixture below, run with bet b's stakes

Fixed bet ``b`` stakes ``min(share_b * bet_cap / max_increment, 4 * lambda_t)``: a constant stake, placed only
while (and as far as) the adaptive estimate points at a violation, so under compliance it stays at 0 like the
adaptive one. Each stake is predictable and in ``[0, bet_cap / max_increment]``, so each ``K^(b)`` is a test
supermartingale under the null by the argument above, and a convex combination of test supermartingales with
weights fixed in advance is one too: Ville's inequality holds for ``K`` unchanged. The price is ``log(1 / v_b)``
nats for the bet that fits (``log 6 = 1.8`` for a fixed one); the gain is a stake near the best one for
drops from about DIR 0.75 to 0.5 (stakes 0.5, 0.25, 0.125 of what a unit can lose). All stakes share one pass
over a bucket's counts (:func:`bucket_log_factor` takes a column per stake), so a check stays O(buckets).

Recovery and horizon: a mixture over restart times, reset per review period
------------------------------------------------------------------------------
The guarantee holds per review period (``period_hours``, default a quarter; a version's life can be stated as
one long period). Within a period the evidence is a mixture over restart times on a daily grid::

    K_t = w_0 * K_t^(0) + sum_{s=1}^{D-1} w_s * K_t^(s),   w_0 = start_weight, w_s = (1 - w_0) / (D - 1)

where ``K^(s)`` bets only on buckets closed after grid time ``s``. All components share the bet, so
``K^(s)_t = exp(L_t - L_s)`` with ``L`` the cumulative log-wealth: the state stores ``L`` at each started grid
time. The weights sum to 1, so ``K`` is again a test supermartingale. A violation that starts after a long
compliant run is picked up by the restart at the next grid time without paying back what ``K^(0)`` lost, at a
cost of ``log(1 / w_s)`` nats of extra evidence (``log(4 * 90) = 5.9`` for a quarter on a daily grid); a new
model pays ``log(1 / w_0) = 0.29``.

Plain guarantee: if, throughout a review period, every comparison of the policy holds at every hour, the
probability that the evidence of *any* paging comparison reaches its alert threshold at any check during that
period is at most ``alpha`` (with the family rule of :mod:`monitoring.fairness.family`), whatever the number or
timing of checks. It assumes that rows of one group within an hour (or a pooled bucket) are independent draws
with a common rate, and that group sizes and label arrival do not depend on the outcomes.

State
-----
:func:`new_state` / :func:`advance_state` keep a plain JSON-able dict: floats are stored as Python floats (JSON
round-trips them exactly), so a check processes only the hours since the previous one and a stored check is
recomputed bit for bit. :class:`EvidenceBatch` is the vectorised kernel both use (the benchmark runs it over
thousands of simulated comparisons at once).

Layout versions: version 2 stores each bet's ``log_wealth``, ``mix``, ``cusum_parts`` and ``cusum_starts`` as
lists (adaptive bet first) and the change detector's mixed ``cusum`` and ``cusum_start``; version 1 stored one
adaptive bet's fields as scalars. A version-1 state is advanced with version 1's rules and parameters
(:meth:`SequentialSettings.legacy`) and stays version 1, so checks stored with it redraw exactly and their chain
goes on with the guarantee it started with; fresh states (a new version, policy version or resolved alert) are
version 2.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy.special import gammaln

from monitoring.fairness.comparisons import LEG_ROW_KINDS, Comparison, leg_count_table
from monitoring.fairness.counts import ConfusionCounts
from monitoring.fairness.errors import InvalidParameterError

STATE_VERSION = 2
LEGACY_STATE_VERSION = 1
HOURS_PER_DAY = 24
# A fixed stake is placed up to this multiple of the adaptive stake (so it is 0 while the adaptive one is).
FIXED_BET_REACH = 4.0


@dataclass(frozen=True)
class SequentialSettings:
    """Policy-level settings of the evidence (all have defaults a compliance team can read).

        ``alpha``: family-wise error per review period. ``period_hours``: the review period after which evidence
        resets (default 91 days). ``grid_hours``: spacing of restart times. ``start_weight``: mixture weight of the
        component started at the period start (the rest is spread over the restarts). ``half_life_units``: memory
        of the bet's estimates, in units. ``prior_units``: weight of the bet's prior, whose mean is ``prior_mean``
    times the largest increment (negative: the first hours are already bet against, as if a small violation were
    expected; any prior keeps validity, it only moves power between early and late). ``bet_cap``: largest
        stake as a share of what a unit can lose. ``max_pool_hours``: oldest rows a bucket may pool.
        ``bet_sizes``: the fixed stakes mixed with the adaptive bet, as shares of ``bet_cap``; ``adaptive_weight``:
        the adaptive bet's mixture weight (the fixed stakes share the rest equally).
    """

    alpha: float = 0.05
    period_hours: int = 91 * HOURS_PER_DAY
    grid_hours: int = HOURS_PER_DAY
    start_weight: float = 0.75
    half_life_units: float = 150.0
    prior_units: float = 20.0
    prior_mean: float = -0.05
    bet_cap: float = 0.5
    max_pool_hours: int = HOURS_PER_DAY
    bet_sizes: tuple[float, ...] = (1.0, 0.5, 0.25)
    adaptive_weight: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 1.0:
            raise InvalidParameterError(f"alpha must lie strictly between 0 and 1, got {self.alpha!r}.")
        if self.grid_hours <= 0 or self.period_hours < self.grid_hours:
            raise InvalidParameterError("Need grid_hours > 0 and period_hours >= grid_hours.")
        if not 0.0 < self.start_weight <= 1.0:
            raise InvalidParameterError(f"start_weight must lie in (0, 1], got {self.start_weight!r}.")
        if not 0.0 < self.bet_cap < 1.0 or self.half_life_units <= 0 or self.prior_units <= 0:
            raise InvalidParameterError("Need 0 < bet_cap < 1, half_life_units > 0 and prior_units > 0.")
        if any(not 0.0 < share <= 1.0 for share in self.bet_sizes):
            raise InvalidParameterError("Every fixed bet size must lie in (0, 1] (a share of bet_cap).")
        if not 0.0 < self.adaptive_weight <= 1.0 or (self.adaptive_weight == 1.0 and self.bet_sizes):
            raise InvalidParameterError("adaptive_weight must lie in (0, 1], below 1 when fixed bets are mixed in.")

    def legacy(self) -> SequentialSettings:
        """The settings of layout version 1 (one adaptive bet), under which states stored with it were computed."""
        return replace(
            self, half_life_units=150.0, prior_units=20.0, prior_mean=-0.05, bet_sizes=(), adaptive_weight=1.0
        )

    def bet_log_weights(self) -> np.ndarray:
        """Log mixture weight of each bet: the adaptive one, then the fixed stakes."""
        if not self.bet_sizes:
            return np.zeros(1)
        rest = math.log((1.0 - self.adaptive_weight) / len(self.bet_sizes))
        return np.array([math.log(self.adaptive_weight)] + [rest] * len(self.bet_sizes))

    @property
    def grid_size(self) -> int:
        """Number of start times in a period (the period start included)."""
        return self.period_hours // self.grid_hours

    def log_weights(self) -> np.ndarray:
        """Log mixture weight of each start time of a period."""
        size = self.grid_size
        if size == 1:
            return np.zeros(1)
        rest = math.log((1.0 - self.start_weight) / (size - 1)) if self.start_weight < 1.0 else -math.inf
        return np.array([math.log(self.start_weight)] + [rest] * (size - 1))


_LOG_FACTORIALS = gammaln(np.arange(1025, dtype=np.float64) + 1.0)


def _log_factorial_table(top: int) -> np.ndarray:
    """``log(k!)`` for ``k = 0 .. top`` at least. Counts are whole numbers: a lookup table (grown on demand) is
    exact and much faster than gammaln."""
    global _LOG_FACTORIALS
    if top >= len(_LOG_FACTORIALS):
        _LOG_FACTORIALS = gammaln(np.arange(2 * top + 1, dtype=np.float64) + 1.0)
    return _LOG_FACTORIALS


def _hypergeometric_pmf(total: np.ndarray, successes: np.ndarray, draws: np.ndarray, j: np.ndarray) -> np.ndarray:
    """P(j successes in ``draws`` rows drawn without replacement); arrays broadcast, 0 outside the support."""
    valid = (j <= draws) & (j <= successes) & (draws - j <= total - successes) & (draws <= total) & (j >= 0)
    safe_j = np.where(valid, j, 0.0).astype(np.int64)
    safe_draws = np.where(valid, draws, 0.0).astype(np.int64)
    safe_total = np.where(valid, total, 0.0).astype(np.int64)
    safe_successes = np.where(valid, successes, 0.0).astype(np.int64)
    # Every argument below lies in 0 .. total.
    table = _log_factorial_table(int(safe_total.max()) if safe_total.size else 0)

    def log_comb(n: np.ndarray, k: np.ndarray) -> np.ndarray:
        return table[n] - table[k] - table[n - k]

    log_pmf = (
        log_comb(safe_successes, safe_j)
        + log_comb(safe_total - safe_successes, safe_draws - safe_j)
        - log_comb(safe_total, safe_draws)
    )
    return np.where(valid, np.exp(log_pmf), 0.0)


def fan_coefficient(c: np.ndarray) -> np.ndarray:
    """``phi(c) = (log(1 - c) + c) / c^2`` (``-1/2`` at ``c = 0``): ``log(1 + u) >= u + phi(c) u^2`` for u >= -c."""
    c = np.asarray(c, dtype=np.float64)
    safe = np.where(c > 1e-6, c, 0.5)
    exact = (np.log1p(-safe) + safe) / (safe * safe)
    series = -0.5 - c / 3.0 - c * c / 4.0
    return np.where(c > 1e-6, exact, series)


def _block_variance(rate: np.ndarray, total: np.ndarray, size: np.ndarray) -> np.ndarray:
    # Variance of the mean of `size` rows drawn without replacement from `total` rows with mean `rate`.
    with np.errstate(divide="ignore", invalid="ignore"):
        value = rate * (1.0 - rate) * (total - size) / (size * (total - 1.0))
    return np.where((total > 1) & (size > 0), value, 0.0)


@dataclass(frozen=True)
class _Units:
    """How a bucket's rows form units: ``count`` units per element, each taking ``block`` or ``block + 1`` rows
    of every leg (``extra`` units take the larger block), and each leg's ``rate``."""

    count: np.ndarray
    block: np.ndarray
    extra: np.ndarray
    rate: np.ndarray

    @classmethod
    def of(cls, favourable: np.ndarray, rows: np.ndarray) -> _Units:
        count = rows.min(axis=1)
        block = np.floor(rows / count[:, None])
        return cls(count=count, block=block, extra=rows - block * count[:, None], rate=favourable / rows)

    def moments(self, coefficients: np.ndarray, constant: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, ...]:
        """A unit's expected increment, and the summed variance of the units' increments around it."""
        mean = constant + (coefficients * self.rate).sum(axis=1)
        spread = (
            coefficients**2
            * (
                (self.count[:, None] - self.extra) * _block_variance(self.rate, rows, self.block)
                + self.extra * _block_variance(self.rate, rows, self.block + 1.0)
            )
        ).sum(axis=1)
        return mean, spread


def bucket_log_factor(
    coefficients: np.ndarray, constant: np.ndarray, favourable: np.ndarray, rows: np.ndarray, bet: np.ndarray
) -> np.ndarray:
    """``E[log prod_units (1 - bet * y) | counts]`` for each element (exact for two legs, Fan bound otherwise).

    Shapes: ``coefficients``, ``favourable``, ``rows``: (E, L) with every ``rows > 0``; ``constant``: (E,);
    ``bet``: (E,), or (E, K) for K stakes on the same counts (the result then has shape (E, K); the counts'
    distribution is computed once for all stakes).
    """
    bet = np.asarray(bet, dtype=np.float64)
    if bet.ndim == 1:
        return bucket_log_factor(coefficients, constant, favourable, rows, bet[:, None])[:, 0]
    rows = rows.astype(np.float64)
    favourable = favourable.astype(np.float64)
    layout = _Units.of(favourable, rows)
    units, block, extra, rate = layout.count, layout.block, layout.extra, layout.rate
    if coefficients.shape[1] != 2:
        mean, spread = layout.moments(coefficients, constant, rows)
        top = constant + np.maximum(coefficients, 0.0).sum(axis=1)
        phi = fan_coefficient(bet * np.maximum(top, 0.0)[:, None])
        return -bet * units[:, None] * mean[:, None] + phi * bet * bet * (units * mean * mean + spread)[:, None]
    # Two legs: the smaller leg (ties: leg 0) gives one row per unit, the other a block of r or r + 1 rows.
    small = np.where(rows[:, 0] <= rows[:, 1], 0, 1)
    big = 1 - small
    index = np.arange(len(units))
    a_small, a_big = coefficients[index, small], coefficients[index, big]
    p_small = rate[index, small]
    total, successes = rows[index, big], favourable[index, big]
    r_big, m_big = block[index, big], extra[index, big]
    # The support grid of each element is padded to a width class that depends on that element alone (a power
    # of two), so an element's result never depends on which other comparisons share the batch.
    width = np.maximum(4, 2 ** np.ceil(np.log2(r_big + 2.0))).astype(np.int64)
    result = np.zeros(bet.shape)
    for size_class in np.unique(width):
        chosen = width == size_class
        j = np.arange(size_class, dtype=np.float64)[None, :]
        part = np.zeros((int(chosen.sum()), bet.shape[1]))
        for size, count in ((r_big[chosen], units[chosen] - m_big[chosen]), (r_big[chosen] + 1.0, m_big[chosen])):
            pmf = _hypergeometric_pmf(total[chosen, None], successes[chosen, None], size[:, None], j)
            # Outside the support (pmf 0) the level may exceed the increment's range: evaluate it at 0 instead.
            level = np.where(pmf > 0, constant[chosen, None] + a_big[chosen, None] * j / size[:, None], 0.0)
            level_yes = np.where(pmf > 0, level + a_small[chosen, None], 0.0)
            p = p_small[chosen, None, None]
            # Every stake on the shared distribution at once, shape (elements, stakes, support); each stake's
            # sum runs over a contiguous last axis, so it is summed exactly as a single stake would be.
            stake = bet[chosen, :, None]
            no = np.log1p(-stake * level[:, None, :])
            yes = np.log1p(-stake * level_yes[:, None, :])
            expected = (pmf[:, None, :] * ((1.0 - p) * no + p * yes)).sum(axis=2)
            part += np.where(count[:, None] > 0, count[:, None] * expected, 0.0)
        result[chosen] = part
    return result


def _bucket_moments(
    coefficients: np.ndarray, constant: np.ndarray, favourable: np.ndarray, rows: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Units, sum of E[y], sum of E[y^2], and the confidence-sequence sums (per-leg means, sub-Gaussian sizes)."""
    rows = rows.astype(np.float64)
    layout = _Units.of(favourable, rows)
    units, block, extra, rate = layout.count, layout.block, layout.extra, layout.rate
    mean, spread = layout.moments(coefficients, constant, rows)
    proxy = (units[:, None] - extra) / (4.0 * block) + extra / (4.0 * (block + 1.0))
    return units, units * mean, units * mean * mean + spread, units[:, None] * rate, proxy


class EvidenceBatch:
    """Evidence state of many comparisons with the same number of legs, as arrays, advanced by hourly counts.

    Fields mirror the stored state of :func:`new_state` (see the module docstring for their meaning). Per-bet
    fields (``log_wealth``, ``mix``, ``cusum_parts``, ``cusum_starts``) have one column per bet of
    :meth:`SequentialSettings.bets`: column 0 the adaptive bet, then the fixed stakes. ``version`` is the stored
    layout: version 1 (a single adaptive bet with the legacy parameters) is kept so that checks stored with it
    advance and redraw exactly as they were computed.
    """

    def __init__(
        self,
        coefficients: np.ndarray,
        constant: np.ndarray,
        settings: SequentialSettings,
        start_hour,
        version: int = STATE_VERSION,
    ):
        if version not in (LEGACY_STATE_VERSION, STATE_VERSION):
            raise InvalidParameterError(f"Unknown evidence state version {version!r}.")
        self.version = version
        settings = settings.legacy() if version == LEGACY_STATE_VERSION else settings
        self.settings = settings
        self.coefficients = np.asarray(coefficients, dtype=np.float64)
        self.constant = np.asarray(constant, dtype=np.float64)
        size, legs = self.coefficients.shape
        self.top = self.constant + np.maximum(self.coefficients, 0.0).sum(axis=1)
        if np.any(self.top <= 0):
            raise InvalidParameterError("A comparison whose increment can never be positive cannot be tested.")
        self.fixed_shares = np.asarray(settings.bet_sizes, dtype=np.float64)
        self.bet_log_weights = settings.bet_log_weights()
        bets = len(self.bet_log_weights)
        self.period_start = np.broadcast_to(np.asarray(start_hour, dtype=np.int64), (size,)).copy()
        self.log_wealth = np.zeros((size, bets))
        # Restart times started so far, with the adaptive bet's log-wealth at each (for the change's estimate).
        self.grid = np.full((size, settings.grid_size), np.nan)
        self.grid[:, 0] = 0.0
        self.log_weights = settings.log_weights()
        # Per bet: log sum_s w_s exp(-L_s) over started restarts, kept as the grid fills so log K = L + mix is O(1).
        self.mix = np.full((size, bets), self.log_weights[0])
        self.m1 = settings.prior_units * settings.prior_mean * self.top
        self.m2 = settings.prior_units * self.top**2 / 4.0
        self.pool_k = np.zeros((size, legs), dtype=np.int64)
        self.pool_n = np.zeros((size, legs), dtype=np.int64)
        self.pool_start = np.full(size, -1, dtype=np.int64)
        self.cs_sum = np.zeros((size, legs))
        self.cs_proxy = np.zeros((size, legs))
        self.units = np.zeros(size)
        self.cusum_parts = np.zeros((size, bets))
        self.cusum_starts = np.repeat(self.period_start[:, None], bets, axis=1)
        self.last_hour = np.full(size, -1, dtype=np.int64)

    def bet(self) -> np.ndarray:
        """The adaptive stake for the next bucket, from earlier buckets only."""
        return self._bets_of(slice(None))[:, 0]

    def bets(self) -> np.ndarray:
        """Every bet's stake for the next bucket, shape (E, bets): the adaptive one, then each fixed stake, placed
        only while the adaptive one is (the adaptive estimate points at a violation). All are predictable."""
        return self._bets_of(slice(None))

    def _bets_of(self, elements) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            raw = -self.m1[elements] / self.m2[elements]
        top = self.top[elements]
        adaptive = np.clip(np.nan_to_num(raw, nan=0.0), 0.0, self.settings.bet_cap / top)
        fixed = self.fixed_shares[None, :] * (self.settings.bet_cap / top)[:, None]
        return np.concatenate([adaptive[:, None], np.minimum(fixed, FIXED_BET_REACH * adaptive[:, None])], axis=1)

    def advance(self, hour: int, favourable: np.ndarray, rows: np.ndarray, active: np.ndarray | None = None) -> None:
        """Process one hour's per-leg counts (shape (E, L)) for the elements in ``active`` (default all)."""
        active = np.ones(len(self.log_wealth), dtype=bool) if active is None else np.asarray(active, dtype=bool)
        self.advance_hours([hour], np.asarray(favourable)[None], np.asarray(rows)[None], active[None])

    def advance_hours(self, hours: Sequence[int], favourable: np.ndarray, rows: np.ndarray, active: np.ndarray) -> None:
        """Process increasing ``hours`` (per-leg counts of shape (H, E, L), ``active`` of shape (H, E)), exactly
        as :meth:`advance` hour after hour.

        Every stake depends only on the counts before it (the bet's estimates are sums of the units' expected
        increments, not of the wealth), so the hours are processed in three passes: pool the hours into buckets
        and fix each bucket's stakes, one hour after the other; compute every bucket's betting factor in one
        vectorised call; then accumulate the wealth, restarts, review periods and change detector hour by hour.
        The arithmetic of each element is the same as one hour at a time, so the result is bit for bit equal.
        """
        settings = self.settings
        favourable = np.asarray(favourable, dtype=np.int64)
        rows = np.asarray(rows, dtype=np.int64)
        active = np.asarray(active, dtype=bool)
        if np.any(favourable < 0) or np.any(favourable > rows):
            raise InvalidParameterError("Leg counts need 0 <= favourable <= rows.")
        # Pass 1: pool each hour's rows into buckets (a pool older than max_pool_hours is dropped).
        buckets = []  # per hour with a bucket: (position in hours, elements, their pools' counts and first hours)
        for position, hour in enumerate(hours):
            act = active[position]
            if np.any(act & (self.last_hour >= hour)):
                raise InvalidParameterError(f"Hour {hour} is not after the last processed hour.")
            stale = act & (self.pool_start >= 0) & (hour - self.pool_start >= settings.max_pool_hours)
            self.pool_k[stale] = 0
            self.pool_n[stale] = 0
            self.pool_start[stale] = -1
            arrived = act & (rows[position].sum(axis=1) > 0)
            self.pool_k[arrived] += favourable[position][arrived]
            self.pool_n[arrived] += rows[position][arrived]
            self.pool_start[arrived & (self.pool_start < 0)] = hour
            self.last_hour[act] = hour
            ready = np.nonzero(act & np.all(self.pool_n > 0, axis=1))[0]
            if len(ready):
                buckets.append((position, ready, self.pool_k[ready], self.pool_n[ready], self.pool_start[ready]))
                self.pool_k[ready] = 0
                self.pool_n[ready] = 0
                self.pool_start[ready] = -1
        # Each hour's buckets as a slice of the buckets stacked in hour order.
        ends = np.cumsum([len(bucket[1]) for bucket in buckets], dtype=np.int64)
        parts = [slice(int(end) - len(bucket[1]), int(end)) for bucket, end in zip(buckets, ends, strict=True)]
        settled = {}  # position in hours -> (elements, pools' first hours, factors)
        if buckets:
            elements = np.concatenate([bucket[1] for bucket in buckets])
            k = np.concatenate([bucket[2] for bucket in buckets])
            n = np.concatenate([bucket[3] for bucket in buckets])
            coefficients, constant = self.coefficients[elements], self.constant[elements]
            units, sum_y, sum_y2, cs_sum, cs_proxy = _bucket_moments(coefficients, constant, k, n)
            # Each bucket's stakes from the estimates before it, then the estimates updated with it.
            stakes = np.empty((len(elements), len(self.bet_log_weights)))
            for (_, ready, *_), part in zip(buckets, parts, strict=True):
                stakes[part] = self._bets_of(ready)
                decay = np.exp2(-units[part] / settings.half_life_units)
                self.m1[ready] = decay * self.m1[ready] + sum_y[part]
                self.m2[ready] = np.maximum(decay * self.m2[ready] + sum_y2[part], 1e-12)
                self.cs_sum[ready] += cs_sum[part]
                self.cs_proxy[ready] += cs_proxy[part]
                self.units[ready] += units[part]
            # Pass 2: every bucket's factor at once.
            gain = bucket_log_factor(coefficients, constant, k, n, stakes)
            for (position, ready, _, _, pool_start), part in zip(buckets, parts, strict=True):
                settled[position] = (ready, pool_start, gain[part])
        # Pass 3: review periods, restarts, wealth and the change detector, hour by hour.
        columns = np.arange(settings.grid_size)[None, :]
        for position, hour in enumerate(hours):
            act = active[position]
            # A new review period: the evidence starts again (the bet's estimates carry over; they are predictable).
            elapsed = hour - self.period_start
            rolled = act & (elapsed >= settings.period_hours)
            if np.any(rolled):
                self.period_start[rolled] += (elapsed[rolled] // settings.period_hours) * settings.period_hours
                self.log_wealth[rolled] = 0.0
                self.grid[rolled] = np.nan
                self.grid[rolled, 0] = 0.0
                self.mix[rolled] = self.log_weights[0]
            # Restart components at every grid time reached (grid times skipped without data start now).
            reached = np.minimum((hour - self.period_start) // settings.grid_hours, settings.grid_size - 1)
            start = act[:, None] & np.isnan(self.grid) & (columns <= reached[:, None])
            if np.any(start):
                self.grid = np.where(start, self.log_wealth[:, :1], self.grid)
                for column in np.nonzero(start.any(axis=0))[0]:
                    rows_started = start[:, column]
                    self.mix[rows_started] = np.logaddexp(
                        self.mix[rows_started], self.log_weights[column] - self.log_wealth[rows_started]
                    )
            if position not in settled:
                continue
            ready, pool_start, gain = settled[position]
            self.log_wealth[ready] += gain
            cusum_parts = self.cusum_parts[ready]
            fresh = cusum_parts <= 0.0
            self.cusum_starts[ready] = np.where(fresh, pool_start[:, None], self.cusum_starts[ready])
            self.cusum_parts[ready] = np.maximum(cusum_parts, 0.0) + gain

    def log_evidence(self) -> np.ndarray:
        """``log K_t``: log of the mixture over bets and started restart times."""
        return _log_sum_exp(self.bet_log_weights[None, :] + self.log_wealth + self.mix)

    @property
    def cusum(self) -> np.ndarray:
        """Log of the change detector: the bets' CUSUM e-detectors mixed with the bets' weights."""
        if self.cusum_parts.shape[1] == 1:
            return self.cusum_parts[:, 0].copy()
        return _log_sum_exp(self.bet_log_weights[None, :] + self.cusum_parts)

    @property
    def cusum_start(self) -> np.ndarray:
        """Start of the earliest current excursion among the bets (a fixed stake's detector only moves once the
        adaptive bet points at a violation, so the earliest start dates the change best)."""
        if self.cusum_parts.shape[1] == 1:
            return self.cusum_starts[:, 0].copy()
        positive = self.cusum_parts > 0.0
        earliest = np.where(positive, self.cusum_starts, np.iinfo(np.int64).max).min(axis=1)
        return np.where(positive.any(axis=1), earliest, self.cusum_starts[:, 0])

    def best_start(self) -> np.ndarray:
        """Index of the restart time whose adaptive component holds the most evidence (when it began)."""
        terms = np.where(np.isnan(self.grid), -np.inf, self.log_wealth[:, :1] - self.grid)
        return terms.argmax(axis=1)

    # -- stored form -------------------------------------------------------------------------------------------

    _SCALARS = ("period_start", "m1", "m2", "pool_start", "units", "last_hour")
    _PER_BET = ("log_wealth", "mix", "cusum_parts", "cusum_starts")
    _ROWS = ("pool_k", "pool_n", "cs_sum", "cs_proxy")
    # Version 1 stored one bet's fields as scalars under these names.
    _LEGACY_PER_BET = {"log_wealth": "log_wealth", "mix": "mix", "cusum_parts": "cusum", "cusum_starts": "cusum_start"}

    def states(self) -> list[dict[str, Any]]:
        """Plain JSON-able state of every element (in this batch's layout version)."""
        cusum, cusum_start = self.cusum, self.cusum_start
        return [self._state(index, cusum, cusum_start) for index in range(len(self.log_wealth))]

    def _state(self, index: int, cusum: np.ndarray, cusum_start: np.ndarray) -> dict[str, Any]:
        result: dict[str, Any] = {"version": self.version}
        for name in self._SCALARS:
            result[name] = getattr(self, name)[index].item()
        for name in self._ROWS:
            result[name] = getattr(self, name)[index].tolist()
        for name in self._PER_BET:
            values = getattr(self, name)[index]
            if self.version == LEGACY_STATE_VERSION:
                result[self._LEGACY_PER_BET[name]] = values[0].item()
            else:
                result[name] = values.tolist()
        if self.version != LEGACY_STATE_VERSION:
            # The change detector's statistic and start, as the legacy layout stored them (read without settings).
            result["cusum"] = cusum[index].item()
            result["cusum_start"] = cusum_start[index].item()
        started = ~np.isnan(self.grid[index])
        result["grid"] = self.grid[index][started].tolist()
        return result

    def load(self, index: int, state: Mapping[str, Any]) -> None:
        """Overwrite element ``index`` with a stored state (of this batch's layout version)."""
        if state_version(state) != self.version:
            raise InvalidParameterError(f"Evidence state version {state.get('version')!r} is not {self.version}.")
        for name in self._SCALARS:
            getattr(self, name)[index] = state[name]
        for name in self._ROWS:
            getattr(self, name)[index] = state[name]
        for name in self._PER_BET:
            if self.version == LEGACY_STATE_VERSION:
                getattr(self, name)[index, 0] = state[self._LEGACY_PER_BET[name]]
            else:
                values = list(state[name])
                if len(values) != self.log_wealth.shape[1]:
                    raise InvalidParameterError("Stored evidence has a different number of bets than its settings.")
                getattr(self, name)[index] = values
        grid = list(state["grid"])
        if len(grid) > self.settings.grid_size:
            raise InvalidParameterError("Stored restart grid is longer than the period allows.")
        self.grid[index] = np.nan
        self.grid[index, : len(grid)] = grid


def _log_sum_exp(values: np.ndarray) -> np.ndarray:
    """``log sum exp`` over the last axis, exact when one term is -inf or all are."""
    top = values.max(axis=1)
    safe = np.where(np.isfinite(top), top, 0.0)
    return safe + np.log(np.exp(values - safe[:, None]).sum(axis=1))


def state_version(state: Mapping[str, Any]) -> int:
    """Layout version of a stored state."""
    version = state.get("version")
    if version not in (LEGACY_STATE_VERSION, STATE_VERSION):
        raise InvalidParameterError(f"Unknown evidence state version {version!r}.")
    return int(version)


def _batch_for(
    comparisons: Sequence[Comparison], settings: SequentialSettings, start_hour, version: int = STATE_VERSION
) -> EvidenceBatch:
    coefficients = np.array([[leg.coefficient for leg in c.legs] for c in comparisons], dtype=np.float64)
    constant = np.array([c.constant for c in comparisons], dtype=np.float64)
    return EvidenceBatch(coefficients, constant, settings, start_hour, version)


def new_state(comparison: Comparison, start_hour: int, settings: SequentialSettings | None = None) -> dict[str, Any]:
    """Fresh evidence for ``comparison`` from ``start_hour`` on (a new version, policy, period or resolved alert)."""
    return _batch_for([comparison], settings or SequentialSettings(), start_hour).states()[0]


HourlyCounts = Mapping[Any, ConfusionCounts]


def advance_states(
    comparisons: Sequence[Comparison],
    states: Sequence[Mapping[str, Any]],
    hours: Iterable[tuple[int, Mapping[tuple[str, ...], HourlyCounts]]],
    settings: SequentialSettings | None = None,
) -> list[dict[str, Any]]:
    """Advance many comparisons' states through ``hours`` (increasing), each ``(hour, {attribute: {group: counts}})``.

    Hours already processed by a state (``<= last_hour``) are skipped for it, so passing overlapping hour ranges
    is harmless. Comparisons are processed in vectorised batches by number of legs and state layout version (a
    state stored with version 1 goes on with version 1's rules); the result is identical to advancing each state
    alone.
    """
    settings = settings or SequentialSettings()
    loaded = _loaded_batches(comparisons, states, settings)
    # Each hour's counts are flattened once into a table of every (attribute, group) the legs read, and each
    # batch gathers its legs' (favourable, rows) from it by index.
    slots: dict[tuple[tuple[str, ...], Any], int] = {}
    gathers = []
    for members, batch in loaded:
        favourable_index = np.zeros((len(members), batch.coefficients.shape[1]), dtype=np.int64)
        for position, index in enumerate(members):
            comparison = comparisons[index]
            for leg_position, leg in enumerate(comparison.legs):
                slot = slots.setdefault((comparison.attribute, leg.group), len(slots))
                favourable_index[position, leg_position] = 6 * slot + 2 * LEG_ROW_KINDS.index(leg.rows)
        gathers.append((batch, favourable_index))
    empty = (0,) * 6
    hour_list: list[int] = []
    tables = []
    for hour, attributes in hours:
        if hour_list and hour <= hour_list[-1]:
            raise InvalidParameterError("Hours must be strictly increasing.")
        hour_list.append(hour)
        table = np.zeros(6 * len(slots), dtype=np.int64)
        for (attribute, group), slot in slots.items():
            counts = attributes.get(attribute, {}).get(group)
            table[6 * slot : 6 * slot + 6] = leg_count_table(counts) if counts is not None else empty
        tables.append(table)
    if hour_list:
        counts_by_hour = np.stack(tables)
        hour_array = np.asarray(hour_list, dtype=np.int64)
        for batch, favourable_index in gathers:
            # An element takes the hours after its own last processed one.
            active = batch.last_hour[None, :] < hour_array[:, None]
            batch.advance_hours(
                hour_list, counts_by_hour[:, favourable_index], counts_by_hour[:, favourable_index + 1], active
            )
    result: list[dict[str, Any]] = [{} for _ in comparisons]
    for members, batch in loaded:
        for index, state in zip(members, batch.states(), strict=True):
            result[index] = state
    return result


def _loaded_batches(
    comparisons: Sequence[Comparison], states: Sequence[Mapping[str, Any]], settings: SequentialSettings
) -> list[tuple[list[int], EvidenceBatch]]:
    """The stored states loaded into one batch per number of legs and layout version, each with the indices of
    its comparisons (every element is computed exactly as alone: the arithmetic is element by element)."""
    if len(comparisons) != len(states):
        raise InvalidParameterError("Need one state per comparison.")
    groups: dict[tuple[int, int], list[int]] = {}
    for index, comparison in enumerate(comparisons):
        groups.setdefault((len(comparison.legs), state_version(states[index])), []).append(index)
    loaded = []
    for (_, version), members in groups.items():
        batch = _batch_for([comparisons[i] for i in members], settings, 0, version)
        for position, index in enumerate(members):
            batch.load(position, states[index])
        loaded.append((members, batch))
    return loaded


def advance_state(
    comparison: Comparison,
    state: Mapping[str, Any],
    hourly: Iterable[tuple[int, HourlyCounts]],
    settings: SequentialSettings | None = None,
) -> dict[str, Any]:
    """Advance one comparison through ``(hour, {group: counts})`` pairs of its attribute."""
    hours = ((hour, {comparison.attribute: groups}) for hour, groups in hourly)
    return advance_states([comparison], [state], hours, settings)[0]


@dataclass(frozen=True)
class Evidence:
    """What a check reports for one comparison.

    ``log_e``: log of the e-process. ``started_hour``: restart time whose component holds the most evidence
    (when the evidence began to build). ``units``: units bet on since the last reset of the confidence sums.
    """

    log_e: float
    started_hour: int
    units: float
    bet: float

    @property
    def e_value(self) -> float:
        return math.exp(min(self.log_e, 700.0))


def evidence(comparison: Comparison, state: Mapping[str, Any], settings: SequentialSettings | None = None) -> Evidence:
    """Evidence against the comparison's null in a stored state."""
    return evidences([comparison], [state], settings)[0]


def evidences(
    comparisons: Sequence[Comparison], states: Sequence[Mapping[str, Any]], settings: SequentialSettings | None = None
) -> list[Evidence]:
    """:func:`evidence` of many comparisons, read in one batch per number of legs and layout version."""
    settings = settings or SequentialSettings()
    result: list[Evidence | None] = [None] * len(comparisons)
    for members, batch in _loaded_batches(comparisons, states, settings):
        starts, log_e, bets = batch.best_start(), batch.log_evidence(), batch.bet()
        for position, index in enumerate(members):
            result[index] = Evidence(
                float(log_e[position]),
                int(batch.period_start[position]) + int(starts[position]) * settings.grid_hours,
                float(batch.units[position]),
                float(bets[position]),
            )
    return result


def normal_mixture_log_e(total: float, variance: float, rho: float) -> float:
    """Log of the two-sided normal-mixture e-process ``sqrt(rho / (V + rho)) exp(S^2 / (2 (V + rho)))``.

    For a sum ``S`` of independent centred increments with sub-Gaussian variance proxies summing to ``V``
    (Robbins' mixture; Howard et al. 2021): it is a non-negative supermartingale with initial value 1.
    """
    return 0.5 * math.log(rho / (variance + rho)) + total * total / (2.0 * (variance + rho))


def normal_mixture_radius(variance: float, alpha: float, rho: float) -> float:
    """Radius ``sqrt((V + rho) log((V + rho) / (rho alpha^2)))`` of the two-sided normal-mixture boundary."""
    return math.sqrt((variance + rho) * math.log((variance + rho) / (rho * alpha * alpha)))


def confidence_sequence(
    comparison: Comparison, state: Mapping[str, Any], alpha: float = 0.05, rho: float | None = None
) -> tuple[float, float] | None:
    """Anytime-valid ``1 - alpha`` interval for the comparison's metric since the state was created, for display.

    Built on the same units as the e-process: for a candidate metric value ``v`` the units' increments centred
    at ``v`` (``x_u - v x_p`` for DIR, ``sum a_i x_i - v`` for differences) are sums of independent Bernoulli
    block means, sub-Gaussian with proxy ``1/(4 r)`` per block of ``r`` rows. ``v`` is kept while the two-sided
    normal-mixture e-process (:func:`normal_mixture_log_e`, evaluated at the counts' expected sums, which is
    valid by the same Jensen argument as the bets) stays below ``1/alpha``. Valid at all times simultaneously
    when the metric is constant; under drift it covers the unit-weighted average. ``None`` before any unit.
    ``rho`` defaults to tuning the boundary for 500 units.
    """
    units = float(state["units"])
    if units <= 0:
        return None
    sums = np.asarray(state["cs_sum"], dtype=np.float64)
    proxies = np.asarray(state["cs_proxy"], dtype=np.float64)
    # The metric's own sign: group legs count +, reference legs - (whatever edge the null tests).
    signs = np.array([1.0 if leg.group == comparison.group else -1.0 for leg in comparison.legs])
    if rho is None:
        rho = 500.0 * 0.5 / (2.0 * math.log(1.0 / alpha) + math.log(1.0 + 2.0 * math.log(1.0 / alpha)))
    if comparison.metric == "DIR":
        # Leg order: group first, reference second; the group's rate over v times the reference's.
        group_sum, reference_sum = sums[0], sums[1]
        group_proxy, reference_proxy = proxies[0], proxies[1]

        def rejected(value: float) -> bool:
            total = group_sum - value * reference_sum
            variance = group_proxy + value * value * reference_proxy
            return total * total > normal_mixture_radius(variance, alpha, rho) ** 2

        centre = group_sum / reference_sum if reference_sum > 0 else math.inf
        if not math.isfinite(centre):
            return None
        lower = _edge(rejected, centre, 0.0)
        upper = _edge(rejected, centre, max(10.0, 4 * centre))
        return lower, upper
    # Differences: v enters as a constant; coefficients are +-1 (or +-1/2 for AOD) in the metric's own sign.
    scale = np.array([abs(leg.coefficient) for leg in comparison.legs])
    total = float((signs * scale * sums).sum()) / units
    variance = float((scale * scale * proxies).sum())
    radius = normal_mixture_radius(variance, alpha, rho) / units
    return total - radius, total + radius


def _edge(rejected, inside: float, outside: float, steps: int = 60) -> float:
    """Boundary between a kept value and a rejected one by bisection (``outside`` itself may be kept)."""
    if not rejected(outside):
        return outside
    for _ in range(steps):
        middle = 0.5 * (inside + outside)
        if middle in (inside, outside):  # adjacent floats: further steps change nothing
            break
        if rejected(middle):
            outside = middle
        else:
            inside = middle
    return inside
