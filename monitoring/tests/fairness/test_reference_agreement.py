"""Property tests: the engine agrees with AIF360 and fairlearn on random data and ignores row order."""

from __future__ import annotations

import logging
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitoring.fairness import (
    FairnessPolicy,
    average_odds_difference_from_counts,
    between_group_theil_index_from_counts,
    confusion_counts,
    disparate_impact_ratio_from_counts,
    equal_opportunity_difference_from_counts,
    evaluate_fairness,
    false_positive_rate_difference_from_counts,
    statistical_parity_difference_from_counts,
    theil_index_from_counts,
)
from monitoring.tests.fairness.support import property_settings

# AIF360 announces its optional back-ends through logging when imported; that noise is irrelevant here.
logging.getLogger("aif360").setLevel(logging.ERROR)
logging.disable(logging.WARNING)
aif360_datasets = pytest.importorskip("aif360.datasets")
aif360_metrics = pytest.importorskip("aif360.metrics")
logging.disable(logging.NOTSET)
fairlearn_metrics = pytest.importorskip("fairlearn.metrics")

TOLERANCE = 1e-9


@st.composite
def labelled_rows(draw: st.DrawFn, n_groups: int = 2, weighted: bool = False) -> dict[str, np.ndarray]:
    """Random rows where the privileged group 0 and the unprivileged group 1 both occur."""
    size = draw(st.integers(min_value=2, max_value=120))
    groups = np.array(draw(st.lists(st.integers(0, n_groups - 1), min_size=size, max_size=size)))
    groups[0], groups[1] = 0, 1
    y_true = np.array(draw(st.lists(st.integers(0, 1), min_size=size, max_size=size)))
    y_pred = np.array(draw(st.lists(st.integers(0, 1), min_size=size, max_size=size)))
    rows = {"groups": groups, "y_true": y_true, "y_pred": y_pred}
    if weighted:
        weights = draw(st.lists(st.floats(0.1, 5.0, allow_nan=False), min_size=size, max_size=size))
        rows["weights"] = np.array(weights)
    return rows


def aif360_metric(rows: dict[str, np.ndarray], favorable: int = 1) -> object:
    frame = pd.DataFrame({"g": rows["groups"].astype(float), "y": rows["y_true"].astype(float)})
    truth = aif360_datasets.BinaryLabelDataset(
        df=frame,
        label_names=["y"],
        protected_attribute_names=["g"],
        favorable_label=float(favorable),
        unfavorable_label=float(1 - favorable),
        instance_weights_name=None,
    )
    if "weights" in rows:
        truth.instance_weights = rows["weights"].astype(float)
    predicted = truth.copy()
    predicted.labels = rows["y_pred"].reshape(-1, 1).astype(float)
    return aif360_metrics.ClassificationMetric(
        truth, predicted, unprivileged_groups=[{"g": 1}], privileged_groups=[{"g": 0}]
    )


def assert_agrees(ours: float | None, theirs: float) -> None:
    if ours is None:
        assert not math.isfinite(theirs), f"engine undefined but reference gave {theirs}"
    else:
        assert math.isfinite(theirs), f"reference undefined but engine gave {ours}"
        assert ours == pytest.approx(theirs, abs=TOLERANCE, rel=TOLERANCE)


def compare_with_aif360(rows: dict[str, np.ndarray]) -> None:
    grouped = confusion_counts(rows["groups"], rows["y_pred"], rows["y_true"], sample_weight=rows.get("weights"))
    unprivileged, privileged = grouped[1], grouped[0]
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        metric = aif360_metric(rows)
        reference = {
            "dir": metric.disparate_impact(),
            "spd": metric.statistical_parity_difference(),
            "eod": metric.equal_opportunity_difference(),
            "aod": metric.average_odds_difference(),
            "fpr": metric.false_positive_rate_difference(),
        }
    assert_agrees(disparate_impact_ratio_from_counts(unprivileged, privileged).value, reference["dir"])
    assert_agrees(statistical_parity_difference_from_counts(unprivileged, privileged).value, reference["spd"])
    assert_agrees(equal_opportunity_difference_from_counts(unprivileged, privileged).value, reference["eod"])
    assert_agrees(average_odds_difference_from_counts(unprivileged, privileged).value, reference["aod"])
    assert_agrees(false_positive_rate_difference_from_counts(unprivileged, privileged).value, reference["fpr"])


@property_settings(200)
@given(rows=labelled_rows())
def test_group_metrics_agree_with_aif360(rows: dict[str, np.ndarray]) -> None:
    compare_with_aif360(rows)


@property_settings(150)
@given(rows=labelled_rows(weighted=True))
def test_weighted_group_metrics_agree_with_aif360(rows: dict[str, np.ndarray]) -> None:
    compare_with_aif360(rows)


@property_settings(150)
@given(rows=labelled_rows(n_groups=3), as_float=st.booleans())
def test_favorable_label_zero_agrees_with_aif360(rows: dict[str, np.ndarray], as_float: bool) -> None:
    # AIF360 told that 0.0 is the favorable label; the engine gets integer or float columns with favorable 0.
    dtype = np.float64 if as_float else np.int64
    grouped = confusion_counts(
        rows["groups"], rows["y_pred"].astype(dtype), rows["y_true"].astype(dtype), favorable_label=0
    )
    unprivileged, privileged = grouped[1], grouped[0]
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        metric = aif360_metric(rows, favorable=0)
        reference = {
            "dir": metric.disparate_impact(),
            "spd": metric.statistical_parity_difference(),
            "eod": metric.equal_opportunity_difference(),
            "aod": metric.average_odds_difference(),
            "fpr": metric.false_positive_rate_difference(),
            "theil": metric.theil_index(),
            "between": metric.between_all_groups_theil_index(),
        }
    assert_agrees(disparate_impact_ratio_from_counts(unprivileged, privileged).value, reference["dir"])
    assert_agrees(statistical_parity_difference_from_counts(unprivileged, privileged).value, reference["spd"])
    assert_agrees(equal_opportunity_difference_from_counts(unprivileged, privileged).value, reference["eod"])
    assert_agrees(average_odds_difference_from_counts(unprivileged, privileged).value, reference["aod"])
    assert_agrees(false_positive_rate_difference_from_counts(unprivileged, privileged).value, reference["fpr"])
    assert_agrees(theil_index_from_counts(grouped.total()).value, reference["theil"])
    assert_agrees(between_group_theil_index_from_counts(grouped.groups.values()).value, reference["between"])


@property_settings(200)
@given(rows=labelled_rows(n_groups=2))
def test_theil_indices_agree_with_aif360_for_two_groups(rows: dict[str, np.ndarray]) -> None:
    grouped = confusion_counts(rows["groups"], rows["y_pred"], rows["y_true"])
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        metric = aif360_metric(rows)
        theil, between = metric.theil_index(), metric.between_group_theil_index()
    assert_agrees(theil_index_from_counts(grouped.total()).value, theil)
    assert_agrees(between_group_theil_index_from_counts(grouped.groups.values()).value, between)


@property_settings(200)
@given(rows=labelled_rows(n_groups=4))
def test_between_all_groups_theil_agrees_with_aif360(rows: dict[str, np.ndarray]) -> None:
    grouped = confusion_counts(rows["groups"], rows["y_pred"], rows["y_true"])
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        metric = aif360_metric(rows)
        theil, between = metric.theil_index(), metric.between_all_groups_theil_index()
    assert_agrees(theil_index_from_counts(grouped.total()).value, theil)
    assert_agrees(between_group_theil_index_from_counts(grouped.groups.values()).value, between)


@property_settings(200)
@given(rows=labelled_rows(n_groups=3, weighted=True))
def test_rates_and_ratios_agree_with_fairlearn(rows: dict[str, np.ndarray]) -> None:
    weights = rows["weights"]
    frame = fairlearn_metrics.MetricFrame(
        metrics={
            "selection_rate": fairlearn_metrics.selection_rate,
            "tpr": fairlearn_metrics.true_positive_rate,
            "fpr": fairlearn_metrics.false_positive_rate,
        },
        y_true=rows["y_true"],
        y_pred=rows["y_pred"],
        sensitive_features=rows["groups"],
        sample_params={name: {"sample_weight": weights} for name in ("selection_rate", "tpr", "fpr")},
    )
    report = evaluate_fairness(
        rows["groups"], rows["y_pred"], rows["y_true"], privileged=0, sample_weight=weights, n_bootstrap=0
    )
    by_group = frame.by_group
    for summary in report.groups:
        expected = by_group.loc[summary.group]
        # fairlearn reports a rate with a zero denominator as 0 (with a warning); the engine says None.
        if summary.true_positive_rate.value is not None:
            assert summary.true_positive_rate.value == pytest.approx(expected["tpr"], abs=TOLERANCE)
        if summary.false_positive_rate.value is not None:
            assert summary.false_positive_rate.value == pytest.approx(expected["fpr"], abs=TOLERANCE)
        assert summary.selection_rate.value == pytest.approx(expected["selection_rate"], abs=TOLERANCE)
    privileged_rate = by_group.loc[0, "selection_rate"]
    for comparison in report.comparisons:
        rate = by_group.loc[comparison.group, "selection_rate"]
        spd = comparison.statistical_parity_difference.value
        assert spd == pytest.approx(rate - privileged_rate, abs=TOLERANCE)
        if privileged_rate > 0:
            assert comparison.disparate_impact_ratio.value == pytest.approx(rate / privileged_rate, abs=TOLERANCE)
    if len(by_group) == 2 and by_group["selection_rate"].min() > 0:
        dir_value = report.comparison(1).disparate_impact_ratio.value
        parity_ratio = fairlearn_metrics.demographic_parity_ratio(
            rows["y_true"], rows["y_pred"], sensitive_features=rows["groups"], sample_weight=weights
        )
        # fairlearn's ratio is min/max over groups, i.e. DIR or its reciprocal, whichever is below 1.
        assert min(dir_value, 1 / dir_value) == pytest.approx(parity_ratio, abs=TOLERANCE)


@property_settings(200)
@given(rows=labelled_rows(n_groups=3), data=st.data())
def test_report_is_invariant_under_row_order(rows: dict[str, np.ndarray], data: st.DataObject) -> None:
    order = np.array(data.draw(st.permutations(range(len(rows["groups"])))))
    policy = FairnessPolicy(min_group_size=0)
    original = evaluate_fairness(rows["groups"], rows["y_pred"], rows["y_true"], privileged=0, policy=policy, seed=3)
    shuffled = evaluate_fairness(
        rows["groups"][order], rows["y_pred"][order], rows["y_true"][order], privileged=0, policy=policy, seed=3
    )
    assert shuffled.to_dict() == original.to_dict()
