"""The audit log in the database: gapless, chained, signed, mirrored, append-only, and wired into every change."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import Client
from rest_framework.test import APIClient

from compliance.audit_keys import signing_key
from compliance.checkpoints import anchor_checkpoint, create_checkpoint
from compliance.crypto.verify import verify_export
from compliance.models import AuditEntry, Checkpoint
from compliance.services import audit_append, sync_mirror
from compliance.verification import export_lines, verify_log

pytestmark = pytest.mark.django_db


def actions() -> list[str]:
    return list(AuditEntry.objects.order_by("seq").values_list("action", flat=True))


def test_entries_are_gapless_chained_and_verify(make_user: Any) -> None:
    # given some audited changes
    make_user("erin", "monitor")
    for index in range(5):
        audit_append(action="test.event", payload={"n": index, "ratio": 0.1 * index})
    # then seq is 1..n and each entry points at the one before
    entries = list(AuditEntry.objects.order_by("seq"))
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    assert entries[0].prev_hash == "0" * 64
    assert all(b.prev_hash == a.entry_hash for a, b in zip(entries, entries[1:], strict=False))
    run = verify_log(record=False)
    assert run.ok, run.problem


def test_a_rolled_back_transaction_leaves_no_gap() -> None:
    def failing_change() -> None:
        with transaction.atomic():
            audit_append(action="test.rolled_back")
            raise RuntimeError("the change failed")

    audit_append(action="test.kept")
    with pytest.raises(RuntimeError):
        failing_change()
    audit_append(action="test.kept")
    assert list(AuditEntry.objects.order_by("seq").values_list("seq", "action")) == [
        (1, "test.kept"),
        (2, "test.kept"),
    ]


def test_the_jsonl_mirror_holds_the_same_entries_and_verifies_offline(settings: Any) -> None:
    for index in range(4):
        audit_append(action="test.event", payload={"n": index})
    checkpoint = create_checkpoint()
    sync_mirror()
    lines = settings.AUDIT_MIRROR_PATH.read_text().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == list(range(1, AuditEntry.objects.count() + 1))
    assert sync_mirror() == 0  # nothing new, nothing duplicated
    assert verify_export(lines, checkpoint.signed_note, [signing_key().public_key]).ok


def mode_of(path: Any) -> str:
    return oct(os.stat(path).st_mode & 0o777)


@pytest.mark.parametrize("left_by_an_older_version", [False, True])
def test_the_mirror_and_the_anchor_file_are_readable_by_their_owner_only(
    settings: Any, left_by_an_older_version: bool
) -> None:
    files = (settings.AUDIT_MIRROR_PATH, settings.ANCHOR_FILE_PATH)
    if left_by_an_older_version:
        for path in files:
            path.touch(mode=0o644)
            os.chmod(path, 0o644)
    audit_append(action="test.event")
    sync_mirror()
    anchor_checkpoint(create_checkpoint().pk)
    assert [mode_of(path) for path in files] == ["0o600", "0o600"]
    assert len(settings.AUDIT_MIRROR_PATH.read_text().splitlines()) == 1
    assert len(settings.ANCHOR_FILE_PATH.read_text().splitlines()) == 1


def test_every_existing_change_is_audited(client_as: Any, monitor_user: Any) -> None:
    # when an admin changes a user, issues and revokes a key, registers a model and the monitor evaluates it
    admin = client_as("admin")
    admin.patch(f"/api/v1/accounts/users/{monitor_user.pk}/", {"email": "c@example.com"}, format="json")
    created = admin.post("/api/v1/accounts/api-keys/", {"model": "loan_model", "name": "svc"}, format="json")
    admin.post(f"/api/v1/accounts/api-keys/{created.json()['prefix']}/revoke/")
    admin.post(
        "/api/models/register",
        {
            "name": "m2",
            "version": "1",
            "policy": {"protected_attributes": ["gender"], "privileged": {"gender": "Male"}},
        },
        format="json",
    )
    APIClient().post("/api/login", {"username": "carol-monitor", "password": "wrong"}, format="json")
    # then each left an entry
    recorded = set(actions())
    assert {
        "user.create",
        "user.update",
        "api_key.create",
        "api_key.revoke",
        "model.create",
        "policy.create",
        "model.register",
        "auth.login_failed",
    } <= recorded
    failed = AuditEntry.objects.get(action="auth.login_failed")
    assert "wrong" not in json.dumps(failed.payload)
    assert len(failed.payload["username_sha256"]) == 16


def test_admin_site_actions_are_audited(admin_user: Any, monitor_user: Any) -> None:
    client = Client()
    client.force_login(admin_user)
    client.post(
        f"/admin/accounts/user/{monitor_user.pk}/change/",
        {
            "username": monitor_user.username,
            "role": "monitor",
            "is_active": "on",
            "email": "x@example.com",
            "first_name": "",
            "last_name": "",
        },
    )
    entry = AuditEntry.objects.filter(action="admin.change").get()
    assert entry.actor == admin_user.username
    assert entry.object_type == "accounts.user"
    assert entry.object_id == str(monitor_user.pk)


def test_checkpoints_chain_by_consistency_proofs_and_are_anchored(settings: Any) -> None:
    audit_append(action="test.a")
    first = create_checkpoint()
    for _ in range(6):
        audit_append(action="test.b")
    second = create_checkpoint()
    assert second.previous_id == first.pk
    assert second.consistency_proof
    anchors = anchor_checkpoint(second.pk)
    assert anchors[0].tx_id == "0x" + second.root_hash[:16]
    receipt = json.loads(settings.ANCHOR_FILE_PATH.read_text().splitlines()[-1])
    assert receipt["hash"] == second.root_hash
    assert anchor_checkpoint(second.pk)[0].pk == anchors[0].pk  # idempotent
    assert create_checkpoint() is not None  # the checkpoint entry itself is new
    assert verify_log(record=False).ok


def test_nothing_in_the_api_or_the_auditor_site_changes_or_deletes_entries(client_as: Any, auditor_user: Any) -> None:
    entry = audit_append(action="test.a")
    for method in ("put", "patch", "delete"):
        response = getattr(client_as("auditor"), method)("/api/v1/compliance/entries/", {}, format="json")
        assert response.status_code == 405
    site = Client()
    site.force_login(auditor_user)
    assert site.post(f"/auditor/compliance/auditentry/{entry.pk}/change/", {"action": "x"}).status_code == 403
    assert site.post(f"/auditor/compliance/auditentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditEntry.objects.get(pk=entry.pk).action == "test.a"


@pytest.mark.requires_postgres
def test_postgresql_triggers_refuse_update_delete_and_truncate() -> None:
    audit_append(action="test.a")
    anchor_checkpoint(create_checkpoint().pk)
    for statement in (
        "UPDATE compliance_auditentry SET action = 'x'",
        "DELETE FROM compliance_auditentry",
        "TRUNCATE compliance_auditentry CASCADE",
        "UPDATE compliance_checkpoint SET root_hash = 'x'",
        "DELETE FROM compliance_anchor",
    ):
        with pytest.raises(Exception, match="append-only"):
            _run_as_the_application(statement)
    assert AuditEntry.objects.filter(action="test.a").exists()
    assert Checkpoint.objects.exists()


def _run_as_the_application(statement: str) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL fairlens.audit_maintenance = 'off'")
        cursor.execute(statement)


def test_export_endpoint_feeds_the_offline_verifier(client_as: Any, tmp_path: Any) -> None:
    import subprocess
    import sys

    for index in range(3):
        audit_append(action="test.event", payload={"n": index})
    checkpoint = create_checkpoint()
    auditor = client_as("auditor")
    export = b"".join(auditor.get("/api/v1/compliance/export").streaming_content)
    (tmp_path / "export.jsonl").write_bytes(export)
    (tmp_path / "cp.txt").write_text(checkpoint.signed_note)
    key = client_as("anonymous").get("/api/v1/compliance/public-key").json()["keys"][0]["public_pem"]
    (tmp_path / "key.pem").write_text(key)
    command = [
        sys.executable,
        "-m",
        "compliance.crypto.verify",
        "--entries",
        str(tmp_path / "export.jsonl"),
        "--checkpoint",
        str(tmp_path / "cp.txt"),
        "--public-key",
        str(tmp_path / "key.pem"),
    ]
    ok = subprocess.run(command, capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    lines = export.decode().splitlines()
    tampered = json.loads(lines[1])
    tampered["payload"]["n"] = 99
    lines[1] = json.dumps(tampered)
    (tmp_path / "export.jsonl").write_text("\n".join(lines) + "\n")
    bad = subprocess.run(command, capture_output=True, text=True, check=False)
    assert bad.returncode == 1
    assert "seq 2" in bad.stdout


def test_export_lines_match_the_stored_entries() -> None:
    audit_append(action="test.a", payload={"x": [1, 2.5, "é"]})
    line = json.loads(next(export_lines()))
    entry = AuditEntry.objects.get(seq=1)
    assert line["entry_hash"] == entry.entry_hash
    assert line["payload"] == {"x": [1, 2.5, "é"]}


def test_ingestion_and_labels_are_audited_with_the_record_id(client_as: Any) -> None:
    from monitoring.tests.factories import make_version, prediction

    make_version()
    url = "/api/v1/models/credit_model/versions/1/"
    monitor = client_as("monitor")
    ingested = monitor.post(url + "predictions", {"predictions": [prediction("a")]}, format="json").json()
    labeled = monitor.post(url + "labels", {"labels": [{"id": "a", "y_true": 1}]}, format="json").json()
    ingest_entry = AuditEntry.objects.get(action="predictions.ingest")
    assert ingest_entry.object_id == ingested["record_id"]
    assert ingest_entry.actor == "carol-monitor"
    assert ingest_entry.payload["accepted"] == 1
    assert AuditEntry.objects.get(action="labels.ingest").object_id == labeled["record_id"]
