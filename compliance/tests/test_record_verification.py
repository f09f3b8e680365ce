"""/api/verify_alert/<record_id> and /api/get_anchor/<hash> on records made by /api/evaluate_model."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from compliance.checkpoints import anchor_checkpoint, create_checkpoint
from compliance.models import AuditEntry
from monitoring.models import IngestionRecord

pytestmark = pytest.mark.django_db


@pytest.fixture
def drifted_record(client_as: Any) -> dict[str, Any]:
    call_command("train_demo_model", "--samples", "1000", stdout=StringIO())
    response = client_as("monitor").post(
        "/api/evaluate_model", {"n_samples": 1000, "drift_level": 0.9, "seed": 5}, format="json"
    )
    data = response.json()["data"]
    assert data["alert"] is True
    assert data["encrypted_alert"]
    assert data["explanation"].startswith("DIR = ")
    return data


def test_a_record_verifies_and_is_in_the_anchored_checkpoint(client_as: Any, drifted_record: dict) -> None:
    anchor_checkpoint(create_checkpoint().pk)
    body = client_as("auditor").get(f"/api/verify_alert/{drifted_record['record_id']}").json()
    assert body["status"] == "success"
    data = body["data"]
    assert data["verified"] is True, data
    assert data["record_summary_matches_signed_digest"] is True
    assert all(entry["in_checkpoint"] for entry in data["entries"])
    assert data["entries"][0]["checkpoint"]["anchors"]


def test_a_changed_record_fails_verification_and_says_which_check(client_as: Any, drifted_record: dict) -> None:
    record = IngestionRecord.objects.get(record_id=drifted_record["record_id"])
    record.summary["alert"] = False  # someone hides the alert in the database
    record.save(update_fields=["summary"])
    data = client_as("auditor").get(f"/api/verify_alert/{record.record_id}").json()["data"]
    assert data["verified"] is False
    assert "record_summary_matches_signed_digest" in data["failed_checks"]


def test_an_unknown_record_is_a_404(client_as: Any) -> None:
    response = client_as("auditor").get("/api/verify_alert/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404
    assert client_as("auditor").get("/api/verify_alert/not-a-uuid").status_code == 404


def test_get_anchor_finds_roots_and_entries(client_as: Any, drifted_record: dict) -> None:
    checkpoint = create_checkpoint()
    anchor_checkpoint(checkpoint.pk)
    anonymous = client_as("anonymous")
    by_root = anonymous.get(f"/api/get_anchor/{checkpoint.root_hash}").json()["data"]
    assert by_root["tx_id"] == "0x" + checkpoint.root_hash[:16]
    entry = AuditEntry.objects.filter(object_id=drifted_record["record_id"]).first()
    by_entry = anonymous.get(f"/api/get_anchor/{entry.entry_hash}").json()["data"]
    assert by_entry["kind"] == "entry"
    assert by_entry["entry_seq"] == entry.seq
    assert by_entry["inclusion_proof"]
    assert anonymous.get("/api/get_anchor/" + "0" * 64).status_code == 404
    assert anonymous.get("/api/get_anchor/xyz").status_code == 400


def test_audit_history_lists_the_latest_entries_for_auditors(client_as: Any, drifted_record: dict) -> None:
    body = client_as("auditor").get("/api/audit_history", {"limit": 5}).json()
    assert len(body["data"]) == 5
    seqs = [entry["seq"] for entry in body["data"]]
    assert seqs == sorted(seqs, reverse=True)
    assert client_as("auditor").get("/api/audit_history", {"limit": 0}).status_code == 400
    assert client_as("monitor").get("/api/audit_history").status_code == 403


def test_verify_endpoint_and_command(client_as: Any, drifted_record: dict) -> None:
    anchor_checkpoint(create_checkpoint().pk)
    assert client_as("auditor").get("/api/v1/compliance/verify").json()["ok"] is True
    output = StringIO()
    call_command("verify_audit_log", stdout=output)
    assert output.getvalue().startswith("OK:")
