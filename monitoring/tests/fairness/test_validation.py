"""Input validation: each bad input raises its specific error with a machine code and the culprit named."""

from __future__ import annotations

import json
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from monitoring.fairness import (
    ConfusionCounts,
    FairnessInputError,
    InvalidParameterError,
    LengthMismatchError,
    MissingColumnError,
    NaNValueError,
    NonBinaryLabelError,
    PrivilegedValueMissingError,
    SingleGroupError,
    UnknownFavorableLabelError,
    compute_all_metrics,
    confusion_counts,
    counts_from_frame,
    evaluate_fairness,
    evaluate_frame,
)


@pytest.fixture
def loans() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "gender": ["Male", "Female", "Male", "Female"],
            "approved": [1, 0, 1, 1],
            "creditworthy": [1, 1, 0, 1],
        }
    )


def test_missing_column_names_the_column(loans: pd.DataFrame) -> None:
    with pytest.raises(MissingColumnError) as caught:
        counts_from_frame(loans, "race", prediction="approved")
    assert caught.value.code == "missing_column"
    assert caught.value.column == "race"
    assert "'race'" in str(caught.value)


def test_missing_label_column(loans: pd.DataFrame) -> None:
    with pytest.raises(MissingColumnError) as caught:
        compute_all_metrics(loans, label="repaid")
    assert caught.value.column == "repaid"


def test_non_binary_prediction(loans: pd.DataFrame) -> None:
    loans["approved"] = [0, 1, 2, 1]
    with pytest.raises(NonBinaryLabelError) as caught:
        counts_from_frame(loans, "gender", prediction="approved")
    assert caught.value.code == "non_binary_label"
    assert caught.value.column == "approved"


def test_predictions_and_labels_coded_differently_are_rejected() -> None:
    # Each column is binary on its own, but together they use three values.
    with pytest.raises(NonBinaryLabelError):
        confusion_counts([0, 0, 1, 1], [1, 2, 1, 2], [0, 1, 0, 1], favorable_label=1)


@pytest.mark.parametrize(
    ("column", "values"),
    [
        ("approved", [1.0, np.nan, 0.0, 1.0]),
        ("creditworthy", [1, None, 0, 1]),
        ("gender", ["Male", None, "Male", "Female"]),
    ],
)
def test_nan_values_are_rejected(loans: pd.DataFrame, column: str, values: list[object]) -> None:
    loans[column] = values
    with pytest.raises(NaNValueError) as caught:
        counts_from_frame(loans, "gender", prediction="approved", label="creditworthy")
    assert caught.value.code == "nan_value"
    assert caught.value.column == column
    assert caught.value.value == 1


def test_nan_labels_allowed_when_unlabeled_rows_are_expected(loans: pd.DataFrame) -> None:
    loans["creditworthy"] = [1, None, 0, 1]
    grouped = counts_from_frame(loans, "gender", prediction="approved", label="creditworthy", allow_unlabeled=True)
    assert grouped["Female"].unlabeled_neg == 1


def test_unknown_favorable_label(loans: pd.DataFrame) -> None:
    with pytest.raises(UnknownFavorableLabelError) as caught:
        counts_from_frame(loans, "gender", prediction="approved", favorable_label="yes")
    assert caught.value.code == "unknown_favorable_label"
    assert caught.value.value == "yes"


def test_unknown_favorable_label_on_text_labels() -> None:
    with pytest.raises(UnknownFavorableLabelError):
        confusion_counts(["a", "b"], ["approve", "deny"], favorable_label="approved")


def test_single_group_is_rejected(loans: pd.DataFrame) -> None:
    loans["gender"] = "Male"
    with pytest.raises(SingleGroupError) as caught:
        evaluate_frame(loans, "gender", privileged="Male", prediction="approved")
    assert caught.value.code == "single_group"
    assert caught.value.column == "gender"


def test_privileged_value_missing(loans: pd.DataFrame) -> None:
    with pytest.raises(PrivilegedValueMissingError) as caught:
        evaluate_frame(loans, "gender", privileged="male", prediction="approved")
    assert caught.value.code == "privileged_value_missing"
    assert caught.value.value == "male"
    assert "'Female'" in caught.value.message


def test_privileged_code_missing_from_arrays() -> None:
    with pytest.raises(PrivilegedValueMissingError):
        evaluate_fairness(np.array([1, 2, 2]), [1, 0, 1], privileged=0)


def test_length_mismatch() -> None:
    with pytest.raises(LengthMismatchError) as caught:
        confusion_counts([0, 1, 1], [1, 0])
    assert caught.value.code == "length_mismatch"
    assert caught.value.column == "y_pred"


@pytest.mark.parametrize("weights", [[1.0, -1.0, 1.0], [1.0, np.inf, 1.0]])
def test_invalid_weights(weights: list[float]) -> None:
    with pytest.raises(InvalidParameterError):
        confusion_counts([0, 1, 1], [1, 0, 1], sample_weight=weights)


def test_nan_weight() -> None:
    with pytest.raises(NaNValueError):
        confusion_counts([0, 1, 1], [1, 0, 1], sample_weight=[1.0, np.nan, 1.0])


def test_negative_group_code_named_by_group_labels() -> None:
    # Without group_labels negative integers are ordinary group values; as indices into labels they are invalid.
    with pytest.raises(InvalidParameterError):
        confusion_counts(np.array([0, -1]), [1, 0], group_labels=["a", "b"])


def test_group_code_without_label() -> None:
    with pytest.raises(InvalidParameterError):
        confusion_counts(np.array([0, 2]), [1, 0], group_labels=["a", "b"])


def test_every_input_error_is_a_value_error_with_json_description(loans: pd.DataFrame) -> None:
    with pytest.raises(FairnessInputError) as caught:
        counts_from_frame(loans, "race", prediction="approved")
    assert isinstance(caught.value, ValueError)
    described = json.loads(json.dumps(caught.value.to_dict()))
    assert described["code"] == "missing_column"
    assert described["column"] == "race"


def test_single_value_column_without_favorable_label_is_all_unfavorable() -> None:
    grouped = confusion_counts(["a", "b"], ["deny", "deny"], favorable_label="approve")
    assert grouped["a"].unlabeled_neg == 1
    assert grouped["b"].unlabeled_neg == 1
    assert confusion_counts(["a", "b"], [0, 0], favorable_label=1)["a"] == ConfusionCounts(unlabeled_neg=1)
    assert confusion_counts(["a", "b"], [1.0, 1.0], favorable_label=2)["b"] == ConfusionCounts(unlabeled_neg=1)


@pytest.mark.parametrize(
    ("values", "favorable"),
    [
        (np.ones(4, dtype=np.int64), "1"),
        ([1, 1, 1, 1], "approved"),
        (np.ones(4), "1.0"),
        (np.ones(4, dtype=bool), "True"),
        (["1", "1", "1", "1"], 1),
        (["yes", "yes", "yes", "yes"], True),
    ],
)
def test_favorable_label_of_another_type_than_a_single_valued_column(values: object, favorable: object) -> None:
    # A column that is all 1 with favorable label "1" is a type mistake, not a window without approvals.
    with pytest.raises(UnknownFavorableLabelError) as caught:
        confusion_counts(["a", "a", "b", "b"], values, favorable_label=favorable)
    assert caught.value.column == "y_pred"
    with pytest.raises(UnknownFavorableLabelError):
        confusion_counts(["a", "a", "b", "b"], [1, 0, 1, 0], values, favorable_label=favorable)


@pytest.mark.parametrize(
    "value",
    [float("inf"), float("nan"), -1, "3", Decimal("3"), None, True, np.bool_(True), [1], complex(1, 0)],
)
def test_from_mapping_accepts_only_finite_real_numbers(value: object) -> None:
    with pytest.raises(InvalidParameterError):
        ConfusionCounts.from_mapping({"tp": value})


def test_from_mapping_accepts_numpy_numbers_as_python_numbers() -> None:
    counts = ConfusionCounts.from_mapping({"tp": np.int64(3), "fn": np.float32(1.5), "tn": 2})
    assert counts == ConfusionCounts(tp=3, fn=1.5, tn=2)
    assert type(counts.tp) is int
    assert type(counts.fn) is float


def test_weights_that_are_not_numbers() -> None:
    with pytest.raises(InvalidParameterError):
        confusion_counts([0, 1], [1, 0], sample_weight=["a", "b"])
    with pytest.raises(NaNValueError):
        confusion_counts([0, 1], [1, 0], sample_weight=[None, 1.0])
