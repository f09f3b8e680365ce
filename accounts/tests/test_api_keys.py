"""Model-client API keys: shown once, hashed at rest, scoped to one model, revocable, expiring, last-used."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ModelClientKey
from accounts.services import model_client_key_create, model_client_key_revoke

pytestmark = pytest.mark.django_db
ME = "/api/v1/accounts/me/"


def key_client(raw_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    return client


def test_admin_creates_a_key_that_is_shown_once(client_as: object, ml_model: object) -> None:
    # when
    created = client_as("admin").post(
        "/api/v1/accounts/api-keys/", {"model": "loan_model", "name": "svc"}, format="json"
    )
    # then
    assert created.status_code == 201
    body = created.json()
    assert body["key"].startswith(body["prefix"] + ".")
    assert body["model"] == "loan_model"
    assert created["Cache-Control"] == "no-store"
    listed = client_as("admin").get("/api/v1/accounts/api-keys/").json()["results"]
    detail = client_as("admin").get(f"/api/v1/accounts/api-keys/{body['prefix']}/").json()
    assert all("key" not in item for item in listed)
    assert "key" not in detail
    assert key_client(body["key"]).get(ME).json()["model"] == "loan_model"


def test_no_key_is_stored_in_clear(model_key: tuple[ModelClientKey, str]) -> None:
    # given a full database dump
    _, raw_key = model_key
    dump = StringIO()
    call_command("dumpdata", stdout=dump)
    # then neither the key nor its secret half appears in it
    secret_half = raw_key.split(".", 1)[1]
    assert raw_key not in dump.getvalue()
    assert secret_half not in dump.getvalue()


def test_the_key_identifies_the_model_client(model_key: tuple[ModelClientKey, str]) -> None:
    key, raw_key = model_key
    response = key_client(raw_key).get(ME)
    assert response.status_code == 200
    assert response.json() == {
        "kind": "model_client",
        "username": f"api-key:{key.prefix}",
        "role": "model_client",
        "roles": ["model_client"],
        "model": "loan_model",
    }


def test_a_revoked_key_is_refused_on_the_very_next_request(model_key: tuple[ModelClientKey, str]) -> None:
    key, raw_key = model_key
    assert key_client(raw_key).get(ME).status_code == 200
    model_client_key_revoke(key=key, revoked_by=None)
    response = key_client(raw_key).get(ME)
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_revocation_through_the_api_is_permanent(client_as: object, model_key: tuple[ModelClientKey, str]) -> None:
    key, raw_key = model_key
    response = client_as("admin").post(f"/api/v1/accounts/api-keys/{key.prefix}/revoke/")
    assert response.status_code == 200
    assert response.json()["revoked"] is True
    assert response.json()["revoked_by"] == "alice-admin"
    stored = ModelClientKey.objects.get(pk=key.pk)
    stored.revoked = False
    with pytest.raises(ValidationError, match="revoked"):
        stored.save()
    assert key_client(raw_key).get(ME).status_code == 401


def test_an_expired_key_is_refused(ml_model: object) -> None:
    key, raw_key = model_client_key_create(
        model=ml_model, name="short-lived", created_by=None, expires_at=timezone.now() + timedelta(minutes=1)
    )
    ModelClientKey.objects.filter(pk=key.pk).update(expiry_date=timezone.now() - timedelta(seconds=1))
    response = key_client(raw_key).get(ME)
    assert response.status_code == 401
    assert "expired" in response.json()["message"]


def test_a_key_in_the_query_string_is_ignored(model_key: tuple[ModelClientKey, str]) -> None:
    _, raw_key = model_key
    assert APIClient().get(ME, {"api_key": raw_key}).status_code == 401


def test_a_tampered_key_is_refused(model_key: tuple[ModelClientKey, str]) -> None:
    _, raw_key = model_key
    tampered = raw_key[:-1] + ("A" if raw_key[-1] != "A" else "B")
    assert key_client(tampered).get(ME).status_code == 401


def test_use_records_last_used_time(model_key: tuple[ModelClientKey, str]) -> None:
    key, raw_key = model_key
    assert key.last_used_at is None
    key_client(raw_key).get(ME)
    key.refresh_from_db()
    assert key.last_used_at is not None
    assert timezone.now() - key.last_used_at < timedelta(seconds=30)


def test_key_for_an_unknown_model_is_a_400_naming_the_field(client_as: object, ml_model: object) -> None:
    response = client_as("admin").post("/api/v1/accounts/api-keys/", {"model": "nope", "name": "svc"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "unknown_model"
    assert "model" in response.json()["details"]


def test_expiry_in_the_past_is_refused(client_as: object, ml_model: object) -> None:
    past = (timezone.now() - timedelta(days=1)).isoformat()
    response = client_as("admin").post(
        "/api/v1/accounts/api-keys/", {"model": "loan_model", "name": "svc", "expires_at": past}, format="json"
    )
    assert response.status_code == 400
    assert "expires_at" in response.json()["details"]
