"""Rollups always equal a recomputation from the stored rows, whatever the order of ingests, duplicate re-sends
and label updates, and (on PostgreSQL) with several writers at once."""

from __future__ import annotations

import threading
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitoring.ingestion.parsing import frame_from_json_records
from monitoring.ingestion.services import ingest_labels, ingest_predictions, rebuild_rollups
from monitoring.models import Prediction, PredictionRollup
from monitoring.tests.factories import make_version, prediction

ATTRIBUTES = ["race", "sex"]
IDS = [f"id-{i}" for i in range(25)]

prediction_rows = st.builds(
    lambda identifier, race, sex, y_pred, y_true, score, hours: prediction(
        identifier, race=race, sex=sex, y_pred=y_pred, y_true=y_true, score=score, hours=hours
    ),
    identifier=st.sampled_from(IDS),
    race=st.sampled_from(["Black", "White", "Asian"]),
    sex=st.sampled_from(["Female", "Male"]),
    y_pred=st.integers(0, 1),
    y_true=st.one_of(st.none(), st.integers(0, 1)),
    score=st.one_of(st.none(), st.floats(0, 1)),
    hours=st.integers(0, 4),
)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("ingest"), st.lists(prediction_rows, min_size=1, max_size=8)),
        st.tuples(
            st.just("labels"),
            st.lists(
                st.fixed_dictionaries(
                    {
                        "id": st.sampled_from([*IDS, "unknown-id"]),
                        "y_true": st.integers(0, 1),
                    }
                ),
                min_size=1,
                max_size=6,
            ),
        ),
    ),
    min_size=1,
    max_size=8,
)


def snapshot(version: Any) -> dict:
    """Non-empty rollup cells (a cell can drop to all zeros after labels move its counts away)."""
    return {
        (row.bucket_start, row.attribute, row.group): (
            row.tp,
            row.fp,
            row.tn,
            row.fn,
            row.unlabeled_pos,
            row.unlabeled_neg,
            tuple(row.score_histogram),
        )
        for row in PredictionRollup.objects.filter(model_version=version)
        if any((row.tp, row.fp, row.tn, row.fn, row.unlabeled_pos, row.unlabeled_neg, *row.score_histogram))
    }


def apply(version: Any, operation: tuple[str, list]) -> None:
    kind, payload = operation
    if kind == "ingest":
        raw = frame_from_json_records(payload, ATTRIBUTES, max_rows=1000)
        ingest_predictions(model_version=version, raw=raw, attributes=ATTRIBUTES, principal="property")
    else:
        ingest_labels(model_version=version, labels=payload, principal="property")


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture], database=None)
@given(steps=operations)
def test_incremental_rollups_equal_a_rebuild(steps: list) -> None:
    with transaction.atomic():
        version = make_version()
        for step in steps:
            apply(version, step)
        incremental = snapshot(version)
        rebuild_rollups(model_version=version)
        assert snapshot(version) == incremental
        total = sum(sum(cell[:6]) for key, cell in incremental.items() if key[1] == "sex")
        assert total == Prediction.objects.filter(model_version=version).count()
        transaction.set_rollback(True)


@pytest.mark.requires_postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_writers_count_every_prediction_once() -> None:
    # given a version and four writers whose batches overlap on half their ids
    version = make_version()
    batches = [
        [
            prediction(
                f"c-{i}",
                race=("Black", "White")[i % 2],
                sex=("Female", "Male")[i % 3 % 2],
                y_pred=i % 2,
                y_true=(i // 3) % 2,
                score=(i % 7) / 7,
                hours=i % 3,
            )
            for i in range(start, start + 400)
        ]
        for start in (0, 200, 400, 600)
    ]
    errors: list[BaseException] = []

    def write(batch: list) -> None:
        try:
            raw = frame_from_json_records(batch, ATTRIBUTES, max_rows=1000)
            ingest_predictions(model_version=version, raw=raw, attributes=ATTRIBUTES, principal="writer")
            ingest_labels(
                model_version=version,
                labels=[{"id": item["id"], "y_true": 1} for item in batch[::5]],
                principal="writer",
            )
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    # when they write at the same time
    threads = [threading.Thread(target=write, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    # then nothing failed, every distinct id is stored once, and the rollups equal a rebuild
    assert not errors, errors
    assert Prediction.objects.filter(model_version=version).count() == 1000
    incremental = snapshot(version)
    call_command("rebuild_rollups", "--model", "credit_model", "--model-version", "1", stdout=StringIO())
    assert snapshot(version) == incremental
