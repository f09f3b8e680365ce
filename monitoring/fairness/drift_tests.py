"""Two-sample drift tests between a reference and a current sample, from raw values or fixed-bin histograms.

Histogram versions let the platform test stored rollups (per-window bin counts) without row data. Their
approximations, for bin edges ``e_0 < ... < e_B`` and counts per bin:

* KS: the statistic is the largest gap between the two empirical CDFs evaluated at the bin edges only, so it
  never exceeds the raw-data statistic (the test is conservative); the p-value uses the same asymptotic
  Kolmogorov distribution as ``scipy.stats.ks_2samp(method="asymp")``.
* Wasserstein-1: every value is placed at its bin midpoint, giving ``W = sum_i |F_r(i) - F_c(i)| (m_{i+1} - m_i)``;
  the error against raw data is at most one bin width.
* PSI and chi-square work on counts by definition, so histogram and raw versions agree exactly.

PSI: ``sum_i (c_i - r_i) ln(c_i / r_i)`` over bin proportions, where an empty bin's proportion is replaced by
``epsilon`` (1e-4 by default) so the logarithm stays finite; the usual reading is < 0.1 stable, 0.1-0.25
moderate, > 0.25 a major shift, and 0.25 is the default drift threshold.

Input: samples and histogram counts must be finite numbers; NaN/None raises :class:`NaNValueError`, infinite
or non-numeric values raise :class:`InvalidParameterError` (an infinite value would silently turn a statistic
into NaN and "no drift"). Only bin edges may be infinite (the open outer edges of ``quantile_bin_edges``).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from monitoring.fairness.encoding import as_array
from monitoring.fairness.errors import InvalidParameterError, LengthMismatchError, NaNValueError

PSI_EPSILON = 1e-4
PSI_THRESHOLD = 0.25
WASSERSTEIN_THRESHOLD = 0.1
ALPHA = 0.05


@dataclass(frozen=True)
class DriftTestResult:
    """One drift test: ``drifted`` compares the p-value with ``threshold`` (alpha) for KS and chi-square, and
    the statistic with ``threshold`` for Wasserstein and PSI. ``statistic`` is ``None`` (with ``reason``) when
    the test is undefined, e.g. for an empty sample."""

    test: str
    statistic: float | None
    p_value: float | None
    threshold: float
    drifted: bool | None
    n_reference: float
    n_current: float
    reason: str | None = None


def _numeric(values: Any, column: str, *, allow_infinite: bool = False) -> np.ndarray:
    array = as_array(values)
    if array.dtype.kind not in "biuf":
        # Object arrays may hold None or pd.NA (missing) or text (invalid); tell the two apart before converting.
        missing = np.asarray(pd.isna(array))
        if missing.any():
            raise NaNValueError(column, int(missing.sum()))
        try:
            array = array.astype(np.float64)
        except (TypeError, ValueError):
            raise InvalidParameterError(f"{column!r} must hold numbers.", column=column) from None
    array = array.astype(np.float64, copy=False)
    missing = np.isnan(array)
    if missing.any():
        raise NaNValueError(column, int(missing.sum()))
    if not allow_infinite and not np.isfinite(array).all():
        raise InvalidParameterError(f"{column!r} must hold finite numbers.", column=column)
    return array


def _counts(values: Any, column: str) -> np.ndarray:
    array = _numeric(values, column)
    if len(array) and array.min() < 0:
        raise InvalidParameterError(f"Histogram counts in {column!r} must be non-negative.", column=column)
    return array


def _undefined(test: str, threshold: float, n_reference: float, n_current: float, reason: str) -> DriftTestResult:
    return DriftTestResult(test, None, None, threshold, None, n_reference, n_current, reason)


def _paired_histograms(reference_counts: Any, current_counts: Any) -> tuple[np.ndarray, np.ndarray]:
    reference = _counts(reference_counts, "reference_counts")
    current = _counts(current_counts, "current_counts")
    if len(reference) != len(current):
        raise LengthMismatchError("current_counts", len(reference), len(current))
    return reference, current


def ks_test(reference: Any, current: Any, alpha: float = ALPHA) -> DriftTestResult:
    """Two-sample Kolmogorov-Smirnov test ``D = sup_x |F_ref(x) - F_cur(x)|`` (scipy); drifted when ``p < alpha``."""
    ref, cur = _numeric(reference, "reference"), _numeric(current, "current")
    if not len(ref) or not len(cur):
        return _undefined("ks", alpha, len(ref), len(cur), "empty_sample")
    result = stats.ks_2samp(ref, cur)
    p_value = float(result.pvalue)
    return DriftTestResult("ks", float(result.statistic), p_value, alpha, p_value < alpha, len(ref), len(cur))


def ks_test_from_histograms(reference_counts: Any, current_counts: Any, alpha: float = ALPHA) -> DriftTestResult:
    """KS test on fixed-bin counts: ``D = max_i |F_ref(e_i) - F_cur(e_i)|``, asymptotic p-value (see module)."""
    reference, current = _paired_histograms(reference_counts, current_counts)
    n_ref, n_cur = float(reference.sum()), float(current.sum())
    if n_ref <= 0 or n_cur <= 0:
        return _undefined("ks_histogram", alpha, n_ref, n_cur, "empty_sample")
    statistic = float(np.max(np.abs(np.cumsum(reference) / n_ref - np.cumsum(current) / n_cur)))
    effective = round(n_ref * n_cur / (n_ref + n_cur))
    p_value = float(np.clip(stats.kstwo.sf(statistic, max(effective, 1)), 0.0, 1.0))
    return DriftTestResult("ks_histogram", statistic, p_value, alpha, p_value < alpha, n_ref, n_cur)


def _wasserstein_result(
    test: str, distance: float, spread: float | None, threshold: float, n_ref: float, n_cur: float
) -> DriftTestResult:
    if spread is None:
        return DriftTestResult(test, distance, None, threshold, distance > threshold, n_ref, n_cur)
    if spread <= 0:
        return _undefined(test, threshold, n_ref, n_cur, "zero_reference_spread")
    statistic = distance / spread
    return DriftTestResult(test, statistic, None, threshold, statistic > threshold, n_ref, n_cur)


def wasserstein_drift(
    reference: Any, current: Any, threshold: float = WASSERSTEIN_THRESHOLD, *, normalize: bool = True
) -> DriftTestResult:
    """Wasserstein-1 distance ``W = integral |F_ref - F_cur| dx`` (scipy); drifted when ``W > threshold``.

    With ``normalize`` (default) ``W`` is divided by the reference standard deviation so one threshold fits
    features of any scale; undefined (``zero_reference_spread``) when the reference is constant.
    """
    ref, cur = _numeric(reference, "reference"), _numeric(current, "current")
    if not len(ref) or not len(cur):
        return _undefined("wasserstein", threshold, len(ref), len(cur), "empty_sample")
    distance = float(stats.wasserstein_distance(ref, cur))
    spread = float(np.std(ref)) if normalize else None
    return _wasserstein_result("wasserstein", distance, spread, threshold, len(ref), len(cur))


def wasserstein_from_histograms(
    edges: Any,
    reference_counts: Any,
    current_counts: Any,
    threshold: float = WASSERSTEIN_THRESHOLD,
    *,
    normalize: bool = True,
) -> DriftTestResult:
    """Wasserstein-1 distance of fixed-bin counts with each bin's mass at its midpoint (see module).

    ``edges`` are the ``B + 1`` finite bin edges; normalisation uses the midpoint standard deviation of the
    reference histogram.
    """
    reference, current = _paired_histograms(reference_counts, current_counts)
    edge_array = _numeric(edges, "edges")
    if len(edge_array) != len(reference) + 1 or not np.isfinite(edge_array).all() or np.any(np.diff(edge_array) <= 0):
        raise InvalidParameterError("edges must be B + 1 finite, strictly increasing values for B bins.")
    n_ref, n_cur = float(reference.sum()), float(current.sum())
    if n_ref <= 0 or n_cur <= 0:
        return _undefined("wasserstein_histogram", threshold, n_ref, n_cur, "empty_sample")
    midpoints = (edge_array[:-1] + edge_array[1:]) / 2.0
    gaps = np.abs(np.cumsum(reference)[:-1] / n_ref - np.cumsum(current)[:-1] / n_cur)
    distance = float(np.sum(gaps * np.diff(midpoints)))
    spread = None
    if normalize:
        mean = float(np.sum(midpoints * reference) / n_ref)
        spread = float(np.sqrt(np.sum(reference * (midpoints - mean) ** 2) / n_ref))
    return _wasserstein_result("wasserstein_histogram", distance, spread, threshold, n_ref, n_cur)


def psi_from_histograms(
    reference_counts: Any, current_counts: Any, threshold: float = PSI_THRESHOLD, *, epsilon: float = PSI_EPSILON
) -> DriftTestResult:
    """Population stability index ``sum_i (c_i - r_i) ln(c_i / r_i)`` of bin proportions.

    Empty bins take the proportion ``epsilon`` (see the module docstring).
    """
    if not 0 < epsilon < 1:
        raise InvalidParameterError(f"epsilon must lie in (0, 1), got {epsilon!r}.")
    reference, current = _paired_histograms(reference_counts, current_counts)
    n_ref, n_cur = float(reference.sum()), float(current.sum())
    if n_ref <= 0 or n_cur <= 0:
        return _undefined("psi", threshold, n_ref, n_cur, "empty_sample")
    ref_share = np.maximum(reference / n_ref, epsilon)
    cur_share = np.maximum(current / n_cur, epsilon)
    statistic = float(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share)))
    return DriftTestResult("psi", statistic, None, threshold, statistic > threshold, n_ref, n_cur)


def _is_bin_count(bins: Any) -> bool:
    return isinstance(bins, int | np.integer) and not isinstance(bins, bool | np.bool_)


def quantile_bin_edges(reference: Any, bins: int = 10) -> np.ndarray:
    """Edges at the reference quantiles ``k / bins`` (duplicates removed), with open outer edges ``-inf``/``inf``."""
    if not _is_bin_count(bins) or bins < 1:
        raise InvalidParameterError(f"bins must be a positive integer, got {bins!r}.", value=repr(bins))
    bins = int(bins)
    ref = _numeric(reference, "reference")
    if not len(ref):
        return np.array([-np.inf, np.inf])
    inner = np.unique(np.quantile(ref, np.linspace(0.0, 1.0, bins + 1)[1:-1]))
    return np.concatenate(([-np.inf], inner, [np.inf]))


def fixed_bin_counts(values: Any, edges: Any) -> np.ndarray:
    """Counts of ``values`` in the bins ``[e_i, e_{i+1})`` (last bin closed); values outside the edges are
    counted in the outer bins, so rollups with fixed edges never lose rows."""
    array = _numeric(values, "values")
    edge_array = _numeric(edges, "edges", allow_infinite=True)
    if len(edge_array) < 2 or np.any(np.diff(edge_array) <= 0):
        raise InvalidParameterError("edges must hold at least two strictly increasing values.")
    positions = np.searchsorted(edge_array, array, side="right") - 1
    positions = np.clip(positions, 0, len(edge_array) - 2)
    return np.bincount(positions, minlength=len(edge_array) - 1)


def population_stability_index(
    reference: Any,
    current: Any,
    bins: int | Any = 10,
    threshold: float = PSI_THRESHOLD,
    *,
    epsilon: float = PSI_EPSILON,
) -> DriftTestResult:
    """PSI of raw values binned at the reference deciles (or ``bins`` quantiles, or explicit edges).

    ``bins`` is a positive integer (Python or numpy) or a 1-D array of edges.
    """
    if isinstance(bins, bool | np.bool_):
        raise InvalidParameterError(f"bins must be a positive integer or an array of edges, got {bins!r}.")
    edges = quantile_bin_edges(reference, bins) if _is_bin_count(bins) else _numeric(bins, "bins", allow_infinite=True)
    return psi_from_histograms(
        fixed_bin_counts(reference, edges), fixed_bin_counts(current, edges), threshold, epsilon=epsilon
    )


def chi_square_from_counts(
    reference_counts: Mapping[Hashable, float], current_counts: Mapping[Hashable, float], alpha: float = ALPHA
) -> DriftTestResult:
    """Pearson chi-square test of homogeneity on the 2 x K table of category counts (no Yates correction).

    Categories absent from both samples are dropped; with fewer than two categories left the statistic is 0
    and the p-value undefined (both samples hold one and the same category, so nothing drifted).
    """
    categories = list(dict.fromkeys([*reference_counts, *current_counts]))
    try:
        table = np.array(
            [[reference_counts.get(key, 0) for key in categories], [current_counts.get(key, 0) for key in categories]],
            dtype=np.float64,
        ).reshape(2, len(categories))
    except (TypeError, ValueError):
        raise InvalidParameterError("Category counts must be non-negative numbers.") from None
    if not np.isfinite(table).all() or (table < 0).any():
        raise InvalidParameterError("Category counts must be finite, non-negative numbers.")
    table = table[:, table.sum(axis=0) > 0]
    n_ref, n_cur = float(table[0].sum()), float(table[1].sum())
    if n_ref <= 0 or n_cur <= 0:
        return _undefined("chi_square", alpha, n_ref, n_cur, "empty_sample")
    if table.shape[1] < 2:
        return DriftTestResult("chi_square", 0.0, None, alpha, False, n_ref, n_cur, "single_category")
    result = stats.chi2_contingency(table, correction=False)
    p_value = float(result.pvalue)
    return DriftTestResult("chi_square", float(result.statistic), p_value, alpha, p_value < alpha, n_ref, n_cur)


def category_counts(values: Any, column: str = "values") -> dict[Hashable, int]:
    """Counts per category of raw categorical values; missing values raise :class:`NaNValueError`."""
    series = pd.Series(as_array(values), dtype=object)
    missing = series.isna()
    if missing.any():
        raise NaNValueError(column, int(missing.sum()))
    return {key: int(count) for key, count in series.value_counts(sort=False).items()}


def chi_square_test(reference: Any, current: Any, alpha: float = ALPHA) -> DriftTestResult:
    """Chi-square test of homogeneity on raw categorical values (counts each sample, then as above)."""
    return chi_square_from_counts(category_counts(reference, "reference"), category_counts(current, "current"), alpha)
