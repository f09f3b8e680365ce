"""The check's input-drift step on its own (pure): continuation along the chain, validity and power measured
with binomial bounds on simulated months (the long version is ``python -m bench.feature_drift --checks``)."""

from __future__ import annotations

import numpy as np
from scipy import stats

from bench.feature_drift import CHECK_FEATURES, _merged, baseline_hours_at, checked_month, simulated_hour
from monitoring.checks.feature_evidence import advance_feature_drift, baseline_end_hour, run_weight

BASELINE_HOURS = 24

ALPHA = 0.05


def _step(state, baseline, hours):
    return advance_feature_drift(
        features=CHECK_FEATURES,
        alpha=ALPHA,
        previous=state,
        baseline=None if state else baseline,
        start_hour=BASELINE_HOURS,
        restart_hours=24,
        hours=hours,
        window=hours[-1][1],
    )


def test_continuing_the_stored_state_equals_reading_every_hour_at_once():
    rng = np.random.default_rng(5)
    baseline = {"start_hour": 0, "end_hour": BASELINE_HOURS}
    baseline["counts"] = _merged([simulated_hour(rng, 40, 1.0) for _ in range(BASELINE_HOURS)])
    hours = [(BASELINE_HOURS + index, simulated_hour(rng, 40, 1.4 if index > 30 else 1.0)) for index in range(60)]
    at_once = _step(None, baseline, hours)
    state = None
    for start in range(0, 60, 7):
        stepped = _step(state, baseline, hours[start : start + 7])
        state = stepped["state"]
    assert stepped["state"] == at_once["state"]
    assert [cell["log_e_value"] for cell in stepped["cells"]] == [cell["log_e_value"] for cell in at_once["cells"]]
    # Runs restart each day: the stream's first run and the 7 latest are kept.
    runs = at_once["state"]["cells"][0]["runs"]
    assert [run["index"] for run in runs] == [0, 1, 2]
    assert abs(sum(run_weight(index) for index in range(10_000)) - 1.0) < 1e-3


def test_no_drift_finds_nothing_in_at_most_alpha_of_months_read_every_hour():
    rng = np.random.default_rng(20261207)
    months = 30
    false = sum(checked_month(rng, rows_per_day=2000, alpha=ALPHA, hours=7 * 24)[1] for _ in range(months))
    assert false <= stats.binom.ppf(0.999, months, ALPHA)


def test_a_shifted_income_in_one_group_is_found_within_a_day_after_days_of_compliance():
    rng = np.random.default_rng(11)
    months = 30
    results = [
        checked_month(rng, rows_per_day=2000, alpha=ALPHA, hours=8 * 24, shift_hour=5 * 24, factor=1.5)
        for _ in range(months)
    ]
    within_a_day = sum(delay is not None and delay <= 24 for delay, _ in results)
    assert within_a_day >= stats.binom.ppf(0.001, months, 0.9)
    assert sum(elsewhere for _, elsewhere in results) <= stats.binom.ppf(0.999, months, ALPHA)


def test_the_baseline_lasts_whole_windows_until_every_sizeable_group_has_enough_rows():
    assert baseline_hours_at(42) == 24  # 2,000 rows a day: 1,008 a group in the first day
    assert baseline_hours_at(4) == 11 * 24  # 200 rows a day: 96 a group a day
    # A group with under 10% of its attribute's rows does not hold the baseline up; a bigger one does.
    hourly = [(hour, {("gender", "F"): 60, ("gender", "M"): 500, ("gender", "X"): 1}) for hour in range(100)]
    assert baseline_end_hour(0, 6, hourly, 100) == 18  # F (11% of rows) has 1,020 rows after 17 hours
    # Still filling before that, and the cap ends it at a whole window within 30 days.
    assert baseline_end_hour(0, 6, hourly, 17) is None
    assert baseline_end_hour(0, 24, [(0, {("gender", "F"): 5})], 10_000) == 30 * 24
