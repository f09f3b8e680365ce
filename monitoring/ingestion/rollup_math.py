"""Rollup deltas from prediction rows: pure pandas/numpy, no database.

A delta maps a rollup cell (bucket start, attribute, group) to confusion counts and a score histogram. The
same function serves live ingestion, label updates (with signed weights) and rebuilding from raw rows, so
all three agree by construction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from monitoring.constants import BUCKET_SECONDS, INTERSECTION_SEPARATOR, SCORE_BINS
from monitoring.fairness.feature_bins import NUMERIC, category_key, fine_numeric_bins
from monitoring.group_labels import intersection_label

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


@dataclass(frozen=True)
class RollupCells:
    """Non-zero rollup cells as columns: entry ``i`` is the cell (``buckets[i]``, ``attributes[i]``, ``groups[i]``)
    with confusion counts ``counts[i]`` (ordered as COUNT_FIELDS) and score histogram ``histograms[i]``.

    The order of cells carries no meaning; storage sorts them itself.
    """

    buckets: pd.DatetimeIndex
    attributes: np.ndarray
    groups: np.ndarray
    counts: np.ndarray
    histograms: np.ndarray

    def __len__(self) -> int:
        return len(self.groups)

    @classmethod
    def empty(cls) -> RollupCells:
        return cls(
            buckets=pd.DatetimeIndex([], tz="UTC"),
            attributes=np.array([], dtype=object),
            groups=np.array([], dtype=object),
            counts=np.zeros((0, len(COUNT_FIELDS)), dtype=np.int64),
            histograms=np.zeros((0, SCORE_BINS), dtype=np.int64),
        )

    @classmethod
    def from_deltas(cls, deltas: dict[CellKey, CellDelta]) -> RollupCells:
        if not deltas:
            return cls.empty()
        keys = list(deltas)
        return cls(
            buckets=pd.DatetimeIndex([key[0] for key in keys]).tz_convert("UTC"),
            attributes=np.array([key[1] for key in keys], dtype=object),
            groups=np.array([key[2] for key in keys], dtype=object),
            counts=np.array([deltas[key].counts for key in keys], dtype=np.int64),
            histograms=np.array([deltas[key].histogram for key in keys], dtype=np.int64),
        )

    def as_deltas(self) -> dict[CellKey, CellDelta]:
        return {
            (bucket, attribute, group): CellDelta(counts=counts, histogram=histogram)
            for bucket, attribute, group, counts, histogram in zip(
                self.buckets, self.attributes, self.groups, self.counts.tolist(), self.histograms.tolist(), strict=True
            )
        }


def _group_codes(frame: pd.DataFrame, key: str, names: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Each row's group under ``key`` as a code into the returned labels; -1 where the row has no group.

    Labels are built once per distinct value (or combination), not once per row.
    """
    if INTERSECTION_SEPARATOR not in key:
        codes, uniques = pd.factorize(frame[f"attr:{key}"].astype(str))
        return codes, list(uniques)
    # Missing values stay in an intersection's label (json gives NaN), as they always have.
    combined = np.zeros(len(frame), dtype=np.int64)
    per_attribute = []
    for name in names:
        codes, uniques = pd.factorize(frame[f"attr:{name}"].astype(str), use_na_sentinel=False)
        combined = combined * len(uniques) + codes
        per_attribute.append((codes, list(uniques)))
    combination_codes, first_rows = np.unique(combined, return_index=True)
    labels = [
        intersection_label([uniques[codes[row]] for codes, uniques in per_attribute]) for row in first_rows.tolist()
    ]
    return np.searchsorted(combination_codes, combined), labels


def _weighted_counts(index: np.ndarray, weight: np.ndarray | None, size: int) -> np.ndarray:
    if weight is None:
        return np.bincount(index, minlength=size).astype(np.int64)
    # Weights are small integers, so the float64 sums of bincount are exact.
    return np.rint(np.bincount(index, weights=weight, minlength=size)).astype(np.int64)


def rollup_cells(
    frame: pd.DataFrame,
    attributes: Sequence[str],
    *,
    weights: np.ndarray | None = None,
    include_scores: bool = True,
) -> RollupCells:
    """Sum rows into rollup cells, with array operations only (no per-row or per-cell Python).

    ``frame`` has ``occurred_at`` (UTC timestamps), one column per attribute named ``attr:<name>``, ``y_pred``,
    ``y_true`` (NaN when unlabeled) and ``score`` (NaN when absent). ``weights`` (+1/-1 per row) lets label
    updates remove a row's old outcome and add its new one. Cells whose counts and histogram are all zero are
    left out.
    """
    if frame.empty:
        return RollupCells.empty()
    weight = None if weights is None else np.asarray(weights, dtype=np.float64)
    bucket_codes, bucket_values = pd.factorize(bucket_starts(frame["occurred_at"]))
    outcome = outcome_codes(frame["y_pred"].to_numpy(), frame["y_true"].to_numpy()).astype(np.int64)
    score_bin = score_bins(frame["score"].to_numpy()) if include_scores else np.full(len(frame), -1)
    scored = score_bin >= 0
    names = sorted(attributes)
    parts = []
    for key in attribute_keys(names):
        group_codes, labels = _group_codes(frame, key, names)
        present = (group_codes >= 0) & (bucket_codes >= 0)  # rows without a group or a time count nowhere
        cell_of_row = bucket_codes.astype(np.int64) * len(labels) + group_codes
        cell_ids, row_cell = np.unique(cell_of_row[present], return_inverse=True)
        size = len(cell_ids)
        row_weight = None if weight is None else weight[present]
        counts = _weighted_counts(row_cell * len(COUNT_FIELDS) + outcome[present], row_weight, size * len(COUNT_FIELDS))
        has_score = scored[present]
        histograms = _weighted_counts(
            row_cell[has_score] * SCORE_BINS + score_bin[present][has_score],
            None if row_weight is None else row_weight[has_score],
            size * SCORE_BINS,
        )
        counts = counts.reshape(size, len(COUNT_FIELDS))
        histograms = histograms.reshape(size, SCORE_BINS)
        keep = counts.any(axis=1) | histograms.any(axis=1)
        cell_ids = cell_ids[keep]
        parts.append(
            (
                bucket_values[cell_ids // len(labels)],
                np.full(len(cell_ids), key, dtype=object),
                np.asarray(labels, dtype=object)[cell_ids % len(labels)],
                counts[keep],
                histograms[keep],
            )
        )
    return RollupCells(
        buckets=parts[0][0].append([part[0] for part in parts[1:]]),
        attributes=np.concatenate([part[1] for part in parts]),
        groups=np.concatenate([part[2] for part in parts]),
        counts=np.concatenate([part[3] for part in parts]),
        histograms=np.concatenate([part[4] for part in parts]),
    )


def rollup_deltas(
    frame: pd.DataFrame,
    attributes: Sequence[str],
    *,
    weights: np.ndarray | None = None,
    include_scores: bool = True,
) -> dict[CellKey, CellDelta]:
    """Sum rows into rollup cells, keyed by (bucket start, attribute, group); see :func:`rollup_cells`."""
    return rollup_cells(frame, attributes, weights=weights, include_scores=include_scores).as_deltas()


def merge_deltas(*parts: dict[CellKey, CellDelta]) -> dict[CellKey, CellDelta]:
    merged: dict[CellKey, CellDelta] = {}
    for part in parts:
        for key, delta in part.items():
            cell = merged.setdefault(key, CellDelta())
            cell.counts = [a + b for a, b in zip(cell.counts, delta.counts, strict=True)]
            cell.histogram = [a + b for a, b in zip(cell.histogram, delta.histogram, strict=True)]
    return {key: delta for key, delta in merged.items() if not delta.is_zero()}


FEATURE_CELL_COLUMNS = ("bucket_start", "attribute", "group", "feature", "value", "count")


def feature_cells(frame: pd.DataFrame, attributes: Sequence[str], features: Sequence[tuple[str, str]]) -> pd.DataFrame:
    """Counts per (hour, single attribute, group, feature, fine bin) of the rows' declared feature values.

    ``features`` are ``(name, kind)`` of the features tested for drift (identifiers never are); ``frame`` holds
    them as ``feat:<name>`` columns (``None`` where absent). Fine bins are fixed in advance
    (:mod:`monitoring.fairness.feature_bins`), so a stored count never needs rebinning. Intersections are left
    out: drift is tested per group of each protected attribute.
    """
    if frame.empty or not features:
        return pd.DataFrame(columns=list(FEATURE_CELL_COLUMNS))
    buckets = bucket_starts(frame["occurred_at"])
    parts = []
    for name, kind in features:
        column = f"feat:{name}"
        if column not in frame:
            continue
        values = frame[column]
        present = values.notna().to_numpy()
        if not present.any():
            continue
        if kind == NUMERIC:
            keys = fine_numeric_bins(values[present].astype(float).to_numpy()).astype(str)
        else:
            keys = np.array([category_key(value) for value in values[present].to_numpy(dtype=object)], dtype=object)
        for attribute in sorted(attributes):
            groups = frame[f"attr:{attribute}"][present]
            has_group = groups.notna().to_numpy()
            part = pd.DataFrame(
                {
                    "bucket_start": buckets[present][has_group].to_numpy(),
                    "group": groups[has_group].astype(str).to_numpy(),
                    "value": keys[has_group],
                }
            )
            counted = part.groupby(["bucket_start", "group", "value"], sort=True).size().reset_index(name="count")
            counted.insert(1, "attribute", attribute)
            counted.insert(3, "feature", name)
            parts.append(counted)
    if not parts:
        return pd.DataFrame(columns=list(FEATURE_CELL_COLUMNS))
    return pd.concat(parts, ignore_index=True)[list(FEATURE_CELL_COLUMNS)]
