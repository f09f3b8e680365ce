"""Simulated hourly counts for the sequential evidence, run through the pure engine's vectorised kernel.

The world: two protected attributes A and B, four groups each with shares (0.4, 0.2, 0.2, 0.2) (group 0 the
reference), independent, so 16 intersection cells. Every row is labelled (half have y = 1); a cell's true
positive and false positive rates give its selection rate ``SR = (TPR + FPR) / 2``. An hour's counts of each
(cell, outcome) are Poisson with mean ``rows_per_day / 24 * share * probability`` (a Poisson total split by a
multinomial). Comparisons come from ``comparisons_for_policy`` and are advanced by ``EvidenceBatch``, the
kernel that ``advance_states`` runs for a stored check: each simulated month is a batch element.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from monitoring.fairness.comparisons import Comparison, comparisons_for_policy
from monitoring.fairness.family import alert_threshold, e_bh, pre_alert_threshold
from monitoring.fairness.policy import Band, FairnessPolicy
from monitoring.fairness.sequential import EvidenceBatch, SequentialSettings

SHARES = np.array([0.4, 0.2, 0.2, 0.2])
ATTRIBUTES = (("A",), ("B",), ("A", "B"))
LENDER_POLICY = FairnessPolicy(
    bands={
        "disparate_impact_ratio": Band(lower=0.8),
        "statistical_parity_difference": Band(lower=-0.1),
        "equal_opportunity_difference": Band(lower=-0.1),
        "average_odds_difference": Band(lower=-0.1),
        "false_positive_rate_difference": Band(lower=-0.1),
    }
)
DIR_POLICY = FairnessPolicy(bands={"disparate_impact_ratio": Band(lower=0.8)})
# Outcome order of a cell: TP, FN, FP, TN.
OUTCOMES = 4


def cells() -> list[tuple[int, int]]:
    return [(a, b) for a in range(4) for b in range(4)]


def group_labels() -> dict[tuple[str, ...], list]:
    return {("A",): [0, 1, 2, 3], ("B",): [0, 1, 2, 3], ("A", "B"): cells()}


def policy_comparisons(policy: FairnessPolicy, attributes=ATTRIBUTES) -> list[Comparison]:
    labels = group_labels()
    groups = {attribute: labels[attribute] for attribute in attributes}
    privileged = {("A",): 0, ("B",): 0, ("A", "B"): (0, 0)}
    return comparisons_for_policy(policy, groups, {a: privileged[a] for a in attributes})


def _cell_members(attribute: tuple[str, ...], group) -> np.ndarray:
    mask = np.zeros(16)
    for index, (a, b) in enumerate(cells()):
        if attribute == ("A",):
            mask[index] = a == group
        elif attribute == ("B",):
            mask[index] = b == group
        else:
            mask[index] = (a, b) == tuple(group)
    return mask


@dataclass
class LegPlan:
    """For each comparison leg: which cells it sums and which outcomes are favourable / counted."""

    masks: np.ndarray  # (E_c, L, 16)
    favourable: np.ndarray  # (L, 4) per comparison -> (E_c, L, 4)
    counted: np.ndarray


def leg_plan(comparisons: Sequence[Comparison]) -> LegPlan:
    kinds = {
        "all": ([1, 0, 1, 0], [1, 1, 1, 1]),
        "positive": ([1, 0, 0, 0], [1, 1, 0, 0]),
        "negative": ([0, 0, 1, 0], [0, 0, 1, 1]),
    }
    masks = np.array([[_cell_members(c.attribute, leg.group) for leg in c.legs] for c in comparisons])
    favourable = np.array([[kinds[leg.rows][0] for leg in c.legs] for c in comparisons], dtype=np.float64)
    counted = np.array([[kinds[leg.rows][1] for leg in c.legs] for c in comparisons], dtype=np.float64)
    return LegPlan(masks, favourable, counted)


def cell_probabilities(tpr: np.ndarray, fpr: np.ndarray) -> np.ndarray:
    """(16, 4) probabilities of TP, FN, FP, TN within each cell (base rate 1/2)."""
    return 0.5 * np.stack([tpr, 1 - tpr, fpr, 1 - fpr], axis=1)


def cell_shares() -> np.ndarray:
    return np.array([SHARES[a] * SHARES[b] for a, b in cells()])


def compliant_rates() -> tuple[np.ndarray, np.ndarray]:
    """Cells with a non-reference group in either attribute: TPR 0.75, FPR 0.15 (SR 0.45); the (0, 0) cell 0.8/0.2.

    Every intersection is then at DIR 0.9 with differences -0.05 against (0, 0); single attributes are milder.
    """
    plain = np.array([a == 0 and b == 0 for a, b in cells()])
    return np.where(plain, 0.8, 0.75), np.where(plain, 0.2, 0.15)


def parity_rates() -> tuple[np.ndarray, np.ndarray]:
    return np.full(16, 0.8), np.full(16, 0.2)


def boundary_rates() -> tuple[np.ndarray, np.ndarray]:
    """Attribute A at DIR exactly 0.8 for every group (SR 0.4 vs 0.5); B has no effect."""
    reference = np.array([a == 0 for a, _ in cells()])
    return np.where(reference, 0.8, 0.64), np.where(reference, 0.2, 0.16)


def drop_rates(ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """A-group 1 at DIR ``ratio`` of the A reference (SR 0.5); other A groups compliant (DIR 0.9); B no effect."""
    group = np.array([a for a, _ in cells()])
    scale = np.where(group == 0, 1.0, np.where(group == 1, ratio, 0.9))
    return 0.8 * scale, 0.2 * scale


def run_months(
    comparisons: Sequence[Comparison],
    rates: Callable[[int], tuple[np.ndarray, np.ndarray]],
    *,
    months: int,
    hours: int,
    rows_per_day: float,
    settings: SequentialSettings,
    family_size: int,
    explore: Sequence[int] = (),
    seed: int = 0,
    stop_at_alert: bool = False,
    cusum_thresholds: Sequence[float] = (),
) -> dict[str, np.ndarray]:
    """Run ``months`` independent series of ``hours`` hourly checks; returns per-series first alert hours etc.

    ``rates(hour)`` gives the cells' (TPR, FPR) at that hour. Alerts: a paging comparison's ``log K`` reaching
    ``log(family_size / alpha)``. ``explore``: indices of exploratory comparisons, judged with e-BH each hour.
    """
    rng = np.random.default_rng(seed)
    shares = cell_shares()
    by_legs: dict[int, list[int]] = {}
    for index, comparison in enumerate(comparisons):
        by_legs.setdefault(len(comparison.legs), []).append(index)
    batches = {}
    plans = {legs: leg_plan([comparisons[i] for i in members]) for legs, members in by_legs.items()}
    for legs, members in by_legs.items():
        coefficients = np.array([[leg.coefficient for leg in comparisons[i].legs] for i in members])
        constant = np.array([comparisons[i].constant for i in members])
        batches[legs] = EvidenceBatch(np.tile(coefficients, (months, 1)), np.tile(constant, months), settings, 0)
    paging = np.array([c.tier == "page" for c in comparisons])
    threshold = alert_threshold(family_size, settings.alpha)
    pre_threshold = pre_alert_threshold(family_size, settings.alpha)
    first_alert = np.full(months, -1)
    first_alert_comparison = np.full(months, -1)
    first_pre_alert = np.full(months, -1)
    first_finding = np.full(months, -1)
    log_e = np.zeros((months, len(comparisons)))
    cusum = np.zeros((months, len(comparisons)))
    first_cusum = np.full((len(cusum_thresholds), months), -1)
    cusum_start = np.full((len(cusum_thresholds), months), -1)
    for hour in range(hours):
        tpr, fpr = rates(hour)
        mean = rows_per_day / 24.0 * shares[:, None] * cell_probabilities(tpr, fpr)
        counts = rng.poisson(mean[None, :, :], size=(months, 16, OUTCOMES)).astype(np.float64)
        for legs, members in by_legs.items():
            # (months, comparisons, legs): sum the leg's cells, then the favourable / counted outcomes.
            plan = plans[legs]
            per_leg = np.einsum("mco,elc->melo", counts, plan.masks)
            favourable = np.einsum("melo,elo->mel", per_leg, plan.favourable)
            rows = np.einsum("melo,elo->mel", per_leg, plan.counted)
            batch = batches[legs]
            batch.advance(hour, favourable.reshape(-1, legs), rows.reshape(-1, legs))
            log_e[:, members] = batch.log_evidence().reshape(months, len(members))
            cusum[:, members] = batch.cusum.reshape(months, len(members))
        for row, level in enumerate(cusum_thresholds):
            crossed = (cusum.max(axis=1) >= level) & (first_cusum[row] < 0)
            first_cusum[row, crossed] = hour
            if len(by_legs) == 1:
                starts = next(iter(batches.values())).cusum_start.reshape(months, -1)
                cusum_start[row, crossed] = starts[crossed, cusum[crossed].argmax(axis=1)]
        page_log_e = np.where(paging[None, :], log_e, -np.inf)
        hit = page_log_e.max(axis=1) >= threshold
        new = hit & (first_alert < 0)
        first_alert[new] = hour
        first_alert_comparison[new] = page_log_e[new].argmax(axis=1)
        pre = (page_log_e.max(axis=1) >= pre_threshold) & (first_pre_alert < 0)
        first_pre_alert[pre] = hour
        if len(explore):
            found = np.array(
                [len(e_bh(np.exp(np.minimum(row[list(explore)], 700)), settings.alpha)) > 0 for row in log_e]
            )
            first_finding[found & (first_finding < 0)] = hour
        if stop_at_alert and np.all(first_alert >= 0) and (not len(cusum_thresholds) or np.all(first_cusum >= 0)):
            break
    return {
        "first_alert": first_alert,
        "first_alert_comparison": first_alert_comparison,
        "first_pre_alert": first_pre_alert,
        "first_finding": first_finding,
        "first_cusum": first_cusum,
        "cusum_start": cusum_start,
    }


def information_bound_hours(
    rate_group: float,
    rate_reference: float,
    band: float,
    share_group: float,
    share_reference: float,
    rows_per_day: float,
    alpha: float,
) -> float:
    """Hours of data a one-shot z-test of ``R_u - band * R_p >= 0`` at level ``alpha`` needs for 50% power."""
    z = NormalDist().inv_cdf(1.0 - alpha)
    mean = rate_group - band * rate_reference
    per_day = rate_group * (1 - rate_group) / (rows_per_day * share_group) + band**2 * rate_reference * (
        1 - rate_reference
    ) / (rows_per_day * share_reference)
    return 24.0 * z * z * per_day / (mean * mean)


def summary(values: np.ndarray) -> dict[str, float | int | None]:
    """Median and p90 of event hours (``-1``: not within the horizon, counted as later than any seen).

    A quantile that falls among the undetected runs is ``None`` (censored: later than the horizon).
    """
    finite = np.where(values < 0, np.inf, values.astype(np.float64))
    result: dict[str, float | int | None] = {"detected": int((values >= 0).sum()), "of": int(len(values))}
    for name, q in (("median", 50), ("p90", 90)):
        value = float(np.percentile(finite, q, method="lower")) if len(values) else math.inf
        result[name] = value if math.isfinite(value) else None
    return result
