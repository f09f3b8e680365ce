"""Encryption at rest: row-bound ciphertexts, audited decryption (auditors only, fail closed), key rotation that
survives being killed midway."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from compliance import field_encryption as encryption
from compliance.field_encryption import decrypt_for, encrypt_for, key_provider, rewrap_all, rotate_encryption_key
from compliance.models import AuditEntry
from conftest import totp_code
from core.api.errors import ApplicationError
from monitoring.models import IngestionRecord
from monitoring.tests.factories import make_version
from tests.processes import ROOT, database_url_for_subprocesses

pytestmark = pytest.mark.django_db
SECRET = "DIR = 0.51 (<0.8). Potential bias — likely causes: lower female approval rate."


def encrypted_record(version: Any, text: str = SECRET) -> IngestionRecord:
    record = IngestionRecord.objects.create(model_version=version, source="submit", principal="test")
    encrypt_for(record, "encrypted_alert", text)
    record.save()
    return record


def test_an_auditor_decrypts_with_a_reason_and_each_decryption_is_an_audit_entry(auditor_user: Any) -> None:
    record = encrypted_record(make_version())
    assert SECRET not in record.encrypted_alert
    assert record.alert_key_id == key_provider().primary_key_id
    before = AuditEntry.objects.filter(action="data.decrypt").count()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for _ in range(3):
            otp = totp_code(auditor_user)
            assert (
                decrypt_for(user=auditor_user, obj=record, field="encrypted_alert", reason="quarterly review", otp=otp)
                == SECRET
            )
            clock.shift(30)  # every decryption takes a code of its own: the next one
    entries = AuditEntry.objects.filter(action="data.decrypt")
    assert entries.count() - before == 3
    assert entries.last().payload["reason"] == "quarterly review"
    assert entries.last().actor == auditor_user.username


@pytest.mark.parametrize("persona", ["admin_user", "monitor_user"])
def test_admins_and_monitors_cannot_decrypt(request: pytest.FixtureRequest, persona: str) -> None:
    record = encrypted_record(make_version())
    with pytest.raises(ApplicationError) as caught:
        decrypt_for(user=request.getfixturevalue(persona), obj=record, field="encrypted_alert", reason="curious")
    assert caught.value.status_code == 403
    assert not AuditEntry.objects.filter(action="data.decrypt").exists()


def test_a_reason_is_required(auditor_user: Any) -> None:
    record = encrypted_record(make_version())
    with pytest.raises(ApplicationError, match="Say why"):
        decrypt_for(user=auditor_user, obj=record, field="encrypted_alert", reason="  ")


def test_decryption_asks_the_second_factor_accounts_installed_and_fails_closed_without_it(
    auditor_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = encrypted_record(make_version())
    with pytest.raises(ApplicationError) as caught:  # accounts' check is installed at start-up: a code is required
        decrypt_for(user=auditor_user, obj=record, field="encrypted_alert", reason="quarterly review", otp=None)
    assert (caught.value.status_code, caught.value.code) == (403, "otp_required")
    monkeypatch.setattr(encryption, "_second_factor_check", None)
    with pytest.raises(ApplicationError) as caught:
        decrypt_for(
            user=auditor_user,
            obj=record,
            field="encrypted_alert",
            reason="quarterly review",
            otp=totp_code(auditor_user),
        )
    assert caught.value.status_code == 503
    assert not AuditEntry.objects.filter(action="data.decrypt").exists()


def test_a_just_audited_decryption_is_shown_again_only_to_its_auditor_and_only_briefly(
    auditor_user: Any, make_user: Any
) -> None:
    record = encrypted_record(make_version())
    other = encrypted_record(make_version(name="other_model"))
    second_auditor = make_user("second-auditor", "auditor")
    assert encryption.redisplay_decrypted(user=auditor_user, obj=record, field="encrypted_alert") is None
    with time_machine.travel(timezone.now(), tick=False) as clock:
        decrypt_for(
            user=auditor_user,
            obj=record,
            field="encrypted_alert",
            reason="quarterly review",
            otp=totp_code(auditor_user),
        )
        entries = AuditEntry.objects.filter(action="data.decrypt").count()
        assert encryption.redisplay_decrypted(user=auditor_user, obj=record, field="encrypted_alert") == SECRET
        assert encryption.redisplay_decrypted(user=auditor_user, obj=other, field="encrypted_alert") is None
        assert encryption.redisplay_decrypted(user=second_auditor, obj=record, field="encrypted_alert") is None
        assert AuditEntry.objects.filter(action="data.decrypt").count() == entries  # the same access, not a new one
        clock.shift(encryption.REDISPLAY_SECONDS + 1)
        assert encryption.redisplay_decrypted(user=auditor_user, obj=record, field="encrypted_alert") is None


def test_a_ciphertext_copied_to_another_row_does_not_decrypt(auditor_user: Any) -> None:
    version = make_version()
    original, other = encrypted_record(version), encrypted_record(version, "another explanation")
    other.encrypted_alert, other.alert_key_id = original.encrypted_alert, original.alert_key_id
    other.save()
    with pytest.raises(ApplicationError) as caught:
        decrypt_for(
            user=auditor_user, obj=other, field="encrypted_alert", reason="checking a copy", otp=totp_code(auditor_user)
        )
    assert caught.value.code == "decryption_failed"
    assert not AuditEntry.objects.filter(action="data.decrypt", object_id=str(other.pk)).exists()


def test_no_plaintext_without_an_audit_entry(auditor_user: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    record = encrypted_record(make_version())

    def log_is_down(**kwargs: Any) -> None:
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr(encryption, "audit_append", log_is_down)
    with pytest.raises(RuntimeError):
        decrypt_for(
            user=auditor_user, obj=record, field="encrypted_alert", reason="incident 42", otp=totp_code(auditor_user)
        )


def test_the_decrypt_endpoint_is_for_auditors_with_a_reason(client_as: Any, auditor_user: Any) -> None:
    record = encrypted_record(make_version())
    url = f"/api/v1/compliance/records/{record.record_id}/decrypt"
    assert client_as("admin").post(url, {"reason": "just looking"}, format="json").status_code == 403
    assert client_as("auditor").post(url, {}, format="json").status_code == 400
    response = client_as("auditor").post(
        url, {"reason": "case 7 review", "otp": totp_code(auditor_user)}, format="json"
    )
    assert response.json()["explanation"] == SECRET


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_rotation_killed_midway_resumes_with_no_decryption_failures(
    admin_user: Any, auditor_user: Any, settings: Any, tmp_path: Any
) -> None:
    # given 10,000 records encrypted under the current key
    version = make_version()
    records = IngestionRecord.objects.bulk_create(
        [IngestionRecord(model_version=version, source="submit", principal="bulk") for _ in range(10_000)]
    )
    old_key_id = key_provider().primary_key_id
    for record in records:
        encrypt_for(record, "encrypted_alert", f"explanation {record.pk}")
    IngestionRecord.objects.bulk_update(records, ["encrypted_alert", "alert_key_id"], batch_size=2000)
    # when a new key is made and the re-encryption worker is killed partway through
    new_key_id = rotate_encryption_key(rotated_by=admin_user)["new_key_id"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "fairlens_site.settings.test",
        "DATABASE_URL": database_url_for_subprocesses(),
        "FERNET_KEYRING_PATH": str(settings.FERNET_KEYRING_PATH),
    }
    code = (
        "import django; django.setup(); from compliance.field_encryption import rewrap_all; rewrap_all(batch_size=100)"
    )
    worker = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        done = IngestionRecord.objects.filter(alert_key_id=new_key_id).count()
        if done >= 1000 or worker.poll() is not None:
            break
        time.sleep(0.05)
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=30)
    partly = IngestionRecord.objects.filter(alert_key_id=new_key_id).count()
    assert 0 < partly < 10_000, "the worker should have been killed midway"
    # then resuming finishes the job; every record decrypts; the old key is retired
    rewrap_all(batch_size=1000)
    assert IngestionRecord.objects.exclude(alert_key_id=new_key_id).count() == 0
    provider = key_provider()
    failures = 0
    for record in IngestionRecord.objects.all().iterator(chunk_size=2000):
        context = encryption.context_for(record, "encrypted_alert")
        if provider.decrypt(record.encrypted_alert, context=context).decode() != f"explanation {record.pk}":
            failures += 1
    assert failures == 0
    assert encryption.retire_unused_keys() == [old_key_id]
    assert old_key_id not in key_provider().key_ids
    connection.close()
