"""Per-group confusion counts: hand-checked tables, label encodings, weights, intersections, additivity."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitoring.fairness import (
    COUNT_FIELDS,
    ConfusionCounts,
    GroupedCounts,
    InvalidParameterError,
    confusion_counts,
    counts_by_attribute,
    counts_from_frame,
)
from monitoring.fairness import counts as counts_module
from monitoring.fairness.encoding import DENSE_CODE_FLOOR, encode_groups
from monitoring.tests.fairness.support import property_settings

# Rows: group, y_true, y_pred. Group "a": TP, FN, FP, TN, TP. Group "b": TN, TN, FP.
SMALL_GROUPS = ["a", "a", "a", "a", "a", "b", "b", "b"]
SMALL_TRUE = [1, 1, 0, 0, 1, 0, 0, 0]
SMALL_PRED = [1, 0, 1, 0, 1, 0, 0, 1]


def test_small_table_counts_by_hand() -> None:
    grouped = confusion_counts(SMALL_GROUPS, SMALL_PRED, SMALL_TRUE)
    assert grouped["a"] == ConfusionCounts(tp=2, fp=1, tn=1, fn=1)
    assert grouped["b"] == ConfusionCounts(tp=0, fp=1, tn=2, fn=0)
    assert grouped.attributes == ("group",)
    assert grouped.total() == ConfusionCounts(tp=2, fp=2, tn=3, fn=1)


def test_counts_are_python_ints_when_unweighted() -> None:
    grouped = confusion_counts(np.array([0, 1, 1], dtype=np.int32), np.array([1, 0, 1]), np.array([1, 1, 0]))
    assert all(type(value) is int for counts in grouped.groups.values() for value in counts.as_tuple())


def test_derived_totals() -> None:
    counts = ConfusionCounts(tp=5, fp=3, tn=7, fn=2, unlabeled_pos=4, unlabeled_neg=6)
    assert counts.labeled == 17
    assert counts.n == 27
    assert counts.predicted_positive == 12
    assert counts.actual_positive == 7
    assert counts.actual_negative == 10


def test_favorable_label_zero_swaps_roles() -> None:
    # With favorable label 0, "0" is the positive outcome: TP <-> TN and FP <-> FN relative to label 1.
    as_one = confusion_counts(SMALL_GROUPS, SMALL_PRED, SMALL_TRUE, favorable_label=1)
    as_zero = confusion_counts(SMALL_GROUPS, SMALL_PRED, SMALL_TRUE, favorable_label=0)
    for label in ("a", "b"):
        one, zero = as_one[label], as_zero[label]
        assert (zero.tp, zero.fp, zero.tn, zero.fn) == (one.tn, one.fn, one.tp, one.fp)


# SMALL table with 0 as the favorable outcome, by hand. Group a rows (true, pred): (1,1) TN, (1,0) FP, (0,1) FN,
# (0,0) TP, (1,1) TN. Group b: (0,0) TP, (0,0) TP, (0,1) FN.
FAVORABLE_ZERO_A = ConfusionCounts(tp=1, fp=1, tn=2, fn=1)
FAVORABLE_ZERO_B = ConfusionCounts(tp=2, fn=1)


@pytest.mark.parametrize(
    ("encode", "favorable"),
    [
        (lambda values: np.array(values, dtype=np.int64), 0),
        (lambda values: np.array(values, dtype=np.float64), 0),
        (lambda values: np.array(values, dtype=np.float64), 0.0),
        (lambda values: np.array(values, dtype=bool), False),
        (lambda values: [bool(value) for value in values], False),
        (lambda values: ["approve" if value else "deny" for value in values], "deny"),
        (lambda values: pd.Series(values, dtype="Int64"), 0),
        (lambda values: np.array(values, dtype=object), 0),
    ],
)
def test_favorable_label_zero_in_every_encoding(encode: Any, favorable: Any) -> None:
    grouped = confusion_counts(SMALL_GROUPS, encode(SMALL_PRED), encode(SMALL_TRUE), favorable_label=favorable)
    assert grouped["a"] == FAVORABLE_ZERO_A
    assert grouped["b"] == FAVORABLE_ZERO_B


@pytest.mark.parametrize(
    "labels",
    [
        np.array([1.0, np.nan, 0.0, np.nan, 1.0, 0.0, np.nan, 0.0]),
        np.array([1, None, 0, None, 1, 0, None, 0], dtype=object),
        pd.array([1, None, 0, None, 1, 0, None, 0], dtype="Int64"),
        pd.array([True, None, False, None, True, False, None, False], dtype="boolean"),
    ],
)
def test_favorable_label_zero_with_unlabeled_rows(labels: Any) -> None:
    # Favorable 0 on SMALL_PRED = [1, 0, 1, 0, 1, 0, 0, 1]. Group a: TN, unlabeled pred 0 (favorable), FN,
    # unlabeled pred 0, TN. Group b: TP, unlabeled pred 0, FN.
    predictions = np.array(SMALL_PRED, dtype=bool) if labels.dtype == "boolean" else SMALL_PRED
    favorable = False if labels.dtype == "boolean" else 0
    grouped = confusion_counts(SMALL_GROUPS, predictions, labels, favorable_label=favorable, allow_unlabeled=True)
    assert grouped["a"] == ConfusionCounts(tn=2, fn=1, unlabeled_pos=2)
    assert grouped["b"] == ConfusionCounts(tp=1, fn=1, unlabeled_pos=1)


def test_nullable_boolean_labels_with_missing_values() -> None:
    frame = pd.DataFrame(
        {
            "g": ["a", "a", "b", "b", "a", "b"],
            "p": [True, False, True, False, True, True],
            "y": pd.array([True, None, False, True, True, None], dtype="boolean"),
        }
    )
    grouped = counts_from_frame(frame, "g", prediction="p", label="y", allow_unlabeled=True)
    # a: (T,T) TP, (F,NA) unlabeled negative, (T,T) TP. b: (T,F) FP, (F,T) FN, (T,NA) unlabeled positive.
    assert grouped["a"] == ConfusionCounts(tp=2, unlabeled_neg=1)
    assert grouped["b"] == ConfusionCounts(fp=1, fn=1, unlabeled_pos=1)


def test_string_labels_match_integer_labels() -> None:
    text_pred = ["approve" if value else "deny" for value in SMALL_PRED]
    text_true = ["approve" if value else "deny" for value in SMALL_TRUE]
    from_text = confusion_counts(SMALL_GROUPS, text_pred, text_true, favorable_label="approve")
    assert from_text == confusion_counts(SMALL_GROUPS, SMALL_PRED, SMALL_TRUE)


def test_boolean_labels_and_codes_take_the_fast_path() -> None:
    groups = np.array([True, True, False, False])
    grouped = confusion_counts(groups, np.array([True, False, True, True]), np.array([True, True, False, True]))
    assert grouped[True] == ConfusionCounts(tp=1, fn=1)
    assert grouped[False] == ConfusionCounts(fp=1, tp=1)


def test_group_labels_name_integer_codes_and_keep_empty_groups() -> None:
    grouped = confusion_counts(
        np.array([0, 0, 2], dtype=np.int8), [1, 0, 1], [1, 1, 1], group_labels=["Male", "Other", "Female"]
    )
    assert grouped["Male"] == ConfusionCounts(tp=1, fn=1)
    assert grouped["Female"] == ConfusionCounts(tp=1)
    assert "Other" in grouped.groups
    assert grouped["Other"].n == 0
    assert grouped.present_groups() == ("Male", "Female")


def test_inferred_integer_codes_drop_unused_codes() -> None:
    grouped = confusion_counts(np.array([0, 3, 3]), [1, 1, 0])
    assert set(grouped.groups) == {0, 3}


def test_negative_integer_groups_are_values_not_codes() -> None:
    grouped = confusion_counts(np.array([-1, 1, 1, -1]), [1, 0, 1, 0])
    assert list(grouped.groups) == [-1, 1]
    assert grouped[-1] == ConfusionCounts(unlabeled_pos=1, unlabeled_neg=1)
    frame = pd.DataFrame({"g": [-1, 1, 1, -1], "p": [1, 0, 1, 1]})
    assert counts_from_frame(frame, "g", prediction="p")[-1] == ConfusionCounts(unlabeled_pos=2)


def test_sparse_integer_ids_are_factorised_not_allocated_densely() -> None:
    encoded = encode_groups(np.array([0, 20_000_000]), "g")
    assert encoded.labels == (0, 20_000_000)
    grouped = confusion_counts(np.array([20_000_000, 5, 20_000_000]), [1, 0, 0], [1, 0, 1])
    assert list(grouped.groups) == [5, 20_000_000]
    assert grouped[20_000_000] == ConfusionCounts(tp=1, fn=1)
    assert grouped[5] == ConfusionCounts(tn=1)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int32, np.int64])
def test_small_non_negative_codes_keep_the_dense_fast_path(dtype: type) -> None:
    codes = np.array([0, 1, 1, 0, 1], dtype=dtype)
    # The fast path uses the array itself as the codes: no copy, no hashing.
    assert encode_groups(codes, "g").codes is codes
    assert encode_groups(codes, "g", group_labels=["x", "y"]).codes is codes
    wide = np.array([0, DENSE_CODE_FLOOR - 1], dtype=np.int64)
    assert encode_groups(wide, "g").codes is wide
    assert encode_groups(np.array([0, DENSE_CODE_FLOOR]), "g").labels == (0, DENSE_CODE_FLOOR)


def test_categorical_groups_keep_declared_categories() -> None:
    groups = pd.Categorical(["x", "x", "y"], categories=["x", "y", "z"])
    grouped = confusion_counts(groups, [1, 0, 1], [1, 1, 0])
    assert list(grouped.groups) == ["x", "y", "z"]
    assert grouped["z"] == ConfusionCounts()


def test_without_labels_every_row_is_unlabeled() -> None:
    grouped = confusion_counts(SMALL_GROUPS, SMALL_PRED)
    assert grouped["a"] == ConfusionCounts(unlabeled_pos=3, unlabeled_neg=2)
    assert grouped["b"] == ConfusionCounts(unlabeled_pos=1, unlabeled_neg=2)


def test_unlabeled_without_labels_and_favorable_zero() -> None:
    grouped = confusion_counts([0, 0, 0], [0, 0, 1], favorable_label=0)
    assert grouped[0] == ConfusionCounts(unlabeled_pos=2, unlabeled_neg=1)


def test_partially_labeled_rows() -> None:
    labels = [1.0, np.nan, 0.0, np.nan, 1.0, 0.0, None, 0.0]
    grouped = confusion_counts(SMALL_GROUPS, SMALL_PRED, np.array(labels, dtype=object), allow_unlabeled=True)
    # Group a rows: TP, unlabeled(pred 0), FP, unlabeled(pred 0), TP. Group b: TN, unlabeled(pred 0), FP.
    assert grouped["a"] == ConfusionCounts(tp=2, fp=1, unlabeled_neg=2)
    assert grouped["b"] == ConfusionCounts(tn=1, fp=1, unlabeled_neg=1)


def test_weights_multiply_counts_and_carry_squared_weights() -> None:
    weights = [2.0, 0.5, 1.0, 1.0, 1.5, 3.0, 1.0, 0.25]
    grouped = confusion_counts(SMALL_GROUPS, SMALL_PRED, SMALL_TRUE, sample_weight=weights)
    # Group a: TP rows weigh 2 and 1.5 (squares 4 + 2.25), FN 0.5, FP 1, TN 1.
    assert grouped["a"] == ConfusionCounts(tp=3.5, fp=1.0, tn=1.0, fn=0.5, squared_weights=(6.25, 1.0, 1.0, 0.25, 0, 0))
    # Group b: TN rows weigh 3 and 1 (squares 9 + 1), FP 0.25.
    assert grouped["b"] == ConfusionCounts(tn=4.0, fp=0.25, squared_weights=(0, 0.0625, 10.0, 0, 0, 0))
    assert grouped["b"].is_weighted


def test_intersection_of_two_attributes() -> None:
    frame = pd.DataFrame(
        {
            "race": ["A", "A", "B", "B", "B"],
            "sex": ["F", "M", "F", "F", "M"],
            "pred": [1, 0, 1, 0, 1],
            "truth": [1, 1, 0, 0, 1],
        }
    )
    grouped = counts_from_frame(frame, ["race", "sex"], prediction="pred", label="truth")
    assert grouped.attributes == ("race", "sex")
    assert grouped.name == "race x sex"
    assert grouped[("A", "F")] == ConfusionCounts(tp=1)
    assert grouped[("A", "M")] == ConfusionCounts(fn=1)
    assert grouped[("B", "F")] == ConfusionCounts(fp=1, tn=1)
    assert grouped[("B", "M")] == ConfusionCounts(tp=1)


def test_counts_by_attribute_covers_singles_and_intersections() -> None:
    frame = pd.DataFrame({"race": ["A", "B", "B"], "sex": ["F", "F", "M"], "pred": [1, 1, 0], "truth": [1, 0, 0]})
    result = counts_by_attribute(
        frame, ["race", "sex"], prediction="pred", label="truth", intersections=[["race", "sex"]]
    )
    assert set(result) == {("race",), ("sex",), ("race", "sex")}
    assert result[("sex",)]["F"] == ConfusionCounts(tp=1, fp=1)
    assert result[("race", "sex")][("B", "M")] == ConfusionCounts(tn=1)
    for grouped in result.values():
        assert grouped.total() == ConfusionCounts(tp=1, fp=1, tn=1)


def test_whole_frame_as_one_scope() -> None:
    frame = pd.DataFrame({"pred": SMALL_PRED, "truth": SMALL_TRUE})
    grouped = counts_from_frame(frame, (), prediction="pred", label="truth")
    assert grouped["all"] == ConfusionCounts(tp=2, fp=2, tn=3, fn=1)


def test_grouped_counts_add_by_group() -> None:
    first = GroupedCounts(("g",), {"a": ConfusionCounts(tp=1), "b": ConfusionCounts(fn=2)})
    second = GroupedCounts(("g",), {"b": ConfusionCounts(fn=1, tp=4), "c": ConfusionCounts(tn=3)})
    merged = sum([first, second])
    assert merged.groups == {
        "a": ConfusionCounts(tp=1),
        "b": ConfusionCounts(tp=4, fn=3),
        "c": ConfusionCounts(tn=3),
    }


def test_adding_counts_of_different_attributes_is_refused() -> None:
    with pytest.raises(InvalidParameterError):
        GroupedCounts(("race",), {}) + GroupedCounts(("sex",), {})


def test_from_mapping_round_trip_and_validation() -> None:
    counts = ConfusionCounts(tp=1, fp=2, tn=3, fn=4, unlabeled_pos=5, unlabeled_neg=6)
    assert ConfusionCounts.from_mapping(counts.to_dict()) == counts
    assert tuple(counts.to_dict()) == COUNT_FIELDS
    assert ConfusionCounts.from_mapping({"tp": 3}) == ConfusionCounts(tp=3)
    with pytest.raises(InvalidParameterError):
        ConfusionCounts.from_mapping({"tp": -1})
    with pytest.raises(InvalidParameterError):
        ConfusionCounts.from_mapping({"true_positives": 1})


binary = st.integers(min_value=0, max_value=1)
rows_strategy = st.lists(st.tuples(st.integers(min_value=0, max_value=3), binary, binary), min_size=1, max_size=200)


@property_settings(100)
@given(rows=rows_strategy, cut_points=st.lists(st.integers(min_value=0, max_value=200), max_size=4))
def test_counts_equal_sum_over_any_split_of_rows(rows: list[tuple[int, int, int]], cut_points: list[int]) -> None:
    groups, y_true, y_pred = (np.array(column) for column in zip(*rows, strict=True))
    whole = confusion_counts(groups, y_pred, y_true)
    edges = sorted({0, len(rows), *(min(cut, len(rows)) for cut in cut_points)})
    parts = [
        confusion_counts(groups[start:stop], y_pred[start:stop], y_true[start:stop])
        for start, stop in zip(edges, edges[1:], strict=False)
        if stop > start
    ]
    merged = sum(parts)
    for label in whole.groups:
        assert merged[label] == whole[label]
    assert set(merged.present_groups()) == set(whole.present_groups())


wide_rows_strategy = st.lists(
    st.tuples(st.integers(min_value=0, max_value=255), binary, binary), min_size=1, max_size=200
)


@property_settings(100)
@given(
    rows=wide_rows_strategy,
    chunk=st.integers(min_value=1, max_value=17),
    dtype=st.sampled_from([np.uint8, np.int16, np.int32, np.int64]),
)
def test_chunked_counting_matches_a_plain_tally(rows: list[tuple[int, int, int]], chunk: int, dtype: type) -> None:
    columns = list(zip(*rows, strict=True))
    groups = np.array(columns[0], dtype=dtype)
    y_true, y_pred = (np.array(column, dtype=np.int8) for column in columns[1:])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(counts_module, "CHUNK_ROWS", chunk)
        grouped = confusion_counts(groups, y_pred, y_true)
    for label in set(groups.tolist()):
        members = groups == label
        expected = ConfusionCounts(
            tp=int(np.sum(members & (y_true == 1) & (y_pred == 1))),
            fp=int(np.sum(members & (y_true == 0) & (y_pred == 1))),
            tn=int(np.sum(members & (y_true == 0) & (y_pred == 0))),
            fn=int(np.sum(members & (y_true == 1) & (y_pred == 0))),
        )
        assert grouped[label] == expected


@property_settings(60)
@given(rows=rows_strategy, weights=st.lists(st.integers(min_value=0, max_value=4), min_size=200, max_size=200))
def test_integer_weights_equal_repeated_rows(rows: list[tuple[int, int, int]], weights: list[int]) -> None:
    groups, y_true, y_pred = (np.array(column) for column in zip(*rows, strict=True))
    row_weights = np.array(weights[: len(rows)])
    weighted = confusion_counts(groups, y_pred, y_true, sample_weight=row_weights.astype(float))
    repeated = confusion_counts(
        np.repeat(groups, row_weights), np.repeat(y_pred, row_weights), np.repeat(y_true, row_weights)
    )
    for label in repeated.groups:
        assert weighted[label].as_tuple() == pytest.approx(repeated[label].as_tuple())


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16, np.int32, np.int64])
def test_many_groups_in_narrow_integer_codes(dtype: type) -> None:
    # 40 groups x 4 outcomes needs codes up to 159, beyond int8: the arithmetic must widen.
    groups = np.repeat(np.arange(40), 3).astype(dtype)
    y_pred = np.tile([1, 0, 1], 40)
    y_true = np.tile([1, 1, 0], 40)
    grouped = confusion_counts(groups, y_pred, y_true)
    assert len(grouped) == 40
    for label in (0, 31, 39):
        assert grouped[label] == ConfusionCounts(tp=1, fn=1, fp=1)


def test_unsigned_codes_above_127() -> None:
    groups = np.array([0, 200, 255, 255], dtype=np.uint8)
    grouped = confusion_counts(groups, [1, 1, 0, 1], [1, 0, 0, 1])
    assert set(grouped.groups) == {0, 200, 255}
    assert grouped[255] == ConfusionCounts(tn=1, tp=1)
    assert grouped[200] == ConfusionCounts(fp=1)


def test_categorical_series_keeps_its_categories_in_array_form() -> None:
    groups = pd.Series(pd.Categorical(["x", "y"], categories=["x", "y", "z"]))
    grouped = confusion_counts(groups, [1, 0])
    assert list(grouped.groups) == ["x", "y", "z"]
    assert grouped["x"] == ConfusionCounts(unlabeled_pos=1)


def test_boolean_groups_named_by_group_labels() -> None:
    # False is code 0 and True is code 1, so group_labels[1] names the True rows.
    grouped = confusion_counts(np.array([True, False, True]), [1, 1, 0], group_labels=["Male", "Female"])
    assert grouped["Female"] == ConfusionCounts(unlabeled_pos=1, unlabeled_neg=1)
    assert grouped["Male"] == ConfusionCounts(unlabeled_pos=1)
