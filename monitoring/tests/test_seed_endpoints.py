"""The seed's /api/submit_predictions and /api/evaluate_model contracts, and the demo stream's ingestion."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from compliance.models import AuditEntry
from demo import stream as demo_stream
from demo.evaluation import MAX_RETURNED_PREDICTIONS
from monitoring.checks.services import run_check
from monitoring.models import IngestionRecord, Prediction, PredictionRollup
from monitoring.tests.factories import prediction
from registry.models import ModelVersion
from registry.services import register_model

pytestmark = pytest.mark.django_db


def compas_like_batch() -> list[dict[str, Any]]:
    """Two races x two sexes with known counts: Other/Male selected 10/20, Caucasian/Female 15/20, ..."""
    items = []
    plan = {("Other", "Male"): 10, ("Other", "Female"): 8, ("Caucasian", "Male"): 12, ("Caucasian", "Female"): 15}
    for (race, sex), selected in plan.items():
        for index in range(20):
            items.append(
                prediction(
                    f"{race}-{sex}-{index}",
                    race=race,
                    sex=sex,
                    y_pred=int(index < selected),
                    y_true=int(index % 2 == 0),
                    score=0.12,
                )
            )
    return items


@pytest.fixture
def compas(db: None) -> Any:
    return register_model(
        name="compas",
        version="1",
        registered_by=None,
        policy={
            "protected_attributes": ["race", "sex"],
            "privileged": {"race": "Caucasian", "sex": "Female"},
            "min_group_size": 10,
        },
    )


def submit(client: APIClient, body: dict) -> Any:
    return client.post("/api/submit_predictions", data=json.dumps(body), content_type="application/json")


def test_submit_predictions_returns_the_seed_contract(client_as: Callable[[str], APIClient], compas: Any) -> None:
    # when
    response = submit(
        client_as("monitor"), {"model_name": "compas", "version": "1", "predictions": compas_like_batch()}
    )
    # then
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "success"
    data = body["data"]
    assert (data["accepted"], data["duplicates"], data["rejected"]) == (80, 0, 0)
    assert IngestionRecord.objects.filter(record_id=data["record_id"]).exists()
    race = data["metrics"]["race"]
    assert race["privileged"] == "Caucasian"
    assert race["n"] == 80
    assert race["groups"]["Other"]["selection_rate"] == pytest.approx(18 / 40, abs=0)
    other = race["comparisons"]["Other"]
    assert other["DIR"] == pytest.approx(18 / 27, rel=1e-12)
    assert other["SPD"] == pytest.approx(18 / 40 - 27 / 40, abs=1e-15)
    assert other["intervals"]["DIR"][0] < other["DIR"] < other["intervals"]["DIR"][1]
    assert other["verdict"] in {"possible_violation", "significant_violation"}
    assert data["alert"] is True
    assert race["theil_index"] is not None
    assert race["between_group_theil_index"] is not None
    sex = data["metrics"]["sex"]
    assert sex["privileged"] == "Female"
    assert sex["comparisons"]["Male"]["DIR"] == pytest.approx(22 / 23, rel=1e-12)
    assert "race&sex" in data["metrics"]


def test_request_overrides_the_policy_privileged_value(client_as: Callable[[str], APIClient], compas: Any) -> None:
    body = {
        "model_name": "compas",
        "version": "1",
        "privileged": {"race": "Other", "sex": "Male"},
        "predictions": compas_like_batch(),
    }
    metrics = submit(client_as("monitor"), body).json()["data"]["metrics"]
    assert metrics["race"]["privileged"] == "Other"
    assert set(metrics["race"]["comparisons"]) == {"Caucasian"}


def test_resubmitting_counts_duplicates_not_new_rows(client_as: Callable[[str], APIClient], compas: Any) -> None:
    body = {"model_name": "compas", "version": "1", "predictions": compas_like_batch()[:10]}
    submit(client_as("monitor"), body)
    again = submit(client_as("monitor"), body).json()["data"]
    assert (again["accepted"], again["duplicates"]) == (0, 10)
    assert Prediction.objects.count() == 10


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"model_name": "nope"}, 404, "not_found"),
        ({"version": "7"}, 404, "not_found"),
        ({"predictions": []}, 400, "invalid"),
        ({"protected_attributes": ["age"]}, 400, "invalid"),
        ({"favorable_label": 5}, 400, "invalid"),
    ],
)
def test_bad_submissions_are_4xx_and_store_nothing(
    client_as: Callable[[str], APIClient], compas: Any, change: dict, status: int, code: str
) -> None:
    body = {"model_name": "compas", "version": "1", "predictions": compas_like_batch()[:4], **change}
    response = submit(client_as("monitor"), body)
    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    assert not Prediction.objects.exists()


def rollup_rows(version: ModelVersion) -> list[tuple]:
    return list(
        PredictionRollup.objects.filter(model_version=version)
        .order_by("bucket_start", "attribute", "group")
        .values_list("bucket_start", "attribute", "group", "tp", "fp", "tn", "fn", "unlabeled_pos", "score_histogram")
    )


@pytest.fixture
def demo_model(db: None) -> ModelVersion:
    call_command("train_demo_model", "--samples", "1000", stdout=StringIO())
    return ModelVersion.objects.get(model__name="loan_model", version="1")


def test_evaluate_model_demo_and_prod(client_as: Callable[[str], APIClient], demo_model: ModelVersion) -> None:
    fair = (
        client_as("monitor")
        .post("/api/evaluate_model", {"n_samples": 2000, "drift_level": 0.0, "seed": 7}, format="json")
        .json()["data"]
    )
    drifted = (
        client_as("monitor")
        .post("/api/evaluate_model", {"n_samples": 2000, "drift_level": 0.8, "seed": 7}, format="json")
        .json()["data"]
    )
    assert (fair["mode"], fair["simulated"]) == ("demo", True)
    assert fair["metrics"]["gender"]["comparisons"]["Female"]["DIR"] > 0.85
    assert drifted["metrics"]["gender"]["comparisons"]["Female"]["DIR"] < 0.7
    assert drifted["alert"] is True
    assert fair["alert"] is False
    summary = drifted["predictions_summary"]
    assert summary["approval_rate_by_group"]["Female"] < summary["approval_rate_by_group"]["Male"]
    prod = (
        client_as("admin")
        .post("/api/evaluate_model", {"n_samples": 500, "mode": "prod", "seed": 3}, format="json")
        .json()["data"]
    )
    assert prod["mode"] == "prod"
    assert 0.5 < prod["predictions_summary"]["accuracy"] <= 1
    assert len(prod["predictions"]) == 500
    assert all(0 <= row["score"] <= 1 for row in prod["predictions"])
    # evaluation records, each with its own audit entry; no prediction stored
    assert not Prediction.objects.exists()
    records = IngestionRecord.objects.filter(source=IngestionRecord.Source.EVALUATE)
    assert records.count() == 3
    assert {e.object_id for e in AuditEntry.objects.filter(action="model.evaluate")} == {
        fair["record_id"],
        drifted["record_id"],
        prod["record_id"],
    }
    assert records.get(record_id=drifted["record_id"]).summary["metrics"] == drifted["metrics"]


def test_evaluate_model_leaves_the_models_monitoring_unchanged(
    client_as: Callable[[str], APIClient], demo_model: ModelVersion
) -> None:
    """Issue 11 #6: one evaluation at drift 0.8 moved loan_model v1's check DIR from 1.046 to 0.791."""
    now = timezone.now()
    assert demo_stream.stream_batch(now) == demo_stream.BATCH_SIZE  # real ingestion of the demo model
    window_end = now + timedelta(hours=1)
    before = run_check(model_version=demo_model, window_end=window_end, trigger="manual", claim_token="t1")
    rollups, predictions = rollup_rows(demo_model), Prediction.objects.count()
    # when
    response = client_as("monitor").post(
        "/api/evaluate_model", {"n_samples": 2000, "drift_level": 0.8, "seed": 7}, format="json"
    )
    # then
    assert response.status_code == 200, response.content
    assert response.json()["data"]["alert"] is True
    assert rollup_rows(demo_model) == rollups
    assert Prediction.objects.count() == predictions
    after = run_check(
        model_version=demo_model, window_end=window_end + timedelta(minutes=1), trigger="manual", claim_token="t2"
    )
    assert after.pk != before.pk
    assert after.headline_dir == before.headline_dir
    assert after.n_predictions == before.n_predictions == demo_stream.BATCH_SIZE
    # the same window counts (the second check also has the first one as its trend history, and continues its
    # evidence: no hour closed in between, so it adds none)
    assert {k: v for k, v in after.inputs.items() if k not in ("earlier_dirs", "evidence")} == {
        k: v for k, v in before.inputs.items() if k not in ("earlier_dirs", "evidence")
    }
    assert after.inputs["evidence"]["previous_check"] == before.pk
    assert after.inputs["evidence"]["hours"] == []


def test_the_demo_stream_is_real_ingestion(demo_model: ModelVersion) -> None:
    now = timezone.now()
    assert demo_stream.stream_batch(now) == demo_stream.BATCH_SIZE
    record = IngestionRecord.objects.get()
    assert (record.source, record.principal, record.accepted) == ("demo_stream", "demo-stream", demo_stream.BATCH_SIZE)
    assert Prediction.objects.filter(model_version=demo_model).count() == demo_stream.BATCH_SIZE
    assert sum(row[3] + row[4] + row[5] + row[6] for row in rollup_rows(demo_model) if row[1] == "gender") == (
        demo_stream.BATCH_SIZE
    )


def test_evaluate_model_returns_pseudonymised_predictions(
    client_as: Callable[[str], APIClient], demo_model: ModelVersion
) -> None:
    data = (
        client_as("monitor")
        .post("/api/evaluate_model", {"n_samples": 300, "drift_level": 0.3, "seed": 9}, format="json")
        .json()["data"]
    )
    rows = data["predictions"]
    assert len(rows) == 300
    assert data["predictions_truncated"] is False
    assert set(rows[0]) == {"id", "timestamp", "attributes", "y_pred", "y_true", "score", "features"}
    assert all(len(row["id"]) == 64 and not row["id"].startswith("eval-") for row in rows)
    assert len({row["id"] for row in rows}) == 300
    assert {row["attributes"]["gender"] for row in rows} == {"Female", "Male"}
    # the returned decisions are the ones the summary and metrics describe
    female = [row["y_pred"] for row in rows if row["attributes"]["gender"] == "Female"]
    assert data["predictions_summary"]["approval_rate_by_group"]["Female"] == pytest.approx(sum(female) / len(female))
    assert data["metrics"]["gender"]["n"] == 300


def test_evaluate_model_returns_at_most_the_bounded_number_of_predictions(
    client_as: Callable[[str], APIClient], demo_model: ModelVersion
) -> None:
    data = (
        client_as("monitor")
        .post("/api/evaluate_model", {"n_samples": MAX_RETURNED_PREDICTIONS + 500, "seed": 1}, format="json")
        .json()["data"]
    )
    assert len(data["predictions"]) == MAX_RETURNED_PREDICTIONS
    assert data["predictions_truncated"] is True
    assert data["predictions_summary"]["n"] == MAX_RETURNED_PREDICTIONS + 500


def test_evaluate_model_refuses_a_model_it_cannot_simulate(client_as: Callable[[str], APIClient], compas: Any) -> None:
    response = client_as("monitor").post("/api/evaluate_model", {"model_name": "compas", "version": "1"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "not_simulatable"
