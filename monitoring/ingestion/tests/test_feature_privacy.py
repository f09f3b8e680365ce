"""Only declared features are stored: undeclared ones are dropped and reported, identifiers are hashed, and text
that looks like an e-mail address or phone number is refused. Labels arrive as JSON or CSV alike."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
from django.apps import apps
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.services import model_client_key_create
from demo.model import DEMO_MODEL_NAME, DEMO_POLICY
from demo.stream import BATCH_SIZE, stream_batch
from monitoring.ingestion.features import looks_like_contact
from monitoring.ingestion.parsing import frame_from_json_records
from monitoring.ingestion.pseudonymize import pseudonymize
from monitoring.ingestion.services import ingest_predictions
from monitoring.models import Prediction
from monitoring.tests.factories import CUSTOMER_ID, INCOME, make_version, prediction
from registry.models import MonitoringPolicy
from registry.services import register_model

pytestmark = pytest.mark.django_db
URL = "/api/v1/models/credit_model/versions/1/predictions"
LABELS = "/api/v1/models/credit_model/versions/1/labels"
POLICIES = "/api/v1/models/credit_model/policies/"
COMMENT = {"name": "comment", "type": "categorical", "identifier": False}
EMAIL = "jane.doe@example.com"
PHONE = "+44 20 7946 0958"


@pytest.fixture
def version() -> Any:
    return make_version(features=[INCOME, CUSTOMER_ID, COMMENT])


@pytest.fixture
def key_client(version: Any) -> APIClient:
    _, raw = model_client_key_create(model=version.model, name="scorer", created_by=None)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


def post_json(client: APIClient, body: Any, url: str = URL) -> Any:
    return client.post(url, data=json.dumps(body), content_type="application/json")


def stored_feature_text() -> str:
    """Every stored features column, read straight from the table (not through the model)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT features FROM monitoring_prediction")
        return " ".join(str(row[0]) for row in cursor.fetchall())


def assert_only_declared_features_stored() -> None:
    stored = Prediction.objects.get()
    assert stored.features == {"income": 52000, "customer_id": pseudonymize(["C-1"])[0], "comment": "gold tier"}
    # The keyed hash is hex, so a digit run such as "555" may occur in it by chance: look past it.
    text = stored_feature_text().replace(pseudonymize(["C-1"])[0], "<keyed hash>")
    for raw in (EMAIL, "C-1", "555", "size", "customer_email", "phone"):
        assert raw not in text


def assert_contact_rows_refused(body: dict[str, Any]) -> None:
    assert (body["accepted"], body["rejected"]) == (1, 2)
    assert body["dropped_features"] == ["customer_email", "phone", "shoe_size"]
    errors = [(error["row"], error["field"], error["reason"].split(";")[0]) for error in body["errors"]]
    assert errors == [
        (2, "features.comment", "looks like an e-mail address"),
        (3, "features.comment", "looks like a phone number"),
    ]


def test_a_csv_batch_stores_only_declared_features_and_hashes_identifiers(key_client: APIClient) -> None:
    csv = (
        "id,timestamp,race,sex,y_pred,customer_email,phone,shoe_size,customer_id,income,comment\n"
        f"c-1,2026-03-02T09:00:00Z,Black,Female,1,{EMAIL},555-123-4567,42,C-1,52000,gold tier\n"
        f"c-2,2026-03-02T09:10:00Z,White,Male,0,a@b.org,555-987-6543,40,C-2,61000,mail {EMAIL}\n"
        f"c-3,2026-03-02T09:20:00Z,White,Male,0,c@d.org,555-000-1111,41,C-3,48000,{PHONE}\n"
    )
    response = key_client.post(URL, data=csv, content_type="text/csv")
    assert response.status_code == 201, response.content
    assert_contact_rows_refused(response.json())
    assert_only_declared_features_stored()


def test_a_json_batch_stores_only_declared_features_and_hashes_identifiers(key_client: APIClient) -> None:
    sent = {"customer_email": EMAIL, "phone": "555-123-4567", "shoe_size": 42, "customer_id": "C-1", "income": 52000}
    response = post_json(
        key_client,
        {
            "predictions": [
                prediction("j-1", features={**sent, "comment": "gold tier"}),
                prediction("j-2", features={**sent, "customer_id": "C-2", "comment": f"mail {EMAIL}"}),
                prediction("j-3", features={**sent, "customer_id": "C-3", "comment": PHONE}),
            ]
        },
    )
    assert response.status_code == 201, response.content
    assert_contact_rows_refused(response.json())
    assert_only_declared_features_stored()


def test_an_atomic_batch_with_contact_details_stores_nothing_and_names_the_row(key_client: APIClient) -> None:
    body = {"predictions": [prediction("a-1"), prediction("a-2", features={"comment": f"call {EMAIL}"})]}
    response = post_json(key_client, body, url=URL + "?atomic=true")
    assert response.status_code == 422
    assert response.json()["details"]["errors"][0]["row"] == 2
    assert response.json()["details"]["errors"][0]["field"] == "features.comment"
    assert not Prediction.objects.exists()


@pytest.mark.parametrize(
    ("features", "field"),
    [
        ({"income": "a lot"}, "features.income"),
        ({"income": True}, "features.income"),
        ({"customer_id": ["C", 1]}, "features.customer_id"),
        ({"customer_id": ""}, "features.customer_id"),
        ({"comment": {"nested": "object"}}, "features.comment"),
    ],
)
def test_a_feature_of_the_wrong_type_is_a_row_error(key_client: APIClient, features: dict, field: str) -> None:
    response = post_json(key_client, {"predictions": [prediction("t-1", features=features)]})
    assert response.status_code == 200
    assert [(e["row"], e["field"]) for e in response.json()["errors"]] == [(1, field)]
    assert not Prediction.objects.exists()


def test_csv_features_take_their_declared_type(key_client: APIClient) -> None:
    csv = "id,timestamp,race,sex,y_pred,income,comment\nz-1,2026-03-02T09:00:00Z,Black,Female,1,1500.5,02139\n"
    assert key_client.post(URL, data=csv, content_type="text/csv").status_code == 201
    # A categorical column of digits keeps its leading zero: it is text, not a number.
    assert Prediction.objects.get().features == {"income": 1500.5, "comment": "02139"}


def test_a_policy_without_features_stores_none_and_reports_every_one_dropped() -> None:
    version = make_version(name="bare_model")
    result = ingest_predictions(
        model_version=version,
        raw=_raw([prediction("b-1", features={"customer_email": EMAIL, "income": 1})]),
        attributes=["race", "sex"],
        principal="tester",
    )
    assert result.dropped_features == ["customer_email", "income"]
    assert Prediction.objects.get().features is None


def _raw(items: list[dict[str, Any]]) -> pd.DataFrame:
    return frame_from_json_records(items, ["race", "sex"], 100)


@pytest.mark.parametrize(
    "value",
    [EMAIL, "write to A.B+tag@mail.example.co.uk today", PHONE, "555-123-4567", "(555) 123 4567", "555.123.4567"],
)
def test_contact_like_text_is_recognised(value: str) -> None:
    email, phone = looks_like_contact(pd.Series([value], dtype=object))
    assert bool(email.iloc[0] or phone.iloc[0])


@pytest.mark.parametrize(
    "value", ["north", "02139", "52000", "3.14159", "-12.5", "2026-03-02", "A-1234", "gold tier", "12-34", "@home"]
)
def test_ordinary_values_are_not_taken_for_contact_details(value: str) -> None:
    email, phone = looks_like_contact(pd.Series([value, 7, None], dtype=object))
    assert not email.any()
    assert not phone.any()


# Policies declare their features.


def test_a_policy_declares_features_over_the_api(client_as: Callable[[str], APIClient], version: Any) -> None:
    policy = {
        "protected_attributes": ["sex"],
        "privileged": {"sex": "Male"},
        "features": [
            {"name": "income", "type": "numeric"},
            {"name": "member_no", "type": "categorical", "identifier": True},
        ],
    }
    response = client_as("admin").post(POLICIES, policy, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["features"] == [
        {"name": "income", "type": "numeric", "identifier": False},
        {"name": "member_no", "type": "categorical", "identifier": True},
    ]
    assert MonitoringPolicy.objects.get(version=2).features == response.json()["features"]


@pytest.mark.parametrize(
    "features",
    [
        [{"name": "income", "type": "money"}],
        [{"name": "income", "type": "numeric"}, {"name": "income", "type": "categorical"}],
        [{"name": "account", "type": "numeric", "identifier": True}],
        [{"name": "y_pred", "type": "numeric"}],
        [{"name": "sex", "type": "categorical"}],
        [{"name": "has space", "type": "numeric"}],
        "income",
    ],
)
def test_a_bad_feature_declaration_is_a_400_naming_features(
    client_as: Callable[[str], APIClient], version: Any, features: Any
) -> None:
    policy = {"protected_attributes": ["sex"], "privileged": {"sex": "Male"}, "features": features}
    response = client_as("admin").post(POLICIES, policy, format="json")
    assert response.status_code == 400, response.content
    assert "features" in json.dumps(response.json()["details"])
    assert MonitoringPolicy.objects.count() == 1


def test_existing_policies_get_the_features_their_model_declared() -> None:
    migration = importlib.import_module("registry.migrations.0003_policy_features")
    version = make_version(name="legacy_model")
    version.metadata = {"features": ["credit_score", "region", "customer_id"]}
    version.save()
    ingest_predictions(
        model_version=version,
        raw=_raw([prediction("m-1")]),
        attributes=["race", "sex"],
        principal="tester",
    )
    Prediction.objects.update(features={"credit_score": 700, "region": "north", "customer_id": "abc"})
    bare = make_version(name="undeclared_model")
    migration.derive_feature_schemas(apps, None)
    assert MonitoringPolicy.objects.get(model=version.model).features == [
        {"name": "credit_score", "type": "numeric", "identifier": False},
        {"name": "region", "type": "categorical", "identifier": False},
        {"name": "customer_id", "type": "categorical", "identifier": True},
    ]
    assert MonitoringPolicy.objects.get(model=bare.model).features == []


def test_the_demo_stream_keeps_the_demo_models_features() -> None:
    version = register_model(name=DEMO_MODEL_NAME, version="1", registered_by=None, policy=DEMO_POLICY)
    assert stream_batch(timezone.now()) == BATCH_SIZE
    assert Prediction.objects.filter(model_version=version).count() == BATCH_SIZE
    stored = Prediction.objects.first()
    assert set(stored.features) == {"credit_score", "income", "region"}
    assert isinstance(stored.features["income"], float)
    assert isinstance(stored.features["region"], str)


# Labels as CSV.


def _labelled_batch(key_client: APIClient) -> None:
    post_json(key_client, {"predictions": [prediction("l-1", sex="Female"), prediction("l-2")]})


def test_labels_csv_is_accepted_with_the_same_row_errors_as_json(key_client: APIClient) -> None:
    _labelled_batch(key_client)
    csv = key_client.post(LABELS, data="id,y_true\nl-1,0\nl-2,maybe\n,1\nzz,1\n", content_type="text/csv")
    assert csv.status_code == 200, csv.content
    labels = [{"id": "l-1", "y_true": 0}, {"id": "l-2", "y_true": "maybe"}, {"id": "", "y_true": 1}]
    as_json = post_json(key_client, {"labels": [*labels, {"id": "zz", "y_true": 1}]}, url=LABELS)
    csv_body, json_body = csv.json(), as_json.json()
    assert (csv_body["updated"], csv_body["unknown"], csv_body["rejected"]) == (1, 1, 2)
    assert csv_body["errors"] == json_body["errors"]
    assert [(e["row"], e["field"]) for e in csv_body["errors"]] == [(2, "y_true"), (3, "id"), (4, "id")]
    assert Prediction.objects.get(y_pred=1, attributes__sex="Female").y_true == 0


def test_labels_csv_accepts_true_and_false(key_client: APIClient) -> None:
    _labelled_batch(key_client)
    response = key_client.post(LABELS, data="y_true,id\ntrue,l-1\n 0 ,l-2\n", content_type="text/csv")
    assert response.status_code == 200, response.content
    assert response.json()["updated"] == 2
    assert sorted(Prediction.objects.values_list("y_true", flat=True)) == [0, 1]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("id,label\nl-1,1\n", "missing_column"),
        ("prediction,y_true\nl-1,1\n", "missing_column"),
        ("id,y_true,comment\nl-1,1,x\n", "unexpected_column"),
        ("id,y_true\n", "empty_batch"),
        ('id,y_true\n"unterminated,1', "parse_error"),
        ("", "empty_batch"),
    ],
)
def test_labels_csv_with_wrong_columns_is_a_400(key_client: APIClient, body: str, code: str) -> None:
    _labelled_batch(key_client)
    response = key_client.post(LABELS, data=body, content_type="text/csv")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code
    assert not Prediction.objects.filter(y_true__isnull=False).exists()
