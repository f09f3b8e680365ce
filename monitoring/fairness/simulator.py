"""Synthetic loan decisions with a controllable bias against female applicants (demo and test data).

Generative story, per applicant:

1. ``gender``: exactly ``floor(n/2)`` Female and ``ceil(n/2)`` Male rows in random order, so both groups are
   present for any ``n >= 2``.
2. An unbiased decision ``u ~ Bernoulli(0.70)`` for everyone (``BASE_APPROVAL_RATE``).
3. Drift: each approved woman is turned down with probability ``0.4 * drift_level / 0.70``, so the female
   approval rate is ``max(0, 0.70 - 0.4 * drift_level)`` in expectation while men stay at 0.70.
4. ``creditworthy`` (the true label) is ``u`` flipped with probability ``label_noise``: at drift 0 it agrees
   with ``approved`` up to that noise; under drift the extra disagreements are creditworthy women who were
   refused, which is exactly what the equal-opportunity metrics should catch.
5. ``credit_score`` and ``income`` shift mildly upwards with approval, so a classifier trained on them is
   meaningful and the explanation module finds the group difference that drift creates.

All randomness comes from a local ``numpy.random.Generator`` built from ``seed``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from monitoring.fairness.errors import InvalidParameterError

BASE_APPROVAL_RATE = 0.70
DRIFT_PENALTY = 0.4
REGIONS = ("North", "South", "East", "West")


def female_approval_rate(drift_level: float) -> float:
    """Expected female approval rate ``max(0, 0.70 - 0.4 * drift_level)`` (male rate stays 0.70)."""
    return max(0.0, BASE_APPROVAL_RATE - DRIFT_PENALTY * drift_level)


def generate_loan_data(
    n_samples: int, drift_level: float = 0.0, seed: int = 42, *, label_noise: float = 0.1
) -> pd.DataFrame:
    """Generate ``n_samples`` loan applications (see the module docstring for the model).

    Columns: ``application_id`` (1..n), ``gender`` ('Male'/'Female'), ``credit_score`` (int, 500..800),
    ``income`` (float), ``region``, ``approved`` (bool) and ``creditworthy`` (bool, the true label).
    """
    if isinstance(n_samples, bool) or not isinstance(n_samples, int | np.integer) or n_samples < 0:
        raise InvalidParameterError(f"n_samples must be a non-negative integer, got {n_samples!r}.", value=n_samples)
    if not 0.0 <= drift_level <= 1.0:
        raise InvalidParameterError(f"drift_level must lie in [0, 1], got {drift_level!r}.", value=drift_level)
    if not 0.0 <= label_noise <= 0.5:
        raise InvalidParameterError(f"label_noise must lie in [0, 0.5], got {label_noise!r}.", value=label_noise)
    n = int(n_samples)
    rng = np.random.default_rng(seed)
    is_female = rng.permutation(np.arange(n) < n // 2)
    unbiased = rng.random(n) < BASE_APPROVAL_RATE
    refusal_probability = DRIFT_PENALTY * drift_level / BASE_APPROVAL_RATE
    refused_by_drift = is_female & (rng.random(n) < refusal_probability)
    approved = unbiased & ~refused_by_drift
    creditworthy = unbiased ^ (rng.random(n) < label_noise)
    credit_score = np.clip(np.rint(rng.normal(620.0 + 60.0 * approved, 55.0)), 500, 800).astype(np.int64)
    income = np.round(rng.lognormal(np.log(42_000.0) + 0.25 * approved, 0.35), 2)
    return pd.DataFrame(
        {
            "application_id": np.arange(1, n + 1, dtype=np.int64),
            "gender": np.where(is_female, "Female", "Male"),
            "credit_score": credit_score,
            "income": income,
            "region": np.asarray(REGIONS, dtype=object)[rng.integers(0, len(REGIONS), n)],
            "approved": approved,
            "creditworthy": creditworthy,
        }
    )
