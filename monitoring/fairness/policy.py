"""Monitoring policy and the uncertainty-aware verdict for one metric.

A metric passes when it lies inside its band (for DIR the EEOC four-fifths rule ``DIR >= 0.8``, optionally
with an upper bound such as 1.25). The verdict uses the confidence interval so noise is told from violations:

* ``insufficient_data``: a group's relevant denominator is below ``min_group_size``, or the metric is undefined;
* ``significant_violation``: the whole interval lies outside the band;
* ``possible_violation``: only the point estimate lies outside the band;
* ``pass``: the point estimate lies inside the band.

Bounds are inclusive and compared with a rounding tolerance (``limits``): a DIR that is exactly 0.8 up to
floating-point error passes a ``DIR >= 0.8`` band. Weighted group sizes are Kish effective sizes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from monitoring.fairness.errors import InvalidParameterError
from monitoring.fairness.limits import is_above, is_below
from monitoring.fairness.metrics import MetricValue


class Verdict(StrEnum):
    """Outcome of checking one metric (or a whole report) against the policy."""

    PASS = "pass"  # noqa: S105 - a verdict name, not a credential
    INSUFFICIENT_DATA = "insufficient_data"
    POSSIBLE_VIOLATION = "possible_violation"
    SIGNIFICANT_VIOLATION = "significant_violation"


_SEVERITY = {
    Verdict.PASS: 0,
    Verdict.INSUFFICIENT_DATA: 1,
    Verdict.POSSIBLE_VIOLATION: 2,
    Verdict.SIGNIFICANT_VIOLATION: 3,
}

METRIC_NAMES = (
    "disparate_impact_ratio",
    "statistical_parity_difference",
    "equal_opportunity_difference",
    "average_odds_difference",
    "false_positive_rate_difference",
)


@dataclass(frozen=True)
class Band:
    """Acceptable range ``lower <= value <= upper``; either bound may be ``None`` (unbounded)."""

    lower: float | None = None
    upper: float | None = None

    def __post_init__(self) -> None:
        if self.lower is not None and self.upper is not None and self.lower > self.upper:
            raise InvalidParameterError(f"Band lower bound {self.lower} exceeds upper bound {self.upper}.")

    def contains(self, value: float) -> bool:
        """True when the value satisfies both bounds (a value equal to a bound up to rounding does)."""
        return (self.lower is None or not is_below(value, self.lower)) and (
            self.upper is None or not is_above(value, self.upper)
        )

    def excludes(self, lower: float, upper: float) -> bool:
        """True when the whole interval ``[lower, upper]`` lies outside the band, beyond rounding error."""
        return (self.lower is not None and is_below(upper, self.lower)) or (
            self.upper is not None and is_above(lower, self.upper)
        )


def _default_bands() -> dict[str, Band]:
    return {"disparate_impact_ratio": Band(lower=0.8)}


@dataclass(frozen=True)
class FairnessPolicy:
    """Bands per metric (metrics without a band get no verdict), minimum group size, confidence, gap rule.

    ``gap_threshold`` is the prototype's rule ``|SR_p - SR_u| > 0.2``, reported alongside the band verdicts.
    ``min_group_size`` applies to Kish effective sizes when sample weights were used.
    """

    bands: Mapping[str, Band] = field(default_factory=_default_bands)
    min_group_size: float = 30
    confidence: float = 0.95
    gap_threshold: float = 0.2

    def __post_init__(self) -> None:
        unknown = sorted(set(self.bands) - set(METRIC_NAMES))
        if unknown:
            raise InvalidParameterError(f"Unknown metrics in policy bands: {unknown}; known: {list(METRIC_NAMES)}.")
        if not 0.0 < self.confidence < 1.0:
            raise InvalidParameterError(f"confidence must lie strictly between 0 and 1, got {self.confidence!r}.")
        if self.min_group_size < 0:
            raise InvalidParameterError(f"min_group_size must be non-negative, got {self.min_group_size!r}.")


def judge(metric: MetricValue, band: Band, group_sizes: Sequence[float], min_group_size: float) -> Verdict:
    """Verdict of one metric: see the module docstring for the four outcomes and their order of checks."""
    if metric.value is None or is_below(min(group_sizes, default=0), min_group_size):
        return Verdict.INSUFFICIENT_DATA
    if metric.lower is not None and metric.upper is not None and band.excludes(metric.lower, metric.upper):
        return Verdict.SIGNIFICANT_VIOLATION
    if not band.contains(metric.value):
        return Verdict.POSSIBLE_VIOLATION
    return Verdict.PASS


def worst_verdict(verdicts: Iterable[Verdict]) -> Verdict:
    """Most severe verdict: significant > possible violation > insufficient data > pass.

    With nothing to judge the result is ``insufficient_data``: no comparison means fairness was not shown.
    """
    collected = list(verdicts)
    if not collected:
        return Verdict.INSUFFICIENT_DATA
    return max(collected, key=_SEVERITY.__getitem__)
