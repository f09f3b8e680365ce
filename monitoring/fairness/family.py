"""Error control across every comparison a policy makes: what pages, what is a finding, what resolves.

The split, and why
------------------
* **Paging tier: single protected attributes, family-wise control.** With ``m`` paging comparisons, comparison
  ``j`` alerts when its e-process reaches ``m / alpha``. E-values need no independence: if every null holds,
  ``P(any K_j ever >= m / alpha) <= sum_j alpha / m = alpha`` by Ville's inequality and a union bound, however
  strongly the comparisons are correlated (they share reference rows). A page is an interruption a compliance
  team must act on, so it carries the strongest guarantee.
* **Exploratory tier: intersections, e-BH (Wang & Ramdas 2022).** Intersection groups are many and small; a
  family-wise threshold over all of them would slow every page (105 instead of 30 comparisons for two
  four-group attributes). At each check, e-BH on the intersections' current e-values (each an e-value at any
  stopping time, by optional stopping) controls the false discovery rate of that check's findings at ``alpha``
  under arbitrary dependence. Findings raise pre-alerts, never pages; FDR is per check, not over all checks.

Pre-alert: a paging comparison whose evidence has come half-way in log space, ``K_j >= sqrt(m / alpha)``:
evidence building up, not yet an error-controlled conclusion.

Auto-resolution: evidence of compliance, not absence of evidence. When an alert opens, a *reverse* e-process is
started for the comparison (:meth:`Comparison.reversed`: null "violation", ``mu <= 0``); the alert resolves when
it reaches ``m / alpha`` too, so the chance that an alert is ever resolved while the violation persists is at
most ``alpha / m`` per alert. Resolution, a new policy version or a new model version start fresh evidence
(new states) for the comparisons concerned.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from monitoring.fairness.comparisons import EXPLORE_TIER, PAGE_TIER, Comparison
from monitoring.fairness.errors import InvalidParameterError

ALERT = "alert"
PRE_ALERT = "pre_alert"
FINDING = "finding"
QUIET = "none"


def alert_threshold(family_size: int, alpha: float) -> float:
    """``log(m / alpha)``: the log-evidence at which one of ``m`` comparisons alerts."""
    if family_size < 1 or not 0.0 < alpha < 1.0:
        raise InvalidParameterError("Need family_size >= 1 and 0 < alpha < 1.")
    return math.log(family_size / alpha)


def pre_alert_threshold(family_size: int, alpha: float) -> float:
    """``log(sqrt(m / alpha))``: half the alert threshold in log space."""
    return 0.5 * alert_threshold(family_size, alpha)


def e_bh(e_values: Sequence[float], alpha: float) -> list[int]:
    """Indices rejected by e-BH: the ``k*`` largest, ``k* = max{k : e_(k) >= m / (alpha k)}`` (Wang & Ramdas 2022)."""
    values = np.asarray(e_values, dtype=np.float64)
    size = len(values)
    if size == 0:
        return []
    order = np.argsort(-values, kind="stable")
    ranks = np.arange(1, size + 1)
    passing = np.nonzero(values[order] >= size / (alpha * ranks))[0]
    if not len(passing):
        return []
    return sorted(order[: passing.max() + 1].tolist())


@dataclass(frozen=True)
class Decision:
    """Status of one comparison at one check, with the threshold it was judged against (log scale)."""

    key: str
    tier: str
    status: str
    log_e: float
    log_threshold: float


def decide(
    comparisons: Sequence[Comparison], log_evidence: Mapping[str, float], alpha: float = 0.05
) -> dict[str, Decision]:
    """Alerts, pre-alerts and findings for one check, from each comparison's log e-value keyed by comparison key."""
    paging = [c for c in comparisons if c.tier == PAGE_TIER]
    explore = [c for c in comparisons if c.tier == EXPLORE_TIER]
    result = {}
    if paging:
        top, half = alert_threshold(len(paging), alpha), pre_alert_threshold(len(paging), alpha)
        for comparison in paging:
            value = log_evidence[comparison.key]
            status = ALERT if value >= top else PRE_ALERT if value >= half else QUIET
            result[comparison.key] = Decision(comparison.key, PAGE_TIER, status, value, top)
    if explore:
        values = [log_evidence[c.key] for c in explore]
        found = set(e_bh(np.exp(np.minimum(values, 700.0)), alpha))
        top = alert_threshold(len(explore), alpha)
        for index, comparison in enumerate(explore):
            status = FINDING if index in found else QUIET
            result[comparison.key] = Decision(comparison.key, EXPLORE_TIER, status, values[index], top)
    return result


def resolution_threshold(family_size: int, alpha: float) -> float:
    """Log-evidence of compliance (reverse e-process) at which an open alert resolves: ``log(m / alpha)``."""
    return alert_threshold(family_size, alpha)
