"""Turn a JSON or CSV prediction batch into a validated DataFrame plus per-row errors.

Validation is column-wise (pandas), not a Python loop over rows doing every check. A row with any error is
rejected as a whole; the caller stores the valid rows (or none, for an atomic batch). Columns whose values are
all strings (every CSV column) are checked with pandas string methods; other columns (JSON allows any type)
value by value, with the same outcome.

Output columns: ``row`` (1-based position in the batch), ``id``, ``occurred_at`` (UTC), ``attr:<name>`` per
protected attribute, ``y_pred`` (0/1), ``y_true`` (0/1, NaN when unlabeled), ``score`` (NaN when absent),
``feat:<name>`` per declared feature present in the batch (see ``features``). Features the policy does not
declare are dropped here, before anything is stored, and named in ``ParsedBatch.dropped_features``.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from core.api.errors import ApplicationError
from core.api.json_input import decode_json
from monitoring.constants import (
    EARLIEST_TIMESTAMP,
    EXTRA_CSV_COLUMNS,
    MAX_ATTRIBUTE_VALUE_LENGTH,
    MAX_CSV_COLUMNS,
    MAX_ID_LENGTH,
    MAX_REPORTED_ERRORS,
)
from monitoring.ingestion.features import FEATURE_PREFIX, FeatureSpec, dropped_report, feature_inputs, screen

CORE_CSV_COLUMNS = ("id", "timestamp", "y_pred", "y_true", "score")
_ZONE_SUFFIX = r"(?:Z|z|[+-]\d{2}(?::?\d{2})?)$"
_EARLIEST = pd.Timestamp(EARLIEST_TIMESTAMP)
_BOOL_WORDS = {"true": 1, "false": 0, "True": 1, "False": 0}


@dataclass(frozen=True)
class RowError:
    row: int
    field: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "reason": self.reason}


@dataclass
class ParsedBatch:
    frame: pd.DataFrame
    total_rows: int
    rejected_rows: int
    errors: list[RowError] = field(default_factory=list)
    duplicates_in_batch: int = 0
    dropped_features: list[str] = field(default_factory=list)

    def reported_errors(self) -> list[dict[str, Any]]:
        return [error.as_dict() for error in self.errors[:MAX_REPORTED_ERRORS]]


def bad_batch(message: str, *, code: str = "invalid_batch", status: int = 400, **details: Any) -> ApplicationError:
    return ApplicationError(message, code=code, status_code=status, details=details)


def check_size(rows: int, max_rows: int) -> None:
    if rows == 0:
        raise bad_batch("The batch has no predictions.", code="empty_batch")
    if rows > max_rows:
        raise bad_batch(
            f"The batch has {rows} predictions; at most {max_rows} are accepted per request.",
            code="batch_too_large",
            status=413,
        )


def frame_from_json_records(
    items: Any, attributes: Sequence[str], max_rows: int, max_features: int = MAX_CSV_COLUMNS
) -> pd.DataFrame:
    """The JSON body's ``predictions`` list as a raw (unvalidated) frame; ``features`` holds each row's object.

    A row's ``features`` may have at most ``max_features`` keys (the CSV column limit), 413 beyond: every
    name sent is collected and reported, so the count bounds the work per row.
    """
    if not isinstance(items, list):
        raise bad_batch("`predictions` must be a list of objects.", predictions=["expected a list"])
    check_size(len(items), max_rows)
    objects = [item if isinstance(item, dict) else {} for item in items]
    _check_feature_counts(objects, max_features)
    frame = pd.DataFrame(
        {
            "row": np.arange(1, len(items) + 1),
            "is_object": [isinstance(item, dict) for item in items],
            **{name: [item.get(name) for item in objects] for name in CORE_CSV_COLUMNS},
            "features": [item.get("features") for item in objects],
            # Whether the client sent a value at all: pandas turns None into NaN, and a NaN the client did
            # send is an error, not an absent value.
            **{f"given:{name}": [item.get(name) is not None for item in objects] for name in ("y_true", "score")},
        }
    )
    raw_attributes = [item.get("attributes") for item in objects]
    frame["attributes_is_object"] = [isinstance(value, dict) for value in raw_attributes]
    attribute_dicts = [value if isinstance(value, dict) else {} for value in raw_attributes]
    for name in attributes:
        frame[f"attr:{name}"] = [value.get(name) for value in attribute_dicts]
    known = set(attributes)
    frame["has_unknown_attributes"] = [", ".join(sorted(set(value) - known)) != "" for value in attribute_dicts]
    return frame


def _csv_header(payload: bytes) -> list[str]:
    """The header's field names, read from the first line alone (a CSV without a line break is all header)."""
    end = payload.find(b"\n")
    line = payload if end < 0 else payload[:end]
    try:
        text = line.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise bad_batch("The CSV header is not valid UTF-8.", code="parse_error") from exc
    return [name.strip() for name in next(csv.reader([text]), [])]


def _check_columns(payload: bytes, max_columns: int) -> list[str]:
    """The header's names; 400 before pandas reads anything when there are too many or a name repeats.

    Counting is a scan of the first line (milliseconds even for 200,000 columns), whereas pandas would build a
    column per name first, for seconds.
    """
    header = _csv_header(payload)
    if len(header) > max_columns:
        raise bad_batch(
            f"The CSV has {len(header)} columns; at most {max_columns} are accepted for this model "
            "(the fixed columns, its protected attributes, its declared features and a few more).",
            code="too_many_columns",
            status=413,
            columns=[f"{len(header)} columns, at most {max_columns}"],
        )
    repeated = sorted(name for name, count in Counter(header).items() if count > 1)
    if repeated:
        raise bad_batch(
            f"The CSV repeats column(s): {', '.join(repeated[:20])}; each column may appear once.",
            code="duplicate_column",
            columns=repeated[:20],
        )
    return header


def _nul_position(payload: bytes, header: Sequence[str]) -> str:
    """Where the first NUL byte of a CSV is, as "the header" or "line N, column `name`"."""
    offset = payload.index(b"\x00")
    line_number = payload.count(b"\n", 0, offset) + 1
    if line_number == 1:
        return "the header"
    start = payload.rfind(b"\n", 0, offset) + 1
    before = payload[start:offset].decode("utf-8", "replace")
    position = len(next(csv.reader([before]), [""])) - 1
    name = header[position] if 0 <= position < len(header) else f"#{position + 1}"
    return f"line {line_number} (row {line_number - 1}), column `{name}`"


_FIELD_COUNT = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def _check_feature_counts(objects: Sequence[dict[str, Any]], max_features: int) -> None:
    for position, item in enumerate(objects):
        features = item.get("features")
        if isinstance(features, dict) and len(features) > max_features:
            field_name = f"predictions[{position}].features"
            raise bad_batch(
                f"`{field_name}` has {len(features)} keys; at most {max_features} are accepted for this model.",
                code="too_many_features",
                status=413,
                **{field_name: [f"{len(features)} keys, at most {max_features}"]},
            )


def read_csv_table(payload: bytes, *, max_rows: int | None = None, max_columns: int = MAX_CSV_COLUMNS) -> pd.DataFrame:
    """A CSV body (header row first) as text columns, empty cells as ``""``; 400 if it is not CSV.

    Refused before parsing: more than ``max_columns`` columns (413), a repeated column name and NUL bytes
    (no database column may hold one). Every row must have at most the header's fields. At most
    ``max_rows + 1`` rows are parsed, enough to tell the caller the batch is too large.
    """
    header = _check_columns(payload, max_columns)
    if b"\x00" in payload:
        where = _nul_position(payload, header)
        raise bad_batch(f"The CSV contains a NUL character in {where}.", code="parse_error", csv=[f"NUL in {where}"])
    try:
        table = pd.read_csv(
            io.BytesIO(payload),
            dtype=str,
            keep_default_na=False,
            skipinitialspace=True,
            nrows=None if max_rows is None else max_rows + 1,
        )
    except pd.errors.ParserError as exc:
        counts = _FIELD_COUNT.search(str(exc))
        if counts is None:
            raise bad_batch(f"The CSV could not be parsed: {_first_line(exc)}", code="parse_error") from exc
        expected, line, saw = counts.groups()
        raise bad_batch(
            f"The CSV's line {line} (row {int(line) - 1}) has {saw} fields; the header has {expected}.",
            code="parse_error",
        ) from exc
    except (pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise bad_batch(f"The CSV could not be parsed: {_first_line(exc)}", code="parse_error") from exc
    if not isinstance(table.index, pd.RangeIndex):
        # pandas takes a first data row longer than the header as the rows' index, shifting every value.
        raise bad_batch(
            f"The CSV's line 2 (row 1) has more fields than the header's {len(table.columns)}.", code="parse_error"
        )
    table.columns = [str(column).strip() for column in table.columns]
    return table


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]


def frame_from_csv(
    payload: bytes, attributes: Sequence[str], max_rows: int, max_columns: int = MAX_CSV_COLUMNS
) -> pd.DataFrame:
    """A CSV body (header row first) as a raw frame; each extra column is a feature, ``feat:<name>``."""
    table = read_csv_table(payload, max_rows=max_rows, max_columns=max_columns)
    required = ["id", "timestamp", "y_pred", *attributes]
    missing = [column for column in required if column not in table.columns]
    if missing:
        raise bad_batch(
            f"The CSV is missing required column(s): {', '.join(missing)}.", code="missing_column", columns=missing
        )
    check_size(len(table), max_rows)
    frame = pd.DataFrame(
        {
            "row": np.arange(1, len(table) + 1),
            "is_object": True,
            "attributes_is_object": True,
            # Attributes are columns of their own; any other column is a feature.
            "has_unknown_attributes": False,
        }
    )
    for name in CORE_CSV_COLUMNS:
        frame[name] = table[name].replace("", None).to_numpy() if name in table else None
    for name in ("y_true", "score"):
        frame[f"given:{name}"] = (_strip_text(table[name]) != "").to_numpy() if name in table else False
    for name in attributes:
        frame[f"attr:{name}"] = table[name].to_numpy()
    # Features are columns of their own here (validation keeps the declared ones); "features" is the JSON
    # form's object per row.
    frame["features"] = None
    for column in table.columns:
        if column not in CORE_CSV_COLUMNS and column not in attributes:
            frame[FEATURE_PREFIX + column] = table[column].astype(object).where(table[column] != "", None).to_numpy()
    return frame


def _is_text(values: pd.Series) -> bool:
    """Whether every present value is a string, as in any CSV column."""
    return pd.api.types.infer_dtype(values, skipna=True) in {"string", "empty"}


def _strip_text(values: pd.Series) -> pd.Series:
    """``values.str.strip()`` for a column of strings and missing values."""
    if values.hasnans:
        return values.str.strip()
    # No missing values (the usual case): a plain loop over the strings costs a fraction of pandas' per-value
    # dispatch, and ingestion strips several 50,000-row columns per batch.
    return pd.Series([value.strip() for value in values.to_numpy(dtype=object)], index=values.index, dtype=object)


def _stripped_text(values: pd.Series) -> pd.Series:
    """Strings and integers (not bools) as stripped text; missing for anything else."""
    if _is_text(values):
        return _strip_text(values)
    return values.map(lambda v: str(v).strip() if isinstance(v, str | int) and not isinstance(v, bool) else None)


def _stripped_strings(values: pd.Series) -> pd.Series:
    """Strings stripped; missing for anything else."""
    if _is_text(values):
        return _strip_text(values)
    return values.map(lambda v: v.strip() if isinstance(v, str) else None)


def _has_zone(stamps: pd.Series) -> pd.Series:
    """Whether each (stripped) timestamp ends with a zone. Nearly all end with Z: only the others need the regex."""
    zulu = stamps.str.endswith(("Z", "z"), na=False)
    others = stamps.notna() & ~zulu
    if not others.any():
        return zulu
    return zulu | stamps.where(others).str.contains(_ZONE_SUFFIX, regex=True, na=False)


def _binary_number(values: pd.Series) -> pd.Series:
    numeric = pd.to_numeric(values, errors="coerce")
    return numeric.where(numeric.isin([0, 1]))


def _binary(values: pd.Series) -> pd.Series:
    """0/1 from ints, bools, '0'/'1' and 'true'/'false'; NaN for anything else (including None)."""
    if pd.api.types.is_bool_dtype(values.dtype) or pd.api.types.is_numeric_dtype(values.dtype):
        return _binary_number(values.astype(np.float64))  # a typed column: no value can be text
    if _is_text(values):
        # "0" and "1" by comparison, the cheapest test; anything else (" 1", "true", "1.0") stripped and parsed,
        # as below.
        one, zero = (values == "1").to_numpy(dtype=bool), (values == "0").to_numpy(dtype=bool)
        result = pd.Series(np.where(one, 1.0, np.where(zero, 0.0, np.nan)), index=values.index)
        unusual = values.notna().to_numpy(dtype=bool) & ~one & ~zero
        if unusual.any():
            stripped = values[unusual].str.strip()
            result[unusual] = _binary_number(stripped.map(lambda text: _BOOL_WORDS.get(text, text)))
        return result

    def normalise(value: Any) -> Any:
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, str):
            return _BOOL_WORDS.get(value.strip(), value.strip())
        return value

    return _binary_number(values.map(normalise))


def _feature_objects(features: pd.Series) -> np.ndarray:
    """Whether each row's features are absent or an object."""
    values = features.to_numpy(dtype=object)
    return np.fromiter((v is None or isinstance(v, dict) for v in values), dtype=bool, count=len(values))


def validate(
    raw: pd.DataFrame,
    attributes: Sequence[str],
    *,
    now: datetime,
    max_future: timedelta,
    features: Sequence[FeatureSpec] = (),
) -> ParsedBatch:
    """Check every row; return the valid rows in canonical columns and the errors of the others.

    Only the ``features`` declared are kept (converted to their type); a row with a feature value of the wrong
    type, or with contact-like text in a feature stored as sent, is rejected.
    """
    problems: list[tuple[pd.Series, str, str]] = []  # (mask of bad rows, field, reason)

    def flag(mask: pd.Series, field_name: str, reason: str) -> None:
        mask = mask.fillna(False).astype(bool)
        if mask.any():
            problems.append((mask, field_name, reason))

    flag(~raw["is_object"], "-", "each prediction must be a JSON object")

    ids = _stripped_text(raw["id"])
    flag(ids.isna() | (ids == ""), "id", "required: a non-empty string")
    flag(ids.str.len() > MAX_ID_LENGTH, "id", f"longer than {MAX_ID_LENGTH} characters")

    if isinstance(raw["timestamp"].dtype, pd.DatetimeTZDtype):  # a columnar body's zoned times
        occurred = raw["timestamp"].dt.tz_convert("UTC")
        flag(occurred.isna(), "timestamp", "required: a time with a zone")
    else:
        stamps = _stripped_strings(raw["timestamp"])
        flag(stamps.isna(), "timestamp", "required: an ISO 8601 time with a zone, e.g. 2026-01-31T12:00:00Z")
        has_zone = _has_zone(stamps)
        flag(stamps.notna() & ~has_zone, "timestamp", "needs a time zone (Z or +hh:mm)")
        occurred = pd.to_datetime(stamps.where(has_zone), format="ISO8601", utc=True, errors="coerce")
        flag(has_zone & occurred.isna(), "timestamp", "not a valid ISO 8601 time")
    flag(occurred > pd.Timestamp(now + max_future), "timestamp", "is in the future")
    flag(occurred < _EARLIEST, "timestamp", f"is before {EARLIEST_TIMESTAMP}")

    flag(~raw["attributes_is_object"], "attributes", "must be an object of attribute values")
    attribute_columns = {}
    for name in attributes:
        values = _stripped_text(raw[f"attr:{name}"])
        flag(values.isna() | (values == ""), f"attributes.{name}", "required: a non-empty value")
        flag(
            values.str.len() > MAX_ATTRIBUTE_VALUE_LENGTH,
            f"attributes.{name}",
            f"longer than {MAX_ATTRIBUTE_VALUE_LENGTH} characters",
        )
        attribute_columns[f"attr:{name}"] = values
    flag(raw["has_unknown_attributes"], "attributes", "not a protected attribute of this model's policy")

    y_pred = _binary(raw["y_pred"])
    flag(y_pred.isna(), "y_pred", "required: 0 or 1")
    label_given = raw["given:y_true"]
    y_true = _binary(raw["y_true"])
    flag(label_given & y_true.isna(), "y_true", "0, 1 or null")

    score_given = raw["given:score"]
    score_values = raw["score"]
    typed = pd.api.types.is_float_dtype(score_values.dtype) or pd.api.types.is_integer_dtype(score_values.dtype)
    if not typed and not _is_text(score_values):
        score_values = score_values.map(lambda v: v if not isinstance(v, bool) else None)
    scores = pd.to_numeric(score_values, errors="coerce").astype(float)
    finite = np.isfinite(scores)
    flag(score_given & ~finite, "score", "a finite number in [0, 1]")
    flag(score_given & finite & ((scores < 0) | (scores > 1)), "score", "must be within [0, 1]")

    features_ok = pd.Series(_feature_objects(raw["features"]), index=raw.index)
    flag(~features_ok, "features", "must be an object of feature values")
    sent, declared_values = feature_inputs(raw, features)
    feature_columns, feature_problems = screen(declared_values, features)
    for mask, field_name, reason in feature_problems:
        flag(mask, field_name, reason)

    bad = pd.Series(False, index=raw.index)
    errors: list[RowError] = []
    for mask, field_name, reason in problems:
        bad |= mask
        errors.extend(RowError(int(row), field_name, reason) for row in raw.loc[mask, "row"])
    errors.sort(key=lambda error: error.row)

    good = ~bad
    frame = pd.DataFrame(
        {
            "row": raw.loc[good, "row"],
            "id": ids[good],
            "occurred_at": occurred[good],
            **{column: values[good] for column, values in attribute_columns.items()},
            "y_pred": y_pred[good].astype(np.int8),
            "y_true": y_true[good].astype(float),
            "score": scores[good],
            **{column: values[good] for column, values in feature_columns.items()},
        }
    )
    duplicated = frame["id"].duplicated(keep="first")
    return ParsedBatch(
        frame=frame[~duplicated].reset_index(drop=True),
        total_rows=len(raw),
        rejected_rows=int(bad.sum()),
        errors=errors,
        duplicates_in_batch=int(duplicated.sum()),
        dropped_features=dropped_report(sent, features),
    )


LABEL_CSV_COLUMNS = ("id", "y_true")


def labels_from_csv(payload: bytes, max_rows: int | None = None) -> list[dict[str, Any]]:
    """A labels CSV (``id,y_true`` header) as the JSON form's list of ``{id, y_true}`` objects.

    The values stay as sent (0/1 and true/false as numbers), so a bad row gets the same error as in JSON.
    """
    # A few unexpected columns get named below; a header far wider is refused before it is parsed.
    table = read_csv_table(payload, max_rows=max_rows, max_columns=len(LABEL_CSV_COLUMNS) + EXTRA_CSV_COLUMNS)
    check_label_columns(list(table.columns), "The labels CSV", "its header is id,y_true")
    return label_objects(table["id"].to_numpy(), table["y_true"])


def check_label_columns(columns: Sequence[str], body: str, expected: str) -> None:
    """400 naming the columns a labels batch lacks or has beyond ``id`` and ``y_true``."""
    missing = [column for column in LABEL_CSV_COLUMNS if column not in columns]
    if missing:
        raise bad_batch(
            f"{body} is missing column(s): {', '.join(missing)}; {expected}.", code="missing_column", columns=missing
        )
    unexpected = [column for column in columns if column not in LABEL_CSV_COLUMNS]
    if unexpected:
        raise bad_batch(
            f"{body} has unexpected column(s): {', '.join(unexpected[:20])}; {expected}.",
            code="unexpected_column",
            columns=unexpected[:20],
        )


def label_objects(ids: Sequence[Any], values: pd.Series) -> list[dict[str, Any]]:
    """``{id, y_true}`` objects with each label as 0/1 where it reads as one, else as sent (an empty value as
    null), so a bad row gets the JSON form's error."""
    labels = _binary(values)

    def as_sent(sent: Any) -> Any:
        return None if sent is None or sent == "" or sent != sent else sent  # sent != sent: NaN, a null number

    return [
        {"id": identifier, "y_true": int(label) if label == label else as_sent(sent)}
        for identifier, label, sent in zip(list(ids), labels.tolist(), values.tolist(), strict=True)
    ]


def parse_json_body(payload: bytes) -> Any:
    """The body decoded strictly: nesting bounded, finite numbers, no NUL or lone surrogate (400 naming where)."""
    return decode_json(payload)
