"""OpenAPI schema: generated without warnings, served, and documented with Swagger UI from local files."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_schema_generates_and_validates_without_warnings(tmp_path: Path) -> None:
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    schema = yaml.safe_load(target.read_text())
    assert schema["openapi"].startswith("3.")
    assert "/api/login" in schema["paths"]
    assert "/api/v1/accounts/users/" in schema["paths"]
    assert schema["components"]["schemas"]["Error"]["required"] == ["status", "code", "message", "details"]
    login_responses = schema["paths"]["/api/login"]["post"]["responses"]
    assert {"200", "400", "401", "429"} <= set(login_responses)


def test_schema_endpoint_serves_openapi_to_signed_in_users(client_as: object) -> None:
    response = client_as("monitor").get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "FairLens API"


def test_swagger_ui_is_served_from_local_static_files(client_as: object) -> None:
    response = client_as("monitor").get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    for cdn in ("cdn.jsdelivr.net", "unpkg.com", "cdnjs.cloudflare.com"):
        assert cdn not in html
