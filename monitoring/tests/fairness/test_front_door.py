"""The engine's front door: ``evaluate`` takes counts or a DataFrame and gives one report, read as a table or JSON.

The table's rates agree with fairlearn's ``MetricFrame.by_group`` on the same rows; the old spellings build the
same report."""

from __future__ import annotations

import math

import fairlearn.metrics as fairlearn_metrics
import pandas as pd
import pytest

from monitoring.fairness import (
    FairnessPolicy,
    InvalidParameterError,
    counts_from_frame,
    evaluate,
    evaluate_fairness,
    evaluate_frame,
    fairness_report,
    generate_loan_data,
)

LOANS = generate_loan_data(4000, drift_level=0.5, seed=7)
COLUMNS = {"protected": "gender", "prediction": "approved", "label": "creditworthy"}


def test_a_frame_and_its_counts_give_the_same_report() -> None:
    from_frame = evaluate(LOANS, "Male", **COLUMNS)
    counts = counts_from_frame(LOANS, "gender", prediction="approved", label="creditworthy")
    from_counts = evaluate(counts, "Male")
    assert from_frame.to_dict() == from_counts.to_dict()
    pd.testing.assert_frame_equal(from_frame.by_group(), from_counts.by_group())


def test_the_older_spellings_build_the_same_report() -> None:
    policy = FairnessPolicy(confidence=0.9)
    expected = evaluate(LOANS, "Male", policy=policy, **COLUMNS).to_dict()
    counts = counts_from_frame(LOANS, "gender", prediction="approved", label="creditworthy")
    assert (
        evaluate_frame(
            LOANS, "gender", privileged="Male", prediction="approved", label="creditworthy", policy=policy
        ).to_dict()
        == expected
    )
    assert fairness_report(counts, "Male", policy=policy).to_dict() == expected
    assert (
        evaluate_fairness(
            LOANS["gender"],
            LOANS["approved"],
            LOANS["creditworthy"],
            privileged="Male",
            attribute="gender",
            policy=policy,
        ).to_dict()
        == expected
    )


def test_by_group_matches_fairlearn_metric_frame() -> None:
    table = evaluate(LOANS, "Male", **COLUMNS).by_group()
    frame = fairlearn_metrics.MetricFrame(
        metrics={
            "selection_rate": fairlearn_metrics.selection_rate,
            "true_positive_rate": fairlearn_metrics.true_positive_rate,
            "false_positive_rate": fairlearn_metrics.false_positive_rate,
            "n": fairlearn_metrics.count,
        },
        y_true=LOANS["creditworthy"].astype(int),
        y_pred=LOANS["approved"].astype(int),
        sensitive_features=LOANS["gender"],
    ).by_group
    for group in ("Male", "Female"):
        for column in ("selection_rate", "true_positive_rate", "false_positive_rate", "n"):
            assert table.loc[group, column] == pytest.approx(frame.loc[group, column], abs=1e-12)
    rates = frame["selection_rate"]
    assert table.loc["Female", "disparate_impact_ratio"] == pytest.approx(rates["Female"] / rates["Male"], abs=1e-12)
    assert table.loc["Female", "statistical_parity_difference"] == pytest.approx(
        rates["Female"] - rates["Male"], abs=1e-12
    )


def test_by_group_puts_the_reference_first_and_leaves_its_comparisons_empty() -> None:
    table = evaluate(LOANS, "Male", **COLUMNS).by_group(intervals=True)
    assert list(table.index) == ["Male", "Female"]
    assert table.index.name == "gender"
    assert math.isnan(table.loc["Male", "disparate_impact_ratio"])
    assert pd.isna(table.loc["Male", "verdict"])
    assert table.loc["Female", "verdict"] == "significant_violation"  # drift 0.5 is far below the four-fifths line
    for metric in ("selection_rate", "disparate_impact_ratio", "average_odds_difference"):
        lower, value, upper = (table.loc["Female", f"{metric}{suffix}"] for suffix in ("_lower", "", "_upper"))
        assert lower <= value <= upper


def test_wrong_input_is_a_clear_input_error() -> None:
    counts = counts_from_frame(LOANS, "gender", prediction="approved", label="creditworthy")
    with pytest.raises(InvalidParameterError, match="protected describe DataFrame columns"):
        evaluate(counts, "Male", protected="gender")
    with pytest.raises(InvalidParameterError, match="needs protected= and prediction="):
        evaluate(LOANS, "Male", protected="gender")
    with pytest.raises(InvalidParameterError, match="not list"):
        evaluate([1, 0, 1], "Male")
