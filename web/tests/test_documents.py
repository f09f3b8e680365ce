"""The signed documents: the LL144 bias audit, the Art. 72 monitoring plan and the Art. 12 log report as PDFs
that open, state their bundle's numbers and carry a PAdES signature that validates (and fails after one changed
byte); each download's audit entry; and the offline verifier finding each document in an export."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pypdf
import pytest
from django.core.management import call_command
from django.test import override_settings

from compliance.models import AuditEntry
from compliance.pdf_signing import certificate_fingerprint, check_pdf_signature
from compliance.report_signing import signing_certificate_pem
from monitoring.audit_report.pdf import number
from monitoring.tests.test_ll144_audit import CELLS, hiring_version, ingest_cells
from registry.models import ModelVersion
from registry.services import policy_create
from web.tests.pages import client_for

pytestmark = pytest.mark.django_db

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
DAY_QUERY = "start=2026-10-01&end=2026-10-01"
LL144 = f"/reports/hiring_screen/ll144.{{kind}}?{DAY_QUERY}"
PLAN = "/reports/hiring_screen/monitoring-plan{suffix}"
LOG = "/records/log{suffix}"  # the default period: the last 7 days, today included
POLICY_COPY = ("protected_attributes", "privileged", "metric_bands", "bias_audit")


@pytest.fixture
def audited() -> ModelVersion:
    version = hiring_version()
    ingest_cells(version)
    return version


def pdf_text(pdf: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


def tampered(pdf: bytes) -> bytes:
    """The PDF with one byte of its signed content changed (a digit of the body, before the signature)."""
    position = pdf.index(b"/Producer")
    changed = bytearray(pdf)
    changed[position + 1] = ord("Q")
    return bytes(changed)


def assert_signed_and_recorded(pdf: bytes, bundle_sha256: str) -> None:
    check = check_pdf_signature(pdf, trust_pem=signing_certificate_pem())
    assert check.ok, check.summary()
    assert not check_pdf_signature(tampered(pdf), trust_pem=signing_certificate_pem()).intact
    entry = AuditEntry.objects.filter(action="report.export", payload__format="pdf").order_by("-seq").first()
    assert entry.payload["document_sha256"] == hashlib.sha256(pdf).hexdigest()
    assert entry.payload["bundle_sha256"] == bundle_sha256
    assert entry.payload["signer_certificate_sha256"] == certificate_fingerprint(signing_certificate_pem())
    assert bundle_sha256 in pdf_text(pdf).replace("\n", "")


def test_the_bias_audit_pdf_states_the_bundles_numbers_and_its_signature_validates(
    auditor_user: Any, audited: ModelVersion
) -> None:
    client = client_for(auditor_user)
    bundle = json.loads(client.get(LL144.format(kind="json")).content)
    response = client.get(LL144.format(kind="pdf"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].endswith('-20261001-20261001.pdf"')
    pdf = response.content
    text = pdf_text(pdf)
    assert "Bias audit (NYC Local Law 144): hiring_screen" in text
    for table in bundle["tables"].values():
        for row in table["rows"]:
            assert row["category"] in text
            assert number(row["rate"]) in text
            assert number(row["impact_ratio"]) in text or row["excluded"]
        assert f"Unknown category (left out of the rates and ratios): {table['unknown']} individuals." in text
    assert_signed_and_recorded(pdf, bundle["bundle_sha256"])


def test_the_monitoring_plan_follows_the_policy_and_is_versioned_with_it(
    auditor_user: Any, admin_user: Any, audited: ModelVersion
) -> None:
    client = client_for(auditor_user)
    plan = json.loads(client.get(PLAN.format(suffix=".json")).content)
    policy = audited.model.policies.get()
    assert plan["kind"] == "eu_ai_act_art72_monitoring_plan"
    assert plan["policy_version"] == policy.version
    assert plan["schedule"]["check_interval_minutes"] == policy.check_interval_minutes
    bands = {band["name"]: band for band in plan["monitored"]["metric_bands"]}
    assert {name: {"min": band["min"], "max": band["max"]} for name, band in bands.items()} == {
        name: {"min": band.get("min"), "max": band.get("max")} for name, band in policy.metric_bands.items()
    }
    pdf = client.get(PLAN.format(suffix=".pdf")).content
    text = pdf_text(pdf)
    assert "Post-market monitoring plan: hiring_screen" in text
    for band in plan["monitored"]["metric_bands"]:
        assert band["metric"] in text
        assert number(band["min"]) in text
    assert_signed_and_recorded(pdf, pdf_bundle(pdf))
    # a policy change makes a new plan version; the page shows it to admins too (without downloads)
    fields = {name: getattr(policy, name) for name in POLICY_COPY}
    features = [
        {"name": "years_experience", "type": "numeric"},
        {"name": "email", "type": "categorical", "identifier": True},
    ]
    policy_create(model=audited.model, created_by=admin_user, **{**fields, "window_hours": 48, "features": features})
    newer = json.loads(client.get(PLAN.format(suffix=".json")).content)
    assert newer["policy_version"] == policy.version + 1
    assert [item["version"] for item in newer["policy_history"]] == [policy.version, policy.version + 1]
    html = client_for(admin_user).get(PLAN.format(suffix="/")).content.decode()
    assert f'id="plan-version">{policy.version + 1}<' in html
    assert "plan-download-pdf" not in html
    assert newer["monitored"]["features"] == [
        "years_experience (numeric)",
        "email (categorical, kept only as a keyed hash)",
    ]
    assert "years_experience (numeric)" in pdf_text(client.get(PLAN.format(suffix=".pdf")).content)


def pdf_bundle(pdf: bytes) -> str:
    """The bundle digest a PDF names in its metadata keywords."""
    keywords = pypdf.PdfReader(io.BytesIO(pdf)).metadata["/Keywords"]
    return keywords.removeprefix("bundle_sha256=")


def test_the_log_report_counts_what_the_log_recorded(auditor_user: Any, audited: ModelVersion) -> None:
    client = client_for(auditor_user)
    before = AuditEntry.objects.count()
    report = json.loads(client.get(LOG.format(suffix=".json")).content)
    assert report["kind"] == "eu_ai_act_art12_log_report"
    assert report["events"]["entries"] == before
    assert report["events"]["first_seq"] == 1
    assert report["events"]["last_seq"] == before
    actions = {}
    for action in AuditEntry.objects.filter(seq__lte=before).values_list("action", flat=True):
        actions[action] = actions.get(action, 0) + 1
    assert report["events"]["by_action"] == actions
    assert report["gaps"] == "none"
    assert report["retention"]["log_retention_days"] >= 183
    # the PDF names every kind of event with its count
    pdf = client.get(LOG.format(suffix=".pdf")).content
    text = pdf_text(pdf)
    assert "Record-keeping report (audit log)" in text
    for action in actions:
        assert action in text
    assert_signed_and_recorded(pdf, pdf_bundle(pdf))
    html = client.get(LOG.format(suffix="/")).content.decode()
    assert f'id="log-entries">{before + 2} (seq 1 to {before + 2})' in html  # the two downloads are entries too
    bad = client.get("/records/log.json?start=2026-13-01")
    assert bad.status_code == 400
    assert bad.json()["code"] == "invalid_period"


def test_without_a_signing_key_pdfs_are_a_503_and_nothing_is_recorded(auditor_user: Any, audited: ModelVersion) -> None:
    client = client_for(auditor_user)
    with override_settings(REPORT_SIGNING_KEY=""):
        response = client.get(PLAN.format(suffix=".pdf"))
        assert response.status_code == 503
        assert response.json()["code"] == "report_signing_unavailable"
        assert "REPORT_SIGNING_KEY" in response.json()["message"]
        assert client.get("/records/signing-certificate.pem").status_code == 503
        assert client.get(PLAN.format(suffix=".json")).status_code == 200
    assert not AuditEntry.objects.filter(action="report.export", payload__format="pdf").exists()
    certificate = client.get("/records/signing-certificate.pem")
    assert certificate.status_code == 200
    assert certificate.content.decode() == signing_certificate_pem()


def _verify(folder: Path, *documents: Path) -> subprocess.CompletedProcess[str]:
    keys = [f"--public-key={path}" for path in sorted(folder.glob("public-key-*.pem"))]
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "compliance.crypto.verify",
            f"--entries={folder / 'audit-export.jsonl'}",
            f"--checkpoint={folder / 'checkpoint.txt'}",
            *keys,
            *(f"--document={path}" for path in documents),
        ],
        capture_output=True,
        text=True,
        cwd=REPOSITORY_ROOT,
        timeout=120,
        check=False,
    )


def test_the_offline_verifier_finds_each_issued_document_in_the_export(
    tmp_path: Path, auditor_user: Any, audited: ModelVersion
) -> None:
    client = client_for(auditor_user)
    files = {
        "ll144.json": client.get(LL144.format(kind="json")).content,
        "ll144.pdf": client.get(LL144.format(kind="pdf")).content,
        "plan.pdf": client.get(PLAN.format(suffix=".pdf")).content,
        "log.json": client.get(LOG.format(suffix=".json")).content,
    }
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    call_command("export_audit_log", out=tmp_path / "export", checkpoint_now=True)
    result = _verify(tmp_path / "export", *(tmp_path / name for name in files))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("OK: ")
    assert len(lines) == 1 + len(files)
    for name, line in zip(files, lines[1:], strict=True):
        assert line.startswith(f"document {name}: OK: ")
        assert "covered by the checkpoint" in line
    # a bundle whose numbers were changed no longer matches its digest
    bundle = json.loads(files["ll144.json"])
    bundle["assessed"] += 1
    (tmp_path / "changed.json").write_text(json.dumps(bundle))
    changed = _verify(tmp_path / "export", tmp_path / "changed.json")
    assert changed.returncode == 1
    assert "document changed.json: FAIL: content changed" in changed.stdout
    # a PDF changed by one byte is not the one that was issued
    pdf = bytearray(files["ll144.pdf"])
    pdf[pdf.index(b"/Producer") + 1] ^= 0x01
    (tmp_path / "changed.pdf").write_bytes(bytes(pdf))
    unknown = _verify(tmp_path / "export", tmp_path / "changed.pdf")
    assert unknown.returncode == 1
    assert "no report.export entry records document_sha256" in unknown.stdout
    # a document issued after the checkpoint is recorded but not yet covered by it
    (tmp_path / "late.pdf").write_bytes(client.get(PLAN.format(suffix=".pdf")).content)
    call_command("export_audit_log", out=tmp_path / "later")
    late = _verify(tmp_path / "later", tmp_path / "late.pdf")
    assert late.returncode == 1
    assert "after the checkpoint" in late.stdout


ART_10_5 = {
    "purpose": "Sex and race/ethnicity are needed to measure selection rates per category for the LL144 audit.",
    "deletion_date": "2027-12-31",
    "safeguards": "Access limited to the roles below; quarterly review of the access log.",
}


def test_the_plan_states_the_art_10_5_record_and_counts_each_access_to_stored_records(
    auditor_user: Any, admin_user: Any, monitor_user: Any, audited: ModelVersion
) -> None:
    client = client_for(auditor_user)
    missing = json.loads(client.get(PLAN.format(suffix=".json")).content)["special_category_data"]
    assert missing["recorded"] is False
    assert missing["accesses_recorded"] == 0
    policy = audited.model.policies.get()
    fields = {name: getattr(policy, name) for name in POLICY_COPY}
    policy_create(model=audited.model, created_by=admin_user, **fields, special_category_data=ART_10_5)
    # a monitor opens the stored predictions: one audited access naming the page and the rows shown
    assert client_for(monitor_user).get("/dashboard/hiring_screen/predictions/").status_code == 200
    access = AuditEntry.objects.get(action="special_category.access")
    assert access.actor == monitor_user.get_username()
    assert access.object_id == "hiring_screen:1"
    assert access.payload["where"] == "predictions page"
    assert access.payload["rows"] > 0
    plan = json.loads(client.get(PLAN.format(suffix=".json")).content)["special_category_data"]
    assert plan["recorded"] is True
    assert plan["purpose"] == ART_10_5["purpose"]
    assert plan["deletion_date"] == "2027-12-31"
    assert plan["accesses_recorded"] == 1
    assert plan["last_access"] is not None
    text = pdf_text(client.get(PLAN.format(suffix=".pdf")).content)
    assert "2027-12-31" in text
    assert "Accesses recorded" in text


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"deletion_date": "2027-12-31"}, "purpose: why processing"),
        ({"purpose": "needed", "deletion_date": "31/12/2027"}, "deletion_date: when"),
        ({"purpose": "needed", "deletion_date": "2027-12-31", "owner": "x"}, "owner: unknown"),
    ],
)
def test_an_incomplete_art_10_5_record_is_refused_with_the_reason(
    record: dict[str, Any], message: str, admin_user: Any, audited: ModelVersion
) -> None:
    from core.api.errors import ApplicationError

    policy = audited.model.policies.get()
    fields = {name: getattr(policy, name) for name in POLICY_COPY}
    with pytest.raises(ApplicationError) as refused:
        policy_create(model=audited.model, created_by=admin_user, **fields, special_category_data=record)
    assert any(problem.startswith(message) for problem in refused.value.details["special_category_data"])
    assert audited.model.policies.count() == 1


def test_the_reg_b_self_test_record_holds_the_analysis_the_findings_and_the_corrective_action(
    auditor_user: Any, monitor_user: Any
) -> None:
    from monitoring.alerts.models import Alert
    from monitoring.alerts.services import acknowledge_alert
    from web.tests.test_report_pages import drifted_model

    version, _ = drifted_model()
    alert = Alert.objects.get(model_version=version)
    acknowledge_alert(alert_id=alert.pk, user=monitor_user, note="Retraining on the corrected data set.")
    client = client_for(auditor_user)
    query = "start=2026-10-01&end=2026-10-01"
    dossier = json.loads(client.get(f"/reports/loan_model/reg-b.json?{query}").content)
    assert dossier["kind"] == "reg_b_ecoa_self_test"
    assert dossier["predictions"] == 2000
    female = next(row for row in dossier["analysis"] if row["group"] == "Female")
    assert female["DIR"]["verdict"] == "significant_violation"
    assert {(item["group"], item["metric"]) for item in dossier["findings"]} >= {("Female", "DIR")}
    assert dossier["alerts"][0]["acknowledgement_note"] == "Retraining on the corrected data set."
    assert "alert.acknowledged" in [item["action"] for item in dossier["corrective_actions"]]
    assert dossier["labels"]["status"] in ("final", "provisional")
    pdf = client.get(f"/reports/loan_model/reg-b.pdf?{query}").content
    text = pdf_text(pdf)
    assert "Self-test record (ECOA / Regulation B): loan_model v1" in text
    assert number(female["DIR"]["value"]) in text
    assert "Retraining on the corrected data set." in text.replace("\n", " ")
    assert_signed_and_recorded(pdf, pdf_bundle(pdf))
    html = client.get(f"/reports/loan_model/reg-b/?{query}").content.decode()
    assert 'id="dossier-predictions">2000<' in html


def test_deleting_stored_predictions_keeps_the_documents_and_the_chain(
    auditor_user: Any, audited: ModelVersion
) -> None:
    from django.utils import timezone

    from compliance.verification import verify_log
    from monitoring.ingestion.services import delete_expired_predictions
    from monitoring.models import Prediction, PredictionRollup

    client = client_for(auditor_user)
    before = json.loads(client.get(LL144.format(kind="json")).content)
    rollups = sorted(
        PredictionRollup.objects.values_list("group", "tp", "fp", "tn", "fn", "unlabeled_pos", "unlabeled_neg")
    )
    stored = Prediction.objects.filter(model_version=audited).count()
    # retention off and no Art. 10(5) date: nothing is due
    assert delete_expired_predictions(timezone.now()) == {}
    with override_settings(PREDICTION_RETENTION_DAYS=30):  # the predictions are from 2026-10-01
        assert delete_expired_predictions(timezone.now()) == {"hiring_screen:1": stored}
    assert not Prediction.objects.filter(model_version=audited).exists()
    entry = AuditEntry.objects.get(action="predictions.delete")
    assert entry.payload["rows"] == stored
    assert entry.payload["reason"] == "retention"
    # the counts, the audit's numbers and the log's verification are unchanged
    assert (
        sorted(PredictionRollup.objects.values_list("group", "tp", "fp", "tn", "fn", "unlabeled_pos", "unlabeled_neg"))
        == rollups
    )
    after = json.loads(client.get(LL144.format(kind="json")).content)
    assert after["tables"] == before["tables"]
    assert after["bundle_sha256"] == before["bundle_sha256"]
    run = verify_log()
    assert run.ok, run.problem


def test_an_art_10_5_deletion_date_deletes_all_of_a_models_stored_predictions(
    admin_user: Any, audited: ModelVersion
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from monitoring.ingestion.services import delete_expired_predictions
    from monitoring.models import Prediction

    policy = audited.model.policies.get()
    fields = {name: getattr(policy, name) for name in POLICY_COPY}
    today = timezone.now().date()
    record = {"purpose": "bias detection", "deletion_date": (today + timedelta(days=1)).isoformat()}
    policy_create(model=audited.model, created_by=admin_user, **fields, special_category_data=record)
    assert delete_expired_predictions(timezone.now()) == {}
    assert delete_expired_predictions(timezone.now() + timedelta(days=1)) == {
        "hiring_screen:1": sum(assessed for assessed, _ in CELLS.values())
    }
    assert not Prediction.objects.exists()
    assert AuditEntry.objects.get(action="predictions.delete").payload["reason"] == "art_10_5_deletion_date"
