"""Feature and score drift between a reference and a current DataFrame, overall and per protected group.

Numeric columns get KS, normalised Wasserstein and PSI (reference-decile bins); categorical columns get
chi-square and PSI over category shares. Per-group results show whether drift hits one group harder, which
is what turns data drift into fairness drift.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import pandas as pd

from monitoring.fairness.drift_tests import (
    ALPHA,
    PSI_THRESHOLD,
    WASSERSTEIN_THRESHOLD,
    DriftTestResult,
    category_counts,
    chi_square_from_counts,
    ks_test,
    population_stability_index,
    psi_from_histograms,
    wasserstein_drift,
)
from monitoring.fairness.errors import MissingColumnError


@dataclass(frozen=True)
class FeatureDrift:
    """Drift tests of one column within one scope (``group`` is ``None`` for all rows)."""

    feature: str
    group: Hashable | None
    kind: str
    tests: dict[str, DriftTestResult]

    @property
    def drifted(self) -> bool:
        """True when any defined test flags drift."""
        return any(result.drifted for result in self.tests.values())


@dataclass(frozen=True)
class DriftReport:
    """All feature drift results; ``drifted_features`` lists ``(feature, group)`` pairs that drifted."""

    group_column: str | None
    results: tuple[FeatureDrift, ...]

    @property
    def drifted_features(self) -> tuple[tuple[str, Hashable | None], ...]:
        """The ``(feature, group)`` scopes where at least one test flagged drift."""
        return tuple((item.feature, item.group) for item in self.results if item.drifted)

    @property
    def drifted(self) -> bool:
        """True when any feature drifted in any scope."""
        return bool(self.drifted_features)


def numeric_drift(
    reference: pd.Series,
    current: pd.Series,
    *,
    alpha: float = ALPHA,
    psi_threshold: float = PSI_THRESHOLD,
    wasserstein_threshold: float = WASSERSTEIN_THRESHOLD,
    bins: int = 10,
) -> dict[str, DriftTestResult]:
    """KS, normalised Wasserstein and PSI of one numeric column."""
    return {
        "ks": ks_test(reference, current, alpha),
        "wasserstein": wasserstein_drift(reference, current, wasserstein_threshold),
        "psi": population_stability_index(reference, current, bins, psi_threshold),
    }


def categorical_drift(
    reference: pd.Series, current: pd.Series, *, alpha: float = ALPHA, psi_threshold: float = PSI_THRESHOLD
) -> dict[str, DriftTestResult]:
    """Chi-square and PSI over the category shares of one categorical column."""
    ref_counts = category_counts(reference, "reference")
    cur_counts = category_counts(current, "current")
    categories = list(dict.fromkeys([*ref_counts, *cur_counts]))
    return {
        "chi_square": chi_square_from_counts(ref_counts, cur_counts, alpha),
        "psi": psi_from_histograms(
            [ref_counts.get(key, 0) for key in categories],
            [cur_counts.get(key, 0) for key in categories],
            psi_threshold,
        ),
    }


def feature_drift_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    numeric: Sequence[str] = (),
    categorical: Sequence[str] = (),
    group_column: str | None = None,
    alpha: float = ALPHA,
    psi_threshold: float = PSI_THRESHOLD,
    wasserstein_threshold: float = WASSERSTEIN_THRESHOLD,
    bins: int = 10,
) -> DriftReport:
    """Run the numeric and categorical drift tests on every listed column, overall and (with ``group_column``)
    within every group present in either frame."""
    for frame in (reference, current):
        for column in [*numeric, *categorical, *([group_column] if group_column else [])]:
            if column not in frame.columns:
                raise MissingColumnError(column, frame.columns)
    scopes: list[tuple[Hashable | None, pd.DataFrame, pd.DataFrame]] = [(None, reference, current)]
    if group_column is not None:
        labels = list(dict.fromkeys([*reference[group_column].dropna(), *current[group_column].dropna()]))
        for label in labels:
            scopes.append((label, reference[reference[group_column] == label], current[current[group_column] == label]))
    results = []
    for label, ref_scope, cur_scope in scopes:
        for column in numeric:
            tests = numeric_drift(
                ref_scope[column],
                cur_scope[column],
                alpha=alpha,
                psi_threshold=psi_threshold,
                wasserstein_threshold=wasserstein_threshold,
                bins=bins,
            )
            results.append(FeatureDrift(column, label, "numeric", tests))
        for column in categorical:
            tests = categorical_drift(ref_scope[column], cur_scope[column], alpha=alpha, psi_threshold=psi_threshold)
            results.append(FeatureDrift(column, label, "categorical", tests))
    return DriftReport(group_column, tuple(results))
