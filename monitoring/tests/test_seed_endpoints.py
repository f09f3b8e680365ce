"""The seed's /api/submit_predictions and /api/evaluate_model contracts."""

from __future__ import annotations

import json
from collections.abc import Callable
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from monitoring.models import IngestionRecord, Prediction
from monitoring.tests.factories import prediction
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


def test_evaluate_model_demo_and_prod(client_as: Callable[[str], APIClient]) -> None:
    call_command("train_demo_model", "--samples", "1000", stdout=StringIO())
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
    assert fair["mode"] == "demo"
    assert fair["accepted"] == 2000
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
    assert prod["accepted"] == 500
    assert 0.5 < prod["predictions_summary"]["accuracy"] <= 1
    assert Prediction.objects.filter(score__isnull=False).count() == 500


def test_evaluate_model_refuses_a_model_it_cannot_simulate(client_as: Callable[[str], APIClient], compas: Any) -> None:
    response = client_as("monitor").post("/api/evaluate_model", {"model_name": "compas", "version": "1"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "not_simulatable"
