"""Arrow IPC stream and Parquet bodies: the same rows, errors and rollups as the same batch sent as CSV."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from accounts.services import model_client_key_create
from monitoring.ingestion.columnar import ARROW_STREAM, PARQUET
from monitoring.ingestion.rollup_math import COUNT_FIELDS
from monitoring.models import Prediction, PredictionRollup
from monitoring.tests.factories import CREDIT_POLICY, CUSTOMER_ID, INCOME, make_version
from registry.services import policy_create

pytestmark = pytest.mark.django_db
BASE = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def url(version: str, what: str = "predictions") -> str:
    return f"/api/v1/models/credit_model/versions/{version}/{what}"


@pytest.fixture
def versions() -> Any:
    first = make_version(version="1")
    make_version(version="2")
    make_version(version="3")
    policy_create(model=first.model, **{**CREDIT_POLICY, "features": [INCOME, CUSTOMER_ID]})
    return first


@pytest.fixture
def key_client(versions: Any) -> APIClient:
    _, raw = model_client_key_create(model=versions.model, name="scorer", created_by=None)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


# Eight rows, five of them bad in a different field each, and one a duplicate of the first.
ROWS: list[dict[str, Any]] = [
    {"id": "a", "at": BASE, "race": "Black", "sex": "Female", "y_pred": 1, "y_true": 1, "score": 0.8, "income": 52000},
    {"id": "b", "at": BASE + timedelta(minutes=30), "race": "White", "sex": "Male", "y_pred": 0, "y_true": None},
    {"id": "c", "at": BASE, "race": "White", "sex": "Male", "y_pred": 3, "y_true": 0, "score": 0.2},
    {"id": "d", "at": BASE, "race": "White", "sex": "Female", "y_pred": 1, "y_true": 2},
    {"id": "e", "at": BASE, "race": "Black", "sex": "Male", "y_pred": 0, "score": 1.5},
    {"id": "f", "at": datetime(2999, 1, 1, tzinfo=UTC), "race": "White", "sex": "Male", "y_pred": 1},
    {"id": "", "at": BASE, "race": "White", "sex": "Male", "y_pred": 1},
    {"id": "a", "at": BASE + timedelta(hours=2), "race": "White", "sex": "Male", "y_pred": 0, "y_true": 0},
]
COLUMNS = ("id", "timestamp", "race", "sex", "y_pred", "y_true", "score", "income", "customer_id")


def as_csv(rows: list[dict[str, Any]]) -> str:
    def cell(row: dict[str, Any], name: str) -> str:
        if name == "timestamp":
            return row["at"].isoformat().replace("+00:00", "Z")
        if name == "customer_id":
            return f"C-{row['id']}"
        value = row.get(name)
        return "" if value is None else str(value)

    return "\n".join([",".join(COLUMNS), *(",".join(cell(row, name) for name in COLUMNS) for row in rows)]) + "\n"


def as_table(rows: list[dict[str, Any]]) -> pa.Table:
    """The rows typed as a model service's data frame would hold them (pandas categoricals for attributes)."""
    return pa.table(
        {
            "id": pa.array([row["id"] for row in rows], pa.string()),
            "timestamp": pa.array([row["at"] for row in rows], pa.timestamp("us", tz="UTC")),
            "race": pa.array([row["race"] for row in rows]).dictionary_encode(),
            "sex": pa.array([row["sex"] for row in rows], pa.large_string()),
            "y_pred": pa.array([row["y_pred"] for row in rows], pa.int8()),
            "y_true": pa.array([row.get("y_true") for row in rows], pa.int64()),
            "score": pa.array([row.get("score") for row in rows], pa.float64()),
            "income": pa.array([row.get("income") for row in rows], pa.int64()),
            "customer_id": pa.array([f"C-{row['id']}" for row in rows]),
        }
    )


def arrow_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=3)  # several record batches
    return sink.getvalue()


def parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=3, compression="zstd")
    return sink.getvalue()


BODIES = {ARROW_STREAM: arrow_bytes, PARQUET: parquet_bytes}


def stored(version: str) -> list[tuple]:
    return sorted(
        (p.prediction_key, p.occurred_at, p.attributes, p.y_pred, p.y_true, p.score, p.features)
        for p in Prediction.objects.filter(model_version__version=version)
    )


def rollups(version: str) -> list[tuple]:
    return sorted(
        (r.bucket_start, r.attribute, r.group, *(getattr(r, name) for name in COUNT_FIELDS), r.score_histogram)
        for r in PredictionRollup.objects.filter(model_version__version=version)
    )


@pytest.mark.parametrize("media_type", list(BODIES))
def test_a_typed_columnar_batch_stores_what_the_same_csv_stores(key_client: APIClient, media_type: str) -> None:
    as_text = key_client.post(url("1"), data=as_csv(ROWS), content_type="text/csv")
    columnar = key_client.post(url("2"), data=BODIES[media_type](as_table(ROWS)), content_type=media_type)
    assert as_text.status_code == columnar.status_code == 201, columnar.content
    text_body, columnar_body = as_text.json(), columnar.json()
    assert (columnar_body["accepted"], columnar_body["rejected"], columnar_body["duplicates"]) == (2, 5, 1)
    for field in ("accepted", "rejected", "duplicates", "errors", "dropped_features"):
        assert columnar_body[field] == text_body[field], field
    assert [(e["row"], e["field"]) for e in columnar_body["errors"]] == [
        (3, "y_pred"),
        (4, "y_true"),
        (5, "score"),
        (6, "timestamp"),
        (7, "id"),
    ]
    assert stored("2") == stored("1")
    assert rollups("2") == rollups("1")
    first = Prediction.objects.get(model_version__version="2", y_true=1)
    assert first.features["income"] == 52000
    assert first.features["customer_id"] != "C-a"  # an identifier feature, stored keyed-hashed


@pytest.mark.parametrize("media_type", list(BODIES))
def test_text_columns_in_a_columnar_body_are_read_as_csv_text_is(key_client: APIClient, media_type: str) -> None:
    rows = ROWS[:2]
    response = key_client.post(url("2"), data=BODIES[media_type](_text_table(rows)), content_type=media_type)
    assert response.status_code == 201, response.content
    key_client.post(url("1"), data=as_csv(rows), content_type="text/csv")
    assert stored("2") == stored("1")


def _text_table(rows: list[dict[str, Any]]) -> pa.Table:
    lines = [line.split(",") for line in as_csv(rows).splitlines()]
    return pa.table({name: pa.array([line[index] for line in lines[1:]]) for index, name in enumerate(lines[0])})


@pytest.mark.parametrize("media_type", list(BODIES))
def test_labels_arrive_as_columns(key_client: APIClient, media_type: str) -> None:
    assert key_client.post(url("2"), data=as_csv(ROWS[:2]), content_type="text/csv").status_code == 201
    labels = pa.table({"id": ["b", "zz", "a"], "y_true": pa.array([True, False, None])})
    response = key_client.post(url("2", "labels"), data=BODIES[media_type](labels), content_type=media_type)
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["updated"], body["unknown"], body["rejected"]) == (1, 1, 1)
    assert [(e["row"], e["field"]) for e in body["errors"]] == [(2, "id"), (3, "y_true")]
    assert Prediction.objects.get(model_version__version="2", y_pred=0).y_true == 1


def _post(client: APIClient, table: pa.Table, media_type: str = ARROW_STREAM, version: str = "2") -> Any:
    return client.post(url(version), data=BODIES[media_type](table), content_type=media_type)


@pytest.mark.parametrize(
    ("column", "values", "named"),
    [
        ("timestamp", pa.array([BASE.replace(tzinfo=None)], pa.timestamp("us")), "without a time zone"),
        ("timestamp", pa.array([1.5]), "a timestamp with a time zone"),
        ("id", pa.array([1.5]), "text or integers"),
        ("y_pred", pa.array([[1]]), "0/1 integers"),
        ("score", pa.array([True]), "numbers in [0, 1]"),
        ("race", pa.array([b"White"]), "text or integers"),
    ],
)
@pytest.mark.parametrize("media_type", list(BODIES))
def test_a_column_of_the_wrong_type_is_a_400_naming_it(
    key_client: APIClient, media_type: str, column: str, values: pa.Array, named: str
) -> None:
    table = as_table(ROWS[:1])
    table = table.set_column(table.column_names.index(column), column, values)
    response = _post(key_client, table, media_type)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid_column_type"
    assert f"`{column}`" in response.json()["message"]
    assert named in response.json()["message"]
    assert not Prediction.objects.exists()


@pytest.mark.parametrize(
    "values", [pa.array([[1, 2]]), pa.array([{"a": 1}]), pa.array([b"\x00\xff"])], ids=["list", "struct", "binary"]
)
def test_a_feature_value_no_json_scalar_holds_is_a_row_error(key_client: APIClient, values: Any) -> None:
    response = _post(key_client, as_table(ROWS[:1]).set_column(7, "income", values))
    assert response.status_code == 200, response.content
    assert response.json()["errors"] == [{"row": 1, "field": "features.income", "reason": "a finite number"}]
    assert (
        _post(key_client, as_table(ROWS[:1]).set_column(7, "income", pa.array([1.5], pa.float16()))).json()["accepted"]
        == 1
    )


def test_integer_ids_and_attributes_are_their_text(key_client: APIClient) -> None:
    table = pa.table(
        {
            "id": pa.array([17, 18], pa.int64()),
            "timestamp": pa.array([BASE, BASE], pa.timestamp("ms", tz="Europe/Paris")),
            "race": pa.array([1, 2], pa.int32()),
            "sex": ["Male", "Female"],
            "y_pred": pa.array([True, False]),
        }
    )
    assert _post(key_client, table, version="3").status_code == 201
    csv = "id,timestamp,race,sex,y_pred\n17,2026-03-02T09:00:00Z,1,Male,1\n18,2026-03-02T09:00:00Z,2,Female,0\n"
    assert key_client.post(url("2"), data=csv, content_type="text/csv").status_code == 201
    assert stored("3") == stored("2")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"not arrow at all", "parse_error"),
        (b"PAR1" + b"\x00" * 40 + b"PAR1", "parse_error"),
        (b"", "empty_batch"),
    ],
)
@pytest.mark.parametrize("media_type", list(BODIES))
def test_a_body_that_is_not_the_format_named_is_a_400(
    key_client: APIClient, media_type: str, body: bytes, code: str
) -> None:
    response = key_client.post(url("2"), data=body, content_type=media_type)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code
    assert not Prediction.objects.exists()


def test_a_truncated_arrow_stream_is_a_400(key_client: APIClient) -> None:
    body = arrow_bytes(as_table(ROWS[:2]))
    response = key_client.post(url("2"), data=body[: len(body) // 2], content_type=ARROW_STREAM)
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


@pytest.mark.parametrize("media_type", list(BODIES))
def test_missing_and_repeated_columns_are_named(key_client: APIClient, media_type: str) -> None:
    response = _post(key_client, as_table(ROWS[:1]).drop_columns(["sex"]), media_type)
    assert response.status_code == 400
    assert (response.json()["code"], response.json()["details"]["columns"]) == ("missing_column", ["sex"])
    table = as_table(ROWS[:1])
    repeated = pa.Table.from_arrays([*table.columns, table.column("race")], names=[*table.column_names, "race"])
    response = _post(key_client, repeated, media_type)
    assert (response.status_code, response.json()["code"]) == (400, "duplicate_column")


@override_settings(INGEST_MAX_ROWS=3)
@pytest.mark.parametrize("media_type", list(BODIES))
def test_too_many_rows_is_a_413_read_from_the_metadata(key_client: APIClient, media_type: str) -> None:
    response = _post(key_client, as_table(ROWS[:4]), media_type)
    assert (response.status_code, response.json()["code"]) == (413, "batch_too_large")


@pytest.mark.parametrize("media_type", list(BODIES))
def test_a_body_that_decodes_far_beyond_the_limit_is_a_413(key_client: APIClient, media_type: str) -> None:
    # 200 KB of one repeated character compresses to a few hundred bytes.
    table = as_table(ROWS[:1]).set_column(2, "race", pa.array(["x" * 200_000]))
    compressed = pa.ipc.IpcWriteOptions(compression="zstd")
    if media_type == ARROW_STREAM:
        sink = io.BytesIO()
        with pa.ipc.new_stream(sink, table.schema, options=compressed) as writer:
            writer.write_table(table)
        body = sink.getvalue()
    else:
        body = parquet_bytes(table)
    assert len(body) < 10_000
    with override_settings(INGEST_MAX_BODY_BYTES=20_000):
        response = key_client.post(url("2"), data=body, content_type=media_type)
    assert (response.status_code, response.json()["code"]) == (413, "batch_too_large")
    assert "decodes to" in response.json()["message"]


def test_an_idempotency_key_covers_the_columnar_bytes(key_client: APIClient) -> None:
    body = arrow_bytes(as_table(ROWS[:2]))
    first = key_client.post(url("2"), data=body, content_type=ARROW_STREAM, HTTP_IDEMPOTENCY_KEY="cols-1")
    again = key_client.post(url("2"), data=body, content_type=ARROW_STREAM, HTTP_IDEMPOTENCY_KEY="cols-1")
    assert first.json() == again.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Prediction.objects.filter(model_version__version="2").count() == 2
