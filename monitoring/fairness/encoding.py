"""Validation and integer encoding of raw group and label arrays.

Counting is a single ``np.bincount`` over ``group_code * K + outcome_code``; this module produces those codes.
Fast paths avoid hashing or sorting: integer group codes, pandas Categoricals and 0/1 or boolean labels are
checked with min/max reductions only. Object or string arrays are factorised with pandas, which is correct
but several times slower, so high-volume callers should pass integer codes (plus ``group_labels``).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from monitoring.fairness.errors import (
    InvalidParameterError,
    LengthMismatchError,
    NaNValueError,
    NonBinaryLabelError,
    UnknownFavorableLabelError,
)


@dataclass(frozen=True)
class BinaryColumn:
    """A validated binary column as a 0/1 array.

    ``indicator`` is 1 for the favorable label unless ``flipped`` is set, in which case 1 means unfavorable
    (a 0/1 column whose favorable label is 0); flipping is deferred to the tiny count table so the row-level
    array is never copied. ``labeled`` marks rows that carry a label (``None`` means every row does).
    """

    indicator: np.ndarray
    flipped: bool
    labeled: np.ndarray | None
    distinct: frozenset[Any]


@dataclass(frozen=True)
class GroupCodes:
    """Non-negative integer codes per row and the group label of each code."""

    codes: np.ndarray
    labels: tuple[Hashable, ...]
    keep_empty: bool


def as_array(values: Any) -> np.ndarray:
    """Return ``values`` as a 1-D numpy array without copying when it already is one."""
    if isinstance(values, pd.Series | pd.Index):
        values = values.to_numpy()
    array = np.asarray(values)
    if array.ndim != 1:
        raise InvalidParameterError(f"Expected a 1-D array, got shape {array.shape}.", value=array.shape)
    return array


def check_length(array: np.ndarray, expected: int, column: str) -> None:
    """Raise :class:`LengthMismatchError` unless ``len(array) == expected``."""
    if len(array) != expected:
        raise LengthMismatchError(column, expected, len(array))


# Integer group codes up to this value always take the dense fast path, whatever the row count.
DENSE_CODE_FLOOR = 1024


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | bool | np.number | np.bool_)


def _is_zero_or_one(value: Any) -> bool:
    return _is_number(value) and (value == 0 or value == 1)


def _value_kind(value: Any) -> Any:
    """Coarse type of a label value: numbers (bool included) compare with numbers, text with text."""
    if _is_number(value):
        return "number"
    if isinstance(value, str | np.str_):
        return "text"
    if isinstance(value, bytes | np.bytes_):
        return "bytes"
    return type(value)


def _check_favorable_type(column: str, favorable_label: Any, distinct: frozenset[Any]) -> None:
    """Raise :class:`UnknownFavorableLabelError` when ``favorable_label`` cannot equal any value of the column.

    A single-valued column without the favorable label is read as all-unfavorable; that reading is only
    safe when the favorable label is of the column's kind (``"1"`` against integer 1 is a mistake, not a
    window without approvals).
    """
    if distinct and all(_value_kind(value) != _value_kind(favorable_label) for value in distinct):
        raise UnknownFavorableLabelError(column, favorable_label, distinct)


def encode_binary(values: Any, column: str, favorable_label: Any, *, allow_missing: bool = False) -> BinaryColumn:
    """Validate a binary prediction/label column and encode it as 0/1.

    Rules: missing values raise :class:`NaNValueError` unless ``allow_missing`` (then those rows are
    unlabeled); more than two distinct values raise :class:`NonBinaryLabelError`; two distinct values that
    do not include ``favorable_label`` raise :class:`UnknownFavorableLabelError`. A column holding a single
    value other than the favorable label is accepted as all-unfavorable (a window may have no approvals),
    unless the favorable label is of another kind than the column's values (text against numbers), which
    raises :class:`UnknownFavorableLabelError` too.
    """
    array = as_array(values)
    if array.dtype.kind == "b":
        array = array.view(np.uint8)
    if array.dtype.kind in "iu":
        if not len(array):
            return _encode_zero_one(array, column, favorable_label, distinct=frozenset())
        low, high = int(array.min()), int(array.max())
        if low >= 0 and high <= 1:
            return _encode_zero_one(array, column, favorable_label, distinct=frozenset({low, high}))
    return _encode_general(array, column, favorable_label, allow_missing=allow_missing)


def _encode_zero_one(array: np.ndarray, column: str, favorable_label: Any, *, distinct: frozenset[Any]) -> BinaryColumn:
    if _is_zero_or_one(favorable_label):
        return BinaryColumn(array, flipped=favorable_label == 0, labeled=None, distinct=distinct)
    if len(distinct) == 2:
        raise UnknownFavorableLabelError(column, favorable_label, distinct)
    _check_favorable_type(column, favorable_label, distinct)
    # Single non-favorable value: every row is unfavorable, so the indicator must be all zeros.
    return BinaryColumn(np.zeros(len(array), dtype=np.uint8), flipped=False, labeled=None, distinct=distinct)


def _encode_general(array: np.ndarray, column: str, favorable_label: Any, *, allow_missing: bool) -> BinaryColumn:
    missing = np.asarray(pd.isna(array))
    labeled: np.ndarray | None = None
    if missing.any():
        if not allow_missing:
            raise NaNValueError(column, int(missing.sum()))
        labeled = ~missing
        present = array[labeled]
    else:
        present = array
    distinct_values = pd.unique(present).tolist() if len(present) else []
    distinct = frozenset(distinct_values)
    if len(distinct) > 2:
        raise NonBinaryLabelError(column, distinct)
    if favorable_label not in distinct:
        if len(distinct) == 2:
            raise UnknownFavorableLabelError(column, favorable_label, distinct)
        _check_favorable_type(column, favorable_label, distinct)
    if labeled is None:
        indicator = np.asarray(array == favorable_label, dtype=bool).view(np.uint8)
    else:
        # Only present values are compared: pd.NA == x is NA, which numpy cannot turn into a bool. Unlabeled
        # rows keep indicator 0, the canonical outcome code of an unlabeled row.
        indicator = np.zeros(len(array), dtype=np.uint8)
        indicator[labeled] = np.asarray(present == favorable_label, dtype=bool)
    return BinaryColumn(indicator, flipped=False, labeled=labeled, distinct=distinct)


def check_joint_binary(columns: Sequence[tuple[str, BinaryColumn]]) -> None:
    """Raise :class:`NonBinaryLabelError` when predictions and labels together use more than two values.

    Each column may be binary on its own yet coded differently (``{1, 2}`` versus ``{0, 1}``), which would
    silently mis-assign outcomes.
    """
    union: set[Any] = set()
    for _, column in columns:
        union |= set(column.distinct)
    if len(union) > 2:
        names = " and ".join(name for name, _ in columns)
        raise NonBinaryLabelError(names, union)


def encode_groups(values: Any, column: str, group_labels: Sequence[Hashable] | None = None) -> GroupCodes:
    """Encode a protected attribute as non-negative integer codes.

    Integer arrays are taken as codes directly when ``group_labels`` names them (``group_labels[code]``) or
    when they are non-negative and their maximum is small (below ``DENSE_CODE_FLOOR`` or the row count), so
    the count table stays no larger than the input; other integers (negative values, sparse ids such as
    20,000,000) are factorised and keep their values as labels. pandas Categoricals use their codes; anything
    else is factorised. Missing values raise :class:`NaNValueError`.
    """
    if isinstance(values, pd.Series) and isinstance(values.dtype, pd.CategoricalDtype):
        values = values.array
    if isinstance(values, pd.Categorical):
        codes = np.asarray(values.codes)
        if len(codes) and codes.min() < 0:
            raise NaNValueError(column, int((codes < 0).sum()))
        return GroupCodes(codes, tuple(values.categories.tolist()), keep_empty=True)
    array = as_array(values)
    if array.dtype.kind == "b":
        if group_labels is None:
            return GroupCodes(array.view(np.uint8), (False, True), keep_empty=False)
        array = array.view(np.uint8)
    if array.dtype.kind in "iu":
        return _integer_codes(array, column, group_labels)
    codes, uniques = pd.factorize(array, use_na_sentinel=True)
    if len(codes) and codes.min() < 0:
        raise NaNValueError(column, int((codes < 0).sum()))
    return GroupCodes(codes, tuple(pd.Index(uniques).tolist()), keep_empty=False)


def _integer_codes(array: np.ndarray, column: str, group_labels: Sequence[Hashable] | None) -> GroupCodes:
    if not len(array):
        labels = tuple(group_labels) if group_labels is not None else ()
        return GroupCodes(array, labels, keep_empty=group_labels is not None)
    low, high = int(array.min()), int(array.max())
    if group_labels is None:
        if low >= 0 and high < max(DENSE_CODE_FLOOR, len(array)):
            return GroupCodes(array, tuple(range(high + 1)), keep_empty=False)
        # Sorted, so labels come out in increasing order exactly as on the dense path.
        codes, uniques = pd.factorize(array, sort=True)
        return GroupCodes(codes, tuple(uniques.tolist()), keep_empty=False)
    if low < 0:
        raise InvalidParameterError(f"Group codes in {column!r} must be non-negative; found {low}.", column=column)
    if high >= len(group_labels):
        raise InvalidParameterError(
            f"Group code {high} in {column!r} has no entry in group_labels (size {len(group_labels)}).",
            column=column,
            value=high,
        )
    return GroupCodes(array, tuple(group_labels), keep_empty=True)


def combine_group_codes(parts: Sequence[GroupCodes]) -> GroupCodes:
    """Intersect several encoded attributes: one code per observed combination, labelled by a tuple."""
    if len(parts) == 1:
        return parts[0]
    combined = np.zeros(len(parts[0].codes), dtype=np.int64)
    radices = [max(len(part.labels), 1) for part in parts]
    for part, radix in zip(parts, radices, strict=True):
        combined *= radix
        combined += part.codes
    codes, uniques = pd.factorize(combined, sort=True)
    labels = []
    for value in uniques.tolist():
        digits = []
        for radix in reversed(radices):
            value, digit = divmod(value, radix)
            digits.append(digit)
        labels.append(tuple(part.labels[d] for part, d in zip(parts, reversed(digits), strict=True)))
    return GroupCodes(codes, tuple(labels), keep_empty=False)


def encode_weights(values: Any, expected: int, column: str = "sample_weight") -> np.ndarray:
    """Validate sample weights: finite, non-negative numbers, one per row; returned as float64."""
    array = as_array(values)
    if array.dtype.kind in "OSU":
        missing = np.asarray(pd.isna(array))
        if missing.any():
            raise NaNValueError(column, int(missing.sum()))
    try:
        array = array.astype(np.float64, copy=False)
    except (TypeError, ValueError):
        raise InvalidParameterError(f"{column!r} must hold numbers.", column=column) from None
    check_length(array, expected, column)
    if np.isnan(array).any():
        raise NaNValueError(column, int(np.isnan(array).sum()))
    if len(array) and (array.min() < 0 or not np.isfinite(array).all()):
        raise InvalidParameterError(f"{column!r} must be finite and non-negative.", column=column)
    return array
