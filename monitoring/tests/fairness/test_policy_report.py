"""Policy verdicts and the multi-group fairness report."""

from __future__ import annotations

import json

import numpy as np
import pytest

from monitoring.fairness import (
    Band,
    ConfusionCounts,
    FairnessPolicy,
    GroupedCounts,
    InvalidParameterError,
    MetricValue,
    Verdict,
    confusion_counts,
    evaluate_fairness,
    evaluate_frame,
    fairness_report,
    generate_loan_data,
    judge,
    worst_verdict,
)


def selected(chosen: int, total: int) -> ConfusionCounts:
    """A group of ``total`` rows with ``chosen`` favorable predictions (labels: predictions are correct)."""
    return ConfusionCounts(tp=chosen, tn=total - chosen)


def dir_verdict(unprivileged: ConfusionCounts, privileged: ConfusionCounts, policy: FairnessPolicy) -> Verdict:
    grouped = GroupedCounts(("g",), {"p": privileged, "u": unprivileged})
    return (
        fairness_report(grouped, "p", policy=policy, n_bootstrap=0).comparison("u").verdicts["disparate_impact_ratio"]
    )


def test_verdict_pass() -> None:
    assert dir_verdict(selected(700, 1000), selected(700, 1000), FairnessPolicy()) is Verdict.PASS


def test_verdict_possible_violation_when_only_the_estimate_is_outside() -> None:
    # DIR = 0.30 / 0.40 = 0.75, but with 100 rows per group the interval reaches above 0.8.
    policy = FairnessPolicy()
    report = fairness_report(
        GroupedCounts(("g",), {"p": selected(40, 100), "u": selected(30, 100)}), "p", policy=policy, n_bootstrap=0
    )
    dir_value = report.comparison("u").disparate_impact_ratio
    assert dir_value.value == pytest.approx(0.75)
    assert dir_value.upper > 0.8
    assert report.comparison("u").verdicts["disparate_impact_ratio"] is Verdict.POSSIBLE_VIOLATION


def test_verdict_significant_violation_when_the_whole_interval_is_outside() -> None:
    verdict = dir_verdict(selected(1500, 5000), selected(2500, 5000), FairnessPolicy())
    assert verdict is Verdict.SIGNIFICANT_VIOLATION


def test_verdict_insufficient_data_below_minimum_group_size() -> None:
    verdict = dir_verdict(selected(2, 20), selected(700, 1000), FairnessPolicy(min_group_size=30))
    assert verdict is Verdict.INSUFFICIENT_DATA
    assert dir_verdict(selected(2, 20), selected(700, 1000), FairnessPolicy(min_group_size=20)) is not (
        Verdict.INSUFFICIENT_DATA
    )


def test_upper_band_catches_a_favoured_group() -> None:
    policy = FairnessPolicy(bands={"disparate_impact_ratio": Band(0.8, 1.25)})
    assert dir_verdict(selected(3000, 5000), selected(2000, 5000), policy) is Verdict.SIGNIFICANT_VIOLATION


def test_label_metrics_use_their_own_denominators_for_the_minimum_size() -> None:
    # 1000 rows each, but only 10 actual positives in the unprivileged group: EOD cannot be judged.
    unprivileged = ConfusionCounts(tp=5, fn=5, fp=100, tn=890)
    privileged = ConfusionCounts(tp=300, fn=100, fp=100, tn=500)
    policy = FairnessPolicy(bands={"equal_opportunity_difference": Band(-0.1, 0.1)}, min_group_size=30)
    report = fairness_report(GroupedCounts(("g",), {"p": privileged, "u": unprivileged}), "p", policy=policy)
    assert report.comparison("u").verdicts == {"equal_opportunity_difference": Verdict.INSUFFICIENT_DATA}


def test_judge_undefined_metric_is_insufficient_data() -> None:
    assert judge(MetricValue.undefined("privileged_selection_rate_zero"), Band(0.8), (100, 100), 30) is (
        Verdict.INSUFFICIENT_DATA
    )


def test_judge_without_interval_can_only_be_possible_violation() -> None:
    assert judge(MetricValue(0.5), Band(0.8), (100, 100), 30) is Verdict.POSSIBLE_VIOLATION


def test_worst_verdict_order() -> None:
    assert worst_verdict([Verdict.PASS, Verdict.INSUFFICIENT_DATA]) is Verdict.INSUFFICIENT_DATA
    assert worst_verdict([Verdict.INSUFFICIENT_DATA, Verdict.POSSIBLE_VIOLATION]) is Verdict.POSSIBLE_VIOLATION
    assert worst_verdict([Verdict.SIGNIFICANT_VIOLATION, Verdict.PASS]) is Verdict.SIGNIFICANT_VIOLATION
    assert worst_verdict([]) is Verdict.INSUFFICIENT_DATA


def test_policy_validation() -> None:
    with pytest.raises(InvalidParameterError):
        FairnessPolicy(bands={"accuracy": Band(0.9)})
    with pytest.raises(InvalidParameterError):
        Band(1.0, 0.5)
    with pytest.raises(InvalidParameterError):
        FairnessPolicy(confidence=1.5)
    with pytest.raises(InvalidParameterError):
        FairnessPolicy(min_group_size=-1)


@pytest.fixture
def four_groups() -> GroupedCounts:
    return GroupedCounts(
        ("race",),
        {
            "White": ConfusionCounts(tp=400, fp=100, tn=400, fn=100),  # SR 0.50
            "Black": ConfusionCounts(tp=250, fp=50, tn=500, fn=200),  # SR 0.30
            "Asian": ConfusionCounts(tp=450, fp=150, tn=300, fn=100),  # SR 0.60
            "Other": ConfusionCounts(),
        },
    )


def test_multi_group_report_compares_every_group_with_the_reference(four_groups: GroupedCounts) -> None:
    report = fairness_report(four_groups, "White", n_bootstrap=200)
    assert [c.group for c in report.comparisons] == ["Black", "Asian", "Other"]
    assert all(c.reference == "White" for c in report.comparisons)
    assert report.comparison("Black").disparate_impact_ratio.value == pytest.approx(0.6)
    assert report.comparison("Asian").disparate_impact_ratio.value == pytest.approx(1.2)
    assert report.comparison("Other").disparate_impact_ratio.reason == "unprivileged_group_empty"
    assert report.comparison("Other").verdict is Verdict.INSUFFICIENT_DATA
    assert report.comparison("Black").gap_alert is False  # |0.5 - 0.3| = 0.2 is not above 0.2
    assert report.comparison("Black").selection_rate_gap.value == pytest.approx(0.2)


def test_worst_cases_and_impact_ratio(four_groups: GroupedCounts) -> None:
    report = fairness_report(four_groups, "White", n_bootstrap=0)
    assert report.worst["disparate_impact_ratio"].group == "Black"
    assert report.worst["statistical_parity_difference"].group == "Black"  # |-0.2| > |+0.1|
    assert report.worst["statistical_parity_difference"].value.value == pytest.approx(-0.2)
    assert report.worst["impact_ratio"].group == "Black"
    assert report.worst["impact_ratio"].value.value == pytest.approx(0.3 / 0.6)
    assert report.group("Asian").impact_ratio.value == 1.0
    assert report.group("White").impact_ratio.value == pytest.approx(0.5 / 0.6)
    assert report.verdict is Verdict.SIGNIFICANT_VIOLATION


def test_worst_dir_is_the_furthest_from_parity_on_the_log_scale() -> None:
    # SR: p 0.5, a 0.79 (DIR 1.58, |ln| = 0.457), b 0.395 (DIR 0.79, |ln| = 0.236).
    grouped = GroupedCounts(("g",), {"p": selected(500, 1000), "a": selected(790, 1000), "b": selected(395, 1000)})
    policy = FairnessPolicy(bands={"disparate_impact_ratio": Band(0.8, 1.25)})
    report = fairness_report(grouped, "p", policy=policy, n_bootstrap=0)
    assert report.comparison("a").verdict is Verdict.SIGNIFICANT_VIOLATION
    assert report.comparison("b").verdict is Verdict.POSSIBLE_VIOLATION
    assert report.worst["disparate_impact_ratio"].group == "a"
    assert report.worst["disparate_impact_ratio"].value.value == pytest.approx(1.58)


@pytest.mark.parametrize(
    ("chosen", "worst"),
    [
        ({"low": 400, "high": 600}, "low"),  # 0.8 (|ln| 0.223) against 1.2 (|ln| 0.182)
        ({"low": 450, "high": 650}, "high"),  # 0.9 (|ln| 0.105) against 1.3 (|ln| 0.262)
        ({"low": 0, "high": 1000}, "low"),  # nobody selected: DIR 0 is infinitely far from parity
    ],
)
def test_worst_dir_compares_ratios_below_and_above_parity(chosen: dict[str, int], worst: str) -> None:
    groups = {"p": selected(500, 1000)} | {label: selected(count, 1000) for label, count in chosen.items()}
    report = fairness_report(GroupedCounts(("g",), groups), "p", n_bootstrap=0)
    assert report.worst["disparate_impact_ratio"].group == worst


def test_theil_components_in_report(four_groups: GroupedCounts) -> None:
    report = fairness_report(four_groups, "White", n_bootstrap=300, seed=1)
    assert 0.0 < report.between_group_theil_index.value < report.theil_index.value
    assert report.theil_index.lower <= report.theil_index.value <= report.theil_index.upper


def test_privileged_group_missing_from_counts_is_undefined_not_an_error() -> None:
    grouped = GroupedCounts(("g",), {"u": selected(30, 100)})
    report = fairness_report(grouped, "p", n_bootstrap=0)
    comparison = report.comparison("u")
    assert comparison.disparate_impact_ratio.reason == "privileged_group_empty"
    assert comparison.verdict is Verdict.INSUFFICIENT_DATA
    assert report.group("p").selection_rate.reason == "no_rows"


def test_report_without_bands_has_no_verdicts() -> None:
    grouped = GroupedCounts(("g",), {"p": selected(40, 100), "u": selected(30, 100)})
    report = fairness_report(grouped, "p", policy=FairnessPolicy(bands={}), n_bootstrap=0)
    assert report.verdict is None
    assert report.comparison("u").verdicts == {}


def test_report_to_dict_is_json_with_native_types() -> None:
    frame = generate_loan_data(600, drift_level=0.5, seed=3)
    report = evaluate_frame(frame, ["gender", "region"], privileged=("Male", "North"), prediction="approved")
    payload = json.loads(json.dumps(report.to_dict()))
    assert payload["attribute"] == "gender x region"
    assert payload["privileged"] == ["Male", "North"]
    assert len(payload["comparisons"]) == 7
    assert payload["verdict"] in {verdict.value for verdict in Verdict}
    metric_values = list(iter_metric_values(payload))
    assert len(metric_values) > 50
    for metric in metric_values:
        # Every metric is either a number or None with a reason: never a silent gap.
        assert isinstance(metric["value"], float) or isinstance(metric["reason"], str)


def iter_metric_values(node: object):
    if isinstance(node, dict):
        if set(node) == {"value", "lower", "upper", "reason"}:
            yield node
            return
        for child in node.values():
            yield from iter_metric_values(child)
    elif isinstance(node, list):
        for child in node:
            yield from iter_metric_values(child)


def test_report_from_summed_window_counts_equals_report_from_all_rows() -> None:
    rng = np.random.default_rng(11)
    groups = rng.integers(0, 3, 3000)
    y_true = rng.integers(0, 2, 3000)
    y_pred = (rng.random(3000) < np.where(groups == 0, 0.6, 0.45)).astype(int)
    windows = [
        confusion_counts(groups[start : start + 500], y_pred[start : start + 500], y_true[start : start + 500])
        for start in range(0, 3000, 500)
    ]
    from_rollups = fairness_report(sum(windows), 0, seed=5)
    from_rows = evaluate_fairness(groups, y_pred, y_true, privileged=0, seed=5)
    assert from_rollups.to_dict() == from_rows.to_dict()
