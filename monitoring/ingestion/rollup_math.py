"""Rollup deltas from prediction rows: pure pandas/numpy, no database.

A delta maps a rollup cell (bucket start, attribute, group) to confusion counts and a score histogram. The
same function serves live ingestion, label updates (with signed weights) and rebuilding from raw rows, so
all three agree by construction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from monitoring.constants import BUCKET_SECONDS, INTERSECTION_SEPARATOR, SCORE_BINS

COUNT_FIELDS = ("tp", "fp", "tn", "fn", "unlabeled_pos", "unlabeled_neg")
# Outcome code per row: index into COUNT_FIELDS.
_TP, _FP, _TN, _FN, _UNL_POS, _UNL_NEG = range(6)

CellKey = tuple[pd.Timestamp, str, str]


@dataclass
class CellDelta:
    counts: list[int] = field(default_factory=lambda: [0] * len(COUNT_FIELDS))
    histogram: list[int] = field(default_factory=lambda: [0] * SCORE_BINS)

    def is_zero(self) -> bool:
        return not any(self.counts) and not any(self.histogram)


def attribute_keys(attributes: Sequence[str]) -> list[str]:
    """Each attribute alone, plus their intersection when there are several (sorted names)."""
    names = sorted(attributes)
    keys = list(names)
    if len(names) > 1:
        keys.append(INTERSECTION_SEPARATOR.join(names))
    return keys


def intersection_group(values: Sequence[str]) -> str:
    """An intersection's group label: a JSON list of the values in attribute-name order (unambiguous)."""
    return json.dumps(list(values), ensure_ascii=False)


def outcome_codes(y_pred: np.ndarray, y_true: np.ndarray) -> np.ndarray:
    """Map (y_pred, y_true) to an outcome code; y_true < 0 or NaN means "no label yet"."""
    y_pred = np.asarray(y_pred, dtype=np.int8)
    labels = np.asarray(y_true, dtype=np.float64)
    unlabeled = ~np.isfinite(labels) | (labels < 0)
    truth = np.where(unlabeled, 0, labels).astype(np.int8)
    labeled_code = np.where(y_pred == 1, np.where(truth == 1, _TP, _FP), np.where(truth == 1, _FN, _TN))
    unlabeled_code = np.where(y_pred == 1, _UNL_POS, _UNL_NEG)
    return np.where(unlabeled, unlabeled_code, labeled_code).astype(np.int8)


def score_bins(scores: np.ndarray) -> np.ndarray:
    """Histogram bin per score; -1 where there is no score."""
    values = np.asarray(scores, dtype=np.float64)
    bins = np.floor(np.nan_to_num(values, nan=-1.0) * SCORE_BINS).astype(np.int64)
    bins = np.clip(bins, 0, SCORE_BINS - 1)
    return np.where(np.isfinite(values), bins, -1)


def bucket_starts(occurred_at: pd.Series) -> pd.Series:
    return occurred_at.dt.floor(f"{BUCKET_SECONDS}s")


def rollup_deltas(
    frame: pd.DataFrame,
    attributes: Sequence[str],
    *,
    weights: np.ndarray | None = None,
    include_scores: bool = True,
) -> dict[CellKey, CellDelta]:
    """Sum rows into rollup cells.

    ``frame`` has ``occurred_at`` (UTC timestamps), one column per attribute named ``attr:<name>``, ``y_pred``,
    ``y_true`` (NaN when unlabeled) and ``score`` (NaN when absent). ``weights`` (+1/-1 per row) lets label
    updates remove a row's old outcome and add its new one.
    """
    deltas: dict[CellKey, CellDelta] = {}
    if frame.empty:
        return deltas
    weight = np.ones(len(frame), dtype=np.int64) if weights is None else np.asarray(weights, dtype=np.int64)
    base = pd.DataFrame(
        {
            "bucket": bucket_starts(frame["occurred_at"]).to_numpy(),
            "outcome": outcome_codes(frame["y_pred"].to_numpy(), frame["y_true"].to_numpy()),
            "bin": score_bins(frame["score"].to_numpy()) if include_scores else np.full(len(frame), -1),
            "weight": weight,
        }
    )
    names = sorted(attributes)
    for key in attribute_keys(names):
        if INTERSECTION_SEPARATOR in key:
            columns = [frame[f"attr:{name}"].astype(str) for name in names]
            groups = pd.Series([intersection_group(values) for values in zip(*columns, strict=True)], index=frame.index)
        else:
            groups = frame[f"attr:{key}"].astype(str)
        base["group"] = groups.to_numpy()
        counts = base.groupby(["bucket", "group", "outcome"], sort=False)["weight"].sum()
        for (bucket, group, outcome), value in counts.items():
            cell = deltas.setdefault((pd.Timestamp(bucket), key, group), CellDelta())
            cell.counts[int(outcome)] += int(value)
        scored = base[base["bin"] >= 0]
        if not scored.empty:
            histogram = scored.groupby(["bucket", "group", "bin"], sort=False)["weight"].sum()
            for (bucket, group, score_bin), value in histogram.items():
                cell = deltas.setdefault((pd.Timestamp(bucket), key, group), CellDelta())
                cell.histogram[int(score_bin)] += int(value)
    return {key: delta for key, delta in deltas.items() if not delta.is_zero()}


def merge_deltas(*parts: dict[CellKey, CellDelta]) -> dict[CellKey, CellDelta]:
    merged: dict[CellKey, CellDelta] = {}
    for part in parts:
        for key, delta in part.items():
            cell = merged.setdefault(key, CellDelta())
            cell.counts = [a + b for a, b in zip(cell.counts, delta.counts, strict=True)]
            cell.histogram = [a + b for a, b in zip(cell.histogram, delta.histogram, strict=True)]
    return {key: delta for key, delta in merged.items() if not delta.is_zero()}
