"""Sequential evidence: hand-computed factors, exact validity on small tables, state round trips, small simulations.

Simulation criteria are binomial bounds, not point values: with ``n`` independent runs and a true rate at most
``p``, the count of events exceeds ``binom.ppf(0.999, n, p)`` with probability below 0.1%.
"""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from scipy.stats import binom

from monitoring.fairness.comparisons import build_comparison, comparisons_for_policy
from monitoring.fairness.count_change import DEFAULT_LOG_THRESHOLD, detect_count_change
from monitoring.fairness.counts import ConfusionCounts
from monitoring.fairness.errors import InvalidParameterError
from monitoring.fairness.family import ALERT, FINDING, PRE_ALERT, QUIET, decide, e_bh
from monitoring.fairness.policy import Band, FairnessPolicy
from monitoring.fairness.sequential import (
    EvidenceBatch,
    SequentialSettings,
    advance_state,
    advance_states,
    bucket_log_factor,
    confidence_sequence,
    evidence,
    evidences,
    fan_coefficient,
    new_state,
    normal_mixture_log_e,
    normal_mixture_radius,
)

DIR = build_comparison(("g",), "u", "p", "DIR", "lower", 0.8)
AOD = build_comparison(("g",), "u", "p", "AOD", "lower", -0.1)


def factor(comparison, favourable, rows, bet):
    coefficients = np.array([[leg.coefficient for leg in comparison.legs]])
    return float(
        bucket_log_factor(
            coefficients, np.array([comparison.constant]), np.array([favourable]), np.array([rows]), np.array([bet])
        )[0]
    )


def test_dir_null_as_linear_legs():
    assert [(leg.group, leg.rows, leg.coefficient) for leg in DIR.legs] == [("u", "all", 1.0), ("p", "all", -0.8)]
    assert DIR.constant == 0.0
    assert DIR.mean([0.4, 0.5]) == pytest.approx(0.0)
    upper = build_comparison(("g",), "u", "p", "DIR", "upper", 1.25)
    assert upper.mean([0.5, 0.4]) == pytest.approx(0.0)
    assert upper.mean([0.6, 0.4]) < 0
    spd = build_comparison(("g",), "u", "p", "SPD", "lower", -0.1)
    assert spd.mean([0.4, 0.5]) == pytest.approx(0.0)
    assert spd.max_increment == pytest.approx(1.1)
    eod = build_comparison(("g",), "u", "p", "EOD", "lower", -0.1)
    assert {leg.rows for leg in eod.legs} == {"positive"}
    fpr = build_comparison(("g",), "u", "p", "FPR_DIFF", "upper", 0.1)
    assert {leg.rows for leg in fpr.legs} == {"negative"}
    assert fpr.mean([0.3, 0.1]) < 0
    # AOD: (TPR gap + FPR gap) / 2 - L; a -0.2 TPR gap offset by +0.2 FPR gap is compliant.
    assert AOD.mean([0.6, 0.8, 0.4, 0.2]) == pytest.approx(0.1)
    assert AOD.reversed().mean([0.6, 0.8, 0.4, 0.2]) == pytest.approx(-0.1)


def test_policy_yields_every_comparison_with_tiers():
    policy = FairnessPolicy(
        bands={"disparate_impact_ratio": Band(0.8, 1.25), "statistical_parity_difference": Band(-0.1)}
    )
    groups = {("a",): ["x", "y", "z"], ("a", "b"): [("x", 1), ("y", 1), ("x", 2)]}
    found = comparisons_for_policy(policy, groups, {("a",): "x", ("a", "b"): ("x", 1)})
    assert len(found) == 2 * 3 + 2 * 3
    assert [c.tier for c in found].count("page") == 6
    assert len({c.key for c in found}) == len(found)


def test_hand_computed_factors():
    # n_u = n_p = 2, k_u = 1, k_p = 2: pairs are (1, 1) and (0, 1): y = 0.2 and -0.8.
    assert factor(DIR, [1, 2], [2, 2], 0.5) == pytest.approx(math.log(0.9 * 1.4), abs=1e-14)
    # One u row (0) against a block of all three p rows (one favourable): y = -0.8 / 3.
    assert factor(DIR, [0, 1], [1, 3], 0.5) == pytest.approx(math.log(1 + 0.5 * 0.8 / 3), abs=1e-14)
    assert factor(DIR, [1, 1], [2, 2], 0.0) == 0.0


def brute_force(comparison, favourable, rows, bet):
    """Average over every arrangement of each leg's rows of sum_j log(1 - bet * y_j), units as in the engine."""
    units = min(rows)
    arrangements = []
    for k, n in zip(favourable, rows, strict=True):
        base = [1] * k + [0] * (n - k)
        arrangements.append(sorted(set(itertools.permutations(base))))
    total = count = 0.0
    for choice in itertools.product(*arrangements):
        value = 0.0
        for j in range(units):
            y = comparison.constant
            for leg, sequence, n in zip(comparison.legs, choice, rows, strict=True):
                r, extra = divmod(n, units)
                start = j * r + min(j, extra)
                size = r + (1 if j < extra else 0)
                y += leg.coefficient * sum(sequence[start : start + size]) / size
            value += math.log(1 - bet * y)
        total += value
        count += 1
    return total / count


@pytest.mark.parametrize(
    ("favourable", "rows"), [([1, 1], [2, 3]), ([2, 3], [3, 5]), ([0, 2], [2, 2]), ([2, 1], [4, 2])]
)
def test_two_leg_factor_is_the_exact_expectation_over_arrangements(favourable, rows):
    assert factor(DIR, favourable, rows, 0.4) == pytest.approx(brute_force(DIR, favourable, rows, 0.4), abs=1e-12)


def test_four_leg_factor_is_below_the_exact_expectation():
    favourable, rows = [1, 1, 1, 0], [2, 3, 2, 2]
    exact = brute_force(AOD, favourable, rows, 0.4)
    assert factor(AOD, favourable, rows, 0.4) <= exact + 1e-12
    assert factor(AOD, favourable, rows, 0.4) == pytest.approx(exact, abs=0.01)
    assert fan_coefficient(np.array([0.0]))[0] == pytest.approx(-0.5)


@pytest.mark.parametrize(("comparison", "rates"), [(DIR, (0.4, 0.5)), (DIR, (0.2, 0.25)), (AOD, (0.6, 0.7, 0.2, 0.3))])
def test_factor_has_expectation_at_most_one_on_the_null_boundary(comparison, rates):
    """Exact sum over binomial outcomes of small tables: E[exp(factor)] <= 1 when mu = 0."""
    assert comparison.mean(rates) == pytest.approx(0.0)
    sizes = [3, 4] if len(rates) == 2 else [2, 3, 2, 2]
    for bet in (0.1, 0.5 / comparison.max_increment):
        expected = 0.0
        for outcome in itertools.product(*[range(n + 1) for n in sizes]):
            probability = math.prod(binom.pmf(k, n, rate) for k, n, rate in zip(outcome, sizes, rates, strict=True))
            expected += probability * math.exp(factor(comparison, list(outcome), sizes, bet))
        assert expected <= 1.0 + 1e-12


def hourly(rng, hours, rate_u, rate_p, n_u=8.0, n_p=16.0, start=0):
    result = []
    for hour in range(start, start + hours):
        nu, npr = rng.poisson(n_u), rng.poisson(n_p)
        ku, kp = rng.binomial(nu, rate_u), rng.binomial(npr, rate_p)
        result.append(
            (
                hour,
                {
                    "u": ConfusionCounts(unlabeled_pos=ku, unlabeled_neg=nu - ku),
                    "p": ConfusionCounts(unlabeled_pos=kp, unlabeled_neg=npr - kp),
                },
            )
        )
    return result


def test_incremental_updates_equal_one_pass_and_survive_json():
    settings = SequentialSettings(period_hours=10 * 24)
    hours = hourly(np.random.default_rng(3), 24 * 12, 0.3, 0.5, n_u=0.7, n_p=2.0)  # sparse: pooled buckets
    once = advance_state(DIR, new_state(DIR, 0, settings), hours, settings)
    state = new_state(DIR, 0, settings)
    for cut in range(0, len(hours), 37):
        state = json.loads(json.dumps(advance_state(DIR, state, hours[cut : cut + 37], settings)))
    assert state == once
    assert evidence(DIR, state, settings) == evidence(DIR, once, settings)
    # Re-sending hours already processed changes nothing.
    assert advance_state(DIR, once, hours[-5:], settings) == once


def test_batch_of_comparisons_equals_each_alone():
    comparisons = [DIR, AOD, build_comparison(("g",), "u", "p", "SPD", "lower", -0.1)]
    rng = np.random.default_rng(4)
    hours = []
    for hour in range(48):
        groups = {}
        for label in ("u", "p"):
            tp, fn, fp, tn = rng.poisson([3, 1, 1, 3])
            groups[label] = ConfusionCounts(tp=tp, fn=fn, fp=fp, tn=tn, unlabeled_pos=rng.poisson(1))
        hours.append((hour, {("g",): groups}))
    together = advance_states(comparisons, [new_state(c, 0) for c in comparisons], hours)
    read_together = evidences(comparisons, together)
    for comparison, state, found in zip(comparisons, together, read_together, strict=True):
        alone = advance_state(comparison, new_state(comparison, 0), [(h, a[("g",)]) for h, a in hours])
        assert alone == state
        assert found == evidence(comparison, alone)
    assert any(found.log_e != 0.0 for found in read_together)  # the hours moved the evidence


def test_many_hours_at_once_equal_one_hour_at_a_time():
    # Sparse counts (pooled and dropped buckets), short review periods (roll-overs), elements that skip hours.
    settings = SequentialSettings(period_hours=3 * 24, max_pool_hours=3)
    rng = np.random.default_rng(11)
    comparisons = [DIR, build_comparison(("g",), "u", "p", "SPD", "upper", 0.1), DIR.reversed()]
    coefficients = np.array([[leg.coefficient for leg in c.legs] for c in comparisons])
    constant = np.array([c.constant for c in comparisons])
    hours = list(range(0, 24 * 8, 1)) + [24 * 8 + 5, 24 * 9 + 1]
    rows = rng.poisson(0.8, size=(len(hours), 3, 2))
    favourable = rng.binomial(rows, 0.4)
    active = rng.random((len(hours), 3)) < 0.85
    one_by_one = EvidenceBatch(coefficients, constant, settings, 0)
    for position, hour in enumerate(hours):
        one_by_one.advance(hour, favourable[position], rows[position], active[position])
    at_once = EvidenceBatch(coefficients, constant, settings, 0)
    at_once.advance_hours(hours, favourable, rows, active)
    assert at_once.states() == one_by_one.states()
    assert np.all(one_by_one.units > 0)
    assert np.any(one_by_one.period_start > 0)


def test_weighted_counts_are_rejected():
    weighted = ConfusionCounts(tp=1.5, tn=2.0, squared_weights=(2.25, 0.0, 4.0, 0.0, 0.0, 0.0))
    groups = {"u": weighted, "p": ConfusionCounts(tp=2, tn=2)}
    with pytest.raises(InvalidParameterError, match="unweighted"):
        advance_states([DIR], [new_state(DIR, 0)], [(0, {("g",): groups})])


def test_rejects_out_of_order_hours_and_unknown_state():
    state = advance_state(DIR, new_state(DIR, 0), hourly(np.random.default_rng(1), 3, 0.4, 0.5))
    with pytest.raises(InvalidParameterError):
        advance_states([DIR], [state], [(5, {}), (4, {})])
    with pytest.raises(InvalidParameterError):
        evidence(DIR, {**state, "version": 99})


def simulate(rate_u, rate_p, *, runs, hours, n_u, n_p, settings, seed, change=None, before=None):
    """First hour at which log K reaches log(1/alpha) per run (-1: never), through EvidenceBatch."""
    rng = np.random.default_rng(seed)
    coefficients = np.tile([[1.0, -0.8]], (runs, 1))
    batch = EvidenceBatch(coefficients, np.zeros(runs), settings, 0)
    first = np.full(runs, -1)
    first_cusum = np.full(runs, -1)
    for hour in range(hours):
        ru = before if change is not None and hour < change else rate_u
        rows = np.stack([rng.poisson(n_u, runs), rng.poisson(n_p, runs)], axis=1)
        favourable = np.stack([rng.binomial(rows[:, 0], ru), rng.binomial(rows[:, 1], rate_p)], axis=1)
        batch.advance(hour, favourable, rows)
        crossed = (batch.log_evidence() >= math.log(1 / settings.alpha)) & (first < 0)
        first[crossed] = hour
        alarmed = (batch.cusum >= DEFAULT_LOG_THRESHOLD) & (first_cusum < 0)
        first_cusum[alarmed] = hour
    return first, first_cusum


def test_false_alerts_at_the_boundary_stay_within_alpha():
    settings = SequentialSettings(period_hours=30 * 24)
    first, _ = simulate(0.4, 0.5, runs=400, hours=30 * 24, n_u=2.0, n_p=4.0, settings=settings, seed=11)
    assert (first >= 0).sum() <= binom.ppf(0.999, 400, 0.05)


def test_sudden_drop_is_caught_quickly():
    # DIR 0.55 for a group of 400 rows/day against 800 reference rows/day: median about 15 h at alpha = 0.05.
    first, _ = simulate(
        0.275, 0.5, runs=60, hours=72, n_u=400 / 24, n_p=800 / 24, settings=SequentialSettings(), seed=12
    )
    assert (first < 0).sum() == 0
    assert np.median(first + 1) <= 30


def test_recovery_after_a_compliant_history_uses_the_restarts():
    settings = SequentialSettings()
    change = 60 * 24
    first, _ = simulate(
        0.275,
        0.5,
        runs=40,
        hours=change + 72,
        n_u=400 / 24,
        n_p=800 / 24,
        settings=settings,
        seed=13,
        change=change,
        before=0.45,
    )
    assert ((first >= 0) & (first < change)).sum() <= binom.ppf(0.999, 40, 0.05)
    delays = first[first >= change] + 1 - change
    assert len(delays) >= 36
    assert np.median(delays) <= 40


def test_change_detector_holds_in_control_and_dates_the_change():
    settings = SequentialSettings()
    _, in_control = simulate(0.4, 0.5, runs=100, hours=500, n_u=2.0, n_p=4.0, settings=settings, seed=14)
    # An in-control average run length of at least 1,000 checks: alarms within 500 checks stay a minority.
    assert (in_control >= 0).sum() <= binom.ppf(0.999, 100, 0.5)
    hours = hourly(np.random.default_rng(15), 24 * 5, 0.45, 0.5, 16, 33) + hourly(
        np.random.default_rng(16), 48, 0.25, 0.5, 16, 33, start=24 * 5
    )
    state = advance_state(DIR, new_state(DIR, 0), hours)
    change = detect_count_change(state)
    assert change.detected
    assert abs(change.start_hour - 24 * 5) <= 12


def test_confidence_sequence_covers_and_shrinks():
    settings = SequentialSettings()
    rng = np.random.default_rng(21)
    misses = 0
    for _ in range(60):
        state = advance_state(DIR, new_state(DIR, 0, settings), hourly(rng, 48, 0.35, 0.5), settings)
        lower, upper = confidence_sequence(DIR, state)
        misses += not lower <= 0.7 <= upper
    assert misses <= binom.ppf(0.999, 60, 0.05)
    spd = build_comparison(("g",), "u", "p", "SPD", "lower", -0.1)
    state = advance_state(spd, new_state(spd, 0), hourly(rng, 24 * 20, 0.35, 0.5))
    lower, upper = confidence_sequence(spd, state)
    assert lower < -0.15 < upper
    assert upper - lower < 0.12
    assert confidence_sequence(DIR, new_state(DIR, 0)) is None


def test_normal_mixture_boundary_matches_its_e_process():
    # Hand values: V = 100, rho = 10, alpha = 0.05.
    radius = normal_mixture_radius(100.0, 0.05, 10.0)
    assert radius == pytest.approx(math.sqrt(110 * math.log(110 / (10 * 0.0025))))
    assert normal_mixture_log_e(radius, 100.0, 10.0) == pytest.approx(math.log(20.0))


def test_e_bh_and_family_decisions():
    assert e_bh([100.0, 1.0, 50.0, 3.0], alpha=0.1) == [0, 2]  # 100 >= 4/0.1/1; 50 >= 4/0.1/2; 3 < 4/0.1/3
    assert e_bh([1.0, 2.0], alpha=0.05) == []
    page = [build_comparison(("g",), g, "p", "DIR", "lower", 0.8) for g in ("a", "b")]
    explore = [build_comparison(("g", "h"), (g, 1), ("p", 1), "DIR", "lower", 0.8) for g in ("a", "b")]
    log_e = {
        page[0].key: math.log(40.0),
        page[1].key: math.log(7.0),
        explore[0].key: math.log(80.0),
        explore[1].key: 0.0,
    }
    decisions = decide(page + explore, log_e)
    assert decisions[page[0].key].status == ALERT  # 40 >= 2 / 0.05
    assert decisions[page[1].key].status == PRE_ALERT  # sqrt(40) <= 7 < 40
    assert decisions[explore[0].key].status == FINDING
    assert decisions[explore[1].key].status == QUIET


def test_minimum_detectable_effect_agrees_with_simulation():
    from monitoring.fairness.detectability import (
        fixed_sample_units,
        minimum_detectable_dir,
        sequential_units,
        unit_moments,
    )

    mu, variance, per_row = unit_moments(0.275, 0.5, 0.8, 0.2, 0.4)
    assert per_row == 0.2
    assert variance == pytest.approx(0.275 * 0.725 + 0.64 * 0.25 / 2)
    predicted = 24 * sequential_units(mu, variance, math.log(20) + math.log(1 / 0.75)) / (2000 * per_row)
    first, _ = simulate(
        0.275, 0.5, runs=60, hours=72, n_u=400 / 24, n_p=800 / 24, settings=SequentialSettings(), seed=31
    )
    assert 0.7 <= np.median(first + 1) / predicted <= 1.4
    assert fixed_sample_units(mu, variance, 0.05) < sequential_units(mu, variance, math.log(20))
    low = minimum_detectable_dir(200, 0.2, 0.4, 0.5, family_size=30)
    high = minimum_detectable_dir(2000, 0.2, 0.4, 0.5, family_size=30)
    assert low.dir_below < high.dir_below < 0.8
    assert "would be caught within 7 days" in high.statement


def test_compliance_evidence_for_resolution():
    """The reverse process (null: violation) grows on compliant data and stays put on violating data."""
    reverse = DIR.reversed()
    assert reverse.reversed() == DIR
    rng = np.random.default_rng(41)
    compliant = advance_state(reverse, new_state(reverse, 0), hourly(rng, 24 * 7, 0.475, 0.5, 16, 33))
    assert evidence(reverse, compliant).log_e >= math.log(20 / 0.05)
    violating = advance_state(reverse, new_state(reverse, 0), hourly(rng, 24 * 7, 0.3, 0.5, 16, 33))
    assert evidence(reverse, violating).log_e < 1.0


def test_mixture_over_bets_by_hand():
    # Prior: m1 = 20 * -0.05 = -1, m2 = 20 / 4 = 5, so the adaptive stake is 0.2; the fixed stakes are 1, 0.5 and
    # 0.25 of the cap 0.5, each at most 4 * 0.2. One unit: a u-row not selected, a p-row selected: y = -0.8, so a
    # stake s multiplies wealth by 1 + 0.8 s. Weights: 1/2 adaptive, 1/6 each fixed; the period start weighs 0.75.
    settings = SequentialSettings()
    assert np.exp(settings.bet_log_weights()).sum() == pytest.approx(1.0)
    state = advance_state(DIR, new_state(DIR, 0, settings), [(0, {"u": counts(0, 1), "p": counts(1, 1)})], settings)
    assert state["version"] == 2
    mixed = 0.5 * 1.16 + (1.4 + 1.2 + 1.1) / 6.0
    assert evidence(DIR, state, settings).log_e == pytest.approx(math.log(0.75 * mixed), abs=1e-12)
    assert state["log_wealth"] == pytest.approx([math.log(1.16), math.log(1.4), math.log(1.2), math.log(1.1)])
    # The change detector mixes the bets' CUSUMs with the same weights (no restart weight: it restarts itself).
    assert detect_count_change(state).log_statistic == pytest.approx(math.log(mixed), abs=1e-12)
    # A fixed stake is only placed while the adaptive one is: on a compliant prior no bet moves the wealth.
    calm = SequentialSettings(prior_mean=0.05)
    state = advance_state(DIR, new_state(DIR, 0, calm), [(0, {"u": counts(0, 1), "p": counts(1, 1)})], calm)
    assert state["log_wealth"] == [0.0, 0.0, 0.0, 0.0]


def counts(selected, rows):
    return ConfusionCounts(unlabeled_pos=selected, unlabeled_neg=rows - selected)


# A version-1 state (one adaptive bet, scalar fields) as the engine stored it before the bets were mixed, after
# 30 hours of u: 2-4 of 8 selected, p: 9 of 16, with a 48-hour period; and the same state after 10 more hours of
# u: 1 of 8, p: 10 of 16, with its evidence, as that engine computed them.
VERSION_1_STATE = {
    "version": 1, "period_start": 0, "log_wealth": 1.5950659444792405, "mix": -0.19376925518947885,
    "m1": -10.953509458922923, "m2": 48.00337010916308, "pool_start": -1, "units": 240.0,
    "cusum": 1.5950659444792405, "cusum_start": 0, "last_hour": 29, "pool_k": [0, 0], "pool_n": [0, 0],
    "cs_sum": [90.0, 135.0], "cs_proxy": [60.0, 30.0], "grid": [0.0, 1.2194522486709616],
}  # fmt: skip
VERSION_1_ADVANCED = {
    **VERSION_1_STATE, "log_wealth": 11.723214694647245, "m1": -33.11419748928515, "m2": 54.96732003313562,
    "units": 320.0, "cusum": 11.723214694647245, "last_hour": 39, "cs_sum": [100.0, 185.0], "cs_proxy": [80.0, 40.0],
}  # fmt: skip


def test_version_1_states_advance_by_their_own_rules():
    settings = SequentialSettings(period_hours=48)
    hours = [(hour, {"u": counts(1, 8), "p": counts(10, 16)}) for hour in range(30, 40)]
    advanced = advance_state(DIR, VERSION_1_STATE, hours, settings)
    assert advanced == VERSION_1_ADVANCED
    assert evidence(DIR, advanced, settings).log_e == 11.529445439457767
    assert detect_count_change(advanced).log_statistic == 11.723214694647245
    # Mixed with a fresh state in one call, each keeps its own layout.
    fresh = new_state(DIR, 30, settings)
    both = advance_states([DIR, DIR], [VERSION_1_STATE, fresh], [(h, {("g",): a}) for h, a in hours], settings)
    assert both[0] == VERSION_1_ADVANCED
    assert both[1]["version"] == 2
    assert len(both[1]["log_wealth"]) == 4


def test_mixed_bets_keep_false_alerts_within_alpha_at_high_volume():
    # The boundary DIR = 0.8 at 400 u-rows and 800 p-rows a day, where the fixed stakes are placed most often.
    settings = SequentialSettings(period_hours=30 * 24)
    first, _ = simulate(0.4, 0.5, runs=1000, hours=30 * 24, n_u=400 / 24, n_p=800 / 24, settings=settings, seed=41)
    assert (first >= 0).sum() <= binom.ppf(0.999, 1000, 0.05)


def test_mixed_bets_catch_a_moderate_drop_sooner_than_the_adaptive_bet_alone():
    # DIR 0.70 at 400 u-rows a day, alpha = 0.05: the single adaptive bet (version 1) reaches 1/alpha within 48 h
    # in 35.7% of runs (20,000 simulated), the mixture in 40.4%; the bound is at 39.5% (0.1% one-sided).
    first, _ = simulate(
        0.35, 0.5, runs=4000, hours=48, n_u=400 / 24, n_p=800 / 24, settings=SequentialSettings(), seed=42
    )
    assert ((first >= 0) & (first < 48)).sum() >= binom.ppf(0.001, 4000, 0.395)
