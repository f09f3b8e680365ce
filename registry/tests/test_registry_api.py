"""Registry API: register (JSON and multipart with an artifact), versions, policies, hash-checked loading."""

from __future__ import annotations

import hashlib
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from sklearn.linear_model import LogisticRegression

from core.api.errors import ApplicationError
from registry.models import ModelVersion
from registry.services import dump_artifact, load_model

pytestmark = pytest.mark.django_db
POLICY = {"protected_attributes": ["sex"], "privileged": {"sex": "Male"}}


def test_admin_registers_a_model_with_a_policy_through_the_seed_endpoint(client_as: object) -> None:
    response = client_as("admin").post(
        "/api/models/register", {"name": "hiring_screen", "version": "1", "policy": POLICY}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "success"
    assert body["data"]["model"] == "hiring_screen"
    listed = client_as("monitor").get("/api/models").json()["data"]
    hiring = next(model for model in listed["models"] if model["name"] == "hiring_screen")
    assert listed["count"] == len(listed["models"])
    assert hiring["versions"] == ["1"]
    assert hiring["policy"]["metric_bands"] == {"DIR": {"min": 0.8, "max": None}}
    assert hiring["policy"]["protected_attributes"] == ["sex"]


def test_multipart_registration_records_the_artifact_hash_and_load_checks_it(client_as: object) -> None:
    # given a fitted model uploaded as a joblib artifact
    fitted = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    payload = dump_artifact(fitted)
    upload = SimpleUploadedFile("model.joblib", payload, content_type="application/octet-stream")
    response = client_as("admin").post(
        "/api/v1/models/",
        {
            "name": "scorer",
            "version": "2",
            "policy": json.dumps(POLICY),
            "metadata": json.dumps({"team": "risk"}),
            "artifact": upload,
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert response.json()["artifact_sha256"] == hashlib.sha256(payload).hexdigest()
    assert response.json()["metadata"] == {"team": "risk"}
    # when loaded, it is the same model
    assert list(load_model("scorer", "2").predict([[0.0], [3.0]])) == [0, 1]
    # and a tampered file is refused
    version = ModelVersion.objects.get(model__name="scorer", version="2")
    with open(version.artifact.path, "ab") as handle:
        handle.write(b"tampered")
    with pytest.raises(ApplicationError, match="does not match its recorded SHA-256"):
        load_model("scorer", "2")


def test_registering_an_existing_version_is_a_409(client_as: object) -> None:
    client_as("admin").post("/api/models/register", {"name": "m", "version": "1", "policy": POLICY}, format="json")
    again = client_as("admin").post("/api/models/register", {"name": "m", "version": "1"}, format="json")
    assert again.status_code == 409
    assert again.json()["code"] == "conflict"


def test_a_new_model_needs_a_policy(client_as: object) -> None:
    response = client_as("admin").post("/api/models/register", {"name": "m", "version": "1"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_policy"
    assert not ModelVersion.objects.exists()


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        ({"protected_attributes": [], "privileged": {}}, "protected_attributes"),
        ({"protected_attributes": ["sex"], "privileged": {"race": "White"}}, "privileged"),
        ({**POLICY, "metric_bands": {"XYZ": {"min": 0.8}}}, "metric_bands"),
        ({**POLICY, "metric_bands": {"DIR": {"min": 1.2, "max": 0.8}}}, "metric_bands"),
        ({**POLICY, "confidence_level": 1.5}, "confidence_level"),
        ({**POLICY, "channels": ["pager"]}, "channels"),
        ({**POLICY, "label_lag_hours": -1}, "label_lag_hours"),
        ({**POLICY, "label_lag_hours": 1.5}, "label_lag_hours"),
        ({**POLICY, "label_lag_hours": 24 * 90 + 1}, "label_lag_hours"),
    ],
)
def test_invalid_policies_are_400s_naming_the_field(client_as: object, policy: dict, field: str) -> None:
    response = client_as("admin").post(
        "/api/models/register", {"name": "m", "version": "1", "policy": policy}, format="json"
    )
    assert response.status_code == 400
    assert field in json.dumps(response.json()["details"])
    assert not ModelVersion.objects.exists()


def test_policies_are_versioned_and_the_newest_is_in_force(client_as: object) -> None:
    client_as("admin").post("/api/models/register", {"name": "m", "version": "1", "policy": POLICY}, format="json")
    response = client_as("admin").post(
        "/api/v1/models/m/policies/",
        {
            "protected_attributes": ["sex", "race"],
            "privileged": {"sex": "Male", "race": "White"},
            "metric_bands": {"DIR": {"min": 0.8, "max": 1.25}, "SPD": {"min": -0.1, "max": 0.1}},
        },
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["version"] == 2
    versions = [p["version"] for p in client_as("auditor").get("/api/v1/models/m/policies/").json()]
    assert versions == [2, 1]
    assert client_as("monitor").get("/api/v1/models/m/").json()["policy"]["version"] == 2


def test_stage_changes_and_unknown_names_say_what_is_missing(client_as: object) -> None:
    client_as("admin").post("/api/models/register", {"name": "m", "version": "1", "policy": POLICY}, format="json")
    patched = client_as("admin").patch("/api/v1/models/m/versions/1/", {"stage": "production"}, format="json")
    assert patched.json()["stage"] == "production"
    assert client_as("monitor").get("/api/v1/models/nope/").json()["message"] == "No registered model named 'nope'."
    assert client_as("monitor").get("/api/v1/models/m/versions/9/").json()["message"] == "m has no version '9'."


def test_train_demo_model_registers_loan_model_once(db: None) -> None:
    from io import StringIO

    from django.core.management import call_command

    output = StringIO()
    call_command("train_demo_model", "--samples", "2000", stdout=output)
    version = ModelVersion.objects.get(model__name="loan_model", version="1")
    metrics = version.training_metrics
    assert metrics["n_test"] == 500
    assert 0.6 < metrics["accuracy"] <= 1
    assert 0.6 < metrics["roc_auc"] <= 1
    assert 0.8 < metrics["fairness_baseline"]["DIR"] < 1.25
    assert version.stage == "production"
    assert load_model("loan_model", "1").predict_proba is not None
    call_command("train_demo_model", stdout=output)
    assert "already registered" in output.getvalue()
    assert ModelVersion.objects.filter(model__name="loan_model").count() == 1
