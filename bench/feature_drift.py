"""Input drift evidence: months of hourly checks with no drift, and one shifted feature in one group.

Records one JSON line in ``bench/results/feature_drift.jsonl``::

    python -m bench.feature_drift --months 200            # the engine's e-process on fixed bins
    python -m bench.feature_drift --checks --months 200   # what a stored check runs (see below)

``--checks`` drives ``monitoring.checks.feature_evidence.advance_feature_drift``, the step every check takes,
one closed hour at a time exactly as the evidence chain does: fine bins from raw values, the partition fixed
by the baseline a check uses (whole days until each group has 1,000 rows), restarts every 24 hours. Each
month (30 days after the baseline) has two groups sending ``--rows-per-day`` rows between them, three
features (income log-normal, age normal, region with three categories), read after every hour. No drift:
months with any finding. Drift: one group's incomes scaled by ``--factor`` from day ``--shift-day``; the
hours until that cell is found, and months with a finding elsewhere.

Without ``--checks``, each simulated check has 3 numeric features x 2 groups (6 cells, 8 bins), a 500-row
baseline per cell and ``--rows`` rows per cell per hour. No drift: the share of months (30 x 24 closed hours,
read every hour) with
at least one e-BH finding at ``--alpha``. Drift: one cell's stream moves to a skewed bin distribution; the
hours until that cell is found, and the share of months in which another cell is found.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from bench.results import record
from monitoring.checks.feature_evidence import BASELINE_MAX_HOURS, advance_feature_drift, baseline_end_hour
from monitoring.fairness import FeatureCell, feature_drift_findings
from monitoring.fairness.feature_bins import category_key, fine_numeric_bins

BINS = 8
EDGES = list(np.linspace(0.0, 1.0, BINS + 1))
NULL_SHARES = np.full(BINS, 1.0 / BINS)
SHIFTED_SHARES = np.array([0.05, 0.05, 0.1, 0.1, 0.1, 0.15, 0.2, 0.25])
CELLS = [(feature, group) for feature in ("income", "age", "tenure") for group in ("female", "male")]
HOURS = 30 * 24


def _month(rng: np.random.Generator, rows: int, alpha: float, drifted: bool) -> tuple[int | None, bool]:
    baselines = [rng.multinomial(500, NULL_SHARES).tolist() for _ in CELLS]
    streams = [
        rng.multinomial(rows, SHIFTED_SHARES if drifted and index == 0 else NULL_SHARES, size=HOURS).tolist()
        for index in range(len(CELLS))
    ]
    first_found, other_found = None, False
    for hour in range(1, HOURS + 1):
        cells = [
            FeatureCell(feature, "gender", group, "numeric", baselines[index], streams[index][:hour], edges=EDGES)
            for index, (feature, group) in enumerate(CELLS)
        ]
        findings = feature_drift_findings(cells, alpha)
        if drifted and first_found is None and findings[0]["finding"]:
            first_found = hour
        other_found = other_found or any(finding["finding"] for finding in findings[(1 if drifted else 0) :])
        if (first_found is not None or not drifted) and other_found:
            break
        if drifted and first_found is not None:
            break
    return first_found, other_found


def run(months: int, rows: int, alpha: float, seed: int) -> dict:
    """False finding rate per month without drift; detection delay with one shifted cell."""
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    null_months = sum(_month(rng, rows, alpha, drifted=False)[1] for _ in range(months))
    delays = [_month(rng, rows, alpha, drifted=True)[0] for _ in range(months)]
    found = [delay for delay in delays if delay is not None]
    return {
        "cells": len(CELLS),
        "bins": BINS,
        "baseline_rows": 500,
        "rows_per_cell_hour": rows,
        "alpha": alpha,
        "months": months,
        "months_with_false_finding": null_months / months,
        "drift_detected_share": len(found) / months,
        "detection_delay_hours": {
            "median": float(np.median(found)) if found else None,
            "p90": float(np.percentile(found, 90)) if found else None,
            "max": max(found) if found else None,
        },
        "seconds": round(time.perf_counter() - started, 1),
    }


CHECK_FEATURES = [("income", "numeric"), ("age", "numeric"), ("region", "categorical")]
REGIONS = np.array(["north", "south", "east"])
WINDOW_HOURS = 24


def _fine(values: np.ndarray, kind: str) -> dict[str, int]:
    keys = fine_numeric_bins(values).astype(str) if kind == "numeric" else [category_key(v) for v in values]
    names, counts = np.unique(np.asarray(keys), return_counts=True)
    return {str(name): int(count) for name, count in zip(names, counts, strict=True)}


def simulated_hour(rng: np.random.Generator, rows_per_group: int, income_factor: float) -> dict:
    """One hour's fine-bin counts as the selectors return them: feature -> "gender" -> group -> bin -> n."""
    counts: dict = {name: {"gender": {}} for name, _ in CHECK_FEATURES}
    for group in ("Female", "Male"):
        factor = income_factor if group == "Female" else 1.0
        values = {
            "income": rng.lognormal(10.8, 0.5, rows_per_group) * factor,
            "age": np.clip(rng.normal(40.0, 12.0, rows_per_group), 18.0, None),
            "region": REGIONS[rng.choice(3, size=rows_per_group, p=[0.5, 0.3, 0.2])],
        }
        for name, kind in CHECK_FEATURES:
            counts[name]["gender"][group] = _fine(values[name], kind)
    return counts


def _merged(hours: list[dict]) -> dict:
    total: dict = {}
    for hour in hours:
        for name, by_attribute in hour.items():
            for attribute, groups in by_attribute.items():
                for group, fine in groups.items():
                    cell = total.setdefault(name, {}).setdefault(attribute, {}).setdefault(group, {})
                    for key, count in fine.items():
                        cell[key] = cell.get(key, 0) + count
    return total


def baseline_hours_at(rows_per_group: int) -> int:
    """The input baseline's length (the rule a check applies) when each group sends ``rows_per_group`` an hour."""
    hourly = [
        (hour, {("gender", "Female"): rows_per_group, ("gender", "Male"): rows_per_group})
        for hour in range(BASELINE_MAX_HOURS)
    ]
    return baseline_end_hour(0, WINDOW_HOURS, hourly, BASELINE_MAX_HOURS)


def checked_month(
    rng: np.random.Generator,
    *,
    rows_per_day: int,
    alpha: float,
    hours: int,
    shift_hour: int | None = None,
    factor: float = 1.0,
    read_every: int = 1,
) -> tuple[int | None, bool]:
    """(hours from the shift until (income, Female) is found, whether any other finding happened) over a
    month of checks reading every ``read_every`` closed hours after a 24-hour baseline."""
    rows_per_group = max(1, round(rows_per_day / 48))
    baseline_hours = baseline_hours_at(rows_per_group)
    baseline = {"start_hour": 0, "end_hour": baseline_hours}
    baseline["counts"] = _merged([simulated_hour(rng, rows_per_group, 1.0) for _ in range(baseline_hours)])
    state, pending, found, elsewhere = None, [], None, False
    for hour in range(baseline_hours, baseline_hours + hours):
        shifted = shift_hour is not None and hour - baseline_hours >= shift_hour
        pending.append((hour, simulated_hour(rng, rows_per_group, factor if shifted else 1.0)))
        if (hour - baseline_hours + 1) % read_every:
            continue
        result = advance_feature_drift(
            features=CHECK_FEATURES,
            alpha=alpha,
            previous=state,
            baseline=None if state else baseline,
            start_hour=baseline_hours,
            restart_hours=WINDOW_HOURS,
            hours=pending,
            window=pending[-1][1],
        )
        state, pending = result["state"], []
        for item in result["cells"]:
            if not item["finding"]:
                continue
            if shifted and (item["feature"], item["group"]) == ("income", "Female"):
                if found is None:
                    found = hour - baseline_hours - shift_hour + 1
            else:
                elsewhere = True
        if found is not None:
            break
    return found, elsewhere


def run_checks(months: int, rows_per_day: int, alpha: float, factor: float, shift_day: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    null = [checked_month(rng, rows_per_day=rows_per_day, alpha=alpha, hours=HOURS)[1] for _ in range(months)]
    drifted = [
        checked_month(
            rng, rows_per_day=rows_per_day, alpha=alpha, hours=HOURS, shift_hour=shift_day * 24, factor=factor
        )
        for _ in range(months)
    ]
    delays = [delay for delay, _ in drifted if delay is not None]
    return {
        "mode": "checks",
        "cells": 2 * len(CHECK_FEATURES),
        "rows_per_day": rows_per_day,
        "baseline_hours": baseline_hours_at(max(1, round(rows_per_day / 48))),
        "alpha": alpha,
        "months": months,
        "months_with_false_finding": sum(null) / months,
        "income_factor": factor,
        "shift_day": shift_day,
        "drift_detected_share": len(delays) / months,
        "false_finding_with_drift": sum(other for _, other in drifted) / months,
        "detection_delay_hours": {
            "median": float(np.median(delays)) if delays else None,
            "p90": float(np.percentile(delays, 90)) if delays else None,
        },
        "seconds": round(time.perf_counter() - started, 1),
    }


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run, record one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--months", type=int, default=200)
    parser.add_argument("--rows", type=int, default=40)
    parser.add_argument("--alpha", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checks", action="store_true", help="simulate through the check's input-drift step")
    parser.add_argument("--rows-per-day", type=int, default=2000)
    parser.add_argument("--factor", type=float, default=1.15)
    parser.add_argument("--shift-day", type=int, default=10)
    parser.add_argument(
        "--output", type=Path, default=None, help="results file (default bench/results/feature_drift.jsonl)"
    )
    args = parser.parse_args(argv)
    if args.checks:
        result = run_checks(args.months, args.rows_per_day, args.alpha, args.factor, args.shift_day, args.seed)
    else:
        result = run(args.months, args.rows, args.alpha, args.seed)
    record("feature_drift", result, args.output)


if __name__ == "__main__":
    main()
