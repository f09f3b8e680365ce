"""The prototype-named DataFrame functions, on a table small enough to check by hand."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from scipy.stats import binomtest

from monitoring.fairness import (
    FairnessPolicy,
    PrivilegedValueMissingError,
    SingleGroupError,
    average_odds_diff,
    calc_rates,
    calculate_disparate_impact_ratio,
    compute_all_metrics,
    disparate_impact_ratio,
    equal_opportunity_diff,
    statistical_parity_diff,
    theil_index,
)


@pytest.fixture
def loans() -> pd.DataFrame:
    # Male rows (approved, creditworthy): TP, TP, FP, FN, TN -> SR 0.6, TPR 2/3, FPR 1/2.
    # Female rows: TP, FN, TN, TN, FN -> SR 0.2, TPR 1/3, FPR 0.
    return pd.DataFrame(
        {
            "gender": ["Male"] * 5 + ["Female"] * 5,
            "approved": [True, True, True, False, False, True, False, False, False, False],
            "creditworthy": [True, True, False, True, False, True, True, False, False, True],
        }
    )


def test_calc_rates(loans: pd.DataFrame) -> None:
    assert calc_rates(loans) == {
        "privileged_rate": pytest.approx(0.6),
        "unprivileged_rate": pytest.approx(0.2),
        "privileged_count": 5,
        "unprivileged_count": 5,
    }


def test_two_group_metrics_by_hand(loans: pd.DataFrame) -> None:
    assert disparate_impact_ratio(loans) == pytest.approx(1 / 3)
    assert statistical_parity_diff(loans) == pytest.approx(-0.4)
    assert equal_opportunity_diff(loans) == pytest.approx(1 / 3 - 2 / 3)
    assert average_odds_diff(loans) == pytest.approx(((0.0 - 0.5) + (1 / 3 - 2 / 3)) / 2)


def test_theil_index_over_all_rows(loans: pd.DataFrame) -> None:
    # FP = 1, FN = 3, TP + TN = 6 over 10 rows: mu = 0.8.
    expected = (6 * 1.25 * math.log(1.25) + 2.5 * math.log(2.5)) / 10
    assert theil_index(loans) == pytest.approx(expected, rel=1e-12)


def test_seed_dir_check(loans: pd.DataFrame) -> None:
    result = calculate_disparate_impact_ratio(loans)
    assert result["female_rate"] == pytest.approx(0.2)
    assert result["male_rate"] == pytest.approx(0.6)
    assert result["dir"] == pytest.approx(1 / 3)
    assert result["dir_alert"] is True
    assert result["gap"] == pytest.approx(0.4)
    assert result["gap_alert"] is True
    assert result["details"] == {"female_count": 5, "male_count": 5}


def test_seed_dir_check_fair_case() -> None:
    frame = pd.DataFrame({"gender": ["Male", "Male", "Female", "Female"], "approved": [1, 0, 1, 0]})
    result = calculate_disparate_impact_ratio(frame)
    assert result["dir"] == 1.0
    assert result["dir_alert"] is False
    assert result["gap"] == 0.0
    assert result["gap_alert"] is False


def test_seed_dir_check_male_rate_zero(loans: pd.DataFrame) -> None:
    loans.loc[loans["gender"] == "Male", "approved"] = False
    result = calculate_disparate_impact_ratio(loans)
    assert result["male_rate"] == 0.0
    assert result["dir"] is None
    assert result["dir_reason"] == "male_rate_zero"
    assert result["dir_alert"] is True


def test_seed_dir_check_with_a_missing_group_reports_it(loans: pd.DataFrame) -> None:
    result = calculate_disparate_impact_ratio(loans[loans["gender"] == "Female"])
    assert result["male_rate"] is None
    assert result["dir"] is None
    assert result["dir_reason"] == "male_group_empty"
    assert result["dir_alert"] is True
    assert result["messages"] == ["no rows for privileged group 'Male'"]


def test_strict_functions_reject_missing_privileged_group(loans: pd.DataFrame) -> None:
    with pytest.raises(SingleGroupError):
        disparate_impact_ratio(loans[loans["gender"] == "Female"])
    loans["gender"] = loans["gender"].replace({"Male": "Man"})
    with pytest.raises(PrivilegedValueMissingError):
        compute_all_metrics(loans)


def test_compute_all_metrics_values_and_native_types(loans: pd.DataFrame) -> None:
    result = compute_all_metrics(loans, policy=FairnessPolicy(min_group_size=1))
    assert result["dir"] == pytest.approx(1 / 3)
    assert result["spd"] == pytest.approx(-0.4)
    assert result["eod"] == pytest.approx(-1 / 3)
    assert result["aod"] == pytest.approx(-5 / 12)
    assert result["fpr_diff"] == pytest.approx(-0.5)
    # Benefits: Male 1, 1, 2, 0, 1 (mean 1.0); Female 1, 0, 1, 1, 0 (mean 0.6); overall mean 0.8.
    assert result["theil"] == pytest.approx((6 * 1.25 * math.log(1.25) + 2.5 * math.log(2.5)) / 10, rel=1e-12)
    between = (5 * 1.25 * math.log(1.25) + 5 * 0.75 * math.log(0.75)) / 10
    assert result["between_group_theil"] == pytest.approx(between, rel=1e-12)
    assert result["female_rate"] == pytest.approx(0.2)
    assert result["male_rate"] == pytest.approx(0.6)
    assert result["alert"] is True
    assert result["gap_alert"] is True
    # 5 rows a group (under SMALL_GROUP_ROWS): DIR = (1/5) / (3/5) gets the box of exact 97.5% intervals of each
    # rate, [L_F / U_M, U_F / L_M], not Katz's normal approximation.
    female = binomtest(1, 5).proportion_ci(0.975, method="exact")
    male = binomtest(3, 5).proportion_ci(0.975, method="exact")
    expected = [female.low / male.high, female.high / male.low]
    assert result["intervals"]["dir"] == pytest.approx(expected, rel=1e-9)
    # The estimate 1/3 is below 0.8 but the upper limit (about 6.7) is above it: possible, not significant.
    assert result["verdict"] == "possible_violation"
    assert result["message"].startswith("DIR = 0.33 (<0.8)")
    assert result["counts"]["Male"] == {"tp": 2, "fp": 1, "tn": 1, "fn": 1, "unlabeled_pos": 0, "unlabeled_neg": 0}
    assert type(result["dir"]) is float
    assert type(result["counts"]["Female"]["tp"]) is int
    lower, upper = result["intervals"]["dir"]
    assert lower < result["dir"] < upper
    assert json.loads(json.dumps(result)) == result


def test_compute_all_metrics_small_groups_are_insufficient(loans: pd.DataFrame) -> None:
    assert compute_all_metrics(loans)["verdict"] == "insufficient_data"


def test_compute_all_metrics_without_labels(loans: pd.DataFrame) -> None:
    result = compute_all_metrics(loans.drop(columns="creditworthy"), label=None)
    assert result["dir"] == pytest.approx(1 / 3)
    for key in ("eod", "aod", "fpr_diff", "theil", "between_group_theil"):
        assert result[key] is None
        assert result["reasons"][key] == "no_true_labels"


def test_compute_all_metrics_reports_undefined_dir_with_reason(loans: pd.DataFrame) -> None:
    loans.loc[loans["gender"] == "Male", "approved"] = False
    result = compute_all_metrics(loans)
    assert result["dir"] is None
    assert result["reasons"]["dir"] == "privileged_selection_rate_zero"
    assert result["alert"] is True
    assert result["message"] == "DIR not computable (privileged_selection_rate_zero)."
