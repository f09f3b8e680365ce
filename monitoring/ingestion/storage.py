"""Writing prediction rows and rollup deltas. Must run inside the caller's transaction.

PostgreSQL: rows are COPY'd into a temporary staging table and moved with one
``INSERT ... SELECT ... ON CONFLICT DO NOTHING RETURNING``, which tells exactly which rows were new even
with concurrent writers. Rows go in prediction-key order so two batches sharing keys lock them in the same
order and cannot deadlock. SQLite: writers are serialised by IMMEDIATE transactions, so reading the keys
that already exist and bulk-inserting the rest is exact.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence

import pandas as pd
from django.db import connection
from django.utils import timezone

from monitoring.constants import SCORE_BINS
from monitoring.ingestion.rollup_math import COUNT_FIELDS, CellDelta, CellKey
from monitoring.models import Prediction, PredictionRollup

_SQLITE_IN_CHUNK = 900
_STAGE_COLUMNS = ("prediction_key", "occurred_at", "attributes", "y_pred", "y_true", "score", "features")
# The only interpolation is our own table name; every value is a query parameter.
_INSERT_FROM_STAGE = (
    f"INSERT INTO {Prediction._meta.db_table}"  # noqa: S608
    " (model_version_id, prediction_key, occurred_at, attributes, y_pred, y_true, score, features,"
    "  record_id, received_at)"
    " SELECT %s, prediction_key, occurred_at, attributes, y_pred, y_true, score, features, %s, %s"
    " FROM fairlens_ingest_stage ORDER BY prediction_key"
    " ON CONFLICT (model_version_id, prediction_key) DO NOTHING RETURNING prediction_key"
)


def _attributes_json(frame: pd.DataFrame, attributes: Sequence[str]) -> pd.Series:
    """JSON text of each row's attributes. Attribute combinations repeat a lot: encode each one once."""
    columns = [f"attr:{name}" for name in attributes]
    combos = frame[columns].drop_duplicates()
    encoded = {
        tuple(row): json.dumps(dict(zip(attributes, row, strict=True)), ensure_ascii=False)
        for row in combos.itertuples(index=False, name=None)
    }
    return pd.Series(
        [encoded[tuple(row)] for row in frame[columns].itertuples(index=False, name=None)], index=frame.index
    )


def _features_json(features: pd.Series) -> pd.Series:
    return features.map(lambda value: None if value is None else json.dumps(value, ensure_ascii=False))


def insert_new_predictions(
    *, frame: pd.DataFrame, attributes: Sequence[str], model_version_id: int, record_id: int
) -> pd.DataFrame:
    """Insert rows whose ``prediction_key`` is new for this version; return the inserted subset of ``frame``."""
    if frame.empty:
        return frame
    if connection.vendor == "postgresql":
        inserted_keys = _insert_postgresql(frame, attributes, model_version_id, record_id)
    else:
        inserted_keys = _insert_generic(frame, attributes, model_version_id, record_id)
    return frame[frame["prediction_key"].isin(inserted_keys)]


def _insert_postgresql(frame: pd.DataFrame, attributes: Sequence[str], version_id: int, record_id: int) -> set[str]:
    staged = pd.DataFrame(
        {
            "prediction_key": frame["prediction_key"],
            "occurred_at": frame["occurred_at"].dt.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00"),
            "attributes": _attributes_json(frame, attributes),
            "y_pred": frame["y_pred"].astype(int),
            "y_true": frame["y_true"].astype("Int64"),
            "score": frame["score"],
            "features": _features_json(frame["features"]),
        }
    )
    buffer = io.StringIO()
    staged.to_csv(buffer, index=False, header=False, na_rep="")
    buffer.seek(0)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS fairlens_ingest_stage ("
            " prediction_key varchar(64), occurred_at timestamptz, attributes jsonb, y_pred smallint,"
            " y_true smallint, score double precision, features jsonb) ON COMMIT DELETE ROWS"
        )
        cursor.execute("TRUNCATE fairlens_ingest_stage")
        cursor.copy_expert(
            f"COPY fairlens_ingest_stage ({', '.join(_STAGE_COLUMNS)}) FROM STDIN WITH (FORMAT csv, NULL '')",
            buffer,
        )
        cursor.execute(_INSERT_FROM_STAGE, [version_id, record_id, timezone.now()])
        return {row[0] for row in cursor.fetchall()}


def _insert_generic(frame: pd.DataFrame, attributes: Sequence[str], version_id: int, record_id: int) -> set[str]:
    keys = frame["prediction_key"].tolist()
    existing: set[str] = set()
    for start in range(0, len(keys), _SQLITE_IN_CHUNK):
        chunk = keys[start : start + _SQLITE_IN_CHUNK]
        existing.update(
            Prediction.objects.filter(model_version_id=version_id, prediction_key__in=chunk).values_list(
                "prediction_key", flat=True
            )
        )
    new = frame[~frame["prediction_key"].isin(existing)]
    attribute_json = _attributes_json(new, attributes)
    now = timezone.now()
    rows = [
        Prediction(
            model_version_id=version_id,
            prediction_key=key,
            occurred_at=occurred.to_pydatetime(),
            attributes=json.loads(attrs),
            y_pred=int(y_pred),
            y_true=None if pd.isna(y_true) else int(y_true),
            score=None if pd.isna(score) else float(score),
            features=features,
            record_id=record_id,
            received_at=now,
        )
        for key, occurred, attrs, y_pred, y_true, score, features in zip(
            new["prediction_key"],
            new["occurred_at"],
            attribute_json,
            new["y_pred"],
            new["y_true"],
            new["score"],
            new["features"],
            strict=True,
        )
    ]
    Prediction.objects.bulk_create(rows, batch_size=2000)
    return set(new["prediction_key"])


def apply_rollup_deltas(*, model_version_id: int, deltas: dict[CellKey, CellDelta]) -> None:
    """Add ``deltas`` to the rollup cells, creating missing cells; rows are locked in id order."""
    if not deltas:
        return
    PredictionRollup.objects.bulk_create(
        [
            PredictionRollup(
                model_version_id=model_version_id,
                bucket_start=bucket.to_pydatetime(),
                attribute=attribute,
                group=group,
                score_histogram=[0] * SCORE_BINS,
            )
            for bucket, attribute, group in deltas
        ],
        ignore_conflicts=True,
        batch_size=1000,
    )
    buckets = {key[0].to_pydatetime() for key in deltas}
    attributes = {key[1] for key in deltas}
    rows = (
        PredictionRollup.objects.select_for_update()
        .filter(model_version_id=model_version_id, bucket_start__in=buckets, attribute__in=attributes)
        .order_by("id")
    )
    changed = []
    for row in rows:
        delta = deltas.get((pd.Timestamp(row.bucket_start), row.attribute, row.group))
        if delta is None:
            continue
        for name, value in zip(COUNT_FIELDS, delta.counts, strict=True):
            setattr(row, name, getattr(row, name) + value)
        histogram = row.score_histogram or [0] * SCORE_BINS
        row.score_histogram = [a + b for a, b in zip(histogram, delta.histogram, strict=True)]
        changed.append(row)
    PredictionRollup.objects.bulk_update(changed, [*COUNT_FIELDS, "score_histogram"], batch_size=1000)
