"""Benchmark: how often the alert rule fires on fair data, and how fast it catches drift.

``python -m bench.alerting [--checks 200] [--rows 200] [--trials 200] [--drift 0.5]`` prints one JSON line
(and appends it to ``bench/results/alerting.jsonl``)::

    {"false_alarm_rate": ..., "pre_alert_rate_at_drift_0": ..., "detection_delay_checks": {...}, ...}

Each simulated check sees a fresh window of ``--rows`` loan decisions (``generate_loan_data``, half of them
women) and goes through the same code as a stored check (``monitoring.checks.analysis.analyse_window``, with
the default policy: DIR >= 0.8, 95% intervals, groups of 30+), the trend using the earlier checks' DIRs.

* ``false_alarm_rate``: share of ``--checks`` consecutive checks at drift 0 that would open an alert (a
  significant violation), repeated over ``--trials`` independent series; ``false_alarm_series`` is the share of
  series with at least one.
* ``detection_delay_checks``: after drift jumps from 0 to ``--drift``, the number of checks until the first
  alert (1 = the first drifted window), over ``--trials`` series: min, median, p90, max.

``python -m bench.alerting --sequential [--months 500]`` instead runs the anytime-valid evidence
(``monitoring.fairness.sequential``) over simulated hourly counts (``bench.sequential``), one line per cell in
``bench/results/alerting.jsonl`` (``"mode": "sequential"``): months with at least one page, pre-alert or
intersection finding for compliant, boundary and parity worlds; detection delays (hours) against the one-shot
information bound for sudden drops, a ramp and a drop after six compliant months; the change detector's
in-control run length and delay.
"""

from __future__ import annotations

import argparse
import statistics
import time
import zlib
from typing import Any

import numpy as np

from bench.results import record
from monitoring.checks.analysis import analyse_window
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


def former_status(result: dict[str, Any]) -> str:
    """The status the former window rule gave (alerts now come from the evidence; this mode measures the window
    rule it replaced): alert on a significant window, pre-alert on a possible one or the trend rule."""
    verdicts = {item["verdict"] for item in result["violations"]}
    if "significant_violation" in verdicts:
        return "alert"
    if "possible_violation" in verdicts or result["trend"]["pre_alert"]["status"] in ("pre_alert", "breached"):
        return "pre_alert"
    return result["status"]


def fair_series(rows: int, checks: int, seed: int) -> tuple[int, int]:
    """(alerts, pre-alerts) over ``checks`` consecutive fair windows."""
    earlier: list[float | None] = []
    alerts = pre_alerts = 0
    for index in range(checks):
        result = one_check(rows, 0.0, seed * 100_003 + index, earlier[-29:])
        earlier.append(result["headline_dir"])
        alerts += former_status(result) == "alert"
        pre_alerts += former_status(result) == "pre_alert"
    return alerts, pre_alerts


def detection_delay(rows: int, drift: float, seed: int, limit: int = 50) -> int | None:
    """Checks after the drift starts until the first alert (None if not within ``limit``)."""
    earlier: list[float | None] = []
    for index in range(FAIR_WARMUP):
        earlier.append(one_check(rows, 0.0, seed * 100_003 + index, earlier)["headline_dir"])
    for step in range(1, limit + 1):
        result = one_check(rows, drift, seed * 100_003 + FAIR_WARMUP + step, earlier[-29:])
        if former_status(result) == "alert":
            return step
        earlier.append(result["headline_dir"])
    return None


def sequential_cells(months: int, only: str | None = None) -> None:
    """Run every sequential cell (``only``: cells whose name contains this text) and record one line each."""
    from bench import sequential as sim
    from monitoring.fairness.sequential import SequentialSettings

    settings = SequentialSettings()
    lender = sim.policy_comparisons(sim.LENDER_POLICY)
    paging = sum(c.tier == "page" for c in lender)
    explore = [i for i, c in enumerate(lender) if c.tier == "explore"]
    dir_only = sim.policy_comparisons(sim.DIR_POLICY, attributes=(("A",),))
    dropped = [c for c in dir_only if c.group == 1]
    month = 30 * 24

    def emit(cell: str, started: float, payload: dict[str, Any]) -> None:
        record(
            "alerting",
            {
                "mode": "sequential",
                "cell": cell,
                "months": months,
                **payload,
                "seconds": round(time.perf_counter() - started, 1),
            },
        )

    def wanted(cell: str) -> bool:
        return only is None or only in cell

    worlds = [
        ("compliant_lender", sim.compliant_rates(), lender, paging, explore),
        ("parity_lender", sim.parity_rates(), lender, paging, explore),
        ("boundary_dir_0.80", sim.boundary_rates(), dir_only, len(dir_only), []),
    ]
    for name, rates, comparisons, family, tier in worlds:
        for rows in (200, 2000):
            cell = f"false_alerts/{name}/{rows}"
            if not wanted(cell):
                continue
            started = time.perf_counter()
            out = sim.run_months(
                comparisons,
                lambda hour, r=rates: r,
                months=months,
                hours=month,
                rows_per_day=rows,
                settings=settings,
                family_size=family,
                explore=tier,
                seed=zlib.crc32(cell.encode()),
            )
            emit(
                cell,
                started,
                {
                    "rows_per_day": rows,
                    "comparisons": len(comparisons),
                    "paging_family": family,
                    "months_with_alert": float((out["first_alert"] >= 0).mean()),
                    "months_with_pre_alert": float((out["first_pre_alert"] >= 0).mean()),
                    "months_with_finding": float((out["first_finding"] >= 0).mean()) if tier else None,
                    "target_months_with_alert": 0.05,
                },
            )
    new_model = {}
    for ratio, rows, limit_days in ((0.70, 200, 150), (0.55, 200, 40), (0.70, 2000, 20), (0.55, 2000, 5)):
        cell = f"sudden_drop/{ratio}/{rows}"
        if not wanted(cell) and not wanted("after_6_months"):
            continue
        started = time.perf_counter()
        rates = sim.drop_rates(ratio)
        out = sim.run_months(
            dropped,
            lambda hour, r=rates: r,
            months=months,
            hours=limit_days * 24,
            rows_per_day=rows,
            settings=settings,
            family_size=paging,
            stop_at_alert=True,
            seed=zlib.crc32(cell.encode()),
        )
        bound = sim.information_bound_hours(0.5 * ratio, 0.5, 0.8, 0.2, 0.4, rows, settings.alpha / paging)
        delay = sim.summary(out["first_alert"] + 1)
        new_model[(ratio, rows)] = delay["median"]
        emit(
            cell,
            started,
            {
                "rows_per_day": rows,
                "dir": ratio,
                "paging_family": paging,
                "delay_hours": delay,
                "information_bound_hours": round(bound, 1),
                "median_over_bound": round(delay["median"] / bound, 2) if delay["median"] else None,
                "target_median_over_bound": 2.0,
            },
        )
    for rows in (200, 2000):
        cell = f"ramp_1.0_to_0.7_over_30_days/{rows}"
        if not wanted(cell):
            continue
        started = time.perf_counter()
        ramp_hours = 30 * 24

        def ramp(hour: int, length: int = ramp_hours) -> tuple[np.ndarray, np.ndarray]:
            return sim.drop_rates(1.0 - 0.3 * min(hour, length) / length)

        crossing = int(ramp_hours * (0.2 / 0.3))
        days = 240 if rows == 200 else 80
        out = sim.run_months(
            dropped,
            ramp,
            months=months,
            hours=days * 24,
            rows_per_day=rows,
            settings=settings,
            family_size=paging,
            stop_at_alert=True,
            seed=zlib.crc32(cell.encode()),
        )
        alerts = out["first_alert"]
        emit(
            cell,
            started,
            {
                "rows_per_day": rows,
                "crossing_hour": crossing,
                "alert_before_crossing": float(((alerts >= 0) & (alerts < crossing)).mean()),
                "delay_hours_after_crossing": sim.summary(np.where(alerts >= 0, alerts + 1 - crossing, -1)),
            },
        )
    history = 180 * 24
    for ratio, rows, limit_days in ((0.55, 200, 40), (0.70, 2000, 20), (0.55, 2000, 5)):
        cell = f"after_6_months/{ratio}/{rows}"
        if not wanted(cell):
            continue
        started = time.perf_counter()
        before, after = sim.drop_rates(0.9), sim.drop_rates(ratio)
        out = sim.run_months(
            dropped,
            lambda hour, b=before, a=after: b if hour < history else a,
            months=months,
            hours=history + limit_days * 24,
            rows_per_day=rows,
            settings=settings,
            family_size=paging,
            seed=zlib.crc32(cell.encode()),
            stop_at_alert=True,
        )
        alerts = out["first_alert"]
        early = float(((alerts >= 0) & (alerts < history)).mean())
        delay = sim.summary(np.where(alerts >= history, alerts + 1 - history, -1))
        reference = new_model.get((ratio, rows))
        emit(
            cell,
            started,
            {
                "rows_per_day": rows,
                "dir": ratio,
                "false_alert_in_history": early,
                "delay_hours": delay,
                "new_model_median": reference,
                "ratio_to_new_model": round(delay["median"] / reference, 2) if delay["median"] and reference else None,
                "target_ratio": 1.5,
            },
        )
    change_detector(months, settings, dir_only, dropped, emit, wanted)


def change_detector(months, settings, dir_only, dropped, emit, wanted) -> None:
    """CUSUM e-detector on the DIR comparison: in-control run length at the boundary, then delay after a drop."""
    from bench import sequential as sim
    from monitoring.fairness.count_change import DEFAULT_LOG_THRESHOLD

    levels = (2.8, 3.0, 3.2, 3.5, 4.0, 5.0, 6.0)
    horizon = 6000
    for rows in (200, 2000):
        cell = f"change_detector/in_control_boundary/{rows}"
        if not wanted(cell):
            continue
        started = time.perf_counter()
        rates = sim.boundary_rates()
        out = sim.run_months(
            dropped,
            lambda hour, r=rates: r,
            months=months,
            hours=horizon,
            rows_per_day=rows,
            settings=settings,
            family_size=1,
            cusum_thresholds=levels,
            seed=zlib.crc32(cell.encode()),
        )
        run_lengths = {}
        for row, level in enumerate(levels):
            hits = out["first_cusum"][row]
            # Censored at the horizon: the mean of min(T, horizon) is a lower bound on the average run length.
            lengths = np.where(hits >= 0, hits + 1, horizon)
            run_lengths[f"{level:g}"] = {"arl_lower_bound": float(lengths.mean()), "alarmed": float((hits >= 0).mean())}
        emit(
            cell,
            started,
            {
                "rows_per_day": rows,
                "horizon_checks": horizon,
                "log_thresholds": run_lengths,
                "default_log_threshold": DEFAULT_LOG_THRESHOLD,
                "target_arl": 1000,
            },
        )
    for ratio in (0.55, 0.70):
        cell = f"change_detector/drop_after_30_days/{ratio}/2000"
        if not wanted(cell):
            continue
        started = time.perf_counter()
        before, after = sim.drop_rates(0.9), sim.drop_rates(ratio)
        change = 30 * 24
        out = sim.run_months(
            dropped,
            lambda hour, b=before, a=after, at=change: b if hour < at else a,
            months=months,
            hours=change + 20 * 24,
            rows_per_day=2000,
            settings=settings,
            family_size=1,
            cusum_thresholds=levels,
            seed=zlib.crc32(cell.encode()),
        )
        default_row = levels.index(DEFAULT_LOG_THRESHOLD)
        # The same runs read at every threshold: the delay side of the run-length frontier.
        by_threshold = {}
        for row, level in enumerate(levels):
            level_hits = out["first_cusum"][row]
            level_after = level_hits >= change
            by_threshold[f"{level:g}"] = sim.summary(np.where(level_after, level_hits + 1 - change, -1))
        hits, starts = out["first_cusum"][default_row], out["cusum_start"][default_row]
        after_change = hits >= change
        emit(
            cell,
            started,
            {
                "rows_per_day": 2000,
                "dir": ratio,
                "alarm_before_change": float(((hits >= 0) & (hits < change)).mean()),
                "delay_hours": sim.summary(np.where(after_change, hits + 1 - change, -1)),
                "estimated_change_error_hours_median": float(np.median(starts[after_change] - change))
                if after_change.any()
                else None,
                "target_median_delay_hours": 48,
                "delay_hours_by_log_threshold": by_threshold,
                "default_log_threshold": DEFAULT_LOG_THRESHOLD,
            },
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checks", type=int, default=200)
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--drift", type=float, default=0.5)
    parser.add_argument("--sequential", action="store_true", help="run the anytime-valid evidence cells")
    parser.add_argument("--months", type=int, default=500, help="simulated months per sequential cell")
    parser.add_argument("--only", default=None, help="run only the sequential cells whose name contains this")
    args = parser.parse_args()
    if args.sequential:
        sequential_cells(args.months, args.only)
        return
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
