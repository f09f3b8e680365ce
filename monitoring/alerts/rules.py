"""Alert rules: when a check opens an alert, how severe it is, and what its explanation says. Pure: no Django.

* Only evidence opens or updates an alert: a paging comparison whose e-value passed the family threshold
  (``m / alpha``, decision ``alert``; see ``monitoring.checks.evidence``). A window's verdict
  (``significant_violation``, ``possible_violation``) is kept for reading and pages nobody by itself: re-testing
  overlapping windows every hour for every group and metric would page a compliant model every month.
  Exploratory intersection findings never page.
* Severity is the *conservative* effect size: how far the interval end nearest the band lies beyond it, so
  a large but uncertain gap does not outrank a smaller, certain one. DIR is measured relative to its bound
  (0.6 against a 0.8 minimum is 25 % short); difference metrics in absolute rate units.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from monitoring.fairness import generate_explanation

SIGNIFICANT = "significant_violation"
ALERT = "alert"
PAGING_TIER = "page"
# (critical, high) cut-offs of the conservative shortfall.
RATIO_CUTOFFS = (0.25, 0.10)
DIFFERENCE_CUTOFFS = (0.20, 0.10)
SEVERITY_ORDER = ("medium", "high", "critical")


def shortfall(metric: str, interval: Sequence[float] | None, band: Mapping[str, float | None]) -> float:
    """How far the interval lies beyond the band at its nearest end (0 when it touches the band)."""
    if not interval:
        return 0.0
    lower, upper = interval
    low, high = band.get("min"), band.get("max")
    if low is not None and upper < low:
        gap = low - upper
        return gap / abs(low) if metric == "DIR" and low else gap
    if high is not None and lower > high:
        gap = lower - high
        return gap / abs(high) if metric == "DIR" and high else gap
    return 0.0


def severity(metric: str, interval: Sequence[float] | None, band: Mapping[str, float | None]) -> str:
    critical, high = RATIO_CUTOFFS if metric == "DIR" else DIFFERENCE_CUTOFFS
    excess = shortfall(metric, interval, band)
    if excess >= critical:
        return "critical"
    if excess >= high:
        return "high"
    return "medium"


def escalated(old: str, new: str) -> bool:
    return SEVERITY_ORDER.index(new) > SEVERITY_ORDER.index(old)


def likely_causes(result: Mapping[str, Any], attribute: str, group: str) -> list[str]:
    """Statistical hints from the check: the selection-rate gap, a shifted score distribution, the trend."""
    causes = []
    report = result["reports"].get(attribute)
    if report:
        rate = report["groups"].get(group, {}).get("selection_rate")
        reference = report["groups"].get(report["privileged"], {}).get("selection_rate")
        if rate is not None and reference is not None:
            causes.append(
                f"Lower selection rate for {attribute}={group} ({rate:.2f} vs {reference:.2f} for "
                f"{report['privileged']})"
            )
    drift = result.get("score_drift", {}).get("groups", {}).get(f"{attribute}={group}")
    if drift and drift["drifted"]:
        causes.append(
            f"Score distribution of {attribute}={group} shifted from the baseline (PSI {drift['psi']['statistic']:.2f})"
        )
    velocity = result.get("trend", {}).get("velocity")
    if velocity is not None and velocity < 0:
        causes.append(f"DIR falling over recent checks (velocity {velocity:.3f})")
    return causes


def explanation(result: Mapping[str, Any], violation: Mapping[str, Any]) -> str:
    """The seed's explanation sentence for one violation, with the metric named when it is not DIR."""
    causes = likely_causes(result, violation["attribute"], violation["group"])
    listed = ", ".join(causes) if causes else "none identified"
    if violation["value"] is None and violation.get("verdict") == "insufficient_data":
        # An alert from the evidence of earlier hours, checked over a window with too little data of its own.
        return (
            f"{violation['metric']} for {violation['attribute']}={violation['group']} cannot be computed from this "
            "window's data; the evidence accumulated over earlier hours is outside the policy band. Potential "
            f"bias — likely causes: {listed}."
        )
    if violation["metric"] == "DIR":
        return generate_explanation(violation["value"], causes, result["threshold"])
    return (
        f"{violation['metric']} = {violation['value']:.3f} for {violation['attribute']}={violation['group']} is "
        f"outside the policy band. Potential bias — likely causes: {listed}."
    )
