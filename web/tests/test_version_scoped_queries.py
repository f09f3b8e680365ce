"""Every query of the prediction store names one model version.

Predictions, hourly rollups and feature rollups are only ever read or written for a given model version: the
column a distributed PostgreSQL (Citus, docs/operations.md) would shard these tables on, so that each query goes
to one shard. This runs the paths that touch them (ingestion as JSON, CSV and Arrow, labels, a check, the pages,
documents and API reads, retention) and looks at every SQL statement they send.
"""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pyarrow as pa
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.services import model_client_key_create
from conftest import bearer
from monitoring.checks.services import run_check
from monitoring.checks.tests.builders import window_end
from monitoring.ingestion.services import delete_expired_predictions
from registry.models import ModelVersion
from web.tests.pages import client_for

pytestmark = pytest.mark.django_db
STORE_TABLE = re.compile(r'"?monitoring_(prediction|predictionrollup|featurerollup)"?(?=[\s".,)]|$)')
SCOPED = re.compile(r'"?model_version_id"?\s*(=|IN\b)', re.IGNORECASE)


def unscoped(sql: str) -> bool:
    """A statement on a store table whose filter (or, for an INSERT or COPY, whose columns) lacks the version."""
    if not STORE_TABLE.search(sql):
        return False
    head = re.sub(r"^\d+ times: ", "", sql.lstrip()).upper()  # Django's note on an executemany
    if head.startswith(("INSERT", "COPY")):
        return "model_version_id" not in sql
    return not SCOPED.search(sql)


def test_the_check_itself_knows_a_scoped_statement_from_an_unscoped_one() -> None:
    assert unscoped('SELECT COUNT(*) FROM "monitoring_prediction"')
    assert unscoped('DELETE FROM "monitoring_predictionrollup" WHERE "bucket_start" < %s')
    assert not unscoped('SELECT * FROM "monitoring_prediction" WHERE "monitoring_prediction"."model_version_id" = 3')
    assert not unscoped('UPDATE "monitoring_predictionrollup" SET tp = 1 WHERE "model_version_id" IN (1, 2)')
    assert not unscoped('INSERT INTO "monitoring_prediction" ("model_version_id", "prediction_key") VALUES (1, 2)')
    assert not unscoped('SELECT * FROM "monitoring_fairnesscheck"')


def arrow_batch(ids: list[str]) -> bytes:
    table = pa.table(
        {
            "id": ids,
            "timestamp": pa.array([timezone.now()] * len(ids), pa.timestamp("us", tz="UTC")),
            "gender": ["Female", "Male"] * (len(ids) // 2),
            "y_pred": pa.array([1, 0] * (len(ids) // 2), pa.int8()),
        }
    )
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def api_client(authorization: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=authorization)
    return client


def test_every_query_of_predictions_and_rollups_names_a_model_version(
    alerting: ModelVersion, monitor_user: Any, auditor_user: Any, settings: Any
) -> None:
    name, version = alerting.model.name, alerting.version
    base = f"/api/v1/models/{name}/versions/{version}"
    key = api_client(f"Api-Key {model_client_key_create(model=alerting.model, name='scorer', created_by=None)[1]}")
    reader = api_client(bearer(monitor_user))
    monitor, auditor = client_for(monitor_user), client_for(auditor_user)
    stamp = timezone.now().isoformat()
    row = {"timestamp": stamp, "attributes": {"gender": "Female"}, "y_pred": 1}
    with CaptureQueriesContext(connection) as captured:
        answers = [
            key.post(
                f"{base}/predictions",
                json.dumps({"predictions": [{"id": "q-1", **row}]}),
                content_type="application/json",
            ),
            key.post(
                f"{base}/predictions", f"id,timestamp,gender,y_pred\nq-2,{stamp},Male,0\n", content_type="text/csv"
            ),
            key.post(
                f"{base}/predictions", arrow_batch(["q-3", "q-4"]), content_type="application/vnd.apache.arrow.stream"
            ),
            key.post(
                f"{base}/labels", json.dumps({"labels": [{"id": "q-1", "y_true": 1}]}), content_type="application/json"
            ),
        ]
        run_check(model_version=alerting, window_end=window_end(5), trigger="manual", claim_token="scoped")
        for page in ("", "compare/", "predictions/"):
            answers.append(monitor.get(f"/dashboard/{name}/{page}"))
        for document in ("", "evidence.json", "ll144/", "reg-b/", "monitoring-plan/"):
            answers.append(auditor.get(f"/reports/{name}/{document}"))
        answers.append(reader.get(f"/api/fairness_trend?model={name}&version={version}"))
        answers.append(reader.get("/api/v1/checks/"))
        answers.append(reader.get(f"{base}/predictions"))
        settings.PREDICTION_RETENTION_DAYS = 1  # the fixture's rows are older: retention deletes them
        assert delete_expired_predictions(timezone.now())
    assert [
        (answer.request["PATH_INFO"], answer.content[:200]) for answer in answers if answer.status_code >= 400
    ] == []
    touched = [query["sql"] for query in captured.captured_queries if STORE_TABLE.search(query["sql"])]
    assert len(touched) > 20, "the paths above read and wrote the store: the capture missed them"
    offending = [sql for sql in touched if unscoped(sql)]
    assert offending == [], "\n".join(offending)
