"""Reweighing: the weights equal AIF360's, make group and label independent, and sum to n; bad input is refused."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitoring.fairness import (
    FairnessInputError,
    InvalidParameterError,
    LengthMismatchError,
    NaNValueError,
    NonBinaryLabelError,
    generate_loan_data,
    reweighing_weights,
)
from monitoring.tests.fairness.support import property_settings

# AIF360 announces its optional back-ends through logging when imported; that noise is irrelevant here.
logging.getLogger("aif360").setLevel(logging.ERROR)
logging.disable(logging.WARNING)
aif360_datasets = pytest.importorskip("aif360.datasets")
aif360_preprocessing = pytest.importorskip("aif360.algorithms.preprocessing")
logging.disable(logging.NOTSET)

TOLERANCE = 1e-12


def aif360_weights(groups: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """AIF360's ``Reweighing`` on two groups coded 0 (privileged) and 1, with labels 0/1 (favourable 1)."""
    frame = pd.DataFrame({"g": groups.astype(float), "y": labels.astype(float)})
    dataset = aif360_datasets.BinaryLabelDataset(
        df=frame, label_names=["y"], protected_attribute_names=["g"], favorable_label=1.0, unfavorable_label=0.0
    )
    # An empty (group, label) cell makes AIF360 divide 0 by 0 for a weight no row receives.
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        reweighing = aif360_preprocessing.Reweighing(unprivileged_groups=[{"g": 1}], privileged_groups=[{"g": 0}])
        return reweighing.fit_transform(dataset).instance_weights


def loan_rows(drift_level: float) -> tuple[np.ndarray, np.ndarray]:
    data = generate_loan_data(2000, drift_level=drift_level, seed=11)
    return (data["gender"] == "Female").to_numpy(dtype=int), data["approved"].to_numpy(dtype=int)


def weighted_positive_rate(weights: np.ndarray, groups: np.ndarray, labels: np.ndarray, group: object) -> float:
    members = groups == group
    return float(weights[members & (labels == 1)].sum() / weights[members].sum())


@pytest.mark.parametrize(
    ("groups", "labels"),
    [
        pytest.param(np.array([0, 0, 0, 0, 1, 1, 1, 1]), np.array([1, 1, 1, 0, 1, 0, 0, 0]), id="hand-example"),
        pytest.param(np.array([0, 0, 1, 1, 1]), np.array([1, 1, 0, 0, 1]), id="privileged-all-favourable"),
        pytest.param(*loan_rows(0.0), id="loan-unbiased"),
        pytest.param(*loan_rows(0.6), id="loan-drift-0.6"),
        pytest.param(*loan_rows(1.0), id="loan-drift-1"),
    ],
)
def test_weights_equal_aif360_reweighing(groups: np.ndarray, labels: np.ndarray) -> None:
    assert reweighing_weights(groups, labels) == pytest.approx(aif360_weights(groups, labels), rel=TOLERANCE)


def test_hand_example_weights() -> None:
    # n=8; group 0 has 3 of 4 favourable, group 1 has 1 of 4; P(y=1) = 1/2, P(g) = 1/2.
    weights = reweighing_weights(["M", "M", "M", "M", "F", "F", "F", "F"], [1, 1, 1, 0, 1, 0, 0, 0])
    # w(M,1) = (4*4)/(8*3) = 2/3, w(M,0) = 16/(8*1) = 2, w(F,1) = 2, w(F,0) = 2/3.
    assert weights == pytest.approx([2 / 3, 2 / 3, 2 / 3, 2, 2, 2 / 3, 2 / 3, 2 / 3])


def test_label_values_and_types_do_not_matter() -> None:
    groups = pd.Series(["a", "b", "b", "a", "c", "c", "a"])
    numeric = reweighing_weights(groups, np.array([1, 0, 1, 1, 0, 0, 1]))
    assert reweighing_weights(groups, np.array([True, False, True, True, False, False, True])) == pytest.approx(numeric)
    assert reweighing_weights(groups, ["yes", "no", "yes", "yes", "no", "no", "yes"]) == pytest.approx(numeric)
    assert reweighing_weights(groups.astype("category"), [1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0]) == pytest.approx(numeric)


def test_independent_data_gets_unit_weights() -> None:
    groups = np.repeat([0, 1], 10)
    labels = np.tile([1, 1, 0, 0, 0], 4)
    assert reweighing_weights(groups, labels) == pytest.approx(np.ones(20))


@st.composite
def group_label_rows(draw: st.DrawFn, every_cell: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Random rows; with ``every_cell`` each group has at least one row of each label."""
    n_groups = draw(st.integers(min_value=1, max_value=4))
    size = draw(st.integers(min_value=1, max_value=150))
    groups = np.array(draw(st.lists(st.integers(0, n_groups - 1), min_size=size, max_size=size)))
    labels = np.array(draw(st.lists(st.integers(0, 1), min_size=size, max_size=size)))
    if every_cell:
        groups = np.r_[np.repeat(np.arange(n_groups), 2), groups]
        labels = np.r_[np.tile([0, 1], n_groups), labels]
    return groups, labels


@property_settings(300)
@given(rows=group_label_rows(every_cell=True))
def test_weighted_data_has_group_independent_of_label(rows: tuple[np.ndarray, np.ndarray]) -> None:
    groups, labels = rows
    weights = reweighing_weights(groups, labels)
    overall = labels.mean()
    assert np.all(weights > 0)
    for group in np.unique(groups):
        assert weighted_positive_rate(weights, groups, labels, group) == pytest.approx(overall, abs=1e-12)
        # each group keeps its size
        assert weights[groups == group].sum() == pytest.approx((groups == group).sum(), rel=1e-12)
    assert weights.sum() == pytest.approx(len(groups), rel=1e-12)


@property_settings(60)
@given(rows=group_label_rows())
def test_two_group_weights_agree_with_aif360_on_random_data(rows: tuple[np.ndarray, np.ndarray]) -> None:
    groups, labels = rows
    groups = np.minimum(groups, 1)
    groups[0] = 0
    if len(groups) > 1:
        groups[1] = 1
    assert reweighing_weights(groups, labels) == pytest.approx(aif360_weights(groups, labels), rel=TOLERANCE)


def test_a_group_with_one_label_cannot_be_made_independent() -> None:
    # Group "b" has no favourable rows: its rows get P(y=0) = 3/5 and its weighted rate stays 0 (as in AIF360).
    groups = np.array(["a", "a", "b", "b", "a"])
    labels = np.array([1, 0, 0, 0, 1])
    weights = reweighing_weights(groups, labels)
    assert weights[groups == "b"] == pytest.approx([0.6, 0.6])
    assert weighted_positive_rate(weights, groups, labels, "b") == 0
    assert weights.sum() < len(groups)
    assert weights == pytest.approx(aif360_weights((groups == "b").astype(int), labels), rel=TOLERANCE)


@pytest.mark.parametrize(
    ("groups", "labels", "error", "code"),
    [
        pytest.param(["a", "b"], [1, 0, 1], LengthMismatchError, "length_mismatch", id="length"),
        pytest.param([], [], InvalidParameterError, "invalid_parameter", id="empty"),
        pytest.param(["a", None], [1, 0], NaNValueError, "nan_value", id="nan-group"),
        pytest.param(["a", "b"], [1.0, np.nan], NaNValueError, "nan_value", id="nan-label"),
        pytest.param(["a", "b"], [1, None], NaNValueError, "nan_value", id="none-label"),
        pytest.param(["a", "b", "a"], [0, 1, 2], NonBinaryLabelError, "non_binary_label", id="three-labels"),
        pytest.param(["a", "b", "a"], ["x", "y", "z"], NonBinaryLabelError, "non_binary_label", id="three-strings"),
        pytest.param(["a", "b"], [[1, 0], [0, 1]], InvalidParameterError, "invalid_parameter", id="2-d-labels"),
    ],
)
def test_bad_input_is_refused(groups: object, labels: object, error: type[FairnessInputError], code: str) -> None:
    with pytest.raises(error) as raised:
        reweighing_weights(groups, labels)
    assert raised.value.code == code
