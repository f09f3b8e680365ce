"""Input drift per (feature, group): the sequential goodness-of-fit e-process and its e-BH family."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from monitoring.fairness import FeatureCell, InvalidParameterError, feature_drift_findings, multinomial_log_e_value

ALPHA = 0.1
BINS = 8
EDGES = list(np.linspace(0.0, 1.0, BINS + 1))
SHARES = np.full(BINS, 1.0 / BINS)
SHIFTED = np.array([0.05, 0.05, 0.1, 0.1, 0.1, 0.15, 0.2, 0.25])


def _cells(rng: np.random.Generator, *, hours: int, per_hour: int, baseline: int, drifted: set[str]) -> list:
    cells = []
    for feature in ("income", "age", "tenure"):
        for group in ("female", "male"):
            stream_shares = SHIFTED if f"{feature}/{group}" in drifted else SHARES
            cells.append(
                FeatureCell(
                    feature=feature,
                    attribute="gender",
                    group=group,
                    kind="numeric",
                    edges=EDGES,
                    baseline=rng.multinomial(baseline, SHARES).tolist(),
                    hours=[rng.multinomial(per_hour, stream_shares).tolist() for _ in range(hours)],
                )
            )
    return cells


def test_e_value_of_the_baseline_alone_is_at_most_one():
    assert multinomial_log_e_value([40, 30, 30], []) <= 0.0


def test_no_drift_gives_a_finding_in_at_most_alpha_of_checks_over_a_month_of_hours():
    # Each check reads the evidence at every closed hour of a month: a finding at any hour counts.
    rng = np.random.default_rng(20261206)
    checks, months_with_finding = 100, 0
    for _ in range(checks):
        cells = _cells(rng, hours=0, per_hour=0, baseline=500, drifted=set())
        hourly = [rng.multinomial(40, SHARES, size=24 * 30).tolist() for _ in cells]
        found = False
        for hour in range(24, 24 * 30 + 1, 24):
            window = [
                FeatureCell(**{**cell.__dict__, "hours": hourly[index][:hour]}) for index, cell in enumerate(cells)
            ]
            if any(finding["finding"] for finding in feature_drift_findings(window, ALPHA)):
                found = True
                break
        months_with_finding += found
    # Under the null the chance is at most ALPHA; the 99.9% binomial quantile bounds the count.
    assert months_with_finding <= stats.binom.ppf(0.999, checks, ALPHA)


def test_a_shifted_feature_in_one_group_is_found_there_and_not_elsewhere():
    rng = np.random.default_rng(7)
    checks, detected, elsewhere = 60, 0, 0
    for _ in range(checks):
        findings = feature_drift_findings(
            _cells(rng, hours=48, per_hour=40, baseline=500, drifted={"income/female"}), ALPHA
        )
        for finding in findings:
            is_drifted = (finding["feature"], finding["group"]) == ("income", "female")
            detected += is_drifted and finding["finding"]
            elsewhere += (not is_drifted) and finding["finding"]
    # Power per check above 90% (binomial lower bound), and false findings among 5 x 60 null cells rare.
    assert detected >= stats.binom.ppf(0.001, checks, 0.9)
    assert elsewhere <= stats.binom.ppf(0.999, 5 * checks, ALPHA)


def test_findings_report_the_window_statistics_against_the_baseline():
    cell = FeatureCell(
        feature="region",
        attribute="gender",
        group="female",
        kind="categorical",
        categories=["north", "south", "other"],
        baseline=[100, 100, 0],
        hours=[[10, 30, 0], [10, 30, 0]],
    )
    (finding,) = feature_drift_findings([cell], ALPHA)
    assert finding["distance"]["test"] == "chi_square"
    assert finding["distance"]["p_value"] < 0.01
    assert finding["psi"] > 0.1
    assert finding["n_window"] == 80.0
    assert finding["tier"] == "exploratory"


@pytest.mark.parametrize(
    ("baseline", "hours"),
    [
        ([1, -1], []),
        ([1, 2], [[1, 2, 3]]),
        (["a", 2], []),
        ([1, 2], [[1, 2], [1]]),  # ragged hours
        ([1, 2], [[1, -2]]),
        ([1, 2], [[1, float("nan")]]),
        ([1, 2], [["x", 1]]),
    ],
)
def test_bad_counts_are_refused(baseline, hours):
    with pytest.raises(InvalidParameterError):
        multinomial_log_e_value(baseline, hours)
