"""Benchmark: how often the alert rule fires on fair data, and how fast it catches drift.

``python -m bench.alerting [--checks 200] [--rows 200] [--trials 200] [--drift 0.5]`` prints one JSON line
(and appends it to ``bench/results/alerting.jsonl``)::

    {"false_alarm_rate": ..., "pre_alert_rate_at_drift_0": ..., "detection_delay_checks": {...}, ...}

Each simulated check sees a fresh window of ``--rows`` loan decisions (``generate_loan_data``, half of them
women) and goes through the same code as a stored check (``monitoring.check_analysis.analyse_window``, with
the default policy: DIR >= 0.8, 95% intervals, groups of 30+), the trend using the earlier checks' DIRs.

* ``false_alarm_rate``: share of ``--checks`` consecutive checks at drift 0 that would open an alert (a
  significant violation), repeated over ``--trials`` independent series; ``false_alarm_series`` is the share of
  series with at least one.
* ``detection_delay_checks``: after drift jumps from 0 to ``--drift``, the number of checks until the first
  alert (1 = the first drifted window), over ``--trials`` series: min, median, p90, max.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import numpy as np

from bench.results import record
from monitoring.check_analysis import analyse_window
from monitoring.fairness import FairnessPolicy, counts_from_frame, generate_loan_data

PRIVILEGED = {"gender": "Male"}
THRESHOLD = 0.8
FAIR_WARMUP = 10


def one_check(rows: int, drift: float, seed: int, earlier: list[float | None]) -> dict[str, Any]:
    data = generate_loan_data(rows, drift_level=drift, seed=seed)
    counts = {"gender": counts_from_frame(data, "gender", prediction="approved")}
    return analyse_window(
        counts=counts,
        privileged=PRIVILEGED,
        policy=FairnessPolicy(),
        earlier_dirs=earlier,
        threshold=THRESHOLD,
        histograms={},
        baseline_histograms=None,
        seed=seed,
    )


def fair_series(rows: int, checks: int, seed: int) -> tuple[int, int]:
    """(alerts, pre-alerts) over ``checks`` consecutive fair windows."""
    earlier: list[float | None] = []
    alerts = pre_alerts = 0
    for index in range(checks):
        result = one_check(rows, 0.0, seed * 100_003 + index, earlier[-29:])
        earlier.append(result["headline_dir"])
        alerts += result["status"] == "alert"
        pre_alerts += result["status"] == "pre_alert"
    return alerts, pre_alerts


def detection_delay(rows: int, drift: float, seed: int, limit: int = 50) -> int | None:
    """Checks after the drift starts until the first alert (None if not within ``limit``)."""
    earlier: list[float | None] = []
    for index in range(FAIR_WARMUP):
        earlier.append(one_check(rows, 0.0, seed * 100_003 + index, earlier)["headline_dir"])
    for step in range(1, limit + 1):
        result = one_check(rows, drift, seed * 100_003 + FAIR_WARMUP + step, earlier[-29:])
        if result["status"] == "alert":
            return step
        earlier.append(result["headline_dir"])
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checks", type=int, default=200)
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--drift", type=float, default=0.5)
    args = parser.parse_args()
    started = time.perf_counter()
    fair = [fair_series(args.rows, args.checks, trial) for trial in range(args.trials)]
    total_checks = args.checks * args.trials
    delays = [detection_delay(args.rows, args.drift, 10_000 + trial) for trial in range(args.trials)]
    caught = sorted(delay for delay in delays if delay is not None)
    record(
        "alerting",
        {
            "rows_per_window": args.rows,
            "checks_per_series": args.checks,
            "trials": args.trials,
            "false_alarm_rate": sum(alerts for alerts, _ in fair) / total_checks,
            "false_alarm_series": sum(alerts > 0 for alerts, _ in fair) / args.trials,
            "pre_alert_rate_at_drift_0": sum(pre for _, pre in fair) / total_checks,
            "drift": args.drift,
            "detection_delay_checks": {
                "detected": len(caught),
                "min": caught[0] if caught else None,
                "median": statistics.median(caught) if caught else None,
                "p90": float(np.percentile(caught, 90)) if caught else None,
                "max": caught[-1] if caught else None,
            },
            "seconds": round(time.perf_counter() - started, 1),
        },
    )


if __name__ == "__main__":
    main()
