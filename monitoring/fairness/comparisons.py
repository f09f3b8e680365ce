"""Banded comparisons written as linear nulls on group rates: what the sequential evidence tests.

A band edge of a fairness metric for group ``u`` against reference ``p`` is a half-space of rates. Written so
that *compliance* is ``mu >= 0``::

    mu = sum_i a_i * R_i + e >= 0

* DIR >= c:              R_u - c R_p >= 0                (rates: selection rates on all rows)
* DIR <= C:              C R_p - R_u >= 0
* SPD >= L:              R_u - R_p - L >= 0;   SPD <= U:  U - R_u + R_p >= 0
* EOD (TPR difference):  the same on labelled rows with y = 1 (R = TPR)
* FPR_DIFF:              the same on labelled rows with y = 0 (R = FPR)
* AOD >= L:              (TPR_u - TPR_p + FPR_u - FPR_p) / 2 - L >= 0, four rates

Each rate ``R_i`` is one *leg*: a group and a kind of row (all rows, y = 1 rows, y = 0 rows) whose Bernoulli
outcome is "predicted favourable". AOD is tested as one linear null on four legs, not as two separate tests of
its TPR and FPR parts: AOD >= L does not imply that either part is >= L (a TPR gap of -0.2 and an FPR gap of
+0.2 give AOD = 0), so testing the parts would reject compliant models. A four-leg unit (one block of rows from
each leg) has mean exactly ``mu``, so the betting construction of :mod:`monitoring.fairness.sequential` applies.

Why linear: ``mu`` is linear in the rates, so an increment built from independent rows of each leg has mean
``mu`` and the bet ``1 - lambda * y`` has expectation ``1 - lambda * mu <= 1`` under the null, for every rate
pair on the null side at once (the null is composite; no nuisance rate needs estimating).

Intersections (groups labelled by tuples) form an exploratory tier: see :mod:`monitoring.fairness.family`.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

from monitoring.fairness.counts import ConfusionCounts
from monitoring.fairness.errors import InvalidParameterError
from monitoring.fairness.policy import FairnessPolicy

# Short metric names used in comparison keys, and the policy's long names.
METRIC_CODES = {
    "disparate_impact_ratio": "DIR",
    "statistical_parity_difference": "SPD",
    "equal_opportunity_difference": "EOD",
    "false_positive_rate_difference": "FPR_DIFF",
    "average_odds_difference": "AOD",
}
ROW_KINDS = ("all", "positive", "negative")
PAGE_TIER = "page"
EXPLORE_TIER = "explore"


@dataclass(frozen=True)
class Leg:
    """One rate of the linear null: the share predicted favourable among ``rows`` of ``group``.

    ``rows`` is ``"all"`` (selection rate), ``"positive"`` (labelled y = 1 rows: TPR) or ``"negative"``
    (labelled y = 0 rows: FPR).
    """

    group: Hashable
    rows: str
    coefficient: float


# The kinds of rows a leg reads, in the order of :func:`leg_count_table`.
LEG_ROW_KINDS = ("all", "positive", "negative")


def leg_count_table(counts: ConfusionCounts) -> tuple[int, int, int, int, int, int]:
    """``(favourable, rows)`` of each kind of leg in one group's counts, flattened in :data:`LEG_ROW_KINDS`
    order: selection rate (all rows), TPR (labelled y = 1), FPR (labelled y = 0). Unweighted counts only."""
    if counts.squared_weights is not None and counts.is_weighted:
        raise InvalidParameterError("Sequential evidence needs unweighted counts (whole rows).")
    return (
        int(counts.predicted_positive),
        int(counts.n),
        int(counts.tp),
        int(counts.tp + counts.fn),
        int(counts.fp),
        int(counts.fp + counts.tn),
    )


@dataclass(frozen=True)
class Comparison:
    """One banded comparison: ``metric`` of ``group`` against ``reference`` on one band ``edge``.

    ``legs`` and ``constant`` give the linear null ``sum_i a_i R_i + constant >= 0`` (compliance). ``tier`` is
    ``"page"`` for single attributes and ``"explore"`` for intersections.
    """

    attribute: tuple[str, ...]
    group: Hashable
    reference: Hashable
    metric: str
    edge: str
    bound: float
    legs: tuple[Leg, ...]
    constant: float
    tier: str = PAGE_TIER

    @cached_property
    def key(self) -> str:
        """Stable text key: attribute, group, reference, metric and edge (seeds nothing; names the state).

        Cached: a check looks keys up many times per comparison, and the dataclass is frozen."""

        def plain(value: Hashable) -> object:
            return list(value) if isinstance(value, tuple) else value

        return json.dumps(
            [list(self.attribute), plain(self.group), plain(self.reference), self.metric, self.edge, self.bound],
            ensure_ascii=False,
            separators=(",", ":"),
        )

    @property
    def max_increment(self) -> float:
        """Largest value the paired increment ``y = e + sum_i a_i * (block mean of leg i)`` can take."""
        return self.constant + sum(max(leg.coefficient, 0.0) for leg in self.legs)

    @property
    def min_increment(self) -> float:
        """Smallest value of the paired increment."""
        return self.constant + sum(min(leg.coefficient, 0.0) for leg in self.legs)

    def mean(self, rates: Sequence[float]) -> float:
        """``mu`` for the given leg rates (in leg order): >= 0 is compliant."""
        return self.constant + sum(leg.coefficient * rate for leg, rate in zip(self.legs, rates, strict=True))

    def reversed(self) -> Comparison:
        """The same comparison with the null flipped: tests "violation" (``mu <= 0``), for evidence of compliance."""
        legs = tuple(Leg(leg.group, leg.rows, -leg.coefficient) for leg in self.legs)
        edge = f"reverse_{self.edge}" if not self.edge.startswith("reverse_") else self.edge[len("reverse_") :]
        return Comparison(
            self.attribute, self.group, self.reference, self.metric, edge, self.bound, legs, -self.constant, self.tier
        )

    def to_dict(self) -> dict[str, object]:
        """Plain description for storage and display."""
        return {
            "key": self.key,
            "attribute": list(self.attribute),
            "group": list(self.group) if isinstance(self.group, tuple) else self.group,
            "reference": list(self.reference) if isinstance(self.reference, tuple) else self.reference,
            "metric": self.metric,
            "edge": self.edge,
            "bound": self.bound,
            "tier": self.tier,
            "legs": [[leg.rows, leg.coefficient] for leg in self.legs],
            "constant": self.constant,
        }


def _two_rate_legs(group: Hashable, reference: Hashable, rows: str, code: str, edge: str, bound: float):
    if code == "DIR":
        if edge == "lower":
            return (Leg(group, rows, 1.0), Leg(reference, rows, -bound)), 0.0
        return (Leg(group, rows, -1.0), Leg(reference, rows, bound)), 0.0
    if edge == "lower":
        return (Leg(group, rows, 1.0), Leg(reference, rows, -1.0)), -bound
    return (Leg(group, rows, -1.0), Leg(reference, rows, 1.0)), bound


def build_comparison(
    attribute: Sequence[str], group: Hashable, reference: Hashable, metric: str, edge: str, bound: float
) -> Comparison:
    """The linear null of one band edge (``metric`` is a policy metric name or its short code)."""
    code = METRIC_CODES.get(metric, metric)
    if code not in METRIC_CODES.values():
        raise InvalidParameterError(f"Unknown metric {metric!r}.")
    if edge not in ("lower", "upper"):
        raise InvalidParameterError(f"edge must be 'lower' or 'upper', got {edge!r}.")
    if code == "DIR" and bound <= 0:
        raise InvalidParameterError(f"A DIR band edge must be positive, got {bound!r}.")
    if code == "AOD":
        sign = 1.0 if edge == "lower" else -1.0
        legs = (
            Leg(group, "positive", 0.5 * sign),
            Leg(reference, "positive", -0.5 * sign),
            Leg(group, "negative", 0.5 * sign),
            Leg(reference, "negative", -0.5 * sign),
        )
        constant = -bound if edge == "lower" else bound
    else:
        rows = {"DIR": "all", "SPD": "all", "EOD": "positive", "FPR_DIFF": "negative"}[code]
        legs, constant = _two_rate_legs(group, reference, rows, code, edge, float(bound))
    tier = EXPLORE_TIER if len(attribute) > 1 else PAGE_TIER
    return Comparison(tuple(attribute), group, reference, code, edge, float(bound), legs, float(constant), tier)


def comparisons_for_policy(
    policy: FairnessPolicy,
    groups: Mapping[tuple[str, ...], Iterable[Hashable]],
    privileged: Mapping[tuple[str, ...], Hashable],
) -> list[Comparison]:
    """Every comparison a policy makes: each non-reference group x each banded metric x each finite band edge.

    ``groups`` maps an attribute tuple (``("race",)`` or ``("race", "sex")`` for an intersection) to its group
    labels; ``privileged`` maps the same tuple to the reference group. Order is deterministic (attribute,
    group, metric as in the policy, lower edge before upper), so family sizes and keys are stable.
    """
    result = []
    for attribute in sorted(groups, key=lambda names: (len(names), names)):
        reference = privileged[attribute]
        for group in sorted((g for g in groups[attribute] if g != reference), key=repr):
            for metric, band in policy.bands.items():
                for edge, bound in (("lower", band.lower), ("upper", band.upper)):
                    if bound is not None:
                        result.append(build_comparison(attribute, group, reference, metric, edge, bound))
    return result
