"""Ingestion over HTTP: JSON and CSV batches, labels, idempotency, scoping, and every kind of bad input."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from accounts.services import model_client_key_create
from monitoring.models import Prediction, PredictionRollup
from monitoring.tests.factories import CREDIT_POLICY, CUSTOMER_ID, INCOME, make_version, prediction
from registry.services import policy_create

pytestmark = pytest.mark.django_db
URL = "/api/v1/models/credit_model/versions/1/predictions"
LABELS = "/api/v1/models/credit_model/versions/1/labels"


@pytest.fixture
def version() -> Any:
    return make_version()


@pytest.fixture
def key_client(version: Any) -> APIClient:
    _, raw = model_client_key_create(model=version.model, name="scorer", created_by=None)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


def post_json(client: APIClient, body: Any, url: str = URL, **extra: Any) -> Any:
    return client.post(url, data=json.dumps(body), content_type="application/json", **extra)


def test_a_model_client_ingests_json_and_gets_counts(key_client: APIClient) -> None:
    response = post_json(key_client, {"predictions": [prediction("a"), prediction("b", sex="Female", y_true=0)]})
    assert response.status_code == 201
    assert {k: response.json()[k] for k in ("accepted", "duplicates", "rejected")} == {
        "accepted": 2,
        "duplicates": 0,
        "rejected": 0,
    }
    assert Prediction.objects.count() == 2


def test_csv_ingestion_with_feature_columns(key_client: APIClient, version: Any) -> None:
    policy_create(model=version.model, **{**CREDIT_POLICY, "features": [INCOME, CUSTOMER_ID]})
    csv = (
        "id,timestamp,race,sex,y_pred,y_true,score,income,customer_id\n"
        "c-1,2026-03-02T09:00:00Z,Black,Female,1,1,0.8,52000,C-1\n"
        "c-2,2026-03-02T09:30:00+01:00,White,Male,0,,0.3,61000,C-2\n"
    )
    response = key_client.post(URL, data=csv, content_type="text/csv")
    assert response.status_code == 201, response.content
    assert response.json()["accepted"] == 2
    stored = Prediction.objects.order_by("occurred_at")
    assert [p.y_true for p in stored] == [None, 1]  # 09:30+01:00 is 08:30Z, before 09:00Z
    assert stored[0].features["income"] == 61000
    assert stored[0].features["customer_id"] != "C-2"


def test_a_monitor_may_ingest_and_an_auditor_may_not(client_as: Callable[[str], APIClient], version: Any) -> None:
    body = {"predictions": [prediction("m-1")]}
    assert post_json(client_as("monitor"), body).status_code == 201
    assert post_json(client_as("auditor"), body).status_code == 403


def test_another_models_key_is_refused(client_as: Callable[[str], APIClient], version: Any) -> None:
    # client_as("api_key") holds a key for loan_model, not credit_model
    response = post_json(client_as("api_key"), {"predictions": [prediction("x")]})
    assert response.status_code == 403
    assert response.json()["code"] == "wrong_model"
    assert not Prediction.objects.exists()


@pytest.mark.parametrize(
    ("content_type", "body", "status", "code"),
    [
        ("application/xml", "<predictions/>", 415, "unsupported_media_type"),
        ("application/json", "{not json", 400, "parse_error"),
        ("application/json", '{"rows": []}', 400, "invalid_batch"),
        ("application/json", '{"predictions": []}', 400, "empty_batch"),
        ("application/json", '{"predictions": {"id": 1}}', 400, "invalid_batch"),
        ("text/csv", 'id,timestamp\n"unterminated,2026', 400, "parse_error"),
        ("text/csv", "id,timestamp,race,y_pred\nx,2026-03-02T09:00:00Z,White,1\n", 400, "missing_column"),
    ],
)
def test_malformed_batches_are_4xx_and_store_nothing(
    key_client: APIClient, content_type: str, body: str, status: int, code: str
) -> None:
    response = key_client.post(URL, data=body, content_type=content_type)
    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    assert not Prediction.objects.exists()


def test_missing_csv_column_is_named(key_client: APIClient) -> None:
    response = key_client.post(URL, data="id,timestamp,race,y_pred\n", content_type="text/csv")
    assert response.json()["details"]["columns"] == ["sex"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"y_pred": 3}, "y_pred"),
        ({"y_true": 2}, "y_true"),
        ({"score": "high"}, "score"),
        ({"score": 1.5}, "score"),
        ({"timestamp": "2026-03-02T09:15:00"}, "timestamp"),
        ({"timestamp": "2999-01-01T00:00:00Z"}, "timestamp"),
        ({"timestamp": "yesterday"}, "timestamp"),
        ({"attributes": {"race": "White", "sex": "Male", "age": "40"}}, "attributes"),
        ({"id": ""}, "id"),
    ],
)
def test_bad_rows_are_rejected_with_a_reason_and_atomic_batches_store_nothing(
    key_client: APIClient, change: dict, field: str
) -> None:
    bad = {**prediction("bad"), **change}
    partial = post_json(key_client, {"predictions": [prediction("good"), bad]})
    assert partial.status_code == 201
    assert partial.json()["rejected"] == 1
    assert partial.json()["errors"][0]["row"] == 2
    assert partial.json()["errors"][0]["field"] == field
    atomic = post_json(key_client, {"predictions": [prediction("good-2"), bad]}, url=URL + "?atomic=true")
    assert atomic.status_code == 422
    assert atomic.json()["code"] == "batch_rejected"
    assert Prediction.objects.count() == 1  # only "good" from the first, partial batch


def test_nan_score_in_json_is_a_400_naming_the_field(key_client: APIClient) -> None:
    # NaN is not JSON (and PostgreSQL's jsonb refuses it): the whole body is refused, naming where it is.
    body = (
        '{"predictions": [{"id": "n", "timestamp": "2026-03-02T09:00:00Z", '
        '"attributes": {"race": "White", "sex": "Male"}, "y_pred": 1, "score": NaN}]}'
    )
    response = key_client.post(URL, data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_value"
    assert list(response.json()["details"]) == ["predictions[0].score"]
    assert not Prediction.objects.exists()


def test_unknown_model_or_version_is_a_404(key_client: APIClient) -> None:
    assert (
        post_json(
            key_client, {"predictions": [prediction("a")]}, url="/api/v1/models/credit_model/versions/9/predictions"
        ).status_code
        == 404
    )
    assert (
        post_json(
            key_client, {"predictions": [prediction("a")]}, url="/api/v1/models/nope/versions/1/predictions"
        ).status_code
        == 404
    )


@override_settings(INGEST_MAX_ROWS=3)
def test_too_many_rows_is_a_413(key_client: APIClient) -> None:
    response = post_json(key_client, {"predictions": [prediction(str(i)) for i in range(4)]})
    assert response.status_code == 413
    assert response.json()["code"] == "batch_too_large"


@override_settings(INGEST_MAX_BODY_BYTES=500)
def test_too_large_a_body_is_a_413(key_client: APIClient) -> None:
    response = post_json(key_client, {"predictions": [prediction(str(i)) for i in range(10)]})
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"


def test_an_idempotency_key_replays_the_first_response(key_client: APIClient) -> None:
    body = {"predictions": [prediction("i-1"), prediction("i-2")]}
    first = post_json(key_client, body, HTTP_IDEMPOTENCY_KEY="batch-0001")
    second = post_json(key_client, body, HTTP_IDEMPOTENCY_KEY="batch-0001")
    assert first.json() == second.json()
    assert second["Idempotent-Replayed"] == "true"
    assert Prediction.objects.count() == 2
    other = post_json(key_client, {"predictions": [prediction("i-3")]}, HTTP_IDEMPOTENCY_KEY="batch-0001")
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert Prediction.objects.count() == 2


def test_labels_join_by_id_and_report_unknown_ones(key_client: APIClient) -> None:
    post_json(key_client, {"predictions": [prediction("l-1", sex="Female", y_pred=1)]})
    response = post_json(
        key_client,
        {"labels": [{"id": "l-1", "y_true": 0}, {"id": "zz", "y_true": 1}, {"id": "l-1", "y_true": 7}]},
        url=LABELS,
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["updated"], body["unknown"], body["rejected"]) == (1, 1, 1)
    assert [(e["row"], e["field"]) for e in body["errors"]] == [(2, "id"), (3, "y_true")]
    female = PredictionRollup.objects.get(attribute="sex", group="Female")
    assert (female.fp, female.unlabeled_pos) == (1, 0)


def test_stored_predictions_are_listed_with_cursor_pagination(
    client_as: Callable[[str], APIClient], key_client: APIClient
) -> None:
    post_json(key_client, {"predictions": [prediction(f"p-{i}") for i in range(5)]})
    page = client_as("auditor").get(URL, {"limit": 2}).json()
    assert len(page["results"]) == 2
    assert page["next"]
    assert "id" not in page["results"][0]
    assert len(page["results"][0]["prediction_key"]) == 64


def wide_csv(columns: int) -> str:
    header = "id,timestamp,race,sex,y_pred," + ",".join(f"c{i}" for i in range(columns))
    return header + "\nw-1,2026-03-02T09:00:00Z,White,Male,1" + ",0" * columns + "\n"


def test_a_csv_with_200000_columns_is_refused_before_it_is_parsed(key_client: APIClient) -> None:
    body = wide_csv(200_000)
    assert len(body) > 1_500_000
    # The first request of a process pays for lazy set-up (about 1 s here); time the column check alone.
    assert key_client.post(URL, data="id\n", content_type="text/csv").status_code == 400
    started = time.perf_counter()
    response = key_client.post(URL, data=body, content_type="text/csv")
    elapsed = time.perf_counter() - started
    assert response.status_code == 413, response.content
    assert response.json()["code"] == "too_many_columns"
    assert "200005 columns" in response.json()["message"]
    assert elapsed < 1.0, f"took {elapsed:.2f} s"  # measured: 0.08-0.1 s on a shared 2-core machine
    assert not Prediction.objects.exists()


def test_the_column_limit_follows_the_policy_and_the_setting(key_client: APIClient) -> None:
    # 5 fixed + 2 attributes + 0 declared features + 64 extra: 71 columns pass, 72 do not.
    assert key_client.post(URL, data=wide_csv(71 - 5), content_type="text/csv").status_code == 201
    assert key_client.post(URL, data=wide_csv(72 - 5), content_type="text/csv").status_code == 413
    with override_settings(INGEST_MAX_COLUMNS=6):
        response = key_client.post(URL, data=wide_csv(2), content_type="text/csv")
    assert response.status_code == 413
    assert "at most 6" in response.json()["message"]


def test_a_rows_features_may_not_have_more_keys_than_the_column_limit(key_client: APIClient) -> None:
    row = prediction("k", features={f"f{i}": i for i in range(72)})
    response = post_json(key_client, {"predictions": [prediction("ok"), row]})
    assert response.status_code == 413
    assert response.json()["code"] == "too_many_features"
    assert list(response.json()["details"]) == ["predictions[1].features"]


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ("id,timestamp,race,sex,y_pred,y_pred\nd-1,2026-03-02T09:00:00Z,White,Male,1,0\n", "y_pred"),
        ("id,timestamp,race,sex,y_pred\nd-1,2026-03-02T09:00:00Z,White,Male,1,extra\n", "line 2"),
        (
            "id,timestamp,race,sex,y_pred\nd-1,2026-03-02T09:00:00Z,White,Male,1\nd-2,2026-03-02T09:00:00Z,White,Male,1,x\n",
            "line 3",
        ),
        ("id,timestamp,race,sex,y_pred\nd-1,2026-03-02T09:00:00Z,Wh\0ite,Male,1\n", "column `race`"),
    ],
    ids=["duplicated column", "first row too long", "later row too long", "NUL"],
)
def test_csv_shapes_that_would_be_stored_wrongly_are_400s(key_client: APIClient, body: str, named: str) -> None:
    response = key_client.post(URL, data=body, content_type="text/csv")
    assert response.status_code == 400, response.content
    assert named in response.json()["message"]
    assert not Prediction.objects.exists()


@pytest.mark.parametrize("stamp", ["0001-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "1970-01-01T00:30:00+01:00"])
def test_timestamps_before_1970_are_row_errors(key_client: APIClient, stamp: str) -> None:
    response = post_json(key_client, {"predictions": [prediction("old", timestamp=stamp)]})
    assert response.json()["rejected"] == 1
    assert response.json()["errors"][0]["field"] == "timestamp"
    assert (
        post_json(key_client, {"predictions": [prediction("new", timestamp="1970-01-01T00:00:00Z")]}).json()["accepted"]
        == 1
    )


def test_a_client_cannot_change_the_policys_protected_attributes(key_client: APIClient) -> None:
    # Rows without the policy's attributes, rolled up under one it does not have, would escape every check.
    row = {**prediction("r-1"), "attributes": {"region": "north"}}
    response = post_json(key_client, {"predictions": [row]}, url=URL + "?protected_attributes=region")
    assert response.status_code == 400
    assert response.json()["details"] == {"protected_attributes": ["must be the policy's: race, sex"]}
    assert not Prediction.objects.exists()
    assert not PredictionRollup.objects.exists()
    # Naming the policy's own attributes (in any order) is allowed; a missing one is still a row error.
    same = post_json(
        key_client, {"predictions": [prediction("r-2"), row]}, url=URL + "?protected_attributes=sex,race"
    ).json()
    assert (same["accepted"], same["rejected"]) == (1, 1)
    assert {error["field"] for error in same["errors"]} >= {"attributes.race", "attributes.sex"}


def test_a_gzip_body_is_decoded_and_its_limit_holds_once_decoded(key_client: APIClient) -> None:
    body = json.dumps({"predictions": [prediction(f"z-{i}") for i in range(20)]}).encode()
    response = key_client.post(
        URL, data=gzip.compress(body), content_type="application/json", HTTP_CONTENT_ENCODING="gzip"
    )
    assert response.status_code == 201, response.content
    assert response.json()["accepted"] == 20
    # A replay with the same key may come compressed or not: the key covers the decoded body.
    keyed = {"HTTP_IDEMPOTENCY_KEY": "gz-1"}
    first = key_client.post(
        URL, data=gzip.compress(body), content_type="application/json", HTTP_CONTENT_ENCODING="gzip", **keyed
    )
    again = key_client.post(URL, data=body, content_type="application/json", **keyed)
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    with override_settings(INGEST_MAX_BODY_BYTES=len(body) - 1):
        bomb = key_client.post(
            URL, data=gzip.compress(body), content_type="application/json", HTTP_CONTENT_ENCODING="gzip"
        )
    assert (bomb.status_code, bomb.json()["code"]) == (413, "request_too_large")
    assert Prediction.objects.count() == 20


@pytest.mark.parametrize(
    ("encoding", "body", "status"),
    [("gzip", b"not gzip", 400), ("gzip", gzip.compress(b'{"predictions": []}')[:-6], 400), ("br", b"x", 415)],
)
def test_a_body_that_is_not_the_encoding_named_is_a_4xx(
    key_client: APIClient, encoding: str, body: bytes, status: int
) -> None:
    response = key_client.post(URL, data=body, content_type="application/json", HTTP_CONTENT_ENCODING=encoding)
    assert response.status_code == status, response.content
    assert "code" in response.json()
    assert not Prediction.objects.exists()
