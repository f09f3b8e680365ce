"""The OpenAPI schema says what the server does: the mismatches schemathesis found, one test each.

The fuzz run (test_api_fuzz.py) finds such mismatches by chance; these tests pin each one down quickly.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from monitoring.alerts.services import endpoint_create
from monitoring.checks.tests.builders import check_hour, ingest_loans, loan_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(client_as: Callable[[str], APIClient]) -> dict[str, Any]:
    response = client_as("monitor").get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def component(schema: dict[str, Any], name: str) -> dict[str, Any]:
    return schema["components"]["schemas"][name]


def test_an_alert_nobody_acknowledged_has_null_people_and_the_schema_allows_it(
    client_as: Callable[[str], APIClient], ml_model: Any, schema: dict[str, Any]
) -> None:
    version = loan_version()
    ingest_loans(version, hour=1, n=1000, drift=0.8, seed=32)
    check_hour(version, 1)
    alert = client_as("monitor").get("/api/v1/alerts/").json()["results"][0]
    assert (alert["acknowledged_by"], alert["resolved_by"]) == (None, None)
    properties = component(schema, "Alert")["properties"]
    assert properties["acknowledged_by"]["nullable"] is True
    assert properties["resolved_by"]["nullable"] is True
    assert component(schema, "Delivery")["properties"]["endpoint"]["nullable"] is True


def test_an_endpoint_for_every_model_has_a_null_model_and_the_schema_allows_it(
    client_as: Callable[[str], APIClient], schema: dict[str, Any], settings: Any
) -> None:
    settings.WEBHOOK_ALLOW_INSECURE_HTTP = True
    settings.WEBHOOK_ALLOWED_PRIVATE_TARGETS = ["127.0.0.1:9"]
    endpoint_create(created_by=None, name="receiver", url="http://127.0.0.1:9/hook")
    listed = client_as("admin").get("/api/v1/webhooks/endpoints/").json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert rows[0]["model"] is None
    assert component(schema, "Endpoint")["properties"]["model"]["nullable"] is True


def test_submit_predictions_documents_a_non_empty_list_of_objects(
    client_as: Callable[[str], APIClient], schema: dict[str, Any]
) -> None:
    predictions = component(schema, "SubmitInputRequest")["properties"]["predictions"]
    assert predictions["minItems"] == 1
    assert predictions["items"]["type"] == "object"
    body = {"model_name": "loan_model", "version": "1", "predictions": [None]}
    response = client_as("admin").post("/api/submit_predictions", json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    assert "predictions" in response.json()["details"]


def test_get_anchor_documents_its_hash_pattern(schema: dict[str, Any]) -> None:
    (parameter,) = schema["paths"]["/api/get_anchor/{digest}"]["get"]["parameters"]
    assert parameter["schema"]["pattern"] == "^[0-9a-fA-F]{64}$"


def test_a_patch_without_a_stage_changes_nothing(client_as: Callable[[str], APIClient], ml_model: Any) -> None:
    loan_version()
    response = client_as("admin").patch("/api/v1/models/loan_model/versions/1/", {}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["stage"] == "staging"


@pytest.mark.parametrize("query", ["limit=-5", "limit=0", "limit=ten", "limit=1.5", "offset=-1", "limit=2&limit=3"])
def test_a_malformed_page_parameter_is_a_400_naming_it(client_as: Callable[[str], APIClient], query: str) -> None:
    response = client_as("monitor").get(f"/api/v1/alerts/?{query}")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["status"] == "error"
    assert set(body["details"]) == {query.split("=")[0]}


def test_a_limit_above_the_ceiling_gets_the_ceiling(
    client_as: Callable[[str], APIClient], schema: dict[str, Any]
) -> None:
    response = client_as("monitor").get("/api/v1/alerts/?limit=100000&offset=0")
    assert response.status_code == 200
    limit = next(p for p in schema["paths"]["/api/v1/alerts/"]["get"]["parameters"] if p["name"] == "limit")
    assert limit["schema"]["minimum"] == 1


def test_bodies_are_documented_as_json_and_uploads_as_multipart(schema: dict[str, Any]) -> None:
    content = {
        (method, path): operation["requestBody"]["content"]
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if "requestBody" in operation
    }
    assert all("application/x-www-form-urlencoded" not in types for types in content.values())
    assert set(content[("post", "/api/v1/alerts/{alert_id}/acknowledge")]) == {"application/json"}
    register = content[("post", "/api/v1/models/")]
    assert set(register) == {"application/json", "multipart/form-data"}
    json_body = register["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    multipart_body = register["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert "artifact" not in component(schema, json_body)["properties"]
    assert component(schema, multipart_body)["properties"]["artifact"]["format"] == "binary"


def test_outages_are_documented_with_the_error_shape(schema: dict[str, Any]) -> None:
    unavailable = schema["paths"]["/api/v1/alerts/"]["get"]["responses"]["503"]
    assert unavailable["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
