"""Ingestion services: storage, duplicates, rollups, labels, rebuild."""

from __future__ import annotations

from typing import Any

import pytest

from monitoring.ingestion.parsing import frame_from_json_records
from monitoring.ingestion.pseudonymize import pseudonymize
from monitoring.ingestion.selectors import window_counts
from monitoring.ingestion.services import ingest_labels, ingest_predictions, rebuild_rollups
from monitoring.models import IngestionRecord, Prediction, PredictionRollup
from monitoring.tests.factories import CUSTOMER_ID, INCOME, make_version, prediction

pytestmark = pytest.mark.django_db
ATTRIBUTES = ["race", "sex"]


def ingest(version: Any, items: list[dict], **kwargs: Any) -> Any:
    raw = frame_from_json_records(items, ATTRIBUTES, max_rows=50_000)
    return ingest_predictions(model_version=version, raw=raw, attributes=ATTRIBUTES, principal="tester", **kwargs)


def rollup_snapshot(version: Any) -> dict:
    return {
        (r.bucket_start, r.attribute, r.group): (
            r.tp,
            r.fp,
            r.tn,
            r.fn,
            r.unlabeled_pos,
            r.unlabeled_neg,
            tuple(r.score_histogram),
        )
        for r in PredictionRollup.objects.filter(model_version=version)
        if any((r.tp, r.fp, r.tn, r.fn, r.unlabeled_pos, r.unlabeled_neg)) or any(r.score_histogram)
    }


def test_a_batch_is_stored_with_pseudonymised_ids_and_rolled_up() -> None:
    # given
    version = make_version()
    items = [
        prediction("a-1", race="Black", sex="Female", y_pred=1, y_true=1, score=0.91),
        prediction("a-2", race="Black", sex="Female", y_pred=0, y_true=1, score=0.12),
        prediction("a-3", race="White", sex="Male", y_pred=1, score=0.55),
    ]
    # when
    result = ingest(version, items)
    # then
    assert (result.accepted, result.duplicates, result.rejected) == (3, 0, 0)
    keys = set(Prediction.objects.values_list("prediction_key", flat=True))
    assert keys == set(pseudonymize(["a-1", "a-2", "a-3"]))
    assert not Prediction.objects.filter(prediction_key__in=["a-1", "a-2", "a-3"]).exists()
    counts = window_counts(model_version=version)
    assert counts["sex"]["Female"].as_tuple() == (1, 0, 0, 1, 0, 0)
    assert counts["sex"]["Male"].as_tuple() == (0, 0, 0, 0, 1, 0)
    assert counts["race&sex"][("Black", "Female")].as_tuple() == (1, 0, 0, 1, 0, 0)
    female = PredictionRollup.objects.get(attribute="sex", group="Female")
    assert female.score_histogram[18] == 1  # 0.91 -> bin 18 of 20
    assert female.score_histogram[2] == 1  # 0.12 -> bin 2
    assert IngestionRecord.objects.get(record_id=result.record.record_id).accepted == 3


def test_re_sending_a_prediction_is_a_duplicate_not_a_second_count() -> None:
    version = make_version()
    ingest(version, [prediction("p-1", y_true=1), prediction("p-2", y_pred=0, y_true=0)])
    before = rollup_snapshot(version)
    again = ingest(version, [prediction("p-1", y_true=1), prediction("p-3"), prediction("p-3")])
    assert (again.accepted, again.duplicates) == (1, 2)
    assert Prediction.objects.count() == 3
    after = window_counts(model_version=version)
    assert after["sex"]["Male"].as_tuple() == (1, 0, 1, 0, 1, 0)
    assert before != rollup_snapshot(version)


def test_invalid_rows_are_rejected_with_reasons_and_valid_ones_stored() -> None:
    version = make_version()
    items = [
        prediction("ok-1"),
        {**prediction("bad-1"), "y_pred": 2},
        {**prediction("bad-2"), "timestamp": "2026-03-02T09:15:00"},
        {**prediction("bad-3"), "score": float("nan")},
        {**prediction("bad-4"), "attributes": {"race": "White"}},
    ]
    result = ingest(version, items)
    assert (result.accepted, result.rejected) == (1, 4)
    assert [(e["row"], e["field"]) for e in result.errors] == [
        (2, "y_pred"),
        (3, "timestamp"),
        (4, "score"),
        (5, "attributes.sex"),
    ]
    assert Prediction.objects.count() == 1


def test_an_atomic_batch_with_one_bad_row_stores_nothing() -> None:
    from core.api.errors import ApplicationError

    version = make_version()
    with pytest.raises(ApplicationError) as caught:
        ingest(version, [prediction("ok-1"), {**prediction("bad"), "y_true": "maybe"}], atomic=True)
    assert caught.value.status_code == 422
    assert Prediction.objects.count() == 0
    assert PredictionRollup.objects.count() == 0


def test_labels_move_counts_once_and_report_unknown_ids() -> None:
    # given two unlabeled predictions
    version = make_version()
    ingest(version, [prediction("l-1", sex="Female", y_pred=1), prediction("l-2", sex="Female", y_pred=0)])
    assert window_counts(model_version=version)["sex"]["Female"].as_tuple() == (0, 0, 0, 0, 1, 1)
    # when labels arrive (one id unknown)
    first = ingest_labels(
        model_version=version,
        labels=[{"id": "l-1", "y_true": 1}, {"id": "l-2", "y_true": 1}, {"id": "nope", "y_true": 0}],
        principal="tester",
    )
    # then
    assert (first["updated"], first["unknown"]) == (2, 1)
    assert window_counts(model_version=version)["sex"]["Female"].as_tuple() == (1, 0, 0, 1, 0, 0)
    # re-sending the same label changes nothing; a corrected label moves the count once
    same = ingest_labels(model_version=version, labels=[{"id": "l-1", "y_true": 1}], principal="tester")
    assert (same["updated"], same["unchanged"]) == (0, 1)
    ingest_labels(model_version=version, labels=[{"id": "l-2", "y_true": 0}], principal="tester")
    ingest_labels(model_version=version, labels=[{"id": "l-2", "y_true": 0}], principal="tester")
    assert window_counts(model_version=version)["sex"]["Female"].as_tuple() == (1, 0, 1, 0, 0, 0)
    assert window_counts(model_version=version)["race&sex"][("White", "Female")].as_tuple() == (1, 0, 1, 0, 0, 0)


def test_rebuild_gives_the_same_rollups_as_incremental_updates() -> None:
    version = make_version()
    ingest(
        version,
        [
            prediction(
                f"r-{i}",
                race=("Black", "White", "Asian")[i % 3],
                sex=("Male", "Female")[i % 2],
                y_pred=i % 2,
                score=(i % 10) / 10,
                hours=i % 5,
            )
            for i in range(60)
        ],
    )
    ingest_labels(
        model_version=version,
        labels=[{"id": f"r-{i}", "y_true": (i // 2) % 2} for i in range(0, 60, 3)],
        principal="tester",
    )
    incremental = rollup_snapshot(version)
    assert rebuild_rollups(model_version=version) == 60
    assert rollup_snapshot(version) == incremental


def test_declared_identifier_features_are_pseudonymised() -> None:
    version = make_version(features=[INCOME, CUSTOMER_ID])
    ingest(version, [prediction("f-1", features={"customer_id": "C-991", "income": 52000})])
    stored = Prediction.objects.get().features
    assert stored["income"] == 52000
    assert stored["customer_id"] == pseudonymize(["C-991"])[0]


@pytest.mark.requires_postgres
def test_copy_ingestion_works_under_the_debug_cursor() -> None:
    """`make run` sets DEBUG, and Django's debug cursor wraps COPY: ingestion must still store the batch."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    version = make_version()
    with CaptureQueriesContext(connection):  # the same debug cursor wrapper DEBUG=true installs
        result = ingest(version, [prediction(f"debug-{index}") for index in range(5)])
    assert result.accepted == 5
    assert Prediction.objects.filter(model_version=version).count() == 5


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # the check is enqueued when the batch commits
def test_a_committed_batch_starts_one_near_real_time_check_per_debounce_period(eager_tasks: None) -> None:
    # given a version whose policy checks a window that the batch falls in
    from monitoring.models import FairnessCheck

    version = make_version()
    # when two batches arrive within one debounce period
    ingest(version, [prediction(f"b-{index}", hours=-1) for index in range(5)])
    ingest(version, [prediction(f"c-{index}", hours=-1) for index in range(5)])
    # then ingestion announced both (predictions_stored) and the checks ran exactly one, as an ingestion check
    checks = FairnessCheck.objects.filter(model_version=version)
    assert [check.trigger for check in checks] == ["ingestion"]
