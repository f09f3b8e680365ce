"""A corpus of hostile requests against every ingestion, login and demo endpoint, for each principal that can
reach it. No request may answer 5xx; the cases that name a field must answer 4xx naming it.

The corpus is what an attacker (or a broken client) sends: JSON nested thousands of levels deep, NaN and
Infinity, NUL characters and lone surrogates in values and keys, too many columns or keys, duplicated CSV
columns, ragged CSV rows and timestamps from year 1. Run it on SQLite and on PostgreSQL: NUL in text and
``\\u0000`` in jsonb fail only there.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from accounts.services import model_client_key_create
from conftest import bearer
from monitoring.models import Prediction
from monitoring.tests.factories import CREDIT_POLICY, CUSTOMER_ID, INCOME, prediction
from registry.services import register_model

pytestmark = pytest.mark.django_db

PREDICTIONS = "/api/v1/models/credit_model/versions/1/predictions"
LABELS = "/api/v1/models/credit_model/versions/1/labels"
SUBMIT = "/api/submit_predictions"
INGESTERS = ("api_key", "admin", "monitor")
REGION = {"name": "region", "type": "categorical", "identifier": False}
CSV_HEADER = "id,timestamp,race,sex,y_pred,income,region"
CSV_ROW = "c-1,2026-03-02T09:00:00Z,White,Male,1,52000,north"


def nested(depth: int, leaf: str = "1") -> str:
    return "[" * depth + leaf + "]" * depth


def predictions_body(**change: Any) -> str:
    return json.dumps({"predictions": [{**prediction("h-1"), **change}]})


def raw_predictions(row: str) -> str:
    """A one-row predictions body whose row is given as JSON text (for what json.dumps cannot write)."""
    return '{"predictions": [' + row + "]}"


def submit_body(**change: Any) -> str:
    return json.dumps({"model_name": "credit_model", "version": "1", "predictions": [prediction("s-1")], **change})


def csv(*lines: str) -> str:
    return "\n".join(lines) + "\n"


WIDE_CSV = CSV_HEADER + "," + ",".join(f"c{i}" for i in range(200_000)) + "\n" + CSV_ROW + ",0" * 200_000 + "\n"
SURROGATE = '"\\ud800"'  # a lone surrogate, as JSON escapes it
NUL = '"a\\u0000b"'
ROW_WITH = '{{"id": "h", "timestamp": "2026-03-02T09:00:00Z", "attributes": {attributes}, "y_pred": 1{extra}}}'


def row_with(attributes: str = '{"race": "White", "sex": "Male"}', extra: str = "") -> str:
    return ROW_WITH.format(attributes=attributes, extra=extra)


@dataclass(frozen=True)
class Case:
    name: str
    path: str
    body: str | bytes
    principals: tuple[str, ...] = INGESTERS
    content_type: str = "application/json"
    method: str = "post"
    # What a 4xx answer must mention (a field name or a column count); empty: any 4xx (or a 2xx with row
    # errors, see ``row_error``).
    names: str = ""
    # The request may be accepted (2xx) if the offending row is reported as a row error naming ``names``.
    row_error: bool = False
    headers: dict[str, str] | None = None


CASES = [
    # --- JSON structure --------------------------------------------------------------------------------
    Case("predictions nested 5,000 deep", PREDICTIONS, '{"predictions": ' + nested(5000) + "}", names="nested"),
    Case("predictions nested 100,000 deep", PREDICTIONS, '{"predictions": ' + nested(100_000) + "}", names="nested"),
    Case(
        "features nested 900 deep",
        PREDICTIONS,
        raw_predictions(row_with(extra=', "features": ' + nested(900))),
        names="nested",
    ),
    Case("labels nested 5,000 deep", LABELS, '{"labels": ' + nested(5000) + "}", names="nested"),
    Case("submit nested 5,000 deep", SUBMIT, '{"model_name": ' + nested(5000) + "}", names="nested"),
    Case(
        "submit predictions nested 900 deep",
        SUBMIT,
        json.dumps({"model_name": "credit_model", "version": "1"})[:-1] + ', "predictions": [' + nested(900) + "]}",
        names="nested",
    ),
    Case("login nested 5,000 deep", "/api/login", '{"username": ' + nested(5000) + "}", ("anonymous",), names="nested"),
    Case(
        "refresh nested 5,000 deep",
        "/api/refresh",
        '{"refresh_token": ' + nested(5000) + "}",
        ("anonymous",),
        names="nested",
    ),
    Case("top-level list", PREDICTIONS, "[]", names="predictions"),
    Case("top-level string", SUBMIT, '"x"'),
    Case("login top-level list", "/api/login", "[1, 2]", ("anonymous",)),
    Case(
        "huge integer feature",
        PREDICTIONS,
        raw_predictions(row_with(extra=', "features": {"income": 1' + "0" * 4000 + "}")),
        names="income",
        row_error=True,
    ),
    Case(
        "huge integer y_pred",
        PREDICTIONS,
        raw_predictions(
            '{"id": "h", "timestamp": "2026-03-02T09:00:00Z", "attributes": {"race": "White", '
            '"sex": "Male"}, "y_pred": 1' + "0" * 4000 + "}"
        ),
        names="y_pred",
        row_error=True,
    ),
    Case(
        "100,000 feature keys",
        PREDICTIONS,
        json.dumps({"predictions": [{**prediction("h"), "features": {f"k{i}": i for i in range(100_000)}}]}),
        names="features",
    ),
    # --- NaN and Infinity ----------------------------------------------------------------------------------
    Case("NaN feature", PREDICTIONS, raw_predictions(row_with(extra=', "features": {"income": NaN}')), names="income"),
    Case(
        "Infinity feature",
        PREDICTIONS,
        raw_predictions(row_with(extra=', "features": {"region": Infinity}')),
        names="region",
    ),
    Case(
        "-Infinity undeclared feature",
        PREDICTIONS,
        raw_predictions(row_with(extra=', "features": {"x": -Infinity}')),
        names="features.x",
    ),
    Case("NaN score", PREDICTIONS, raw_predictions(row_with(extra=', "score": NaN')), names="score"),
    Case("NaN attribute", PREDICTIONS, raw_predictions(row_with('{"race": NaN, "sex": "Male"}')), names="race"),
    Case("NaN label", LABELS, '{"labels": [{"id": "x", "y_true": NaN}]}', names="y_true"),
    Case("NaN in submit", SUBMIT, submit_body()[:-1] + ', "favorable_label": NaN}', names="favorable_label"),
    Case("NaN password", "/api/login", '{"username": "u", "password": NaN}', ("anonymous",), names="password"),
    # --- NUL characters --------------------------------------------------------------------------------
    Case(
        "NUL attribute value",
        PREDICTIONS,
        raw_predictions(row_with('{"race": ' + NUL + ', "sex": "Male"}')),
        names="race",
    ),
    Case(
        "NUL attribute key",
        PREDICTIONS,
        raw_predictions(row_with('{"race": "White", "sex": "Male", "a\\u0000": "x"}')),
        names="attributes",
    ),
    Case(
        "NUL feature value",
        PREDICTIONS,
        raw_predictions(row_with(extra=', "features": {"region": ' + NUL + "}")),
        names="region",
    ),
    Case(
        "NUL identifier feature",
        PREDICTIONS,
        raw_predictions(row_with(extra=', "features": {"customer_id": ' + NUL + "}")),
        names="customer_id",
    ),
    Case(
        "NUL feature key",
        PREDICTIONS,
        raw_predictions(row_with(extra=', "features": {' + NUL + ': "x"}')),
        names="features",
    ),
    Case("NUL id", PREDICTIONS, raw_predictions(row_with().replace('"id": "h"', '"id": ' + NUL)), names="id"),
    Case(
        "NUL timestamp",
        PREDICTIONS,
        raw_predictions(row_with().replace('"2026-03-02T09:00:00Z"', '"2026-03-02T09:00:00Z\\u0000"')),
        names="timestamp",
    ),
    Case("NUL label id", LABELS, '{"labels": [{"id": ' + NUL + ', "y_true": 1}]}', names="id"),
    Case("NUL in submit model name", SUBMIT, submit_body(model_name="credit\u0000model"), names="model_name"),
    Case("NUL in submit privileged", SUBMIT, submit_body(privileged={"race": "Wh\u0000ite"}), names="privileged"),
    Case("NUL username", "/api/login", '{"username": ' + NUL + ', "password": "x"}', ("anonymous",), names="username"),
    Case(
        "NUL form username",
        "/api/login",
        "username=a%00b&password=x",
        ("anonymous",),
        content_type="application/x-www-form-urlencoded",
        names="username",
    ),
    Case("NUL refresh token", "/api/refresh", '{"refresh_token": ' + NUL + "}", ("anonymous",), names="refresh_token"),
    Case(
        "NUL CSV attribute",
        PREDICTIONS,
        csv(CSV_HEADER, "c-1,2026-03-02T09:00:00Z,Wh\0ite,Male,1,52000,north"),
        content_type="text/csv",
        names="race",
    ),
    Case(
        "NUL CSV feature",
        PREDICTIONS,
        csv(CSV_HEADER, "c-1,2026-03-02T09:00:00Z,White,Male,1,52000,no\0rth"),
        content_type="text/csv",
        names="region",
    ),
    Case(
        "NUL CSV header",
        PREDICTIONS,
        csv(CSV_HEADER + ",bad\0name", CSV_ROW + ",1"),
        content_type="text/csv",
        names="NUL",
    ),
    Case(
        "NUL CSV id",
        PREDICTIONS,
        csv(CSV_HEADER, "c\0-1,2026-03-02T09:00:00Z,White,Male,1,52000,north"),
        content_type="text/csv",
        names="id",
    ),
    Case("NUL labels CSV", LABELS, csv("id,y_true", "x\0y,1"), content_type="text/csv", names="id"),
    Case("NUL in the path", "/api/v1/models/credit%00model/versions/1/predictions", predictions_body()),
    Case(
        "NUL in the query",
        PREDICTIONS + "?protected_attributes=race%00",
        predictions_body(),
        names="protected_attributes",
    ),
    Case(
        "NUL in Idempotency-Key",
        PREDICTIONS,
        predictions_body(),
        headers={"HTTP_IDEMPOTENCY_KEY": "k\0y"},
        names="Idempotency-Key",
    ),
    # --- Lone surrogates -------------------------------------------------------------------------------
    Case(
        "surrogate attribute value",
        PREDICTIONS,
        raw_predictions(row_with('{"race": ' + SURROGATE + ', "sex": "Male"}')),
        names="race",
    ),
    Case(
        "surrogate attribute key",
        PREDICTIONS,
        raw_predictions(row_with('{"race": "White", "sex": "Male", ' + SURROGATE + ': "x"}')),
        names="attributes",
    ),
    Case(
        "surrogate feature value",
        PREDICTIONS,
        raw_predictions(row_with(extra=', "features": {"region": ' + SURROGATE + "}")),
        names="region",
    ),
    Case(
        "surrogate feature key",
        PREDICTIONS,
        raw_predictions(row_with(extra=', "features": {' + SURROGATE + ': "x"}')),
        names="features",
    ),
    Case(
        "surrogate id", PREDICTIONS, raw_predictions(row_with().replace('"id": "h"', '"id": ' + SURROGATE)), names="id"
    ),
    Case("surrogate label id", LABELS, '{"labels": [{"id": ' + SURROGATE + ', "y_true": 1}]}', names="id"),
    Case("surrogate submit version", SUBMIT, submit_body()[:-1] + ', "version": ' + SURROGATE + "}", names="version"),
    Case(
        "surrogate username",
        "/api/login",
        '{"username": ' + SURROGATE + ', "password": "x"}',
        ("anonymous",),
        names="username",
    ),
    Case(
        "surrogate bytes in CSV",
        PREDICTIONS,
        (CSV_HEADER + "\nc-1,2026-03-02T09:00:00Z,").encode() + b"\xed\xa0\x80" + b",Male,1,52000,north\n",
        content_type="text/csv",
    ),
    Case(
        "surrogate bytes in JSON",
        PREDICTIONS,
        raw_predictions(row_with().replace('"id": "h"', '"id": "SURROGATE"'))
        .encode()
        .replace(b"SURROGATE", b"\xed\xa0\x80"),
        names="utf-8",
    ),
    # --- CSV shape -------------------------------------------------------------------------------------
    Case("200,000 CSV columns", PREDICTIONS, WIDE_CSV, content_type="text/csv", names="200007"),
    Case(
        "200,000 labels CSV columns",
        LABELS,
        "id,y_true," + ",".join(f"c{i}" for i in range(200_000)) + "\nx,1\n",
        content_type="text/csv",
        names="200002",
    ),
    Case(
        "duplicated CSV column",
        PREDICTIONS,
        csv(CSV_HEADER + ",y_pred", CSV_ROW + ",0"),
        content_type="text/csv",
        names="y_pred",
    ),
    Case(
        "duplicated labels CSV column",
        LABELS,
        csv("id,y_true,y_true", "x,1,0"),
        content_type="text/csv",
        names="y_true",
    ),
    Case(
        "CSV row longer than the header",
        PREDICTIONS,
        csv(CSV_HEADER, CSV_ROW, CSV_ROW + ",extra,more"),
        content_type="text/csv",
        names="line 3",
    ),
    Case(
        "labels CSV row longer than the header",
        LABELS,
        csv("id,y_true", "x,1,extra"),
        content_type="text/csv",
        names="line 2",
    ),
    Case("CSV header only", PREDICTIONS, csv(CSV_HEADER), content_type="text/csv"),
    Case("empty CSV", PREDICTIONS, "\n", content_type="text/csv"),
    Case("CSV with an unterminated quote", PREDICTIONS, CSV_HEADER + '\n"c-1,2026', content_type="text/csv"),
    # --- Timestamps ------------------------------------------------------------------------------------
    Case(
        "timestamp year 1",
        PREDICTIONS,
        predictions_body(timestamp="0001-01-01T00:00:00Z"),
        names="timestamp",
        row_error=True,
    ),
    Case(
        "timestamp year 1 in CSV",
        PREDICTIONS,
        csv(CSV_HEADER, CSV_ROW.replace("2026", "0001")),
        content_type="text/csv",
        names="timestamp",
        row_error=True,
    ),
    Case(
        "timestamp year 9999",
        PREDICTIONS,
        predictions_body(timestamp="9999-12-31T23:59:59Z"),
        names="timestamp",
        row_error=True,
    ),
    Case(
        "timestamp far past offset",
        PREDICTIONS,
        predictions_body(timestamp="1677-09-21T00:12:43+23:59"),
        names="timestamp",
        row_error=True,
    ),
    # --- Protected attributes are the policy's ---------------------------------------------------------------
    Case(
        "override the policy's attributes",
        PREDICTIONS + "?protected_attributes=region",
        predictions_body(attributes={"region": "north"}),
        names="protected_attributes",
    ),
    Case(
        "submit overrides the policy's attributes",
        SUBMIT,
        submit_body(protected_attributes=["race"]),
        names="protected_attributes",
    ),
    Case(
        "attribute as an object",
        PREDICTIONS,
        predictions_body(attributes={"race": {"a": 1}, "sex": "Male"}),
        names="race",
        row_error=True,
    ),
    Case(
        "attributes as a list", PREDICTIONS, predictions_body(attributes=["White"]), names="attributes", row_error=True
    ),
]

# Demo endpoints take query parameters only; anonymous callers reach them while FAIRLENS_DEMO_ENDPOINTS is on.
DEMO_QUERIES = [
    "/api/monitor_fairness?n_samples=%00",
    "/api/monitor_fairness?seed=NaN&drift_level=Infinity",
    "/api/monitor_fairness?scenario=%ED%A0%80",
    "/api/fairness_trend?model=credit%00model",
    "/api/fairness_trend?model=%ED%A0%80&version=1",
    "/api/pre_alert?model=credit_model&version=1%00",
    "/api/predict_fairness_drift?window=" + "9" * 5000,
    "/api/predict_fairness_drift?model=" + "x" * 5000,
]


@pytest.fixture
def principals(make_user: Callable[..., Any]) -> dict[str, APIClient]:
    version = register_model(
        name="credit_model",
        version="1",
        registered_by=None,
        policy={**CREDIT_POLICY, "features": [INCOME, CUSTOMER_ID, REGION]},
    )
    _, raw_key = model_client_key_create(model=version.model, name="scorer", created_by=None)
    credentials = {
        "anonymous": None,
        "api_key": f"Api-Key {raw_key}",
        "admin": bearer(make_user("hostile-admin", "admin")),
        "monitor": bearer(make_user("hostile-monitor", "monitor")),
    }
    clients = {}
    for name, header in credentials.items():
        client = APIClient()
        if header:
            client.credentials(HTTP_AUTHORIZATION=header)
        clients[name] = client
    return clients


def _answer(response: Any) -> tuple[int, str]:
    return response.status_code, response.content.decode("utf-8", "replace")


def _check(case: Case, status: int, text: str) -> None:
    assert status < 500, f"{case.name}: {status} {text[:500]}"
    if 200 <= status < 300:
        assert case.row_error, f"{case.name}: accepted ({status}) {text[:500]}"
        body = json.loads(text)
        assert body["rejected"] >= 1, f"{case.name}: the bad row was stored: {text[:500]}"
        assert case.names in json.dumps(body["errors"]), f"{case.name}: row error does not name {case.names}"
        return
    assert json.loads(text)["status"] == "error", f"{case.name}: not the JSON error shape: {text[:300]}"
    if case.names:
        assert case.names in text, f"{case.name}: the error does not name {case.names!r}: {text[:500]}"


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_a_hostile_body_is_answered_4xx_for_every_principal(case: Case, principals: dict[str, APIClient]) -> None:
    for principal in case.principals:
        client = principals[principal]
        response = getattr(client, case.method)(
            case.path, data=case.body, content_type=case.content_type, **(case.headers or {})
        )
        _check(case, *_answer(response))
    if not case.row_error:
        assert not Prediction.objects.exists(), f"{case.name}: something was stored"


@pytest.mark.parametrize("path", DEMO_QUERIES)
@override_settings(FAIRLENS_DEMO_ENDPOINTS=True)
def test_hostile_demo_queries_are_answered_4xx(path: str, principals: dict[str, APIClient]) -> None:
    for principal in ("anonymous", "monitor"):
        status, text = _answer(principals[principal].get(path))
        assert status < 500, f"{path} as {principal}: {status} {text[:500]}"


def test_the_corpus_covers_every_ingestion_and_login_endpoint() -> None:
    paths = {case.path.split("?")[0] for case in CASES}
    assert {PREDICTIONS, LABELS, SUBMIT, "/api/login", "/api/refresh"} <= paths
    assert sum(len(case.principals) for case in CASES) + 2 * len(DEMO_QUERIES) >= 150
