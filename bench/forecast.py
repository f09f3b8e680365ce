"""Benchmark: are the forecast's 95% intervals and breach probabilities calibrated on production-like series?

``python -m bench.forecast [--series 500] [--only ramp]`` prints one JSON line per cell and a pooled line (and
appends them to ``bench/results/forecast.jsonl``).

Each simulated series is what a version's checks see: hourly buckets of ``rows`` decisions a day for three
groups of one attribute (privileged ``a`` with half the rows, ``b`` 30%, ``c`` 20%), ``HISTORY_DAYS`` days of
history and one more day. The privileged rate is 0.5; each other group starts at a DIR drawn uniformly from
``[0.65, 1.05]`` (so breach probabilities spread over the whole range) and moves as the cell says:

* ``stable``: constant rates;
* ``random_walk``: every group's log rate, the privileged one included, takes an hourly N(0, 0.006^2) step
  (about 0.03 a day);
* ``ramp``: the other groups' DIR falls linearly by a rate drawn from [0, 0.02] a day;
* ``drop``: at an hour drawn uniformly over the whole span (the forecast day included, which nothing can
  foresee), one group's DIR falls by 15%.

The forecast origin is the last hour of the history; the target is the headline (worst-group) DIR of the next
24-h window. ``forecast_from_counts`` (what checks use) reads the daily non-overlapping periods ending at the
origin. The former forecast, ``predict_drift`` on the last 30 hourly headline DIRs (24-h windows, checked
hourly), is scored on the same series twice: against the next window (the same target) and against the next
hourly check (the value it extrapolates). Reported: the share of 95% prediction intervals holding the target
(goal 93-97%) and the expected calibration error of the breach probability P(DIR < 0.8) in ten equal bins
(goal <= 0.03), per cell and pooled.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from bench.results import record
from monitoring.fairness.forecast import FORECAST_PERIODS, forecast_from_counts, predict_drift

THRESHOLD = 0.8
HISTORY_DAYS = FORECAST_PERIODS
SHARES = np.array([0.5, 0.3, 0.2])
LABELS = ("a", "b", "c")
REFERENCE_RATE = 0.5
SCENARIOS = ("stable", "random_walk", "ramp", "drop")
VOLUMES = (200, 2000)
FORMER_POINTS = 30


def true_rates(scenario: str, hours: int, rng: np.random.Generator) -> np.ndarray:
    """Selection rate of each group at each hour, shape ``(hours, 3)``."""
    start = rng.uniform(0.65, 1.05, size=2)
    log_dir = np.tile(np.log(start), (hours, 1))
    log_reference = np.full(hours, np.log(REFERENCE_RATE))
    if scenario == "random_walk":
        steps = rng.normal(0.0, 0.006, size=(hours, 3))
        log_reference = log_reference + np.cumsum(steps[:, 0])
        log_dir = log_dir + np.cumsum(steps[:, 1:], axis=0) - np.cumsum(steps[:, :1], axis=0)
    elif scenario == "ramp":
        per_day = rng.uniform(0.0, 0.02, size=2)
        log_dir = np.log(np.maximum(start - np.outer(np.arange(hours) / 24.0, per_day), 0.05))
    elif scenario == "drop":
        moment, group = rng.integers(0, hours), rng.integers(0, 2)
        log_dir[moment:, group] += np.log(0.85)
    reference = np.exp(log_reference)
    rates = np.column_stack([reference, reference[:, None] * np.exp(log_dir)])
    return np.clip(rates, 0.0, 1.0)


def simulate(scenario: str, rows_per_day: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Hourly (selected, total) per group, ``HISTORY_DAYS + 1`` days."""
    hours = (HISTORY_DAYS + 1) * 24
    totals = rng.poisson(rows_per_day / 24.0 * SHARES, size=(hours, 3))
    selected = rng.binomial(totals, true_rates(scenario, hours, rng))
    return selected, totals


def worst_dir(selected: np.ndarray, totals: np.ndarray) -> float | None:
    """Headline DIR of a window from its per-group sums (``None`` when the privileged rate is undefined or 0)."""
    if totals[0] == 0 or selected[0] == 0:
        return None
    ratios = [(selected[g] / totals[g]) / (selected[0] / totals[0]) for g in (1, 2) if totals[g]]
    return min(ratios) if ratios else None


def one_series(scenario: str, rows_per_day: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    selected, totals = simulate(scenario, rows_per_day, rng)
    origin = HISTORY_DAYS * 24  # the check at the end of the history
    target = worst_dir(selected[origin:].sum(0), totals[origin:].sum(0))
    next_check = worst_dir(selected[origin - 23 : origin + 1].sum(0), totals[origin - 23 : origin + 1].sum(0))
    days_selected = selected[:origin].reshape(HISTORY_DAYS, 24, 3).sum(1)
    days_total = totals[:origin].reshape(HISTORY_DAYS, 24, 3).sum(1)
    periods = {
        "group": {
            label: [[int(days_selected[d, g]), int(days_total[d, g])] for d in range(HISTORY_DAYS)]
            for g, label in enumerate(LABELS)
        }
    }
    new = forecast_from_counts(periods, {"group": "a"}, THRESHOLD, period_hours=24, seed=seed)
    headline = [
        worst_dir(selected[end - 24 : end].sum(0), totals[end - 24 : end].sum(0))
        for end in range(origin - FORMER_POINTS + 1, origin + 1)
    ]
    former = predict_drift(headline, THRESHOLD, n_bootstrap=1000, seed=seed)
    return {"target": target, "next_check": next_check, "new": new, "former": former}


def _covered(forecast, value: float | None) -> bool | None:
    if value is None or forecast.prediction_interval is None:
        return None
    return forecast.prediction_interval.lower <= value <= forecast.prediction_interval.upper


def calibration(pairs: list[tuple[float, bool]], bins: int = 10) -> dict[str, Any]:
    """Expected calibration error over equal-width bins of the stated probability, and each bin's figures."""
    if not pairs:
        return {"ece": None, "bins": []}
    stated = np.array([p for p, _ in pairs])
    happened = np.array([o for _, o in pairs], dtype=float)
    index = np.minimum((stated * bins).astype(int), bins - 1)
    ece, table = 0.0, []
    for b in range(bins):
        mask = index == b
        if not mask.any():
            continue
        gap = abs(stated[mask].mean() - happened[mask].mean())
        ece += mask.mean() * gap
        table.append(
            [
                round(b / bins, 1),
                int(mask.sum()),
                round(float(stated[mask].mean()), 3),
                round(float(happened[mask].mean()), 3),
            ]
        )
    return {"ece": round(float(ece), 4), "bins": table}


def score(runs: list[dict[str, Any]], which: str, target: str) -> dict[str, Any]:
    covered = [_covered(run[which], run[target]) for run in runs]
    defined = [c for c in covered if c is not None]
    pairs = [
        (run[which].breach_probability, run[target] < THRESHOLD)
        for run in runs
        if run[which].breach_probability is not None and run[target] is not None
    ]
    return {
        "coverage_95": round(float(np.mean(defined)), 4) if defined else None,
        "forecasts": len(defined),
        **calibration(pairs),
    }


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "new": score(runs, "new", "target"),
        "former_next_window": score(runs, "former", "target"),
        "former_next_check": score(runs, "former", "next_check"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=500, help="simulated series per cell")
    parser.add_argument("--only", default=None, help="run only the cells whose scenario contains this")
    args = parser.parse_args()
    pooled: list[dict[str, Any]] = []
    started = time.perf_counter()
    for scenario in SCENARIOS:
        if args.only and args.only not in scenario:
            continue
        for rows in VOLUMES:
            cell_started = time.perf_counter()
            base = 1_000_000 * (SCENARIOS.index(scenario) + 1) + rows * 1000
            runs = [one_series(scenario, rows, base + index) for index in range(args.series)]
            pooled += runs
            record(
                "forecast",
                {
                    "cell": scenario,
                    "rows_per_day": rows,
                    "series": args.series,
                    **summary(runs),
                    "seconds": round(time.perf_counter() - cell_started, 1),
                },
            )
    record(
        "forecast",
        {
            "cell": "pooled" if not args.only else f"pooled_{args.only}",
            "series": len(pooled),
            **summary(pooled),
            "seconds": round(time.perf_counter() - started, 1),
        },
    )


if __name__ == "__main__":
    main()
