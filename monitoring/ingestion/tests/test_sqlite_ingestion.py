"""SQLite ingestion: what the bulk statements store, rollups of large batches, and writes rerun on a busy lock."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from django.db import OperationalError, connection
from django.utils import timezone

from bench._setup import synthetic_predictions
from monitoring.ingestion.parsing import frame_from_csv, frame_from_json_records, validate
from monitoring.ingestion.rollup_math import COUNT_FIELDS, rollup_cells
from monitoring.ingestion.services import ingest_predictions, rebuild_rollups
from monitoring.models import Prediction, PredictionRollup
from monitoring.tests.factories import make_version, prediction

ATTRIBUTES = ["race", "sex"]
sqlite_only = pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite write path and its lock")


def stored_cells(version: Any) -> dict[tuple[str, str, str], tuple[int, ...]]:
    return {
        (str(row.bucket_start), row.attribute, row.group): (
            *(getattr(row, name) for name in COUNT_FIELDS),
            *row.score_histogram,
        )
        for row in PredictionRollup.objects.filter(model_version=version)
    }


def expected_cells(csv_body: bytes) -> dict[tuple[str, str, str], tuple[int, ...]]:
    """Rollups recomputed from the batch itself, with the pure rollup code and no database."""
    parsed = validate(
        frame_from_csv(csv_body, ATTRIBUTES, 100_000), ATTRIBUTES, now=timezone.now(), max_future=timedelta(0)
    )
    cells = rollup_cells(parsed.frame, ATTRIBUTES)
    return {
        (str(bucket.to_pydatetime()), attribute, group): (*counts, *histogram)
        for bucket, attribute, group, counts, histogram in zip(
            cells.buckets, cells.attributes, cells.groups, cells.counts.tolist(), cells.histograms.tolist(), strict=True
        )
    }


@pytest.mark.django_db
def test_a_large_batch_with_re_sent_rows_rolls_up_to_a_recomputation() -> None:
    # given: 20,000 predictions over 30 days (about 12,000 cells), sent as two overlapping batches
    version = make_version()
    body = synthetic_predictions(20_000, seed=3).to_csv(index=False).encode()
    first = synthetic_predictions(20_000, seed=3).iloc[:12_000].to_csv(index=False).encode()
    # when
    sent_first = ingest_predictions(
        model_version=version, raw=frame_from_csv(first, ATTRIBUTES, 50_000), attributes=ATTRIBUTES, principal="t"
    )
    sent_all = ingest_predictions(
        model_version=version, raw=frame_from_csv(body, ATTRIBUTES, 50_000), attributes=ATTRIBUTES, principal="t"
    )
    # then: every row stored once, and the cells are exactly those of the 20,000 rows
    assert (sent_first.accepted, sent_all.accepted, sent_all.duplicates) == (12_000, 8_000, 12_000)
    assert Prediction.objects.filter(model_version=version).count() == 20_000
    expected = expected_cells(body)
    assert len(expected) > 10_000
    assert stored_cells(version) == expected
    # and rebuilding from the stored rows agrees
    rebuild_rollups(model_version=version)
    assert stored_cells(version) == expected


@sqlite_only
@pytest.mark.django_db
def test_rows_are_stored_in_the_text_forms_the_orm_writes() -> None:
    version = make_version()
    items = [
        prediction("t-1", race="Été", sex="Female", y_pred=1, y_true=0, score=0.25, features={"age": 41}),
        {**prediction("t-2", y_pred=0), "timestamp": "2026-03-02T09:15:00.123456+01:00"},
    ]
    ingest_predictions(
        model_version=version,
        raw=frame_from_json_records(items, ATTRIBUTES, 10),
        attributes=ATTRIBUTES,
        principal="t",
    )
    ops = connection.ops
    with connection.cursor() as cursor:
        cursor.execute(
            # As text: the connection would otherwise parse the datetime columns.
            "SELECT CAST(occurred_at AS TEXT), attributes, y_pred, y_true, score, features, CAST(received_at AS TEXT)"
            " FROM monitoring_prediction ORDER BY occurred_at"
        )
        rows = cursor.fetchall()
    for text_row, stored in zip(rows, Prediction.objects.order_by("occurred_at"), strict=True):
        assert text_row[0] == ops.adapt_datetimefield_value(stored.occurred_at)
        assert text_row[1] == json.dumps(stored.attributes)
        assert text_row[2:5] == (stored.y_pred, stored.y_true, stored.score)
        assert text_row[5] == (None if stored.features is None else json.dumps(stored.features))
        assert text_row[6] == ops.adapt_datetimefield_value(stored.received_at)
        assert Prediction.objects.filter(pk=stored.pk, occurred_at=stored.occurred_at).exists()
    assert [row[0] for row in rows] == ["2026-03-02 08:15:00.123456", "2026-03-02 09:15:00"]
    assert Prediction.objects.get(y_pred=1).attributes == {"race": "Été", "sex": "Female"}


def _hold_write_lock(path: str, seconds: float, locked: threading.Event) -> None:
    """Another process's writer: takes SQLite's write lock and keeps it for ``seconds``."""
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        locked.set()
        time.sleep(seconds)
        other.execute("COMMIT")
    finally:
        other.close()


@sqlite_only
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_batch_waits_out_a_held_write_lock_and_is_counted_once(settings: Any) -> None:
    # given: a writer elsewhere holds the lock for 1 s, longer than this connection waits for it (0.1 s)
    settings.DATABASE_LOCK_RETRIES = 20
    version = make_version()
    items = [prediction(f"l-{index}", sex=("Male", "Female")[index % 2], y_pred=index % 3 % 2) for index in range(500)]
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout = 100")
    locked = threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(connection.settings_dict["NAME"], 1.0, locked))
    holder.start()
    assert locked.wait(5)
    started = time.monotonic()
    try:
        # when
        result = ingest_predictions(
            model_version=version,
            raw=frame_from_json_records(items, ATTRIBUTES, 1_000),
            attributes=ATTRIBUTES,
            principal="t",
        )
    finally:
        holder.join()
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA busy_timeout = {int(settings.SQLITE_BUSY_TIMEOUT_SECONDS * 1000)}")
    # then: it succeeded once the lock was released, each row stored and counted once
    assert time.monotonic() - started >= 0.8
    assert (result.accepted, result.duplicates) == (500, 0)
    assert Prediction.objects.filter(model_version=version).count() == 500
    sex_total = sum(
        sum(getattr(row, name) for name in COUNT_FIELDS)
        for row in PredictionRollup.objects.filter(model_version=version, attribute="sex")
    )
    assert sex_total == 500


@sqlite_only
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_lock_held_past_every_retry_fails_cleanly_and_stores_nothing(settings: Any) -> None:
    settings.DATABASE_LOCK_RETRIES = 1
    version = make_version()
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout = 50")
    locked = threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(connection.settings_dict["NAME"], 1.5, locked))
    holder.start()
    assert locked.wait(5)
    try:
        with pytest.raises(OperationalError, match="locked"):
            ingest_predictions(
                model_version=version,
                raw=frame_from_json_records([prediction("x-1")], ATTRIBUTES, 10),
                attributes=ATTRIBUTES,
                principal="t",
            )
    finally:
        holder.join()
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA busy_timeout = {int(settings.SQLITE_BUSY_TIMEOUT_SECONDS * 1000)}")
    assert not Prediction.objects.filter(model_version=version).exists()
    assert not PredictionRollup.objects.filter(model_version=version).exists()
