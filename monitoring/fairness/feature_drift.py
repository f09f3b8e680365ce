"""Input drift per (feature, group) from binned counts, with an anytime-valid error control.

Each tested cell is one declared non-identifier feature in one group of one protected attribute, summarised as
bin counts (numeric: fixed bins; categorical: one bin per category) for a baseline and for each closed hour.

Evidence: a sequential universal-inference likelihood ratio (Wasserman, Ramdas & Balakrishnan 2020) for the
composite null "the baseline rows and every hour's rows are draws from one and the same, unknown bin
distribution". The numerator is the likelihood of a predictable alternative that lets the stream follow its own
distribution: the baseline's rows under their Dirichlet(``prior``) predictive (the Dirichlet-multinomial
marginal) and each stream row under the add-pseudo-count estimate from the stream rows before it, the
pseudo-counts being ``prior`` per bin plus the baseline's shares worth ``BASELINE_WEIGHT`` rows. Row by row,
not hour by hour: an hour predicted at once from earlier hours would pay its whole divergence before learning
from it (150 rows x 0.5 nats = 75 nats for a clear shift), and the product over an hour's rows is the same in
any order, so counts suffice. The denominator is the null likelihood of all rows so far at its maximum (the
pooled shares). For any fixed null distribution the numerator over that distribution's likelihood is a test
martingale, and the maximum only lowers the ratio, so the e-process ever exceeds ``1 / alpha`` with
probability at most ``alpha`` however often it is read (Ville). The baseline's own estimation error is part of
the null, not assumed away; its price is a fixed penalty of about ``(B - 1) / 2 * ln(n_baseline)``.

Family: all cells of one check are combined with e-BH at ``alpha`` (valid for e-values under any dependence),
which controls the false discovery rate among the findings and, when no cell drifted, the chance of any
finding. Findings are exploratory: they are shown, never paged.

Descriptive statistics shown beside the evidence use the latest window against the baseline: Wasserstein-1
(numeric, on histograms) or chi-square (categorical), and PSI.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import gammaln

from monitoring.fairness.drift_tests import chi_square_from_counts, psi_from_histograms, wasserstein_from_histograms
from monitoring.fairness.errors import InvalidParameterError
from monitoring.fairness.family import e_bh

NUMERIC = "numeric"
CATEGORICAL = "categorical"
# Dirichlet pseudo-count per bin (Jeffreys): keeps every predictive share positive and the logarithm finite.
DEFAULT_PRIOR = 0.5
# The stream's predictive starts at the baseline's shares, worth this many rows, and then follows the stream's
# own counts (a uniform start costs a few nats more under no drift).
BASELINE_WEIGHT = 20.0


def _counts(values: Any, name: str) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidParameterError(f"{name} must be a list of non-negative counts.") from None
    if array.ndim != 1 or not np.isfinite(array).all() or (array < 0).any():
        raise InvalidParameterError(f"{name} must be a list of finite, non-negative counts.")
    return array


def _dirichlet_multinomial_log_marginal(counts: np.ndarray, prior: float | np.ndarray) -> np.ndarray:
    """Log-probability of one sequence with these counts (bins on the last axis) under the Dirichlet(``prior``)
    predictive (scalar or per bin): the product of the add-prior predictive shares row by row, in any order."""
    alphas = np.broadcast_to(np.asarray(prior, dtype=np.float64), counts.shape[-1:])
    return (
        gammaln(alphas.sum())
        - gammaln(counts.sum(axis=-1) + alphas.sum())
        + np.sum(gammaln(counts + alphas) - gammaln(alphas), axis=-1)
    )


def _log_likelihood_at_shares(counts: np.ndarray) -> np.ndarray:
    """The multinomial log-likelihood of counts (bins on the last axis) at their own shares: the null's maximum."""
    totals = counts.sum(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sum(np.where(counts > 0, counts * np.log(counts / totals), 0.0), axis=-1)


def _hour_table(hourly_counts: Sequence[Sequence[float]], bins: int) -> np.ndarray:
    """The hours as one (hours x bins) array, validated at once (a month of hours is 720 rows)."""
    if len(hourly_counts) == 0:
        return np.zeros((0, bins))
    try:
        table = np.asarray(hourly_counts, dtype=np.float64)
    except (TypeError, ValueError):  # ragged rows or non-numbers
        table = None
    if table is None or table.ndim != 2 or table.shape[1] != bins:
        raise InvalidParameterError("Every hour needs one count per baseline bin.")
    if not np.isfinite(table).all() or (table < 0).any():
        raise InvalidParameterError("hourly_counts must hold finite, non-negative counts.")
    return table


def stream_prior(baseline: np.ndarray, prior: float, baseline_weight: float) -> np.ndarray:
    """The stream's Dirichlet pseudo-counts: ``prior`` per bin plus the baseline's shares worth
    ``baseline_weight`` rows."""
    return prior + baseline_weight * (baseline + prior) / (baseline.sum() + prior * len(baseline))


def log_e_from_counts(
    baseline_counts: Sequence[float],
    stream_counts: Sequence[float],
    *,
    prior: float = DEFAULT_PRIOR,
    baseline_weight: float = BASELINE_WEIGHT,
) -> float:
    """Log of the e-process once the stream holds ``stream_counts`` rows per bin (see module).

    The predictive alternative updates row by row, so its likelihood depends on the counts only: the stream's
    Dirichlet-multinomial marginal under :func:`stream_prior`. Reading it at the end of each hour is reading the
    row-level e-process at those times, however many rows an hour holds.
    """
    return float(log_e_of_streams(baseline_counts, [stream_counts], prior=prior, baseline_weight=baseline_weight)[0])


def log_e_of_streams(
    baseline_counts: Sequence[float],
    streams: Sequence[Sequence[float]],
    *,
    prior: float = DEFAULT_PRIOR,
    baseline_weight: float = BASELINE_WEIGHT,
) -> np.ndarray:
    """:func:`log_e_from_counts` of several streams against one baseline at once (a cell's restarted runs)."""
    if not prior > 0 or baseline_weight < 0:
        raise InvalidParameterError("prior must be positive and baseline_weight non-negative.")
    baseline = _counts(baseline_counts, "baseline_counts")
    table = _hour_table(streams, len(baseline))
    if len(baseline) < 2:
        return np.zeros(len(table))
    return (
        _dirichlet_multinomial_log_marginal(baseline, prior)
        + _dirichlet_multinomial_log_marginal(table, stream_prior(baseline, prior, baseline_weight))
        - _log_likelihood_at_shares(baseline + table)
    )


def multinomial_log_e_value(
    baseline_counts: Sequence[float], hourly_counts: Sequence[Sequence[float]], *, prior: float = DEFAULT_PRIOR
) -> float:
    """Log of the sequential universal-inference e-process after the given closed hours (see module)."""
    baseline = _counts(baseline_counts, "baseline_counts")
    if len(baseline) < 2:
        return 0.0
    stream = _hour_table(hourly_counts, len(baseline)).sum(axis=0)
    return log_e_from_counts(baseline, stream, prior=prior)


@dataclass(frozen=True)
class FeatureCell:
    """One feature in one group: ``edges`` (B + 1 finite values) for numeric bins, ``categories`` otherwise."""

    feature: str
    attribute: str
    group: str
    kind: str
    baseline: Sequence[float]
    hours: Sequence[Sequence[float]]
    edges: Sequence[float] | None = None
    categories: Sequence[str] | None = None


def _window_statistics(cell: FeatureCell) -> dict[str, Any]:
    window = (
        np.sum(np.asarray(cell.hours, dtype=np.float64), axis=0) if len(cell.hours) else np.zeros(len(cell.baseline))
    )
    if cell.kind == NUMERIC:
        if cell.edges is None:
            raise InvalidParameterError(f"Numeric feature {cell.feature!r} needs bin edges.")
        distance = wasserstein_from_histograms(cell.edges, cell.baseline, window)
        distance_payload = {"test": distance.test, "statistic": distance.statistic, "reason": distance.reason}
    elif cell.kind == CATEGORICAL:
        names = list(cell.categories or [str(index) for index in range(len(cell.baseline))])
        if len(names) != len(cell.baseline):
            raise InvalidParameterError(f"Categorical feature {cell.feature!r} needs one name per bin.")
        distance = chi_square_from_counts(
            dict(zip(names, cell.baseline, strict=True)), dict(zip(names, window, strict=True))
        )
        distance_payload = {
            "test": distance.test,
            "statistic": distance.statistic,
            "p_value": distance.p_value,
            "reason": distance.reason,
        }
    else:
        raise InvalidParameterError(f"Feature kind must be {NUMERIC!r} or {CATEGORICAL!r}, got {cell.kind!r}.")
    psi = psi_from_histograms(cell.baseline, window)
    return {
        "distance": distance_payload,
        "psi": psi.statistic,
        "n_baseline": float(np.sum(cell.baseline)),
        "n_window": float(window.sum()),
    }


def feature_drift_findings(cells: Sequence[FeatureCell], alpha: float, *, prior: float = DEFAULT_PRIOR) -> list[dict]:
    """Every cell's statistics and e-value, with ``finding`` set for the cells e-BH rejects at ``alpha``."""
    if not 0.0 < alpha < 1.0:
        raise InvalidParameterError("Need 0 < alpha < 1.")
    log_e_values = [multinomial_log_e_value(cell.baseline, cell.hours, prior=prior) for cell in cells]
    return findings_from_log_e(cells, log_e_values, alpha)


def findings_from_log_e(cells: Sequence[FeatureCell], log_e_values: Sequence[float], alpha: float) -> list[dict]:
    """The cells' statistics beside their e-values, ``finding`` set where e-BH at ``alpha`` rejects; a cell's
    ``hours`` give its window statistics only (the e-values may come from a longer, carried stream)."""
    if not 0.0 < alpha < 1.0:
        raise InvalidParameterError("Need 0 < alpha < 1.")
    # e-BH compares e-values with m / (alpha k); capping the log keeps exp() finite without changing a decision.
    cap = math.log(max(len(cells), 1) / alpha) + 1.0
    rejected = set(e_bh([math.exp(min(value, cap)) for value in log_e_values], alpha))
    return [
        {
            "feature": cell.feature,
            "attribute": cell.attribute,
            "group": cell.group,
            "kind": cell.kind,
            "log_e_value": float(log_e),
            "finding": index in rejected,
            "tier": "exploratory",
            **_window_statistics(cell),
        }
        for index, (cell, log_e) in enumerate(zip(cells, log_e_values, strict=True))
    ]
