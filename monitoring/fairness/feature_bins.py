"""Bins for a feature's values: fine ones fixed before any data is seen, coarse ones fixed by the baseline.

Rollups store each hour's feature values as counts per *fine bin*. For a numeric feature the fine bins are a
log-linear scale fixed in advance: zero, then four bins per doubling of the magnitude (each about 19% wide) from
2**-20 to 2**40 on either side of zero. Any unit works (a ratio, an age, an income) without declaring a range,
and a value keeps its bin whatever data comes later. A categorical feature's fine bin is the category itself.

The drift test needs a handful of bins with data in each, so a :class:`Partition` merges fine bins into
*coarse* ones. It is chosen from the baseline alone (about equal baseline shares, plus a bin below and one above
the baseline's range for numeric features; the frequent categories plus "other"), so it is fixed before the
stream it tests: the e-process stays valid, and a value never seen in the baseline still lands in a bin.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from monitoring.fairness.errors import InvalidParameterError

NUMERIC = "numeric"
CATEGORICAL = "categorical"
FINE_PER_OCTAVE = 4
FINE_MIN_EXPONENT = -20
FINE_MAX_EXPONENT = 40
FINE_LEVELS = (FINE_MAX_EXPONENT - FINE_MIN_EXPONENT) * FINE_PER_OCTAVE
# Coarse numeric bins inside the baseline's range (two more catch values below and above it).
TARGET_NUMERIC_BINS = 8
# Categories with at least this baseline share get a bin of their own (at most MAX_CATEGORY_BINS); the rest and
# categories first seen later share "other".
MIN_CATEGORY_SHARE = 0.01
MAX_CATEGORY_BINS = 20
OTHER = "(other)"
MAX_CATEGORY_LENGTH = 100


def fine_numeric_bins(values: Any) -> np.ndarray:
    """Each value's fine bin: 0 for magnitudes under 2**-20, else +-(1 + level) with ``level`` the quarter-octave
    of the magnitude above 2**-20 (clipped to the scale), signed like the value; increasing in the value."""
    numbers = np.asarray(values, dtype=np.float64)
    magnitude = np.abs(numbers)
    tiny = ~(magnitude >= 2.0**FINE_MIN_EXPONENT)  # NaN counts as tiny here; callers drop missing values first
    with np.errstate(divide="ignore", invalid="ignore"):
        level = np.floor((np.log2(np.where(tiny, 1.0, magnitude)) - FINE_MIN_EXPONENT) * FINE_PER_OCTAVE)
    level = np.clip(level, 0, FINE_LEVELS - 1) + 1
    return np.where(tiny, 0, np.sign(numbers) * level).astype(np.int64)


def fine_bin_edges(index: int) -> tuple[float, float]:
    """The value range ``[low, high)`` of one fine numeric bin (the outermost bins also hold what lies beyond)."""
    if index == 0:
        return -(2.0**FINE_MIN_EXPONENT), 2.0**FINE_MIN_EXPONENT
    level = abs(int(index))
    low = 2.0 ** (FINE_MIN_EXPONENT + (level - 1) / FINE_PER_OCTAVE)
    high = 2.0 ** (FINE_MIN_EXPONENT + level / FINE_PER_OCTAVE)
    return (low, high) if index > 0 else (-high, -low)


def category_key(value: Any) -> str:
    """The stored form of a category (rollups keep at most MAX_CATEGORY_LENGTH characters of it)."""
    return str(value)[:MAX_CATEGORY_LENGTH]


@dataclass(frozen=True)
class Partition:
    """Coarse bins of one feature. Numeric: ``uppers`` are the last fine bin of each coarse bin but the last
    (coarse bin ``i`` holds fine bins above ``uppers[i - 1]`` up to ``uppers[i]``), ``edges`` their value
    boundaries. Categorical: ``categories`` own a bin each, in order, and a last bin holds everything else."""

    kind: str
    uppers: tuple[int, ...] = ()
    edges: tuple[float, ...] = ()
    categories: tuple[str, ...] = ()

    @property
    def bins(self) -> int:
        return len(self.uppers) + 1 if self.kind == NUMERIC else len(self.categories) + 1

    @property
    def names(self) -> list[str]:
        return [*self.categories, OTHER]

    def coarse_counts(self, fine: Mapping[str, float]) -> list[float]:
        """Counts per coarse bin from counts per fine bin (keys as rollups store them: text)."""
        counts = [0.0] * self.bins
        if self.kind == NUMERIC:
            for key, count in fine.items():
                counts[int(np.searchsorted(self.uppers, int(key), side="left"))] += float(count)
        else:
            position = {name: index for index, name in enumerate(self.categories)}
            for key, count in fine.items():
                counts[position.get(key, len(self.categories))] += float(count)
        return counts

    def as_dict(self) -> dict[str, Any]:
        if self.kind == NUMERIC:
            return {"kind": NUMERIC, "uppers": list(self.uppers), "edges": list(self.edges)}
        return {"kind": CATEGORICAL, "categories": list(self.categories)}

    @classmethod
    def from_dict(cls, stored: Mapping[str, Any]) -> Partition:
        if stored["kind"] == NUMERIC:
            return cls(NUMERIC, uppers=tuple(stored["uppers"]), edges=tuple(stored["edges"]))
        return cls(CATEGORICAL, categories=tuple(stored["categories"]))


def numeric_partition(baseline: Mapping[str, float], target_bins: int = TARGET_NUMERIC_BINS) -> Partition:
    """About ``target_bins`` coarse bins of equal baseline share, plus one below and one above its range."""
    present = sorted((int(key), float(count)) for key, count in baseline.items() if float(count) > 0)
    if not present:
        raise InvalidParameterError("A numeric partition needs baseline values.")
    indices = np.array([index for index, _ in present])
    shares = np.cumsum([count for _, count in present])
    shares = shares / shares[-1]
    cuts = {int(indices[np.searchsorted(shares, step / target_bins - 1e-12)]) for step in range(1, target_bins)}
    inner = sorted(cut for cut in cuts if cut < indices[-1])
    uppers = (int(indices[0]) - 1, *inner, int(indices[-1]))
    edges = [fine_bin_edges(uppers[0])[0], *(fine_bin_edges(upper)[1] for upper in uppers)]
    edges.append(fine_bin_edges(uppers[-1] + 1)[1])
    return Partition(NUMERIC, uppers=uppers, edges=tuple(edges))


def categorical_partition(baseline: Mapping[str, float]) -> Partition:
    """A bin for each frequent baseline category (most frequent first, ties by name), and "other"."""
    total = sum(float(count) for count in baseline.values())
    if total <= 0:
        raise InvalidParameterError("A categorical partition needs baseline values.")
    ranked = sorted(baseline.items(), key=lambda item: (-float(item[1]), item[0]))
    kept = [name for name, count in ranked if float(count) / total >= MIN_CATEGORY_SHARE][:MAX_CATEGORY_BINS]
    return Partition(CATEGORICAL, categories=tuple(kept))


def partition_for(kind: str, baseline: Mapping[str, float]) -> Partition:
    if kind == NUMERIC:
        return numeric_partition(baseline)
    if kind == CATEGORICAL:
        return categorical_partition(baseline)
    raise InvalidParameterError(f"Feature kind must be {NUMERIC!r} or {CATEGORICAL!r}, got {kind!r}.")


def pooled(counts: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Fine-bin counts summed over several cells."""
    total: dict[str, float] = {}
    for cell in counts:
        for key, count in cell.items():
            total[key] = total.get(key, 0.0) + float(count)
    return total
