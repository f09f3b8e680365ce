"""Arrow IPC stream and Parquet bodies as the raw frames and label lists the CSV path makes.

A columnar body arrives typed: ids as strings or integers, times as zoned timestamps, decisions and labels as
integers or booleans, scores as floats. Each column is converted once, as a whole, with pyarrow (no Python
work per row), into the frame :func:`monitoring.ingestion.parsing.validate` checks, so a columnar row gets
exactly the errors the same row would get as CSV. A column of a type that cannot hold its field (a float id, a
timestamp without a zone) is refused as a whole, naming the column and its type.

Sizes are checked before the data is decoded: the row count, the column count and the decoded size (a
compressed Parquet or Arrow body can expand far beyond the request's bytes) come from the file's metadata or
each record batch's header.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from monitoring.ingestion.features import FEATURE_PREFIX
from monitoring.ingestion.parsing import (
    CORE_CSV_COLUMNS,
    bad_batch,
    check_label_columns,
    check_size,
    label_objects,
)

ARROW_STREAM = "application/vnd.apache.arrow.stream"
PARQUET = "application/vnd.apache.parquet"
COLUMNAR_MEDIA_TYPES = (ARROW_STREAM, PARQUET)
# Decoded data may be at most this many times the body's limit: typed columns are rarely larger than their
# CSV, so this bounds what a small compressed body can make the server allocate.
MAX_EXPANSION = 4


def read_table(payload: bytes, media_type: str, *, max_rows: int, max_columns: int, max_decoded_bytes: int) -> pa.Table:
    """The body as one Arrow table; 400 when it is not the format named, 413 when it is too large."""
    if media_type == PARQUET:
        return _read_parquet(payload, max_rows=max_rows, max_columns=max_columns, max_decoded_bytes=max_decoded_bytes)
    return _read_arrow_stream(payload, max_rows=max_rows, max_columns=max_columns, max_decoded_bytes=max_decoded_bytes)


def _read_parquet(payload: bytes, *, max_rows: int, max_columns: int, max_decoded_bytes: int) -> pa.Table:
    try:
        parquet = pq.ParquetFile(io.BytesIO(payload))
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise bad_batch(f"The body is not a Parquet file: {_first_line(exc)}", code="parse_error") from exc
    metadata = parquet.metadata
    _check_names(parquet.schema_arrow.names, max_columns)
    check_size(metadata.num_rows, max_rows)
    decoded = sum(metadata.row_group(index).total_byte_size for index in range(metadata.num_row_groups))
    _check_decoded(decoded, max_decoded_bytes)
    try:
        return parquet.read()
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise bad_batch(f"The Parquet file could not be read: {_first_line(exc)}", code="parse_error") from exc


def _read_arrow_stream(payload: bytes, *, max_rows: int, max_columns: int, max_decoded_bytes: int) -> pa.Table:
    try:
        reader = pa.ipc.open_stream(payload)
        _check_names(reader.schema.names, max_columns)
        batches, rows, decoded = [], 0, 0
        for batch in reader:
            rows += batch.num_rows
            decoded += batch.nbytes
            if rows > max_rows:
                check_size(rows, max_rows)
            _check_decoded(decoded, max_decoded_bytes)
            batches.append(batch)
        table = pa.Table.from_batches(batches, schema=reader.schema)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise bad_batch(
            f"The body is not an Arrow IPC stream ({ARROW_STREAM}): {_first_line(exc)}", code="parse_error"
        ) from exc
    check_size(table.num_rows, max_rows)
    return table


def _check_names(names: Sequence[str], max_columns: int) -> None:
    if len(names) > max_columns:
        raise bad_batch(
            f"The table has {len(names)} columns; at most {max_columns} are accepted for this model "
            "(the fixed columns, its protected attributes, its declared features and a few more).",
            code="too_many_columns",
            status=413,
            columns=[f"{len(names)} columns, at most {max_columns}"],
        )
    seen: set[str] = set()
    repeated = sorted({name for name in names if name in seen or seen.add(name)})
    if repeated:
        raise bad_batch(
            f"The table repeats column(s): {', '.join(repeated[:20])}; each column may appear once.",
            code="duplicate_column",
            columns=repeated[:20],
        )


def _check_decoded(decoded: int, limit: int) -> None:
    if decoded > limit:
        raise bad_batch(
            f"The table decodes to {decoded} bytes; at most {limit} are accepted per request.",
            code="batch_too_large",
            status=413,
        )


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]


def frame_from_table(table: pa.Table, attributes: Sequence[str], max_rows: int) -> pd.DataFrame:
    """A columnar batch as the raw frame ``validate`` checks (the shape ``frame_from_csv`` makes)."""
    required = ["id", "timestamp", "y_pred", *attributes]
    missing = [column for column in required if column not in table.column_names]
    if missing:
        raise bad_batch(
            f"The table is missing required column(s): {', '.join(missing)}.", code="missing_column", columns=missing
        )
    check_size(table.num_rows, max_rows)
    frame = pd.DataFrame(
        {
            "row": np.arange(1, table.num_rows + 1),
            "is_object": True,
            "attributes_is_object": True,
            "has_unknown_attributes": False,
            "features": None,
        }
    )
    # As in a CSV, an empty text cell of a fixed column is an absent value.
    for name in CORE_CSV_COLUMNS:
        if name in table.column_names:
            index = table.column_names.index(name)
            table = table.set_column(index, name, _blank_as_null(_decoded(table.column(name))))
    frame["id"] = _text(table, "id")
    frame["timestamp"] = pd.Series(_timestamps(table), index=frame.index)
    for name in ("y_pred", "y_true"):
        frame[name] = _binary_values(table, name) if name in table.column_names else None
    frame["score"] = _scores(table) if "score" in table.column_names else None
    for name in ("y_true", "score"):
        present = pc.is_valid(table.column(name)) if name in table.column_names else None
        frame[f"given:{name}"] = False if present is None else present.to_numpy(zero_copy_only=False)
    for name in attributes:
        frame[f"attr:{name}"] = _text(table, name)
    for column in table.column_names:
        if column not in CORE_CSV_COLUMNS and column not in attributes:
            frame[FEATURE_PREFIX + column] = _objects(table.column(column))
    return frame


def labels_from_table(table: pa.Table, max_rows: int) -> list[dict[str, Any]]:
    """A columnar labels batch (columns ``id`` and ``y_true``) as the JSON form's ``{id, y_true}`` objects."""
    check_label_columns(table.column_names, "The labels table", "its columns are id and y_true")
    check_size(table.num_rows, max_rows)
    return label_objects(_text(table, "id"), pd.Series(_binary_values(table, "y_true")))


def _wrong_type(name: str, column: pa.ChunkedArray, expected: str) -> Exception:
    return bad_batch(
        f"Column `{name}` is of type {column.type}; it must be {expected}.",
        code="invalid_column_type",
        columns=[name],
    )


def _decoded(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Dictionary-encoded columns (pandas categoricals) as their values."""
    if pa.types.is_dictionary(column.type):
        return column.cast(column.type.value_type)
    return column


def _blank_as_null(column: pa.ChunkedArray, *, trim: bool = True) -> pa.ChunkedArray:
    """Empty text (or only spaces, with ``trim``) as null, as CSV reads an empty cell; other types unchanged."""
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return column
    blank = pc.equal(pc.utf8_trim_whitespace(column) if trim else column, "")
    return pc.if_else(blank, pa.scalar(None, column.type), column)


def _text(table: pa.Table, name: str) -> np.ndarray:
    """Strings or integers as Python strings (None where null): the text the CSV path would have read."""
    column = _decoded(table.column(name))
    if pa.types.is_integer(column.type):
        column = pc.cast(column, pa.string())
    elif not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        raise _wrong_type(name, column, "text or integers")
    return column.to_numpy(zero_copy_only=False)


def _timestamps(table: pa.Table) -> Any:
    """Zoned timestamps as UTC pandas times (NaT where null); text as text, validated as CSV's is."""
    column = _decoded(table.column("timestamp"))
    if pa.types.is_timestamp(column.type):
        if column.type.tz is None:
            raise bad_batch(
                f"Column `timestamp` is of type {column.type}, without a time zone; send zoned times "
                "(e.g. timestamp[us, tz=UTC]) so that each one names an instant.",
                code="invalid_column_type",
                columns=["timestamp"],
            )
        try:
            return pc.cast(column, pa.timestamp("us", tz="UTC")).to_pandas().array
        except (pa.ArrowException, OverflowError, ValueError) as exc:
            raise bad_batch(
                f"Column `timestamp` holds a time out of range: {_first_line(exc)}", code="invalid_column_type"
            ) from exc
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return column.to_numpy(zero_copy_only=False)
    raise _wrong_type("timestamp", column, "a timestamp with a time zone, or ISO 8601 text")


def _binary_values(table: pa.Table, name: str) -> np.ndarray:
    """Booleans and numbers as floats (NaN where null), which validation reads as 0/1; text stays text."""
    column = _decoded(table.column(name))
    if pa.types.is_boolean(column.type) or pa.types.is_integer(column.type):
        column = pc.cast(column, pa.float64())
    if pa.types.is_floating(column.type):
        return column.to_numpy(zero_copy_only=False).astype(np.float64)
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return column.to_numpy(zero_copy_only=False)
    raise _wrong_type(name, column, "0/1 integers, booleans or text")


def _scores(table: pa.Table) -> np.ndarray:
    column = _decoded(table.column("score"))
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
        return pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return column.to_numpy(zero_copy_only=False)
    raise _wrong_type("score", column, "numbers in [0, 1]")


def _objects(column: pa.ChunkedArray) -> np.ndarray:
    """A feature column as Python values, None where null (features take any JSON scalar)."""
    # Through a Series: numpy would make rows of equal-length lists (a list column) into a second dimension.
    return pd.Series(_blank_as_null(_decoded(column), trim=False).to_pylist(), dtype=object).to_numpy()
