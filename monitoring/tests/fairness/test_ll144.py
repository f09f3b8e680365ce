"""NYC LL144 bias-audit tables (6 RCNY §5-301) on a small data set computed by hand: selection and scoring
tools, the unknown category, the 2% exclusion and the intersectional categories."""

from __future__ import annotations

import random

import pytest

from monitoring.fairness.ll144 import (
    INTERSECTIONAL,
    RACE,
    SEX,
    Tally,
    audit_tables,
    histogram_median,
    impact_table,
    median,
    scoring_bounds,
    scoring_cells,
)

# (sex, race/ethnicity) -> (assessed, selected); None is an unknown category
SELECTIONS = {
    ("Male", "White"): Tally(40, 20),
    ("Female", "White"): Tally(30, 12),
    ("Male", "Black"): Tally(20, 6),
    ("Female", "Black"): Tally(8, 2),
    (None, "White"): Tally(5, 1),
    ("Male", None): Tally(7, 3),
    ("Female", "Asian"): Tally(1, 1),
}
TINY = "one applicant: a rate of one person says nothing about the category"


def rows(table):  # noqa: ANN001, ANN202 - test helper
    return {row.category: row for row in table.rows}


def test_the_sex_table_counts_everyone_whose_sex_is_known() -> None:
    table = audit_tables(SELECTIONS)[SEX]
    by = rows(table)
    assert (by["Male"].assessed, by["Male"].positive) == (67, 29)  # 40 + 20 + 7 (race unknown), 20 + 6 + 3
    assert (by["Female"].assessed, by["Female"].positive) == (39, 15)
    assert table.unknown == 5
    assert table.reference == "Male"
    assert by["Male"].impact_ratio == 1.0
    assert by["Female"].impact_ratio == pytest.approx(1005 / 1131)  # (15/39) / (29/67)


def test_the_race_table_and_the_two_percent_exclusion() -> None:
    plain = audit_tables(SELECTIONS)[RACE]
    assert plain.unknown == 7
    assert plain.reference == "Asian"  # one applicant, selected: the most selected category
    assert rows(plain)["White"].impact_ratio == pytest.approx(0.44)
    excluded = audit_tables(SELECTIONS, exclusions={RACE: {"Asian": TINY}})[RACE]
    by = rows(excluded)
    assert excluded.reference == "White"
    assert by["White"].rate == pytest.approx(33 / 75)
    assert by["Black"].impact_ratio == pytest.approx(600 / 924)  # (8/28) / (33/75)
    # the excluded category keeps its count, rate and justification, but has no ratio
    assert (by["Asian"].assessed, by["Asian"].rate, by["Asian"].impact_ratio) == (1, 1.0, None)
    assert by["Asian"].excluded
    assert by["Asian"].justification == TINY
    assert by["Asian"].share == pytest.approx(1 / 104)


def test_the_intersectional_table_needs_both_categories() -> None:
    table = audit_tables(SELECTIONS, exclusions={INTERSECTIONAL: {"Asian Female": TINY}})[INTERSECTIONAL]
    by = rows(table)
    assert table.unknown == 12  # sex unknown (5) or race unknown (7)
    assert set(by) == {"White Male", "White Female", "Black Male", "Black Female", "Asian Female"}
    assert table.reference == "White Male"
    ratios = {category: row.impact_ratio for category, row in by.items()}
    assert ratios == pytest.approx(
        {"White Male": 1.0, "White Female": 0.8, "Black Male": 0.6, "Black Female": 0.5, "Asian Female": None}
    )


def test_only_a_category_under_two_percent_may_be_excluded_and_only_with_a_reason() -> None:
    with pytest.raises(ValueError, match="only a category under 2%"):
        audit_tables(SELECTIONS, exclusions={INTERSECTIONAL: {"Black Female": "small"}})  # 8 of 99: 8.1%
    with pytest.raises(ValueError, match="justification"):
        audit_tables(SELECTIONS, exclusions={RACE: {"Asian": "  "}})
    with pytest.raises(ValueError, match="does not have"):
        impact_table(RACE, {"White": Tally(10, 5)}, exclusions={"Martian": "none seen"})


def test_nobody_selected_gives_rates_but_no_ratios() -> None:
    table = impact_table(SEX, {"Male": Tally(10, 0), "Female": Tally(12, 0), "Other": Tally(0, 0)})
    assert table.reference is None
    assert [(row.category, row.rate, row.impact_ratio) for row in table.rows] == [
        ("Female", 0.0, None),
        ("Male", 0.0, None),
        ("Other", None, None),
    ]
    with pytest.raises(ValueError, match="positive <= assessed"):
        Tally(3, 4)


# --- Scoring tools ----------------------------------------------------------------------------------------------

SCORES = {
    ("Male", "White"): [0.9, 0.7, 0.4],
    ("Female", "White"): [0.8, 0.3],
    ("Male", "Black"): [0.6, 0.2],
    (None, "White"): [0.5],
}


def test_scoring_rates_split_the_whole_sample_at_its_median() -> None:
    split, cells = scoring_cells(SCORES)
    assert split == pytest.approx(0.55)  # 0.2 0.3 0.4 0.5 | 0.6 0.7 0.8 0.9, unknown sex included
    assert cells[("Male", "White")] == Tally(3, 2)
    assert cells[(None, "White")] == Tally(1, 0)
    tables = audit_tables(cells)
    sex = rows(tables[SEX])
    assert (sex["Male"].rate, sex["Female"].rate) == (pytest.approx(0.6), pytest.approx(0.5))
    assert sex["Female"].impact_ratio == pytest.approx(0.5 / 0.6)
    assert tables[SEX].unknown == 1
    race = rows(tables[RACE])
    assert race["White"].rate == race["Black"].rate == 0.5  # 3 of 6, 1 of 2
    assert tables[RACE].reference == "White"  # a tie goes to the later name, so the choice is stable
    assert median([3.0, 1.0, 2.0]) == 2.0


def test_histograms_bound_the_scoring_rates_and_the_bounds_hold_the_exact_ones() -> None:
    edges = [0.0, 0.25, 0.5, 0.75, 1.0]

    def histogram(values):  # noqa: ANN001, ANN202 - test helper
        counts = [0] * (len(edges) - 1)
        for value in values:
            counts[min(int(value / 0.25), len(counts) - 1)] += 1
        return counts

    located, bounds = scoring_bounds(edges, {cell: histogram(values) for cell, values in SCORES.items()})
    assert (located.low, located.high, located.in_doubt) == (0.5, 0.75, True)  # the median 0.55 is in [0.5, 0.75]
    _, exact = scoring_cells(SCORES)
    for cell, (low, high) in bounds.items():
        assert low.positive <= exact[cell].positive <= high.positive, cell
    assert bounds[("Male", "White")] == (Tally(3, 1), Tally(3, 2))
    # an even sample whose halves end at a bin's end: nobody is in doubt
    split = histogram_median([0.0, 0.5, 1.0], [2, 2])
    assert (split.low, split.high, split.in_doubt) == (0.0, 1.0, False)
    _, even = scoring_bounds([0.0, 0.5, 1.0], {("Male", "White"): [2, 2]})
    assert even[("Male", "White")] == (Tally(4, 2), Tally(4, 2))


def test_bounds_hold_the_exact_rates_on_random_samples() -> None:
    generator = random.Random(11)
    edges = [index / 20 for index in range(21)]
    for _ in range(200):
        scores = {
            (sex, race): [round(generator.random(), 3) for _ in range(generator.randint(0, 30))]
            for sex in ("Male", "Female", None)
            for race in ("White", "Black")
        }
        if not any(scores.values()):
            continue
        _, exact = scoring_cells(scores)
        histograms = {
            cell: [sum(1 for v in values if edges[i] <= v < edges[i + 1] or (i == 19 and v == 1.0)) for i in range(20)]
            for cell, values in scores.items()
        }
        _, bounds = scoring_bounds(edges, histograms)
        for cell, (low, high) in bounds.items():
            assert low.positive <= exact[cell].positive <= high.positive
