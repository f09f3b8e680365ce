"""Which prediction features are stored: only those the policy declares, typed, and free of contact details.

A client may send any feature it has (a CSV export carries every column). FairLens keeps only the features the
model's policy declares, drops the rest (and says which), pseudonymises the declared identifiers, and refuses a
row whose stored text holds something that looks like an e-mail address or a phone number: such a value is
personal data whatever the column is called, and the seeds promise that no raw PII is stored.

A raw batch carries features either as one object per row (JSON, column ``features``) or as a column per
feature (CSV, ``feat:<name>``). Declared features travel on through validation as ``feat:<name>`` columns
(values converted to the declared type, ``None`` where absent); :func:`feature_records` turns them into the
per-row objects stored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

FEATURE_PREFIX = "feat:"
NUMERIC = "numeric"
CATEGORICAL = "categorical"
# At most this many dropped feature names are reported, each cut to this length (a CSV can have any header).
MAX_REPORTED_DROPPED = 100
MAX_REPORTED_NAME_LENGTH = 100

# Deliberately broad: a false alarm costs the client a row error it can fix, a miss stores personal data.
EMAIL_PATTERN = r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
# The whole value made of digits and phone punctuation, digits at both ends (an optional leading + or "(").
PHONE_PATTERN = r"\s*(?:\+|\(|\+\()?\d[\d\s().-]*\d\s*"
# Shapes of that alphabet that are not phone numbers: plain (decimal) numbers and ISO dates.
NOT_PHONE_PATTERN = r"\s*-?\d+(?:\.\d+)?\s*|\s*\d{4}-\d{2}-\d{2}\s*"
PHONE_DIGITS = (7, 15)  # E.164 numbers have at most 15 digits; local numbers at least 7


@dataclass(frozen=True)
class FeatureSpec:
    """One declared feature of a policy."""

    name: str
    type: str = CATEGORICAL
    identifier: bool = False

    @property
    def column(self) -> str:
        return FEATURE_PREFIX + self.name


def schema_from_policy(declared: Iterable[Mapping[str, Any]] | None) -> list[FeatureSpec]:
    """The policy's stored ``features`` list (validated when the policy was created) as specs."""
    return [
        FeatureSpec(
            name=str(item["name"]),
            type=str(item.get("type", CATEGORICAL)),
            identifier=bool(item.get("identifier")),
        )
        for item in declared or []
    ]


def drift_features(schema: Sequence[FeatureSpec]) -> list[tuple[str, str]]:
    """``(name, type)`` of the declared features tested for input drift: all but identifiers."""
    return [(spec.name, spec.type) for spec in schema if not spec.identifier]


def dropped_report(names: Iterable[str], declared: Sequence[FeatureSpec]) -> list[str]:
    """The sent feature names that are not declared, sorted and bounded for the response."""
    known = {spec.name for spec in declared}
    dropped = sorted({str(name) for name in names} - known)
    return [name[:MAX_REPORTED_NAME_LENGTH] for name in dropped[:MAX_REPORTED_DROPPED]]


def feature_inputs(raw: pd.DataFrame, declared: Sequence[FeatureSpec]) -> tuple[list[str], pd.DataFrame]:
    """Every feature name the batch sent, and the raw values of the declared ones as ``feat:<name>`` columns."""
    columns = [column for column in raw.columns if column.startswith(FEATURE_PREFIX)]
    sent = {column[len(FEATURE_PREFIX) :] for column in columns}
    values = pd.DataFrame(index=raw.index)
    for spec in declared:
        if spec.column in raw:
            values[spec.column] = raw[spec.column].astype(object)
    objects = [value for value in raw["features"].to_numpy(dtype=object) if isinstance(value, dict) and value]
    if objects:
        sent.update(str(name) for name in set().union(*objects))
        rows = [value if isinstance(value, dict) else {} for value in raw["features"].to_numpy(dtype=object)]
        for spec in declared:
            if spec.column not in values:
                # As objects: pandas would turn a column of ints and None into floats and NaN.
                values[spec.column] = pd.Series([row.get(spec.name) for row in rows], index=raw.index, dtype=object)
    return sorted(sent), values


def looks_like_contact(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(e-mail-like, phone-like) masks over ``values``; values that are not strings are neither."""
    texts = values.to_numpy(dtype=object)
    # Plain loops with compiled patterns: a fraction of the cost of pandas' string methods on 50,000 rows, and
    # the cheap tests ("@" present, the first character) settle nearly every value before a pattern runs.
    email = [isinstance(text, str) and "@" in text and _EMAIL.search(text) is not None for text in texts]
    phone = [isinstance(text, str) and text.lstrip()[:1] in _PHONE_START and _is_phone(text) for text in texts]
    return pd.Series(email, index=values.index, dtype=bool), pd.Series(phone, index=values.index, dtype=bool)


_EMAIL = re.compile(EMAIL_PATTERN)
_PHONE = re.compile(PHONE_PATTERN)
_NOT_PHONE = re.compile(NOT_PHONE_PATTERN)
_PHONE_START = set("+(0123456789")


def _is_phone(text: str) -> bool:
    if _PHONE.fullmatch(text) is None or _NOT_PHONE.fullmatch(text) is not None:
        return False
    return PHONE_DIGITS[0] <= sum(character.isdigit() for character in text) <= PHONE_DIGITS[1]


def _kind(values: pd.Series) -> str:
    return pd.api.types.infer_dtype(values, skipna=True)


def _numeric(values: pd.Series, present: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Numbers (and numeric text, as CSV sends) as floats or ints; the mask of present values that are not."""
    if _kind(values) in {"integer", "floating", "mixed-integer-float"}:  # JSON numbers: only infinities are wrong
        finite = np.isfinite(values.where(present, 0).astype(float))
        return values.where(finite, None).astype(object), present & ~finite

    def convert(value: Any) -> Any:
        if isinstance(value, bool):
            return None
        if isinstance(value, int | float):
            return value if np.isfinite(value) else None
        if isinstance(value, str):
            text = value.strip()
            try:
                number = int(text)
            except ValueError:
                try:
                    number = float(text)
                except ValueError:
                    return None
            return number if np.isfinite(number) else None
        return None

    converted = pd.Series([convert(value) for value in values.to_numpy(dtype=object)], index=values.index, dtype=object)
    return converted, present & converted.isna()


def _categorical(values: pd.Series, present: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Text, numbers and true/false as sent (text stripped); the mask of present values that are none of them."""

    def convert(value: Any) -> Any:
        if isinstance(value, str):
            return value.strip()
        if isinstance(value, bool | int):
            return value
        if isinstance(value, float) and np.isfinite(value):
            return value
        return None

    if _kind(values) in {"string", "empty"}:  # every CSV column, and most JSON ones
        items = [value.strip() if isinstance(value, str) else None for value in values.to_numpy(dtype=object)]
    else:
        items = [convert(value) for value in values.to_numpy(dtype=object)]
    converted = pd.Series(items, index=values.index, dtype=object)
    return converted, present & converted.isna()


def _identifier(values: pd.Series, present: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Strings and integers as non-empty text (hashed before storage); the mask of present values that are not."""

    def convert(value: Any) -> Any:
        if isinstance(value, str | int) and not isinstance(value, bool):
            return str(value).strip() or None
        return None

    converted = pd.Series([convert(value) for value in values.to_numpy(dtype=object)], index=values.index, dtype=object)
    return converted, present & converted.isna()


_REASONS = {
    NUMERIC: "a finite number",
    CATEGORICAL: "a string, number or true/false",
    "identifier": "an identifier: a non-empty string or integer",
}


def screen(
    raw: pd.DataFrame, declared: Sequence[FeatureSpec]
) -> tuple[dict[str, pd.Series], list[tuple[pd.Series, str, str]]]:
    """Convert each declared feature column of ``raw`` and find its bad values.

    Returns the converted columns (by ``feat:<name>``) and ``(mask, field, reason)`` problems: values not of the
    declared type, and e-mail- or phone-like text in any feature stored as sent (identifiers are stored hashed,
    so their raw value never reaches the database).
    """
    columns: dict[str, pd.Series] = {}
    problems: list[tuple[pd.Series, str, str]] = []
    for spec in declared:
        if spec.column not in raw:
            continue
        values = raw[spec.column].astype(object)
        present = values.notna()
        if not present.any():
            continue
        field = f"features.{spec.name}"
        if spec.identifier:
            converted, wrong = _identifier(values, present)
            problems.append((wrong, field, _REASONS["identifier"]))
        elif spec.type == NUMERIC:
            converted, wrong = _numeric(values, present)
            problems.append((wrong, field, _REASONS[NUMERIC]))
        else:
            converted, wrong = _categorical(values, present)
            problems.append((wrong, field, _REASONS[CATEGORICAL]))
            email, phone = looks_like_contact(converted)
            problems.append((email, field, "looks like an e-mail address; personal data is not stored"))
            problems.append((phone, field, "looks like a phone number; personal data is not stored"))
        columns[spec.column] = converted
    return columns, problems


def feature_records(frame: pd.DataFrame) -> pd.Series:
    """Each row's stored features: an object of its present declared features, or ``None`` when it has none."""
    names = [column for column in frame.columns if column.startswith(FEATURE_PREFIX)]
    if not names:
        return pd.Series([None] * len(frame), index=frame.index, dtype=object)
    keys = [column[len(FEATURE_PREFIX) :] for column in names]
    records = []
    for values in zip(*(frame[column].to_numpy(dtype=object) for column in names), strict=True):
        record = {key: value for key, value in zip(keys, values, strict=True) if value is not None}
        records.append(record or None)
    return pd.Series(records, index=frame.index, dtype=object)
