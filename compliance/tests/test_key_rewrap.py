"""Re-encryption after a key rotation done outside FairLens (POST /api/admin/reset_key?rewrap_only=true).

Vault is outside this machine: the tests install an in-memory stand-in for the ``hvac`` client library (the
same fake transit engine the adapter tests use), so everything of FairLens runs for real: the configured
provider, the endpoint, the audit entries and the re-encryption task.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
import time_machine
from cryptography.fernet import Fernet
from django.utils import timezone

from compliance import keyring
from compliance.field_encryption import decrypt_for, encrypt_for, key_provider, rewrap_all
from compliance.models import AuditEntry
from compliance.rewrap_lease import enqueue_rewrap
from compliance.tasks import rewrap_keys_task
from compliance.tests.fakes import FakeInvalidRequest, FakeTransit
from conftest import totp_code
from core.checks import check_key_provider_library
from monitoring.models import IngestionRecord
from monitoring.tests.factories import make_version

pytestmark = pytest.mark.django_db
RESET_KEY = "/api/admin/reset_key"
SECRET = "DIR = 0.55 (<0.8). Potential bias."


@pytest.fixture
def keyring_file(settings: Any, tmp_path: Any) -> Any:
    settings.FERNET_KEYRING_PATH = tmp_path / "keys" / "fernet-keyring.json"
    return settings.FERNET_KEYRING_PATH


@pytest.fixture
def vault(settings: Any, monkeypatch: pytest.MonkeyPatch, keyring_file: Any) -> FakeTransit:
    """KEY_PROVIDER_URI=hcvault://transit/fairlens, served by a fake of the hvac library's transit client."""
    transit = FakeTransit(mount="transit", name="fairlens")
    hvac = ModuleType("hvac")
    hvac.Client = lambda **options: SimpleNamespace(secrets=SimpleNamespace(transit=transit))  # type: ignore[attr-defined]
    exceptions = ModuleType("hvac.exceptions")
    exceptions.InvalidRequest = FakeInvalidRequest  # type: ignore[attr-defined]
    hvac.exceptions = exceptions  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "hvac", hvac)
    monkeypatch.setitem(sys.modules, "hvac.exceptions", exceptions)
    settings.KEY_PROVIDER_URI = "hcvault://transit/fairlens"
    return transit


def encrypted_records(count: int) -> list[IngestionRecord]:
    version = make_version()
    records = []
    for index in range(count):
        record = IngestionRecord.objects.create(model_version=version, source="submit", principal="test")
        encrypt_for(record, "encrypted_alert", f"{SECRET} #{index}")
        record.save()
        records.append(record)
    return records


def test_after_a_vault_rotation_rewrap_only_moves_every_value_to_the_new_version(
    vault: FakeTransit, client_as: Any, auditor_user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    # given values encrypted under Vault key version 1, then a rotation done in Vault
    records = encrypted_records(3)
    assert {record.alert_key_id for record in records} == {"v1"}
    vault.rotate()
    # when an admin asks FairLens to re-encrypt
    with django_capture_on_commit_callbacks(execute=False) as enqueued:
        response = client_as("admin").post(f"{RESET_KEY}?rewrap_only=true")
    # then the answer says what will happen, the request is audited and the re-encryption task is enqueued
    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert data["primary_key_id"] == "v2"
    assert data["rows_to_reencrypt"] == 3
    entry = AuditEntry.objects.get(action="keys.rewrap")
    assert entry.actor == "alice-admin"
    assert entry.payload["rows_to_reencrypt"] == 3
    assert enqueue_rewrap in enqueued
    # and the task (run here as the worker would) re-wraps in Vault; every value still decrypts
    rewrap_keys_task()
    stored = list(IngestionRecord.objects.order_by("pk"))
    assert {record.alert_key_id for record in stored} == {"v2"}
    assert all(record.encrypted_alert.startswith("vault:v2:") for record in stored)
    vault.min_decryption_version = 2  # the operator retires v1 in Vault
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for index, record in enumerate(stored):
            otp = totp_code(auditor_user)
            plaintext = decrypt_for(
                user=auditor_user, obj=record, field="encrypted_alert", reason="rewrap check", otp=otp
            )
            assert plaintext == f"{SECRET} #{index}"
            clock.shift(30)  # each decryption takes the next code
    # Vault's keys are not FairLens's to retire: it records that v1 is unused, and writes no local keyring
    done = AuditEntry.objects.get(action="keys.rewrap_complete")
    assert done.payload == {"primary_key_id": "v2", "unused_key_ids": ["v1"]}
    assert keyring.load_state().generated == []


def test_rewrap_only_resumes_an_interrupted_reencryption(vault: FakeTransit, client_as: Any) -> None:
    # given a re-encryption that stopped after one batch
    encrypted_records(5)
    vault.rotate()
    assert rewrap_all(batch_size=2, max_batches=1) == 2
    # when it is asked for again
    response = client_as("admin").post(f"{RESET_KEY}?rewrap_only=true")
    # then only the rest is left to do, and doing it finishes the job
    assert response.json()["data"]["rows_to_reencrypt"] == 3
    rewrap_keys_task()
    assert not IngestionRecord.objects.exclude(alert_key_id="v2").exists()


def test_without_rewrap_only_an_external_provider_points_to_the_real_option(vault: FakeTransit, client_as: Any) -> None:
    response = client_as("admin").post(RESET_KEY)
    assert response.status_code == 409
    assert response.json()["code"] == "external_key_service"
    assert "?rewrap_only=true" in response.json()["message"]
    assert not AuditEntry.objects.filter(action__startswith="keys.").exists()


def test_rewrap_only_with_local_keys_moves_values_to_a_new_first_key_in_fernet_keys(
    settings: Any, keyring_file: Any, client_as: Any
) -> None:
    # given values under the current key, and an operator who put a new key first in FERNET_KEYS
    records = encrypted_records(2)
    old_key_id = records[0].alert_key_id
    settings.FERNET_KEYS = [Fernet.generate_key().decode(), *settings.FERNET_KEYS]
    new_key_id = key_provider().primary_key_id
    assert new_key_id != old_key_id
    # when
    response = client_as("admin").post(f"{RESET_KEY}?rewrap_only=true")
    rewrap_keys_task()
    # then no key was made; every value moved to the new first key
    assert response.json()["data"]["primary_key_id"] == new_key_id
    assert not AuditEntry.objects.filter(action="keys.rotate").exists()
    assert set(IngestionRecord.objects.values_list("alert_key_id", flat=True)) == {new_key_id}


def test_a_malformed_rewrap_only_is_a_400_naming_it(client_as: Any) -> None:
    response = client_as("admin").post(f"{RESET_KEY}?rewrap_only=maybe")
    assert response.status_code == 400
    assert response.json()["details"] == {"rewrap_only": ["must be true or false"]}
    assert "rewrap_only" in response.json()["message"]


@pytest.mark.skipif(importlib.util.find_spec("hvac") is not None, reason="hvac is installed here")
def test_a_vault_provider_without_hvac_is_a_clear_error(settings: Any, client_as: Any) -> None:
    # given Vault configured on a machine without the optional client library
    settings.KEY_PROVIDER_URI = "hcvault://transit/fairlens"
    # then the system check says so at startup
    errors = check_key_provider_library()
    assert [error.id for error in errors] == ["fairlens.E020"]
    assert errors[0].hint == "pip install -r requirements-optional.txt"
    # and a request that needs the provider is a 503 naming what to install, not a 500
    response = client_as("admin").post(f"{RESET_KEY}?rewrap_only=true")
    assert response.status_code == 503
    assert response.json()["code"] == "key_provider_unavailable"
    assert "requirements-optional.txt" in response.json()["message"]
