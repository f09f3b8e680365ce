"""NYC Local Law 144 bias-audit tables (6 RCNY §5-301): selection and scoring rates and impact ratios per sex,
per race/ethnicity and per intersection of the two, the unknown category, and the optional exclusion of small
categories. Pure: counts in, tables out.

Definitions, from the rule:

- *Selection tools* (binary decisions): a category's **selection rate** is the share of its assessed individuals
  who were selected; its **impact ratio** is that rate divided by the rate of the most selected category.
- *Scoring tools*: the **median score of the whole sample** splits it; a category's **scoring rate** is the share
  of its individuals scoring above that median, and its impact ratio is that rate divided by the highest scoring
  rate.
- Ratios are computed **separately** for sex, for race/ethnicity and for the intersectional sex x race/ethnicity
  categories. Individuals whose category is **unknown** are left out of that table's rates and ratios, and their
  number is reported.
- A category making up **less than 2%** of the data used for the table may be excluded from the impact ratios;
  its count and rate are still reported, with the auditor's written justification. Here "the data used" is the
  table's individuals of known category (the unknown ones are not used for it).

The rule sets no pass mark: these tables report, they do not judge.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

EXCLUSION_LIMIT = 0.02  # §5-301(d): a category under 2% of the data may be excluded from the impact ratios
SEX, RACE, INTERSECTIONAL = "sex", "race_ethnicity", "intersectional"
DIMENSION_NAMES = {SEX: "Sex", RACE: "Race/ethnicity", INTERSECTIONAL: "Intersectional (sex x race/ethnicity)"}


@dataclass(frozen=True)
class Tally:
    """Individuals assessed in a category and how many of them were selected (or scored above the median)."""

    assessed: int
    positive: int

    def __post_init__(self) -> None:
        if self.assessed < 0 or not 0 <= self.positive <= self.assessed:
            raise ValueError(f"a tally needs 0 <= positive <= assessed, got {self.positive} of {self.assessed}")

    def __add__(self, other: Tally) -> Tally:
        return Tally(self.assessed + other.assessed, self.positive + other.positive)


@dataclass(frozen=True)
class CategoryRow:
    category: str
    assessed: int
    positive: int
    rate: float | None  # selection or scoring rate; None for a category with nobody assessed
    impact_ratio: float | None  # None when excluded, or when no category has a positive rate
    share: float  # of the table's individuals of known category
    excluded: bool = False
    justification: str = ""


@dataclass(frozen=True)
class ImpactTable:
    dimension: str  # sex, race_ethnicity or intersectional
    rows: list[CategoryRow]
    unknown: int  # individuals of unknown category, left out of the rates and ratios
    reference: str | None  # the most selected (highest scoring) category the ratios divide by
    excluded: list[str] = field(default_factory=list)


def impact_table(
    dimension: str, tallies: Mapping[str, Tally], *, unknown: int = 0, exclusions: Mapping[str, str] | None = None
) -> ImpactTable:
    """One table: each category's rate and impact ratio. ``exclusions`` maps a category to the justification of
    leaving it out of the ratios; a category of 2% of the data or more cannot be excluded (``ValueError``)."""
    exclusions = dict(exclusions or {})
    unknown_excluded = set(exclusions) - set(tallies)
    if unknown_excluded:
        raise ValueError(f"cannot exclude categories the data does not have: {sorted(unknown_excluded)}")
    total = sum(tally.assessed for tally in tallies.values())
    for category, justification in exclusions.items():
        share = tallies[category].assessed / total if total else 0.0
        if share >= EXCLUSION_LIMIT:
            raise ValueError(f"{category} is {share:.1%} of the data; only a category under 2% may be excluded")
        if not justification.strip():
            raise ValueError(f"excluding {category} needs a written justification")
    rates = {
        category: tally.positive / tally.assessed if tally.assessed else None for category, tally in tallies.items()
    }
    compared = {category: rate for category, rate in rates.items() if rate is not None and category not in exclusions}
    reference = max(compared, key=lambda category: (compared[category], category), default=None)
    top = compared[reference] if reference is not None else 0.0
    rows = [
        CategoryRow(
            category=category,
            assessed=tally.assessed,
            positive=tally.positive,
            rate=rates[category],
            impact_ratio=None
            if category in exclusions or rates[category] is None or top == 0
            else rates[category] / top,
            share=tally.assessed / total if total else 0.0,
            excluded=category in exclusions,
            justification=exclusions.get(category, ""),
        )
        for category, tally in sorted(tallies.items())
    ]
    return ImpactTable(dimension, rows, unknown, reference if top > 0 else None, sorted(exclusions))


Cell = tuple[str | None, str | None]  # (sex category, race/ethnicity category); None: unknown


def audit_tables(
    cells: Mapping[Cell, Tally], *, exclusions: Mapping[str, Mapping[str, str]] | None = None
) -> dict[str, ImpactTable]:
    """The three tables of an audit from the tallies of each (sex, race/ethnicity) cell.

    Someone whose sex is unknown still counts in the race/ethnicity table when their race is known, and the
    other way round; only the intersectional table needs both. ``exclusions`` is per dimension."""
    exclusions = exclusions or {}
    by_sex: dict[str, Tally] = {}
    by_race: dict[str, Tally] = {}
    by_both: dict[str, Tally] = {}
    unknown = {SEX: 0, RACE: 0, INTERSECTIONAL: 0}
    for (sex, race), tally in cells.items():
        if sex is None:
            unknown[SEX] += tally.assessed
        else:
            by_sex[sex] = by_sex.get(sex, Tally(0, 0)) + tally
        if race is None:
            unknown[RACE] += tally.assessed
        else:
            by_race[race] = by_race.get(race, Tally(0, 0)) + tally
        if sex is None or race is None:
            unknown[INTERSECTIONAL] += tally.assessed
        else:
            label = intersection_label(sex, race)
            by_both[label] = by_both.get(label, Tally(0, 0)) + tally
    return {
        dimension: impact_table(dimension, tallies, unknown=unknown[dimension], exclusions=exclusions.get(dimension))
        for dimension, tallies in ((SEX, by_sex), (RACE, by_race), (INTERSECTIONAL, by_both))
    }


def intersection_label(sex: str, race: str) -> str:
    return f"{race} {sex}"


# --- Scoring tools: the median of the whole sample ------------------------------------------------------------


def median(scores: Iterable[float]) -> float:
    """The sample median (the mean of the two middle scores of an even-sized sample)."""
    ordered = sorted(scores)
    if not ordered:
        raise ValueError("the median of no scores is undefined")
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def scoring_cells(scores: Mapping[Cell, Sequence[float]]) -> tuple[float, dict[Cell, Tally]]:
    """The whole sample's median score and each cell's tally of individuals scoring above it (exact: from the
    individual scores). The median is of every assessed individual, unknown categories included."""
    everyone = [score for values in scores.values() for score in values]
    split = median(everyone)
    return split, {
        cell: Tally(len(values), sum(1 for score in values if score > split)) for cell, values in scores.items()
    }


@dataclass(frozen=True)
class HistogramMedian:
    """The median located in a histogram: the bin that holds it, whose rows can fall either side of it, unless
    the lower half ends exactly at a bin's end (an even sample split between two bins), when no row is in doubt."""

    low: float  # the median lies in [low, high]
    high: float
    bin_index: int  # the last bin of the lower half
    in_doubt: bool  # whether the rows of that bin can lie either side of the median


def histogram_median(edges: Sequence[float], counts: Sequence[int]) -> HistogramMedian:
    """The bin of ``counts`` (bins between consecutive ``edges``) that holds the whole sample's median."""
    if len(edges) != len(counts) + 1:
        raise ValueError("edges must be one longer than counts")
    total = sum(counts)
    if total <= 0:
        raise ValueError("the median of no scores is undefined")
    cumulative, running = [], 0
    for count in counts:
        running += count
        cumulative.append(running)
    index = bisect.bisect_left(cumulative, total / 2)
    if 2 * cumulative[index] == total:  # the two middle scores lie in this bin and the next non-empty one
        upper = next(j for j in range(index + 1, len(counts)) if counts[j])
        return HistogramMedian(edges[index], edges[upper + 1], index, in_doubt=False)
    return HistogramMedian(edges[index], edges[index + 1], index, in_doubt=True)


def scoring_bounds(
    edges: Sequence[float], histograms: Mapping[Cell, Sequence[int]]
) -> tuple[HistogramMedian, dict[Cell, tuple[Tally, Tally]]]:
    """Scoring tallies from score histograms, which cannot place the rows of the median's own bin: each cell's
    tally with none of that bin above the median, and with all of it. The scoring rates lie between the two;
    finer bins narrow the gap (the bin width bounds how far the median itself can be from its bin's edges)."""
    pooled = [sum(values) for values in zip(*histograms.values(), strict=True)] if histograms else []
    located = histogram_median(edges, pooled)
    bounds = {}
    for cell, counts in histograms.items():
        above = sum(counts[located.bin_index + 1 :])
        doubtful = counts[located.bin_index] if located.in_doubt else 0
        assessed = sum(counts)
        bounds[cell] = (Tally(assessed, above), Tally(assessed, above + doubtful))
    return located, bounds
