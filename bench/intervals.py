"""Benchmark: coverage and width of every interval the engine reports, and the worst-group headline.

``python -m bench.intervals [--replicates R] [--resamples B] [--seed S]`` appends one JSON line to
``bench/results/intervals.jsonl`` with

* ``cells``: for each total size n in 30, 50, 500, 5,000, split (unprivileged share 0.5 or 0.1) and scenario
  (``parity``, ``away``: DIR 0.7 with lower TPR and FPR, ``rare``: selection rates near 5%), the coverage of
  each method over R replicates (counted where the method gives an interval; ``defined`` says how often), its
  mean width, and for the selection rate the width relative to the exact Clopper-Pearson interval, with the
  mid-p exact interval beside it. Theil: the score-box intervals the engine uses (``theil_total``,
  ``theil_between``) and the former percentile bootstrap (``*_bootstrap``, B resamples) for comparison.
* ``headline``: four groups against one reference (500 or 1,000 rows each, reference selection rate 0.5), all at a
  true DIR of 0.85 and with one at 0.7: mean and P(< 0.8) of the former minimum of point DIRs and of the
  bias-corrected figure, and the coverage of the Bonferroni interval for the true minimum.

Coverage of a 95% interval over R = 2,000 replicates has a binomial standard error of 0.5 points.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from scipy import optimize, stats

from bench.results import record
from monitoring.fairness.counts import ConfusionCounts, GroupedCounts
from monitoring.fairness.headline import worst_group_headline
from monitoring.fairness.intervals import katz_bounds, mover_bounds, newcombe_bounds, wilson_bounds, z_value
from monitoring.fairness.theil import between_theil_bounds, theil_bootstrap_intervals, total_theil_bounds

SIZES = (30, 50, 500, 5000)
SPLITS = (0.5, 0.1)
CONFIDENCE = 0.95
HEADLINE_GROUP_SIZES = (500, 1000)

# Per-group probabilities of (TP, FN, FP, TN) from prevalence, TPR and FPR; the first entry is the reference.
SCENARIOS = {
    "parity": ((0.5, 0.8, 0.2), (0.5, 0.8, 0.2)),
    "away": ((0.5, 0.8, 0.2), (0.5, 0.6, 0.1)),
    "rare": ((0.1, 0.5, 0.02), (0.1, 0.3, 0.01)),
}


def cell_probabilities(prevalence: float, tpr: float, fpr: float) -> np.ndarray:
    """(TP, FN, FP, TN) probabilities of one row."""
    return np.array([prevalence * tpr, prevalence * (1 - tpr), (1 - prevalence) * fpr, (1 - prevalence) * (1 - fpr)])


def clopper_pearson(successes: np.ndarray, trials: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Clopper-Pearson) limits, the reference width for a rate."""
    tail = (1 - confidence) / 2
    lower = np.where(successes > 0, stats.beta.ppf(tail, successes, trials - successes + 1), 0.0)
    upper = np.where(successes < trials, stats.beta.ppf(1 - tail, successes + 1, trials - successes), 1.0)
    return lower, upper


def mid_p_limits(successes: int, trials: int, confidence: float) -> tuple[float, float]:
    """Mid-p exact limits: P(X > x) + P(X = x)/2 = tail at the lower limit, and mirrored at the upper."""
    tail = (1 - confidence) / 2

    def upper_tail(p: float) -> float:
        return stats.binom.sf(successes, trials, p) + 0.5 * stats.binom.pmf(successes, trials, p) - tail

    def lower_tail(p: float) -> float:
        return stats.binom.cdf(successes - 1, trials, p) + 0.5 * stats.binom.pmf(successes, trials, p) - tail

    lower = 0.0 if successes == 0 else optimize.brentq(upper_tail, 1e-12, 1 - 1e-12)
    upper = 1.0 if successes == trials else optimize.brentq(lower_tail, 1e-12, 1 - 1e-12)
    return lower, upper


def coverage(truth: float, lower: np.ndarray, upper: np.ndarray) -> dict[str, Any]:
    """Coverage and mean width where the limits are defined."""
    defined = np.isfinite(lower) & np.isfinite(upper)
    if not defined.any():
        return {"coverage": None, "defined": 0.0, "mean_width": None}
    hits = (lower[defined] <= truth + 1e-12) & (truth - 1e-12 <= upper[defined])
    return {
        "coverage": round(float(hits.mean()), 4),
        "defined": round(float(defined.mean()), 4),
        "mean_width": round(float((upper[defined] - lower[defined]).mean()), 5),
    }


def true_theil(probabilities: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
    """Total and between-group Theil index of the population with fixed group shares ``weights``."""
    fn = probabilities[:, 1]
    fp = probabilities[:, 2]
    means = 1 - fn + fp
    overall = float((weights * means).sum())
    total_fp = float((weights * fp).sum())
    total = 2 * total_fp * math.log(2) / overall - math.log(overall)
    ratio = means / overall
    between = float((weights * ratio * np.log(ratio)).sum())
    return total, between


def bootstrap_bounds(
    draws: np.ndarray, resamples: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The former percentile-bootstrap limits, replicate by replicate, through the engine's function."""
    limits = np.full((4, len(draws)), np.nan)
    for index, replicate in enumerate(draws):
        groups = {
            label: ConfusionCounts(tp=int(tp), fn=int(fn), fp=int(fp), tn=int(tn))
            for label, (tp, fn, fp, tn) in zip(("p", "u"), replicate, strict=True)
        }
        total, between = theil_bootstrap_intervals(GroupedCounts(("g",), groups), CONFIDENCE, resamples, seed + index)
        if total.interval is not None and between.interval is not None:
            limits[:, index] = total.lower, total.upper, between.lower, between.upper
    return limits[0], limits[1], limits[2], limits[3]


def run_cell(n: int, split: float, scenario: str, replicates: int, resamples: int, rng: np.random.Generator) -> dict:
    """Coverage of every method in one cell of the grid."""
    reference_size = n - round(n * split)
    sizes = np.array([reference_size, n - reference_size])
    probabilities = np.array([cell_probabilities(*parameters) for parameters in SCENARIOS[scenario]])
    draws = np.stack(
        [rng.multinomial(size, p, size=replicates) for size, p in zip(sizes, probabilities, strict=True)], 1
    )
    tp, fn, fp, tn = (draws[:, :, column].astype(np.float64) for column in range(4))
    z = z_value(CONFIDENCE)
    selected = tp + fp
    rate = probabilities[:, 0] + probabilities[:, 2]
    tpr = probabilities[:, 0] / (probabilities[:, 0] + probabilities[:, 1])
    fpr = probabilities[:, 2] / (probabilities[:, 2] + probabilities[:, 3])
    result: dict[str, Any] = {"n": n, "split": split, "scenario": scenario}

    low, high = wilson_bounds(selected[:, 1], sizes[1], z)
    exact_low, exact_high = clopper_pearson(selected[:, 1], np.full(replicates, sizes[1]), CONFIDENCE)
    mid = {int(x): mid_p_limits(int(x), int(sizes[1]), CONFIDENCE) for x in np.unique(selected[:, 1])}
    mid_low = np.array([mid[int(x)][0] for x in selected[:, 1]])
    mid_high = np.array([mid[int(x)][1] for x in selected[:, 1]])
    exact_width = float((exact_high - exact_low).mean())
    result["selection_rate"] = coverage(rate[1], low, high) | {
        "width_over_exact": round(float((high - low).mean()) / exact_width, 3)
    }
    result["selection_rate_exact"] = coverage(rate[1], exact_low, exact_high)
    result["selection_rate_mid_p"] = coverage(rate[1], mid_low, mid_high) | {
        "width_over_exact": round(float((mid_high - mid_low).mean()) / exact_width, 3)
    }

    result["dir"] = coverage(rate[1] / rate[0], *katz_bounds(selected[:, 1], sizes[1], selected[:, 0], sizes[0], z))
    result["spd"] = coverage(rate[1] - rate[0], *newcombe_bounds(selected[:, 1], sizes[1], selected[:, 0], sizes[0], z))
    positives, negatives = tp + fn, fp + tn
    result["eod"] = coverage(tpr[1] - tpr[0], *newcombe_bounds(tp[:, 1], positives[:, 1], tp[:, 0], positives[:, 0], z))
    result["fpr_difference"] = coverage(
        fpr[1] - fpr[0], *newcombe_bounds(fp[:, 1], negatives[:, 1], fp[:, 0], negatives[:, 0], z)
    )
    terms = []
    for sign, successes, trials, column in (
        (1.0, fp, negatives, 1),
        (-1.0, fp, negatives, 0),
        (1.0, tp, positives, 1),
        (-1.0, tp, positives, 0),
    ):
        with np.errstate(divide="ignore", invalid="ignore"):
            estimate = successes[:, column] / trials[:, column]
        terms.append((sign, estimate, *wilson_bounds(successes[:, column], trials[:, column], z)))
    aod_low, aod_high = mover_bounds(terms)
    result["aod"] = coverage(((fpr[1] - fpr[0]) + (tpr[1] - tpr[0])) / 2, aod_low / 2, aod_high / 2)

    total, between = true_theil(probabilities, sizes / n)
    neutral = tp + tn
    result["theil_total"] = coverage(total, *total_theil_bounds(fn.sum(1), neutral.sum(1), fp.sum(1), CONFIDENCE))
    result["theil_between"] = coverage(between, *between_theil_bounds(fn, neutral, fp, CONFIDENCE))
    total_low, total_high, between_low, between_high = bootstrap_bounds(draws, resamples, int(rng.integers(1 << 30)))
    result["theil_total_bootstrap"] = coverage(total, total_low, total_high)
    result["theil_between_bootstrap"] = coverage(between, between_low, between_high)
    for name in ("theil_total", "theil_between"):
        former = result[f"{name}_bootstrap"]["mean_width"]
        result[name]["width_over_bootstrap"] = round(result[name]["mean_width"] / former, 3) if former else None
    result["true_theil_between"] = round(between, 6)
    return result


def headline_study(
    true_ratios: tuple[float, ...], size: int, replicates: int, rng: np.random.Generator
) -> dict[str, Any]:
    """Former minimum of point DIRs against the headline figure and its interval, ``size`` rows a group."""
    reference_rate = 0.5

    def counts(rate: float) -> ConfusionCounts:
        selected = int(rng.binomial(size, rate))
        return ConfusionCounts(unlabeled_pos=selected, unlabeled_neg=size - selected)

    naive, corrected, covered = [], [], 0
    truth = min(true_ratios)
    for replicate in range(replicates):
        groups = {f"g{index}": counts(reference_rate * ratio) for index, ratio in enumerate(true_ratios)}
        headline = worst_group_headline({"a": (counts(reference_rate), groups)}, CONFIDENCE, seed=replicate)
        naive.append(headline.naive_minimum)
        corrected.append(headline.value)
        covered += headline.lower <= truth <= headline.upper
    naive_array, corrected_array = np.array(naive), np.array(corrected)
    return {
        "true_ratios": list(true_ratios),
        "group_size": size,
        "naive_mean": round(float(naive_array.mean()), 4),
        "naive_below_0_8": round(float((naive_array < 0.8).mean()), 4),
        "headline_mean": round(float(corrected_array.mean()), 4),
        "headline_below_0_8": round(float((corrected_array < 0.8).mean()), 4),
        "interval_coverage": round(covered / replicates, 4),
    }


def run(replicates: int, resamples: int, seed: int, progress: Callable[[str], None] = print) -> dict[str, Any]:
    """The whole grid and the headline study."""
    rng = np.random.default_rng(seed)
    cells = []
    for n in SIZES:
        for split in SPLITS:
            for scenario in SCENARIOS:
                cells.append(run_cell(n, split, scenario, replicates, resamples, rng))
                progress(f"n={n} split={split} {scenario} done")
    headline = [
        headline_study(ratios, size, replicates, rng)
        for size in HEADLINE_GROUP_SIZES
        for ratios in ((0.85,) * 4, (0.7, 0.85, 0.85, 0.85))
    ]
    return {
        "replicates": replicates,
        "bootstrap_resamples": resamples,
        "confidence": CONFIDENCE,
        "seed": seed,
        "cells": cells,
        "headline": headline,
    }


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run, print and append one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=2000)
    parser.add_argument("--resamples", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--output", type=Path, default=None, help="results file (default bench/results/intervals.jsonl)"
    )
    args = parser.parse_args(argv)
    record("intervals", run(args.replicates, args.resamples, args.seed), args.output)


if __name__ == "__main__":
    main()
