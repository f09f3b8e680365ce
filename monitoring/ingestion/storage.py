"""Writing prediction rows and rollup cells. Must run inside the caller's transaction.

PostgreSQL, predictions: the rows, sorted by prediction key, are COPY'd straight into the table inside a
savepoint. That succeeds only if every key is new; if one is already stored (a re-sent prediction, or a
concurrent writer's), the unique index refuses the COPY, the savepoint is rolled back and the rows go through
a temporary staging table and one ``INSERT ... SELECT ... ON CONFLICT DO NOTHING RETURNING``, which tells
exactly which rows were new even with concurrent writers. Both ways write rows in key order, so two batches
sharing keys lock them in the same order and cannot deadlock. Batches of new predictions, the usual case,
cost one COPY.

PostgreSQL, rollups: the cells are COPY'd into a staging table and added with one
``INSERT ... ON CONFLICT DO UPDATE``, in cell-key order for the same reason.

SQLite: writers are serialised by IMMEDIATE transactions, so reading the keys that already exist and
inserting the rest is exact. The rows are encoded before the transaction (:func:`sqlite_rows`); inside it, one
look-up of the batch's keys, one ``executemany`` INSERT and one ``executemany`` upsert of the rollup cells, with
no ORM objects, keep SQLite's single write lock short.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from django.db import connection, transaction
from django.utils import timezone
from psycopg2.errors import UniqueViolation
from psycopg2.extras import execute_values

from monitoring.constants import SCORE_BINS
from monitoring.ingestion.rollup_math import COUNT_FIELDS, CellDelta, CellKey, RollupCells
from monitoring.models import FeatureRollup, Prediction, PredictionRollup

_PREDICTIONS = Prediction._meta.db_table
_ROLLUPS = PredictionRollup._meta.db_table
_FEATURE_ROLLUPS = FeatureRollup._meta.db_table
_FEATURE_COLUMNS = 'model_version_id, bucket_start, attribute, "group", feature, "value", "count"'
_FEATURE_CONFLICT = (
    ' ON CONFLICT (model_version_id, bucket_start, attribute, "group", feature, "value")'
    ' DO UPDATE SET "count" = cell."count" + excluded."count"'
)
# The key comes first so that sorting the CSV lines sorts the rows by key.
_COPY_COLUMNS = (
    "prediction_key",
    "occurred_at",
    "attributes",
    "y_pred",
    "y_true",
    "score",
    "features",
    "model_version_id",
    "record_id",
    "received_at",
)
_COPY_CHUNK_BYTES = 1 << 20
# Binary COPY: the file header (signature, flags, extension length) and trailer; PostgreSQL counts time in
# microseconds from 2000-01-01 UTC.
_BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
_BINARY_TRAILER = (-1).to_bytes(2, "big", signed=True)
_POSTGRES_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_POSTGRES_EPOCH_MICROSECONDS = (_POSTGRES_EPOCH - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
_KEY_BYTES = 64  # a hex HMAC-SHA256
_SMALLINT_BYTES = 2
_FLOAT8_BYTES = 8
_CREATE_PREDICTION_STAGE = (
    "CREATE TEMP TABLE IF NOT EXISTS fairlens_ingest_stage ("
    " prediction_key varchar(64), occurred_at timestamptz, attributes jsonb, y_pred smallint, y_true smallint,"
    " score double precision, features jsonb, model_version_id bigint, record_id bigint, received_at timestamptz"
    ") ON COMMIT DELETE ROWS"
)
# The only interpolation is our own table and column names; every value is a query parameter or COPY data.
# COLLATE "C": byte order, the order Python sorts the direct COPY's rows in, whatever the database's collation.
_INSERT_FROM_STAGE = (
    f"INSERT INTO {_PREDICTIONS} ({', '.join(_COPY_COLUMNS)})"  # noqa: S608
    f' SELECT {", ".join(_COPY_COLUMNS)} FROM fairlens_ingest_stage ORDER BY prediction_key COLLATE "C"'
    " ON CONFLICT (model_version_id, prediction_key) DO NOTHING RETURNING prediction_key"
)
_ROLLUP_STAGE_COLUMNS = ("bucket_epoch", *COUNT_FIELDS, "histogram", "attribute", '"group"')
# A cell's histogram delta travels as one integer[] (a call's delta per bin is at most its row count).
_CREATE_ROLLUP_STAGE = (
    "CREATE TEMP TABLE IF NOT EXISTS fairlens_rollup_stage (bucket_epoch bigint, "
    + ", ".join(f"{name} bigint" for name in COUNT_FIELDS)
    + ', histogram integer[], attribute text, "group" text) ON COMMIT DELETE ROWS'
)
_ADD_ROLLUPS_FROM_STAGE = (
    f"INSERT INTO {_ROLLUPS} AS cell"  # noqa: S608
    f' (model_version_id, bucket_start, attribute, "group", {", ".join(COUNT_FIELDS)}, score_histogram)'
    f' SELECT %s, to_timestamp(bucket_epoch), attribute, "group", {", ".join(COUNT_FIELDS)},'
    " to_jsonb(histogram)"
    ' FROM fairlens_rollup_stage ORDER BY bucket_epoch, attribute, "group"'
    ' ON CONFLICT (model_version_id, bucket_start, attribute, "group") DO UPDATE SET '
    + ", ".join(f"{name} = cell.{name} + EXCLUDED.{name}" for name in COUNT_FIELDS)
    # Bin by bin; a missing or short stored histogram counts as zeros, as in the ORM path.
    + ", score_histogram = jsonb_build_array("
    + ", ".join(
        f"COALESCE((cell.score_histogram ->> {index})::bigint, 0) + (EXCLUDED.score_histogram ->> {index})::bigint"
        for index in range(SCORE_BINS)
    )
    + ")"
)

_SQLITE_EXISTING_KEYS = (
    f"SELECT prediction_key FROM {_PREDICTIONS}"  # noqa: S608
    " WHERE model_version_id = %s AND prediction_key IN (SELECT value FROM json_each(%s))"
)
_SQLITE_INSERT = (
    f"INSERT INTO {_PREDICTIONS} (model_version_id, prediction_key, occurred_at, attributes, y_pred, y_true,"  # noqa: S608
    " score, features, record_id, received_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
# A missing or short stored histogram counts as zeros, as in the PostgreSQL statement.
_SQLITE_ADD_ROLLUPS = (
    f"INSERT INTO {_ROLLUPS} AS cell"  # noqa: S608
    f' (model_version_id, bucket_start, attribute, "group", {", ".join(COUNT_FIELDS)}, score_histogram)'
    f" VALUES (%s, %s, %s, %s, {', '.join(['%s'] * len(COUNT_FIELDS))}, %s)"
    ' ON CONFLICT (model_version_id, bucket_start, attribute, "group") DO UPDATE SET '
    + ", ".join(f"{name} = cell.{name} + excluded.{name}" for name in COUNT_FIELDS)
    + ", score_histogram = json_array("
    + ", ".join(
        f"COALESCE(json_extract(cell.score_histogram, '$[{index}]'), 0)"
        f" + json_extract(excluded.score_histogram, '$[{index}]')"
        for index in range(SCORE_BINS)
    )
    + ")"
)


def _attribute_combinations(frame: pd.DataFrame, attributes: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Each row's attribute set as a code into JSON texts of the distinct sets (they repeat a lot: each is
    encoded once)."""
    columns = [f"attr:{name}" for name in attributes]
    combined = np.zeros(len(frame), dtype=np.int64)
    for column in columns:
        codes, uniques = pd.factorize(frame[column], use_na_sentinel=False)
        combined = combined * len(uniques) + codes
    _, first_rows, row_combination = np.unique(combined, return_index=True, return_inverse=True)
    values = frame[columns].to_numpy(dtype=object)
    texts = [
        json.dumps(dict(zip(attributes, values[row], strict=True)), ensure_ascii=False) for row in first_rows.tolist()
    ]
    return row_combination, texts


def _attributes_json(frame: pd.DataFrame, attributes: Sequence[str]) -> np.ndarray:
    """JSON text of each row's attributes."""
    codes, texts = _attribute_combinations(frame, attributes)
    return np.asarray(texts, dtype=object)[codes]


def insert_new_predictions(
    *,
    frame: pd.DataFrame,
    attributes: Sequence[str],
    model_version_id: int,
    record_id: int,
    encoded: SqliteRows | None = None,
) -> pd.DataFrame:
    """Insert rows whose ``prediction_key`` is new for this version; return the inserted subset of ``frame``.

    ``encoded`` (SQLite only) is :func:`sqlite_rows` of ``frame``, built by the caller before its transaction.
    """
    if frame.empty:
        return frame
    if connection.vendor == "postgresql":
        inserted_keys = _insert_postgresql(frame, attributes, model_version_id, record_id)
        # The foreign keys are checked at commit by default, 100,000 checks for 50,000 rows; running them now,
        # before the caller locks rollup cells, keeps those locks (which concurrent batches wait on) short.
        connection.check_constraints()
        if inserted_keys is None:
            return frame
    else:
        rows = encoded if encoded is not None else sqlite_rows(frame, attributes)
        inserted_keys = _insert_sqlite(rows, model_version_id, record_id)
        if len(inserted_keys) == len(frame):
            return frame
    return frame[frame["prediction_key"].isin(inserted_keys)]


def _csv_field(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _unix_microseconds(stamps: pd.Series) -> np.ndarray:
    """UTC timestamps as microseconds since 1970, PostgreSQL's resolution; finer digits are dropped (as
    ``strftime("%f")`` dropped them)."""
    index = pd.DatetimeIndex(stamps).tz_convert("UTC")
    return index.asi8 // 1000 if index.unit == "ns" else index.as_unit("us").asi8


def _copy_text(frame: pd.DataFrame, attributes: Sequence[str], version_id: int, record_id: int, now: datetime) -> str:
    """The rows as CSV in ``_COPY_COLUMNS`` order, sorted by prediction key.

    Built from per-column lists of text joined once, rather than by ``DataFrame.to_csv``, which formats
    time-zone-aware timestamps slowly; values that repeat (attribute sets, the constant columns) are formatted once.
    """
    micros = _unix_microseconds(frame["occurred_at"])
    occurred = np.char.add(np.datetime_as_string(micros.view("M8[us]"), unit="us"), "Z").tolist()
    combination, texts = _attribute_combinations(frame, attributes)
    attribute_fields = np.asarray([_csv_field(text) for text in texts], dtype=object)[combination].tolist()
    y_pred = np.where(frame["y_pred"].to_numpy() == 1, "1", "0").tolist()
    labels = frame["y_true"].to_numpy(dtype=np.float64)
    y_true = np.where(np.isnan(labels), "", np.where(labels == 1, "1", "0")).tolist()
    scores = frame["score"].to_numpy(dtype=np.float64)
    score = ["" if value != value else repr(value) for value in scores.tolist()]
    features = frame["features"]
    if features.isna().all():
        feature_fields = [""] * len(frame)
    else:
        feature_fields = [
            "" if value is None else _csv_field(json.dumps(value, ensure_ascii=False)) for value in features.tolist()
        ]
    lines = list(
        map(
            ",".join,
            zip(
                frame["prediction_key"].tolist(),
                occurred,
                attribute_fields,
                y_pred,
                y_true,
                score,
                feature_fields,
                strict=True,
            ),
        )
    )
    lines.sort()
    constant = f",{version_id},{record_id},{now.isoformat()}\n"
    return constant.join(lines) + constant


def _copy_binary(
    frame: pd.DataFrame, attributes: Sequence[str], version_id: int, record_id: int, now: datetime
) -> bytes | None:
    """The rows in PostgreSQL's binary COPY format, in ``_COPY_COLUMNS`` order, sorted by prediction key; ``None``
    when the batch has features (each row's features are JSON of its own: those batches go as CSV).

    PostgreSQL reads binary numbers and timestamps for much less than it parses their text. The rows are
    built as numpy records, a few array operations for the whole batch. A record needs one layout, but a NULL
    field is shorter than a value; so rows are built in four groups (label and score present or not), and the
    attributes JSON of the rows with NULLs is padded with trailing spaces, which jsonb ignores, to make every
    row the same length. Repeating values (attribute sets, the constant columns) are encoded once.
    """
    if frame["features"].notna().any():
        return None
    keys = np.array(frame["prediction_key"].tolist(), dtype=np.bytes_)
    if keys.dtype.itemsize != _KEY_BYTES or (np.char.str_len(keys) != _KEY_BYTES).any():
        return None
    order = np.argsort(keys, kind="stable")
    combination, texts = _attribute_combinations(frame, attributes)
    encoded = [text.encode() for text in texts]
    labels = frame["y_true"].to_numpy(dtype=np.float64)[order]
    scores = frame["score"].to_numpy(dtype=np.float64)[order]
    has_label, has_score = ~np.isnan(labels), ~np.isnan(scores)
    longest = max(len(text) for text in encoded)
    columns = {
        "key": keys[order],
        "occurred": _unix_microseconds(frame["occurred_at"])[order] - _POSTGRES_EPOCH_MICROSECONDS,
        "combination": combination[order],
        "y_pred": frame["y_pred"].to_numpy(dtype=np.int16)[order],
        "y_true": np.where(has_label, labels, 0).astype(np.int16),
        "score": np.where(has_score, scores, 0.0),
    }
    received = (now - _POSTGRES_EPOCH) // timedelta(microseconds=1)
    rows = np.empty((len(frame), _binary_row_layout(longest, True, True).itemsize), dtype=np.uint8)
    for label_present in (True, False):
        for score_present in (True, False):
            members = np.flatnonzero((has_label == label_present) & (has_score == score_present))
            if not len(members):
                continue
            padding = (0 if label_present else _SMALLINT_BYTES) + (0 if score_present else _FLOAT8_BYTES)
            text_width = longest + padding
            layout = _binary_row_layout(text_width, label_present, score_present)
            records = np.zeros(len(members), dtype=layout)
            records["field_count"] = len(_COPY_COLUMNS)
            records["key_size"], records["key"] = _KEY_BYTES, columns["key"][members]
            records["occurred_size"], records["occurred"] = 8, columns["occurred"][members]
            padded = np.array([b"\x01" + text.ljust(text_width) for text in encoded], dtype=f"S{1 + text_width}")
            records["attributes_size"] = 1 + text_width
            records["attributes"] = padded[columns["combination"][members]]
            records["y_pred_size"], records["y_pred"] = _SMALLINT_BYTES, columns["y_pred"][members]
            records["y_true_size"] = _SMALLINT_BYTES if label_present else -1
            if label_present:
                records["y_true"] = columns["y_true"][members]
            records["score_size"] = _FLOAT8_BYTES if score_present else -1
            if score_present:
                records["score"] = columns["score"][members]
            records["features_size"] = -1
            records["version_size"], records["version"] = 8, version_id
            records["record_size"], records["record"] = 8, record_id
            records["received_size"], records["received"] = 8, received
            rows[members] = records.view(np.uint8).reshape(len(members), layout.itemsize)
    return _BINARY_HEADER + rows.tobytes() + _BINARY_TRAILER


def _binary_row_layout(text_width: int, label_present: bool, score_present: bool) -> np.dtype:
    """One row of binary COPY: a field count, then each field's byte size (-1: NULL) and value, big-endian."""
    fields: list[tuple[str, str]] = [
        ("field_count", ">i2"),
        ("key_size", ">i4"),
        ("key", f"S{_KEY_BYTES}"),
        ("occurred_size", ">i4"),
        ("occurred", ">i8"),
        ("attributes_size", ">i4"),
        ("attributes", f"S{1 + text_width}"),  # jsonb: a format version byte, then the JSON text
        ("y_pred_size", ">i4"),
        ("y_pred", ">i2"),
        ("y_true_size", ">i4"),
        *([("y_true", ">i2")] if label_present else []),
        ("score_size", ">i4"),
        *([("score", ">f8")] if score_present else []),
        ("features_size", ">i4"),
        ("version_size", ">i4"),
        ("version", ">i8"),
        ("record_size", ">i4"),
        ("record", ">i8"),
        ("received_size", ">i4"),
        ("received", ">i8"),
    ]
    return np.dtype(fields)


def _insert_postgresql(
    frame: pd.DataFrame, attributes: Sequence[str], version_id: int, record_id: int
) -> set[str] | None:
    """Store the new rows; ``None`` means every row was new, else the set of keys that were."""
    now = timezone.now()
    payload = _copy_binary(frame, attributes, version_id, record_id, now)
    copy_format = "binary"
    if payload is None:
        payload = _copy_text(frame, attributes, version_id, record_id, now).encode()
        copy_format = "csv"
    with connection.cursor() as cursor:
        try:
            with transaction.atomic():
                _copy(cursor, _PREDICTIONS, _COPY_COLUMNS, payload, copy_format)
            return None
        except UniqueViolation:
            pass  # some key is already stored: the savepoint is rolled back and ON CONFLICT sorts new from old
        cursor.execute(_CREATE_PREDICTION_STAGE)
        cursor.execute("TRUNCATE fairlens_ingest_stage")
        _copy(cursor, "fairlens_ingest_stage", _COPY_COLUMNS, payload, copy_format)
        cursor.execute(_INSERT_FROM_STAGE)
        return {row[0] for row in cursor.fetchall()}


def _copy(cursor: Any, table: str, columns: Sequence[str], payload: bytes, copy_format: str = "csv") -> None:
    options = "FORMAT binary" if copy_format == "binary" else "FORMAT csv, NULL ''"
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH ({options})"
    # The chunk size is positional: Django's debug cursor (DEBUG=true, as `make run` sets it) passes only
    # positional arguments through to psycopg2.
    cursor.copy_expert(statement, io.BytesIO(payload), _COPY_CHUNK_BYTES)


@dataclass(frozen=True)
class SqliteRows:
    """A batch's column values as SQLite stores them (Django's text forms), built before the write transaction.

    Datetimes are naive UTC text as Django's SQLite backend writes them (``YYYY-MM-DD HH:MM:SS[.ffffff]``, so
    that comparisons, which are textual in SQLite, agree with the ORM's), JSON is ``json.dumps`` text as the
    JSONField writes it. The transaction then only checks which keys exist and runs one ``executemany``.
    """

    keys: list[str]
    columns: list[list[Any]]  # occurred_at, attributes, y_pred, y_true, score, features: one list per column


def sqlite_rows(frame: pd.DataFrame, attributes: Sequence[str]) -> SqliteRows:
    """Encode ``frame`` for :func:`insert_new_predictions` on SQLite; pure work, no database access.

    Rows are put in key order: inserting into the unique index in order touches each of its pages once, where
    random keys (the keys are hashes) would touch a random page per row.
    """
    frame = frame.iloc[np.argsort(frame["prediction_key"].to_numpy(dtype=str), kind="stable")]
    combination, texts = _attribute_combinations(frame, attributes)
    # The JSONField's own encoding (ASCII-escaped), so the stored text is what an ORM save would store.
    attribute_texts = np.asarray([json.dumps(json.loads(text)) for text in texts], dtype=object)
    labels = frame["y_true"].to_numpy(dtype=np.float64)
    scores = frame["score"].to_numpy(dtype=np.float64)
    features = frame["features"].tolist()
    return SqliteRows(
        keys=frame["prediction_key"].tolist(),
        columns=[
            _sqlite_datetimes(frame["occurred_at"]),
            attribute_texts[combination].tolist(),
            frame["y_pred"].to_numpy(dtype=np.int64).tolist(),
            [None if label != label else int(label) for label in labels.tolist()],  # NaN != NaN: no label
            [None if score != score else score for score in scores.tolist()],
            [None if value is None else json.dumps(value) for value in features],
        ],
    )


def _sqlite_datetimes(stamps: pd.Series) -> list[str]:
    """UTC timestamps as Django's SQLite backend stores them: ``str()`` of the naive UTC datetime, which has
    microseconds only when they are not zero."""
    if stamps.empty:
        return []
    micros = _unix_microseconds(stamps).view("M8[us]")
    whole = micros.astype(np.int64) % 1_000_000 == 0
    text = np.where(whole, np.datetime_as_string(micros, unit="s"), np.datetime_as_string(micros, unit="us"))
    return np.char.replace(text, "T", " ").tolist()


def _insert_sqlite(rows: SqliteRows, version_id: int, record_id: int) -> set[str]:
    """Insert the rows whose key is not stored yet; return their keys.

    The caller's transaction is IMMEDIATE (it holds SQLite's single write lock), so no other writer can add a
    key between the look-up and the insert: the keys found missing are exactly the ones inserted. A plain
    INSERT (no OR IGNORE) makes a broken assumption fail loudly instead of silently miscounting rollups.
    """
    with connection.cursor() as cursor:
        # One statement for the whole batch: the keys travel as one JSON array, probed against the unique index.
        cursor.execute(_SQLITE_EXISTING_KEYS, [version_id, json.dumps(rows.keys)])
        existing = {row[0] for row in cursor.fetchall()}
        received = connection.ops.adapt_datetimefield_value(timezone.now())
        values = [
            (version_id, key, *fields, record_id, received)
            for key, *fields in zip(rows.keys, *rows.columns, strict=True)
            if key not in existing
        ]
        if values:
            cursor.executemany(_SQLITE_INSERT, values)
    return {row[1] for row in values}


def apply_rollup_deltas(*, model_version_id: int, deltas: dict[CellKey, CellDelta]) -> None:
    """Add ``deltas`` to the rollup cells, creating missing cells; cells are locked in key order."""
    if not deltas:
        return
    if connection.vendor == "postgresql":
        _add_rollups_postgresql(model_version_id, RollupCells.from_deltas(deltas))
    else:
        _add_rollups_sqlite(model_version_id, RollupCells.from_deltas(deltas))


def apply_rollup_cells(*, model_version_id: int, cells: RollupCells) -> None:
    """:func:`apply_rollup_deltas` for cells already in columns (what :func:`rollup_cells` returns)."""
    if not len(cells):
        return
    if connection.vendor == "postgresql":
        _add_rollups_postgresql(model_version_id, cells)
    else:
        _add_rollups_sqlite(model_version_id, cells)


def _rollup_copy_text(cells: RollupCells) -> bytes:
    """The cells as CSV in ``_ROLLUP_STAGE_COLUMNS`` order: numbers first, then the attribute and group."""
    numbers = np.column_stack([pd.DatetimeIndex(cells.buckets).as_unit("s").asi8, cells.counts, cells.histograms])
    # One %-format over every number of every cell: far cheaper than formatting the cells one by one.
    row_format = ",".join(["%d"] * (1 + len(COUNT_FIELDS))) + ',"{' + ",".join(["%d"] * SCORE_BINS) + '}"'
    formatted = ("\n".join([row_format] * len(cells)) % tuple(numbers.astype(np.int64).ravel().tolist())).split("\n")
    pairs = list(zip(cells.attributes.tolist(), cells.groups.tolist(), strict=True))
    labels = {pair: f",{_csv_field(pair[0])},{_csv_field(pair[1])}\n" for pair in set(pairs)}
    lines = [number_text + labels[pair] for number_text, pair in zip(formatted, pairs, strict=True)]
    return "".join(lines).encode()


def _add_rollups_postgresql(version_id: int, cells: RollupCells) -> None:
    with connection.cursor() as cursor:
        cursor.execute(_CREATE_ROLLUP_STAGE)
        cursor.execute("TRUNCATE fairlens_rollup_stage")
        _copy(cursor, "fairlens_rollup_stage", _ROLLUP_STAGE_COLUMNS, _rollup_copy_text(cells))
        cursor.execute(_ADD_ROLLUPS_FROM_STAGE, [version_id])


def _add_rollups_sqlite(model_version_id: int, cells: RollupCells) -> None:
    """One upsert statement over every cell (``executemany``): new cells are inserted, stored ones added to."""
    # Batch-wide formatting (a cell per hour and group: a batch spanning 30 days has over 10,000 of them).
    buckets = _sqlite_datetimes(pd.Series(cells.buckets))
    histogram_format = "[" + ",".join(["%d"] * SCORE_BINS) + "]"
    numbers = tuple(cells.histograms.astype(np.int64).ravel().tolist())
    histograms = ("\n".join([histogram_format] * len(cells)) % numbers).split("\n")
    values = [
        (model_version_id, bucket, attribute, group, *counts, histogram)
        for bucket, attribute, group, counts, histogram in zip(
            buckets, cells.attributes.tolist(), cells.groups.tolist(), cells.counts.tolist(), histograms, strict=True
        )
    ]
    with connection.cursor() as cursor:
        cursor.executemany(_SQLITE_ADD_ROLLUPS, values)


def apply_feature_cells(*, model_version_id: int, cells: pd.DataFrame) -> None:
    """Add feature-bin counts (``rollup_math.feature_cells``) to the feature rollups, in key order (so two
    batches lock shared cells in the same order), creating missing cells."""
    if cells.empty:
        return
    ordered = cells.sort_values(["bucket_start", "attribute", "group", "feature", "value"], kind="stable")
    keys = zip(
        ordered["attribute"].tolist(),
        ordered["group"].tolist(),
        ordered["feature"].tolist(),
        ordered["value"].tolist(),
        ordered["count"].astype(np.int64).tolist(),
        strict=True,
    )
    if connection.vendor == "postgresql":
        stamps = pd.DatetimeIndex(ordered["bucket_start"]).tz_convert("UTC").to_pydatetime().tolist()
        rows = [(model_version_id, stamp, *key) for stamp, key in zip(stamps, keys, strict=True)]
        statement = f"INSERT INTO {_FEATURE_ROLLUPS} AS cell ({_FEATURE_COLUMNS}) VALUES %s{_FEATURE_CONFLICT}"  # noqa: S608
        with connection.cursor() as cursor:
            execute_values(cursor.cursor, statement, rows, page_size=5000)
        return
    stamps = _sqlite_datetimes(pd.Series(pd.DatetimeIndex(ordered["bucket_start"]).tz_convert("UTC")))
    rows = [(model_version_id, stamp, *key) for stamp, key in zip(stamps, keys, strict=True)]
    statement = (
        f"INSERT INTO {_FEATURE_ROLLUPS} AS cell ({_FEATURE_COLUMNS})"  # noqa: S608
        f" VALUES (%s, %s, %s, %s, %s, %s, %s){_FEATURE_CONFLICT}"
    )
    with connection.cursor() as cursor:
        cursor.executemany(statement, rows)
