"""Statistical explanations of a fairness gap: which features differ between groups, and by how much.

These are descriptive, not causal: a feature whose mean differs between groups is a *candidate* cause of a
selection-rate gap. For a linear model the gap in mean logit between two groups decomposes exactly into
per-feature contributions, because the mean of a linear function is the function of the means.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from monitoring.fairness.counts import counts_from_frame
from monitoring.fairness.encoding import as_array, encode_binary
from monitoring.fairness.errors import InvalidParameterError, MissingColumnError, NaNValueError
from monitoring.fairness.report import require_comparable
from monitoring.fairness.serialization import to_native

DIR_THRESHOLD = 0.8


def _group_key(value: Hashable) -> str:
    return str(value).strip().lower().replace(" ", "_")


def _require(df: pd.DataFrame, columns: Sequence[str]) -> None:
    for column in columns:
        if column not in df.columns:
            raise MissingColumnError(column, df.columns)


def _pooled_sd(first: np.ndarray, second: np.ndarray) -> float | None:
    if len(first) < 2 or len(second) < 2:
        return None
    pooled = ((len(first) - 1) * first.var(ddof=1) + (len(second) - 1) * second.var(ddof=1)) / (
        len(first) + len(second) - 2
    )
    return math.sqrt(pooled)


def _readable(value: float) -> str:
    # Scores and incomes read best as whole numbers with separators; small quantities keep 3 significant digits.
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _mean(values: np.ndarray) -> float | None:
    return float(values.mean()) if len(values) else None


def _median(values: np.ndarray) -> float | None:
    return float(np.median(values)) if len(values) else None


def analyze_feature_impact(
    df: pd.DataFrame,
    protected_attribute: str = "gender",
    numeric_cols: Sequence[str] = ("credit_score",),
    *,
    outcome: str = "approved",
    privileged: Hashable = "Male",
    unprivileged: Hashable = "Female",
    favorable_label: Any = 1,
    top_k: int = 2,
    min_effect: float = 0.1,
) -> dict[str, Any]:
    """Per-group means, medians and approval rates, and the features that differ most between the groups.

    For each numeric feature ``delta = mean_privileged - mean_unprivileged`` (positive: the unprivileged group
    has the lower mean) and the standardised difference ``d = delta / pooled_sd`` (Cohen's d). Features are
    ranked by ``|d|``; the top ``top_k`` with ``|d| >= min_effect`` become ``likely_causes``, followed by the
    approval-rate gap when the unprivileged group is approved less often. Stats are keyed like
    ``female_mean_credit_score`` and ``male_approval_rate``; values of an absent group are ``None``.
    """
    if top_k < 0:
        raise InvalidParameterError(f"top_k must be non-negative, got {top_k!r}.")
    _require(df, [protected_attribute, outcome, *numeric_cols])
    grouped = counts_from_frame(df, protected_attribute, prediction=outcome, favorable_label=favorable_label)
    require_comparable(grouped, privileged)
    approved = encode_binary(df[outcome], outcome, favorable_label)
    favorable = approved.indicator.astype(bool) ^ approved.flipped
    membership = as_array(df[protected_attribute])
    in_group = {
        role: membership == value for role, value in (("privileged", privileged), ("unprivileged", unprivileged))
    }
    stats: dict[str, Any] = {}
    differences = []
    for column in numeric_cols:
        values = as_array(df[column]).astype(np.float64)
        if np.isnan(values).any():
            raise NaNValueError(column, int(np.isnan(values).sum()))
        privileged_values, unprivileged_values = values[in_group["privileged"]], values[in_group["unprivileged"]]
        for label, group_values in ((privileged, privileged_values), (unprivileged, unprivileged_values)):
            stats[f"{_group_key(label)}_mean_{column}"] = _mean(group_values)
            stats[f"{_group_key(label)}_median_{column}"] = _median(group_values)
        privileged_mean, unprivileged_mean = _mean(privileged_values), _mean(unprivileged_values)
        delta = None if privileged_mean is None or unprivileged_mean is None else privileged_mean - unprivileged_mean
        spread = _pooled_sd(privileged_values, unprivileged_values)
        standardized = None if delta is None or not spread else delta / spread
        differences.append(
            {
                "feature": column,
                "privileged_mean": privileged_mean,
                "unprivileged_mean": unprivileged_mean,
                "delta": delta,
                "standardized_difference": standardized,
            }
        )
    rates = {}
    for label, role in ((privileged, "privileged"), (unprivileged, "unprivileged")):
        members = in_group[role]
        rates[role] = float(favorable[members].mean()) if members.any() else None
        stats[f"{_group_key(label)}_approval_rate"] = rates[role]
    differences.sort(key=lambda item: -abs(item["standardized_difference"] or 0.0))
    causes = []
    for item in differences:
        effect = item["standardized_difference"]
        if len(causes) >= top_k or effect is None or abs(effect) < min_effect:
            continue
        direction = "Lower" if effect > 0 else "Higher"
        causes.append(
            f"{direction} average {item['feature']} for {unprivileged} "
            f"({_readable(item['unprivileged_mean'])} vs {_readable(item['privileged_mean'])} for {privileged})"
        )
    if (
        rates["unprivileged"] is not None
        and rates["privileged"] is not None
        and rates["unprivileged"] < rates["privileged"]
    ):
        causes.append(
            f"Lower {unprivileged} approval rate "
            f"({rates['unprivileged']:.2f} vs {rates['privileged']:.2f} for {privileged})"
        )
    return to_native(
        {
            "likely_causes": causes,
            "stats": stats,
            "feature_differences": differences,
            "delta_direction": "privileged_mean - unprivileged_mean",
        }
    )


def generate_explanation(dir_value: float | None, causes_list: Sequence[str], threshold: float = DIR_THRESHOLD) -> str:
    """Human-readable verdict with the prototype's wording.

    ``None`` -> "DIR not computable: male approval rate zero."; ``dir < threshold`` -> "DIR = 0.64 (<0.8).
    Potential bias — likely causes: a, b."; otherwise "DIR = 0.85 (>=0.8). System considered fair; possible
    minor contributing factors: a, b." (two decimals; "none identified" for an empty list).
    """
    if dir_value is None:
        return "DIR not computable: male approval rate zero."
    listed = ", ".join(causes_list) if causes_list else "none identified"
    if dir_value < threshold:
        return f"DIR = {dir_value:.2f} (<{threshold:g}). Potential bias — likely causes: {listed}."
    return (
        f"DIR = {dir_value:.2f} (>={threshold:g}). "
        f"System considered fair; possible minor contributing factors: {listed}."
    )


@dataclass(frozen=True)
class FeatureContribution:
    """``contribution = coefficient * (privileged_mean - unprivileged_mean)`` in logit units."""

    feature: str
    coefficient: float
    privileged_mean: float
    unprivileged_mean: float
    contribution: float


@dataclass(frozen=True)
class LogitGapDecomposition:
    """``gap = mean logit(privileged) - mean logit(unprivileged) = sum of contributions`` (exact for a linear model)."""

    privileged_mean_logit: float
    unprivileged_mean_logit: float
    gap: float
    contributions: tuple[FeatureContribution, ...]


def _linear_parts(model: Any, features: pd.DataFrame) -> tuple[np.ndarray, float, list[str], np.ndarray]:
    """Return (design matrix, intercept, feature names, coefficients); pipelines are transformed up to the last step."""
    estimator = model
    design: Any = features
    names = [str(name) for name in features.columns]
    steps = getattr(model, "steps", None)
    if steps:
        head = model[:-1]
        estimator = steps[-1][1]
        design = head.transform(features)
        get_names = getattr(head, "get_feature_names_out", None)
        names = (
            [str(name) for name in get_names()] if callable(get_names) else [f"x{i}" for i in range(design.shape[1])]
        )
    coefficients = np.asarray(getattr(estimator, "coef_", None), dtype=np.float64)
    if coefficients.ndim == 0:
        raise InvalidParameterError("The model has no linear coefficients (coef_).")
    if coefficients.ndim == 2:
        if coefficients.shape[0] != 1:
            raise InvalidParameterError("Only binary linear models (one row of coefficients) can be decomposed.")
        coefficients = coefficients[0]
    intercept = float(np.ravel(getattr(estimator, "intercept_", 0.0))[0])
    matrix = np.asarray(design, dtype=np.float64)
    if matrix.shape[1] != len(coefficients):
        raise InvalidParameterError(
            f"The model has {len(coefficients)} coefficients but X has {matrix.shape[1]} columns."
        )
    return matrix, intercept, names, coefficients


def decompose_logit_gap(
    model: Any, features: pd.DataFrame, groups: Any, privileged: Hashable, unprivileged: Hashable
) -> LogitGapDecomposition:
    """Split the mean-logit gap between two groups into per-feature contributions for a linear model.

    ``logit(x) = b0 + sum_j b_j x_j``, so ``mean_p logit - mean_u logit = sum_j b_j (mean_p x_j - mean_u x_j)``.
    ``model`` is a fitted linear classifier (``coef_``, ``intercept_``) or a scikit-learn Pipeline ending in
    one, whose earlier steps are applied first (contributions are then per transformed feature).
    """
    labels = as_array(groups)
    if len(labels) != len(features):
        raise InvalidParameterError(f"groups has {len(labels)} rows but features has {len(features)}.")
    matrix, intercept, names, coefficients = _linear_parts(model, features)
    masks = {"privileged": labels == privileged, "unprivileged": labels == unprivileged}
    for role, mask in masks.items():
        if not mask.any():
            raise InvalidParameterError(
                f"No rows for the {role} group.", value=privileged if role == "privileged" else unprivileged
            )
    privileged_means = matrix[masks["privileged"]].mean(axis=0)
    unprivileged_means = matrix[masks["unprivileged"]].mean(axis=0)
    contributions = [
        FeatureContribution(name, float(coef), float(p), float(u), float(coef * (p - u)))
        for name, coef, p, u in zip(names, coefficients, privileged_means, unprivileged_means, strict=True)
    ]
    contributions.sort(key=lambda item: -abs(item.contribution))
    privileged_logit = float(intercept + privileged_means @ coefficients)
    unprivileged_logit = float(intercept + unprivileged_means @ coefficients)
    return LogitGapDecomposition(
        privileged_mean_logit=privileged_logit,
        unprivileged_mean_logit=unprivileged_logit,
        gap=privileged_logit - unprivileged_logit,
        contributions=tuple(contributions),
    )
