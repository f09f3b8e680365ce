"""Per-group confusion counts: the additive summary every fairness metric is computed from.

For binary outcomes each metric in this package is a function of six numbers per group (TP, FP, TN, FN and
the predicted positives/negatives of rows without a true label). Counts add, so time windows and stored
rollup rows merge by summation, and a check over millions of predictions reads only a few rows.

Counting is one ``np.bincount`` over the code ``group * K + outcome``; it runs over fixed-size chunks so the
temporary code array stays in cache and peak memory stays a small fraction of the input.

Sample weights are relative (sampling or importance) weights, not row repetitions: next to the weighted counts
each field carries the sum of squared weights, so intervals and the minimum group size use Kish's effective
sample size ``n_eff = (sum w)^2 / sum w^2``. Multiplying every weight by a constant changes neither.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from monitoring.fairness.encoding import (
    BinaryColumn,
    GroupCodes,
    check_joint_binary,
    check_length,
    combine_group_codes,
    encode_binary,
    encode_groups,
    encode_weights,
)
from monitoring.fairness.errors import InvalidParameterError, MissingColumnError

# Rows per bincount pass; large enough to amortise call overhead, small enough for the code array to stay in cache.
CHUNK_ROWS = 1 << 17

COUNT_FIELDS = ("tp", "fp", "tn", "fn", "unlabeled_pos", "unlabeled_neg")
_TP, _FP, _TN, _FN, _UNLABELED_POS, _UNLABELED_NEG = range(6)


def effective_size(total: float, squared_weights: float) -> float:
    """Kish effective sample size ``total^2 / squared_weights``; exactly ``total`` for unweighted counts.

    A zero sum of squares with a positive total (weights so small that their squares underflow) falls back to
    ``total``.
    """
    if total <= 0 or squared_weights <= 0 or squared_weights == total:
        return total
    return total * total / squared_weights


def _check_count(name: str, value: Any) -> float:
    # bool is an int subclass but never a count; Decimal, strings and None are not accepted either.
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.integer | np.floating):
        raise InvalidParameterError(f"Count {name!r} must be a real number, got {value!r}.", value=repr(value))
    number = value.item() if isinstance(value, np.generic) else value
    if not math.isfinite(number) or number < 0:
        raise InvalidParameterError(f"Count {name!r} must be finite and non-negative, got {value!r}.", value=number)
    return number


@dataclass(frozen=True)
class ConfusionCounts:
    """Confusion counts of one group; ``float`` when sample weights were used.

    ``unlabeled_pos``/``unlabeled_neg`` are predicted positives/negatives of rows whose true label is not
    (yet) known: they count towards the selection rate but not towards TPR, FPR or the Theil index.

    ``squared_weights`` holds the sum of squared sample weights of each field (order of ``COUNT_FIELDS``).
    ``None`` means unweighted: every row weighs 1, so each sum of squares equals its count and stored integer
    rollups need no extra column. It is additive like the counts.
    """

    tp: float = 0
    fp: float = 0
    tn: float = 0
    fn: float = 0
    unlabeled_pos: float = 0
    unlabeled_neg: float = 0
    squared_weights: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.squared_weights is None:
            return
        if len(self.squared_weights) != len(COUNT_FIELDS):
            raise InvalidParameterError(
                f"squared_weights needs {len(COUNT_FIELDS)} values, got {len(self.squared_weights)}."
            )
        for name, square in zip(COUNT_FIELDS, self.squared_weights, strict=True):
            if not square >= 0:
                raise InvalidParameterError(f"Sum of squared weights of {name!r} must be non-negative, got {square!r}.")

    def __add__(self, other: ConfusionCounts) -> ConfusionCounts:
        if not isinstance(other, ConfusionCounts):
            return NotImplemented
        counts = (a + b for a, b in zip(self.as_tuple(), other.as_tuple(), strict=True))
        squares = None
        if self.squared_weights is not None or other.squared_weights is not None:
            squares = tuple(a + b for a, b in zip(self.squares(), other.squares(), strict=True))
        return ConfusionCounts(*counts, squared_weights=squares)

    def __radd__(self, other: Any) -> ConfusionCounts:
        # Lets the builtin sum() start from 0.
        if other == 0:
            return self
        return NotImplemented

    def as_tuple(self) -> tuple[float, ...]:
        """Return ``(tp, fp, tn, fn, unlabeled_pos, unlabeled_neg)``."""
        return (self.tp, self.fp, self.tn, self.fn, self.unlabeled_pos, self.unlabeled_neg)

    def squares(self) -> tuple[float, ...]:
        """Sum of squared weights per field, in ``COUNT_FIELDS`` order (the counts themselves when unweighted)."""
        return self.squared_weights if self.squared_weights is not None else self.as_tuple()

    def to_dict(self) -> dict[str, Any]:
        """Return the counts keyed by field name (the shape of a stored rollup row).

        Weighted counts add ``squared_weights`` (a list in ``COUNT_FIELDS`` order).
        """
        result: dict[str, Any] = {name: getattr(self, name) for name in COUNT_FIELDS}
        if self.squared_weights is not None:
            result["squared_weights"] = list(self.squared_weights)
        return result

    @classmethod
    def from_mapping(cls, row: Mapping[str, Any]) -> ConfusionCounts:
        """Build counts from a mapping with any subset of the field names; absent fields are 0.

        Values must be finite, non-negative real numbers (``int``, ``float`` or numpy numbers); anything else,
        including ``bool``, ``Decimal`` and numeric strings, raises :class:`InvalidParameterError`. An optional
        ``squared_weights`` entry holds six such numbers.
        """
        unknown = set(row) - {*COUNT_FIELDS, "squared_weights"}
        if unknown:
            raise InvalidParameterError(f"Unknown count fields: {sorted(unknown)}.", value=sorted(unknown))
        values = {name: _check_count(name, row.get(name, 0)) for name in COUNT_FIELDS}
        squares = row.get("squared_weights")
        if squares is not None:
            if isinstance(squares, str | bytes | Mapping) or not isinstance(squares, Iterable):
                raise InvalidParameterError(f"squared_weights must be a sequence of numbers, got {squares!r}.")
            squares = tuple(_check_count("squared_weights", value) for value in squares)
        return cls(**values, squared_weights=squares)

    def effective(self, *fields: str) -> float:
        """Kish effective sample size of the rows in ``fields`` (their plain total when unweighted)."""
        total = sum(getattr(self, name) for name in fields)
        if self.squared_weights is None:
            return total
        squares = sum(self.squared_weights[COUNT_FIELDS.index(name)] for name in fields)
        return effective_size(total, squares)

    @property
    def n(self) -> float:
        """All rows: labeled and unlabeled."""
        return self.labeled + self.unlabeled_pos + self.unlabeled_neg

    @property
    def labeled(self) -> float:
        """Rows with a true label: TP + FP + TN + FN."""
        return self.tp + self.fp + self.tn + self.fn

    @property
    def predicted_positive(self) -> float:
        """Rows predicted favorable: TP + FP + unlabeled predicted positives."""
        return self.tp + self.fp + self.unlabeled_pos

    @property
    def actual_positive(self) -> float:
        """Labeled rows whose true label is favorable: TP + FN."""
        return self.tp + self.fn

    @property
    def actual_negative(self) -> float:
        """Labeled rows whose true label is unfavorable: FP + TN."""
        return self.fp + self.tn

    @property
    def effective_n(self) -> float:
        """Effective size of all rows (``n`` when unweighted)."""
        return self.effective(*COUNT_FIELDS)

    @property
    def effective_actual_positive(self) -> float:
        """Effective size of the actual positives, the denominator of TPR."""
        return self.effective("tp", "fn")

    @property
    def effective_actual_negative(self) -> float:
        """Effective size of the actual negatives, the denominator of FPR."""
        return self.effective("fp", "tn")

    @property
    def is_weighted(self) -> bool:
        """True when rows had unequal-to-one weights (fractional counts, or squares that differ from counts).

        Bootstrap resampling draws whole rows, so it needs counts that are row numbers.
        """
        if any(float(value) != int(value) for value in self.as_tuple()):
            return True
        return self.squared_weights is not None and self.squares() != self.as_tuple()


@dataclass(frozen=True)
class GroupedCounts:
    """Confusion counts per group of one protected attribute (or of an intersection of attributes).

    Group labels are the attribute values; for an intersection they are tuples such as ``("Black", "Female")``.
    Adding two ``GroupedCounts`` of the same attributes sums the counts group by group.
    """

    attributes: tuple[str, ...]
    groups: Mapping[Hashable, ConfusionCounts]

    def __add__(self, other: GroupedCounts) -> GroupedCounts:
        if not isinstance(other, GroupedCounts):
            return NotImplemented
        if other.attributes != self.attributes:
            raise InvalidParameterError(f"Cannot add counts of {other.attributes} to counts of {self.attributes}.")
        merged = dict(self.groups)
        for label, counts in other.groups.items():
            merged[label] = merged[label] + counts if label in merged else counts
        return GroupedCounts(self.attributes, merged)

    def __radd__(self, other: Any) -> GroupedCounts:
        if other == 0:
            return self
        return NotImplemented

    def __getitem__(self, label: Hashable) -> ConfusionCounts:
        return self.groups.get(label, ConfusionCounts())

    def __iter__(self) -> Iterator[Hashable]:
        return iter(self.groups)

    def __len__(self) -> int:
        return len(self.groups)

    @property
    def name(self) -> str:
        """Display name of the attribute, ``"race x sex"`` for intersections."""
        return " x ".join(self.attributes)

    def total(self) -> ConfusionCounts:
        """Counts over every row in scope (all groups)."""
        return sum(self.groups.values(), ConfusionCounts())

    def present_groups(self) -> tuple[Hashable, ...]:
        """Labels of the groups that have at least one row."""
        return tuple(label for label, counts in self.groups.items() if counts.n > 0)


def _code_dtype(max_code: int) -> np.dtype:
    for dtype in (np.int8, np.int16, np.int32):
        if max_code <= np.iinfo(dtype).max:
            return np.dtype(dtype)
    return np.dtype(np.int64)


def _as_small_int(array: np.ndarray) -> np.ndarray:
    # uint8 -> int8 is a free view for 0/1 data (only) and keeps the chunk arithmetic in one dtype.
    return array.view(np.int8) if array.dtype == np.uint8 else array


def _bincount_chunked(
    group_codes: np.ndarray,
    n_groups: int,
    outcome_parts: Sequence[tuple[np.ndarray, int]],
    n_outcomes: int,
    weights: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Count ``group * n_outcomes + sum(part * multiplier)`` over all rows.

    Returns the (n_groups, n_outcomes) table of counts (weight sums) and, with weights, the table of squared
    weight sums from the same pass over the codes.
    """
    n_rows = len(group_codes)
    n_codes = max(n_groups, 1) * n_outcomes
    dtype = _code_dtype(n_codes - 1)
    total = np.zeros(n_codes, dtype=np.float64 if weights is not None else np.int64)
    total_squares = np.zeros(n_codes, dtype=np.float64) if weights is not None else None
    size = min(CHUNK_ROWS, max(n_rows, 1))
    code_buffer = np.empty(size, dtype=dtype)
    scratch = np.empty(size, dtype=dtype)
    parts = [(_as_small_int(part), multiplier) for part, multiplier in outcome_parts]
    for start in range(0, n_rows, size):
        stop = min(start + size, n_rows)
        code = code_buffer[: stop - start]
        # dtype= picks the arithmetic width; without it int8 codes would be multiplied in int8 and overflow.
        np.multiply(group_codes[start:stop], n_outcomes, out=code, dtype=dtype, casting="unsafe")
        for part, multiplier in parts:
            if multiplier == 1:
                np.add(code, part[start:stop], out=code, dtype=dtype, casting="unsafe")
            else:
                step = scratch[: stop - start]
                np.multiply(part[start:stop], multiplier, out=step, dtype=dtype, casting="unsafe")
                np.add(code, step, out=code)
        if weights is None or total_squares is None:
            total += np.bincount(code, minlength=n_codes)
        else:
            chunk_weights = weights[start:stop]
            total += np.bincount(code, weights=chunk_weights, minlength=n_codes)
            total_squares += np.bincount(code, weights=chunk_weights * chunk_weights, minlength=n_codes)
    shape = (max(n_groups, 1), n_outcomes)
    squares = None if total_squares is None else total_squares.reshape(shape)[:n_groups]
    return total.reshape(shape)[:n_groups], squares


def tally(
    groups: GroupCodes, y_pred: BinaryColumn, y_true: BinaryColumn | None, weights: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Return a (groups, 6) table of TP, FP, TN, FN, unlabeled predicted positives and negatives.

    With weights, also the matching table of squared-weight sums (else ``None``).
    """
    n_groups = len(groups.labels)
    if y_true is None:
        parts = [(y_pred.indicator, 1)]
        slots_by_code = [_UNLABELED_NEG, _UNLABELED_POS]
    else:
        parts = [(y_true.indicator, 2), (y_pred.indicator, 1)]
        # Raw outcome code = 2 * y_true + y_pred on the 0/1 indicators, before any favorable-label flip.
        slots_by_code = [_slot(t ^ y_true.flipped, p ^ y_pred.flipped) for t in (0, 1) for p in (0, 1)]
        if y_true.labeled is not None:
            parts.append(((~y_true.labeled).view(np.uint8), 4))
            # Unlabeled rows carry y_true = 0, so their codes are 4 + y_pred.
            slots_by_code += [_UNLABELED_POS if p ^ y_pred.flipped else _UNLABELED_NEG for p in (0, 1)]
    if y_true is None and y_pred.flipped:
        slots_by_code = slots_by_code[::-1]
    raw, raw_squares = _bincount_chunked(groups.codes, n_groups, parts, len(slots_by_code), weights)
    return _to_slots(raw, slots_by_code), None if raw_squares is None else _to_slots(raw_squares, slots_by_code)


def _to_slots(raw: np.ndarray, slots_by_code: Sequence[int]) -> np.ndarray:
    table = np.zeros((raw.shape[0], len(COUNT_FIELDS)), dtype=raw.dtype)
    for code, slot in enumerate(slots_by_code):
        table[:, slot] += raw[:, code]
    return table


def _slot(true_favorable: int, predicted_favorable: int) -> int:
    if true_favorable:
        return _TP if predicted_favorable else _FN
    return _FP if predicted_favorable else _TN


def grouped_from_table(
    attributes: tuple[str, ...], groups: GroupCodes, table: np.ndarray, squares: np.ndarray | None = None
) -> GroupedCounts:
    """Wrap a count table (and the squared-weight table of weighted counts) as :class:`GroupedCounts`,
    dropping empty groups unless their labels were declared."""
    rows = table.tolist()
    square_rows = [None] * len(rows) if squares is None else [tuple(row) for row in squares.tolist()]
    result: dict[Hashable, ConfusionCounts] = {}
    for label, row, square_row in zip(groups.labels, rows, square_rows, strict=True):
        if groups.keep_empty or any(row):
            result[label] = ConfusionCounts(*row, squared_weights=square_row)
    return GroupedCounts(attributes, result)


def confusion_counts(
    groups: Any,
    y_pred: Any,
    y_true: Any = None,
    *,
    favorable_label: Any = 1,
    sample_weight: Any = None,
    group_labels: Sequence[Hashable] | None = None,
    allow_unlabeled: bool = False,
    attribute: str = "group",
) -> GroupedCounts:
    """Count TP, FP, TN, FN (and unlabeled predicted positives/negatives) per group from raw arrays.

    ``TP_g = #{i in g: yhat_i = y_i = favorable}``, and so on; with ``sample_weight`` each row adds its weight.
    ``y_true=None`` means no row is labeled; with ``allow_unlabeled`` NaN/None labels mark unlabeled rows.
    Integer ``groups`` are codes (named by ``group_labels`` if given) and take the fast path.
    """
    encoded_groups = encode_groups(groups, attribute, group_labels)
    n_rows = len(encoded_groups.codes)
    prediction = encode_binary(y_pred, "y_pred", favorable_label)
    check_length(prediction.indicator, n_rows, "y_pred")
    label = None
    if y_true is not None:
        label = encode_binary(y_true, "y_true", favorable_label, allow_missing=allow_unlabeled)
        check_length(label.indicator, n_rows, "y_true")
        check_joint_binary([("y_pred", prediction), ("y_true", label)])
    weights = None if sample_weight is None else encode_weights(sample_weight, n_rows)
    return grouped_from_table((attribute,), encoded_groups, *tally(encoded_groups, prediction, label, weights))


def _require_columns(frame: pd.DataFrame, columns: Sequence[str | None]) -> None:
    for column in columns:
        if column is not None and column not in frame.columns:
            raise MissingColumnError(column, frame.columns)


def _encode_frame_outcomes(
    frame: pd.DataFrame,
    prediction: str,
    label: str | None,
    favorable_label: Any,
    weight: str | None,
    allow_unlabeled: bool,
) -> tuple[BinaryColumn, BinaryColumn | None, np.ndarray | None]:
    predicted = encode_binary(frame[prediction], prediction, favorable_label)
    truth = None
    if label is not None:
        truth = encode_binary(frame[label], label, favorable_label, allow_missing=allow_unlabeled)
        check_joint_binary([(prediction, predicted), (label, truth)])
    weights = None if weight is None else encode_weights(frame[weight], len(frame), weight)
    return predicted, truth, weights


def counts_from_frame(
    frame: pd.DataFrame,
    protected: str | Sequence[str],
    *,
    prediction: str,
    label: str | None = None,
    favorable_label: Any = 1,
    weight: str | None = None,
    allow_unlabeled: bool = False,
) -> GroupedCounts:
    """Per-group confusion counts from DataFrame columns; several ``protected`` columns give their intersection.

    Same formulas as :func:`confusion_counts`; for ``protected=["race", "sex"]`` each group is one observed
    (race, sex) pair, labelled by a tuple. ``protected=()`` counts all rows as one group labelled ``"all"``.
    """
    attributes = (protected,) if isinstance(protected, str) else tuple(protected)
    _require_columns(frame, [*attributes, prediction, label, weight])
    predicted, truth, weights = _encode_frame_outcomes(
        frame, prediction, label, favorable_label, weight, allow_unlabeled
    )
    if attributes:
        encoded = combine_group_codes([encode_groups(frame[name], name) for name in attributes])
    else:
        encoded = GroupCodes(np.zeros(len(frame), dtype=np.int8), ("all",), keep_empty=True)
    return grouped_from_table(attributes, encoded, *tally(encoded, predicted, truth, weights))


def counts_by_attribute(
    frame: pd.DataFrame,
    attributes: Sequence[str],
    *,
    prediction: str,
    label: str | None = None,
    intersections: Sequence[Sequence[str]] = (),
    favorable_label: Any = 1,
    weight: str | None = None,
    allow_unlabeled: bool = False,
) -> dict[tuple[str, ...], GroupedCounts]:
    """Counts for each protected attribute and each requested intersection, keyed by the attribute tuple.

    Predictions and labels are validated and encoded once and shared by every attribute.
    """
    wanted = [(name,) for name in attributes] + [tuple(combo) for combo in intersections]
    _require_columns(frame, [*{name for combo in wanted for name in combo}, prediction, label, weight])
    predicted, truth, weights = _encode_frame_outcomes(
        frame, prediction, label, favorable_label, weight, allow_unlabeled
    )
    encoded_single = {name: encode_groups(frame[name], name) for combo in wanted for name in combo}
    result: dict[tuple[str, ...], GroupedCounts] = {}
    for combo in wanted:
        encoded = combine_group_codes([encoded_single[name] for name in combo])
        result[combo] = grouped_from_table(combo, encoded, *tally(encoded, predicted, truth, weights))
    return result


def flip_favorable(counts: ConfusionCounts) -> ConfusionCounts:
    """Counts with label 0 as the favorable outcome: what was a true negative is now a true positive, etc."""
    return ConfusionCounts(
        tp=counts.tn,
        fp=counts.fn,
        tn=counts.tp,
        fn=counts.fp,
        unlabeled_pos=counts.unlabeled_neg,
        unlabeled_neg=counts.unlabeled_pos,
    )
