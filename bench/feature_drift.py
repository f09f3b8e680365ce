"""Input drift evidence: months of hourly checks with no drift, and one shifted feature in one group.

Records one JSON line in ``bench/results/feature_drift.jsonl``::

    python -m bench.feature_drift --months 200

Each simulated check has 3 numeric features x 2 groups (6 cells, 8 bins), a 500-row baseline per cell and
``--rows`` rows per cell per hour. No drift: the share of months (30 x 24 closed hours, read every hour) with
at least one e-BH finding at ``--alpha``. Drift: one cell's stream moves to a skewed bin distribution; the
hours until that cell is found, and the share of months in which another cell is found.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from bench.results import record
from monitoring.fairness import FeatureCell, feature_drift_findings

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


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run, record one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--months", type=int, default=200)
    parser.add_argument("--rows", type=int, default=40)
    parser.add_argument("--alpha", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--output", type=Path, default=None, help="results file (default bench/results/feature_drift.jsonl)"
    )
    args = parser.parse_args(argv)
    record("feature_drift", run(args.months, args.rows, args.alpha, args.seed), args.output)


if __name__ == "__main__":
    main()
