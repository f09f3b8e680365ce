"""Benchmark: all fairness metrics for two groups from raw arrays, against fairlearn and a numpy floor.

``python -m bench.metrics --rows N [--skip-fairlearn] [--repeat R]`` prints one JSON line (and appends it to
``bench/results/metrics.jsonl``)::

    {"rows": N, "fairlens_s": ..., "fairlearn_s": ..., "numpy_floor_s": ..., "peak_mib": ..., "input_mib": ...}

* ``fairlens_s``: :func:`monitoring.fairness.evaluate_fairness` on int8 group codes and int8 labels: counts,
  per-group SR/TPR/FPR with Wilson intervals, DIR (Katz), SPD/EOD/FPR difference (Newcombe), AOD (MOVER),
  impact ratios, Theil and between-group Theil, verdicts; no bootstrap (``n_bootstrap=0``). Best of R runs.
* ``fairlearn_s``: fairlearn ``MetricFrame`` with selection rate, TPR and FPR by group on the same arrays
  (one run: it is slow and memory hungry). ``--skip-fairlearn`` reports the time recorded on the reference
  machine for that row count instead (``fairlearn_source`` says which).
* ``numpy_floor_s``: one ``np.bincount`` over the combined code ``group * 4 + y_true * 2 + y_pred`` computed
  in int8 (the fastest single-pass formulation); best of R runs.
* ``peak_mib``: peak memory allocated during one fairlens run (tracemalloc sees numpy's buffers), to compare
  with ``input_mib``, the size of the three input arrays.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.results import record
from monitoring.fairness import evaluate_fairness

# fairlearn MetricFrame seconds measured on the 2-core reference machine (see docs/benchmarks.md);
# used by --skip-fairlearn.
RECORDED_FAIRLEARN_S = {1_000_000: 9.332, 10_000_000: 102.464}
MIB = 1024 * 1024


def make_arrays(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two groups with different selection rates; predictions agree with labels about 80% of the time."""
    rng = np.random.default_rng(seed)
    groups = rng.integers(0, 2, rows, dtype=np.int8)
    y_true = (rng.random(rows) < 0.6).astype(np.int8)
    agree = rng.random(rows) < np.where(groups == 0, 0.85, 0.75)
    y_pred = np.where(agree, y_true, 1 - y_true).astype(np.int8)
    return groups, y_true, y_pred


def best_time(function: Callable[[], object], repeat: int) -> float:
    """Fastest wall-clock time of ``repeat`` calls."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def fairlens_run(groups: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray) -> object:
    """All metrics without bootstrap, as the platform computes them for one check."""
    return evaluate_fairness(groups, y_pred, y_true, privileged=0, n_bootstrap=0)


def numpy_floor(groups: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """The least work any exact method must do: one pass that codes and counts every row."""
    return np.bincount(groups * np.int8(4) + y_true * np.int8(2) + y_pred, minlength=8)


def fairlearn_run(groups: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray) -> object:
    """fairlearn's per-group selection rate, TPR and FPR."""
    from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate, true_positive_rate

    frame = MetricFrame(
        metrics={"selection_rate": selection_rate, "tpr": true_positive_rate, "fpr": false_positive_rate},
        y_true=y_true,
        y_pred=y_pred,
        sensitive_features=groups,
    )
    return frame.by_group


def peak_allocation_mib(function: Callable[[], object]) -> float:
    """Peak memory allocated while ``function`` runs, in MiB."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    baseline = tracemalloc.get_traced_memory()[0]
    function()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return (peak - baseline) / MIB


def agrees_with_fairlearn(report: object, by_group: object) -> bool:
    """Whether fairlens' per-group rates equal fairlearn's to 1e-12."""
    for label in (0, 1):
        summary = report.group(label)  # type: ignore[attr-defined]
        expected = by_group.loc[label]  # type: ignore[attr-defined]
        pairs = (
            (summary.selection_rate.value, expected["selection_rate"]),
            (summary.true_positive_rate.value, expected["tpr"]),
            (summary.false_positive_rate.value, expected["fpr"]),
        )
        if any(abs(ours - theirs) > 1e-12 for ours, theirs in pairs):
            return False
    return True


def run(rows: int, repeat: int, skip_fairlearn: bool, seed: int) -> dict[str, object]:
    """Measure everything for ``rows`` rows and return the JSON record."""
    groups, y_true, y_pred = make_arrays(rows, seed)
    input_mib = (groups.nbytes + y_true.nbytes + y_pred.nbytes) / MIB
    fairlens_run(groups, y_true, y_pred)  # warm-up: imports and first-call costs are not per-check costs
    fairlens_s = best_time(lambda: fairlens_run(groups, y_true, y_pred), repeat)
    floor_s = best_time(lambda: numpy_floor(groups, y_true, y_pred), repeat)
    peak_mib = peak_allocation_mib(lambda: fairlens_run(groups, y_true, y_pred))
    record: dict[str, object] = {"rows": rows, "fairlens_s": round(fairlens_s, 6)}
    if skip_fairlearn:
        record["fairlearn_s"] = RECORDED_FAIRLEARN_S.get(rows)
        record["fairlearn_source"] = "recorded" if rows in RECORDED_FAIRLEARN_S else "not_run"
    else:
        start = time.perf_counter()
        by_group = fairlearn_run(groups, y_true, y_pred)
        record["fairlearn_s"] = round(time.perf_counter() - start, 3)
        record["fairlearn_source"] = "measured"
        record["agrees_with_fairlearn"] = agrees_with_fairlearn(fairlens_run(groups, y_true, y_pred), by_group)
    record["numpy_floor_s"] = round(floor_s, 6)
    record["peak_mib"] = round(peak_mib, 2)
    record["input_mib"] = round(input_mib, 2)
    record["fairlens_over_floor"] = round(fairlens_s / floor_s, 3)
    record["peak_over_input"] = round(peak_mib / input_mib, 4) if input_mib else None
    if record["fairlearn_s"]:
        record["fairlearn_over_fairlens"] = round(float(record["fairlearn_s"]) / fairlens_s, 1)
    return record


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run, print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--skip-fairlearn", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=None, help="results file (default bench/results/metrics.jsonl)")
    args = parser.parse_args(argv)
    record("metrics", run(args.rows, args.repeat, args.skip_fairlearn, args.seed), args.output)


if __name__ == "__main__":
    main()
