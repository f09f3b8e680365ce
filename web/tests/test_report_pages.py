"""Audit report pages: who may open them, what they show, audited decryption, verification and the evidence bundle.

Data is made the way production makes it: loan decisions ingested into rollups (the helpers of
``monitoring/checks/tests/builders.py``), then a manual check of the hour, which opens an alert when the data drifted.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from compliance.checkpoints import anchor_checkpoint, create_checkpoint
from compliance.crypto.canonical import sorted_json_sha256
from compliance.models import AuditEntry, VerificationRun
from compliance.verification import verify_log
from conftest import totp_code
from monitoring.alerts.models import Alert
from monitoring.alerts.services import acknowledge_alert
from monitoring.checks.analysis import counts_as_inputs
from monitoring.checks.services import run_check
from monitoring.checks.tests.builders import BASE, HOUR, ingest_loans, loan_version
from monitoring.ingestion.selectors import window_counts
from monitoring.models import FairnessCheck
from monitoring.reporting import engine_policy, reports_from_counts
from registry.models import ModelVersion
from registry.services import current_policy, register_model, version_set_stage
from web.tests.pages import verdict_cells

pytestmark = pytest.mark.django_db

PERIOD = {"start": "2026-10-01", "end": "2026-10-01"}
REPORT = "/reports/loan_model/"
GENDER_POLICY = {"protected_attributes": ["gender"], "privileged": {"gender": "Male"}}
SECTIONS = (
    "Period",
    "Verdicts per attribute and group",
    "Headline DIR of the checks in the period",
    "Alerts opened in or open during the period",
    "Audit log integrity",
    "Policy, data volumes and inputs",
)
APP_CSS = Path(__file__).resolve().parents[1] / "static" / "web" / "app.css"


# --- Helpers ---------------------------------------------------------------------------------------------------


def drifted_model(hour: int = 0, n: int = 2000, drift: float = 0.8, seed: int = 2) -> tuple[ModelVersion, Any]:
    """loan_model v1 with ``n`` decisions in hour ``hour`` of BASE's day and its manual check (an alert at 0.8)."""
    version = loan_version()
    ingest_loans(version, hour=hour, n=n, drift=drift, seed=seed)
    check = run_check(model_version=version, window_end=BASE + (hour + 1) * HOUR, trigger="manual", claim_token="t")
    return version, check


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page(client: Client, path: str = REPORT, **params: str) -> tuple[int, str]:
    response = client.get(path, {**PERIOD, **params})
    return response.status_code, response.content.decode()


def expected_reports(version: ModelVersion) -> dict[str, Any]:
    """What the engine says about the whole of BASE's day, computed here without the page."""
    policy = current_policy(version.model)
    counts = window_counts(model_version=version, start=BASE, end=BASE + timedelta(days=1), favorable_label=1)
    return reports_from_counts(
        counts,
        policy.privileged,
        engine_policy(
            metric_bands=policy.metric_bands,
            min_group_size=policy.min_group_size,
            confidence_level=policy.confidence_level,
        ),
    )


def text_of(body: str, element_id: str) -> str:
    """The text inside the element with ``id`` (which holds no element of its own kind), tags removed."""
    start = body.index(f'id="{element_id}"')
    tag = body[body.rindex("<", 0, start) + 1 :].split(None, 1)[0]
    opened = body.index(">", start) + 1
    closing = body.index(f"</{tag}>", opened)
    inner = body[opened:closing]
    while "<" in inner:
        before, _, rest = inner.partition("<")
        inner = before + rest.partition(">")[2]
    return " ".join(inner.split())


def explanation_of(alert: Alert, auditor: Any) -> str:
    from compliance.field_encryption import decrypt_for

    return decrypt_for(
        user=auditor, obj=alert, field="encrypted_explanation", reason="test oracle only", otp=totp_code(auditor)
    )


# --- Access ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/reports/", REPORT, REPORT + "evidence.json", REPORT + "evidence.csv"],
)
def test_anonymous_visitors_are_sent_to_the_login_page(path: str) -> None:
    response = Client().get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


def test_anonymous_posts_are_sent_to_the_login_page_and_decrypt_nothing() -> None:
    drifted_model()
    alert = Alert.objects.get()
    for path in (f"{REPORT}alerts/{alert.pk}/decrypt", f"{REPORT}verify"):
        response = Client().post(path, {"reason": "just looking"})
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")
    assert not AuditEntry.objects.filter(action="data.decrypt").exists()
    assert not VerificationRun.objects.exists()


def test_monitors_may_not_open_reports(monitor_user: Any) -> None:
    drifted_model()
    alert = Alert.objects.get()
    client = client_for(monitor_user)
    for path in ("/reports/", REPORT, REPORT + "evidence.json", REPORT + "evidence.csv"):
        response = client.get(path)
        assert response.status_code == 403, path
        assert "auditor" in response.content.decode()
    assert client.post(f"{REPORT}alerts/{alert.pk}/decrypt", {"reason": "just looking"}).status_code == 403
    assert client.post(f"{REPORT}verify").status_code == 403
    assert not AuditEntry.objects.filter(action__in=["data.decrypt", "report.export"]).exists()


def test_the_index_lists_models_with_links_to_their_report(auditor_user: Any, admin_user: Any) -> None:
    drifted_model()
    register_model(name="credit_model", version="7", registered_by=None, policy=GENDER_POLICY)
    for user in (auditor_user, admin_user):
        response = client_for(user).get("/reports/")
        body = response.content.decode()
        assert response.status_code == 200
        assert '<a href="/reports/loan_model/">loan_model</a>' in body
        assert '<a href="/reports/credit_model/">credit_model</a>' in body
        assert "<h1>Audit reports</h1>" in body


def test_an_unknown_model_is_404(auditor_user: Any) -> None:
    client = client_for(auditor_user)
    assert client.get("/reports/no_such_model/").status_code == 404
    assert client.get("/reports/no_such_model/evidence.json").status_code == 404
    assert client.get("/reports/no_such_model/evidence.csv").status_code == 404


# --- The report ------------------------------------------------------------------------------------------------


def test_auditors_get_the_full_report(auditor_user: Any) -> None:
    version, check = drifted_model()
    alert = Alert.objects.get()
    status, body = page(client_for(auditor_user))
    assert status == 200
    assert "<h1>Audit report: loan_model v1</h1>" in body
    for heading in SECTIONS:
        assert f">{heading}</h2>" in body, heading
    # the chart and the table of the same numbers
    assert '<svg id="report-chart"' in body
    assert 'class="threshold"' in body
    assert f'<th scope="row">#{check.pk}</th>' in body
    assert f'data-value="{check.headline_dir}"' in body
    # the alert with its lifecycle, a decrypt form (CSRF, required reason) and no plaintext
    assert f'id="alert-{alert.pk}"' in body
    assert "Critical severity" in body
    assert "not acknowledged" in body
    assert f'action="/reports/loan_model/alerts/{alert.pk}/decrypt"' in body
    assert 'name="csrfmiddlewaretoken"' in body
    assert f'<label for="reason-{alert.pk}">' in body
    assert "Potential bias" not in body
    # the verify form, policy, volumes and the digest
    assert 'action="/reports/loan_model/verify"' in body
    assert "Verify now" in body
    assert text_of(body, "volume-predictions") == "2000"
    assert text_of(body, "volume-checks") == "1 (1 completed)"
    assert text_of(body, "volume-alerts") == "1"
    assert "DIR at least 0.8" in body
    assert "v1 (since" in body
    assert 'class="hash" id="inputs-sha256"' in body
    assert "/reports/loan_model/evidence.json?start=2026-10-01&amp;end=2026-10-01" in body
    assert response_headers_forbid_caching(client_for(auditor_user).get(REPORT, PERIOD))


def response_headers_forbid_caching(response: Any) -> bool:
    return "no-store" in response["Cache-Control"]


def test_the_alert_lifecycle_is_shown(auditor_user: Any, monitor_user: Any) -> None:
    drifted_model()
    alert = Alert.objects.get()
    acknowledge_alert(alert_id=alert.pk, user=monitor_user, note="retraining with fresh data")
    _, body = page(client_for(auditor_user))
    assert "by carol-monitor: “retraining with fresh data”" in body
    assert "not resolved" in body
    assert "Acknowledged</span>" in body


def test_admins_get_a_read_only_summary(admin_user: Any) -> None:
    drifted_model()
    alert = Alert.objects.get()
    status, body = page(client_for(admin_user))
    assert status == 200
    assert 'id="summary-note"' in body
    assert "Verdicts per attribute and group" in body
    assert 'id="integrity-status"' in body
    assert 'id="inputs-sha256"' in body
    assert text_of(body, "volume-alerts") == "1"
    # no alert details, explanations, decrypt or verify forms
    assert "/decrypt" not in body
    assert "Decrypt explanation" not in body
    assert "/verify" not in body
    assert "Verify now" not in body
    assert f'id="alert-{alert.pk}"' not in body
    assert "Potential bias" not in body
    assert 'id="report-chart"' not in body


def test_admins_may_not_decrypt_or_verify(admin_user: Any) -> None:
    drifted_model()
    alert = Alert.objects.get()
    client = client_for(admin_user)
    response = client.post(f"{REPORT}alerts/{alert.pk}/decrypt", {**PERIOD, "reason": "I am the admin"})
    assert response.status_code == 403
    assert "Potential bias" not in response.content.decode()
    assert client.post(f"{REPORT}verify", PERIOD).status_code == 403
    assert not AuditEntry.objects.filter(action="data.decrypt").exists()
    assert not VerificationRun.objects.exists()


def test_the_verdict_table_shows_what_the_engine_computes(auditor_user: Any) -> None:
    version, _ = drifted_model()
    expected = expected_reports(version)
    _, body = page(client_for(auditor_user))
    cells = verdict_cells(body)
    report = expected["gender"]
    assert set(report["groups"]) == {"Female", "Male"}
    for group, summary in report["groups"].items():
        assert int(cells[("gender", group, "n")]["value"]) == summary["n"]
        assert float(cells[("gender", group, "selection_rate")]["value"]) == summary["selection_rate"]
    female = report["comparisons"]["Female"]
    for metric in ("DIR", "SPD", "EOD", "AOD"):
        cell = cells[("gender", "Female", metric)]
        assert float(cell["value"]) == female[metric], metric
        assert [float(cell["lower"]), float(cell["upper"])] == female["intervals"][metric], metric
    # the verdict, as a badge with words
    assert female["verdicts"]["DIR"] == "significant_violation"
    assert 'data-verdict="significant_violation">Significant violation</span>' in body
    assert f"{female['DIR']:.3f}" in body


def test_a_fair_period_passes(auditor_user: Any) -> None:
    drifted_model(drift=0.0, seed=1)
    _, body = page(client_for(auditor_user))
    assert 'data-verdict="pass">Pass</span>' in body
    assert "No alerts in this period." in body


def test_the_inputs_hash_is_stable_and_follows_the_data(auditor_user: Any) -> None:
    version, _ = drifted_model()
    client = client_for(auditor_user)
    first, second = page(client)[1], page(client)[1]
    digest = text_of(first, "inputs-sha256")
    assert len(digest) == 64
    assert digest == text_of(second, "inputs-sha256")
    counts = window_counts(model_version=version, start=BASE, end=BASE + timedelta(days=1))
    assert text_of(first, "counts-sha256") == sorted_json_sha256(counts_as_inputs(counts))
    # a different period is a different report
    assert text_of(page(client, end="2026-10-02")[1], "inputs-sha256") != digest
    # more data in the period changes it
    ingest_loans(version, hour=5, n=50, drift=0.0, seed=9)
    assert text_of(page(client)[1], "inputs-sha256") != digest


def test_the_default_period_is_the_last_seven_days(auditor_user: Any) -> None:
    drifted_model()
    response = client_for(auditor_user).get(REPORT)
    body = response.content.decode()
    today = timezone.now().date()
    assert response.status_code == 200
    assert f'name="start" value="{today - timedelta(days=7)}"' in body
    assert f'name="end" value="{today}"' in body
    assert text_of(body, "volume-predictions") == "0"  # BASE lies further back


def test_the_version_defaults_to_the_newest_production_one(auditor_user: Any) -> None:
    first, _ = drifted_model()
    second = register_model(name="loan_model", version="2", registered_by=None)
    client = client_for(auditor_user)
    assert "<h1>Audit report: loan_model v2</h1>" in page(client)[1]  # newest, none in production
    version_set_stage(model_version=first, stage=ModelVersion.Stage.PRODUCTION)
    assert "<h1>Audit report: loan_model v1</h1>" in page(client)[1]
    version_set_stage(model_version=first, stage=ModelVersion.Stage.RETIRED)
    version_set_stage(model_version=second, stage=ModelVersion.Stage.STAGING)
    assert "<h1>Audit report: loan_model v2</h1>" in page(client)[1]
    status, body = page(client, version="1")
    assert (status, text_of(body, "volume-predictions")) == (200, "2000")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start": "2026-13-01"}, "Enter the start as a date, YYYY-MM-DD"),
        ({"end": "yesterday"}, "Enter the end as a date, YYYY-MM-DD"),
        ({"start": "2026-02-30"}, "Enter the start as a date"),
        ({"start": "2026-10-05", "end": "2026-10-01"}, "The start date is after the end date."),
        ({"start": "2020-01-01", "end": "2026-10-01"}, "A report covers at most 366 days."),
        ({"end": "9999-12-31"}, "Enter an end date before 9999-12-31."),
        ({"version": "nope"}, "loan_model has no version &#x27;nope&#x27;."),
        ({"start": "<script>alert(1)</script>"}, "Enter the start as a date"),
    ],
)
def test_bad_periods_show_a_form_error_not_a_server_error(
    auditor_user: Any, params: dict[str, str], message: str
) -> None:
    drifted_model()
    client = client_for(auditor_user)
    status, body = page(client, **params)
    assert status == 400
    assert 'role="alert"' in body
    assert message in body
    assert "<script>alert(1)</script>" not in body
    assert 'id="integrity-status"' not in body  # no report for a period that does not exist
    assert 'aria-invalid="true"' in body
    response = client.get(REPORT + "evidence.json", {**PERIOD, **params})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_period"


def test_a_model_without_versions_says_so(auditor_user: Any, ml_model: Any) -> None:
    status, body = page(client_for(auditor_user))
    assert status == 200
    assert "has no registered versions yet" in body
    assert client_for(auditor_user).get(REPORT + "evidence.json", PERIOD).status_code == 404


def test_the_page_links_the_print_stylesheet_and_explains_printing(auditor_user: Any) -> None:
    drifted_model()
    _, body = page(client_for(auditor_user))
    assert '<link rel="stylesheet" href="/static/web/app.css">' in body
    assert "use your browser's Print command" in body
    assert "onclick" not in body
    assert "<script" not in body
    css = APP_CSS.read_text()
    assert "@media print" in css
    assert ".no-print" in css.split("@media print", 1)[1]


# --- Integrity -------------------------------------------------------------------------------------------------


def test_integrity_status_before_and_after_verification(auditor_user: Any) -> None:
    drifted_model()
    client = client_for(auditor_user)
    body = page(client)[1]
    assert 'id="integrity-status" class="integrity-none"' in body  # neutral: neither good nor bad news
    assert text_of(body, "integrity-status") == "○ Audit log not verified yet."
    assert "No checkpoint has been signed yet." in body
    anchor_checkpoint(create_checkpoint().pk)
    run = verify_log()
    body = page(client)[1]
    assert 'id="integrity-status" class="integrity-ok"' in body
    status = text_of(body, "integrity-status")
    assert status.startswith("✔ Audit log verified:")
    assert f"{run.checked_entries} entries checked at {run.finished_at:%Y-%m-%d %H:%M:%S} UTC" in status
    assert "not anchored yet" not in body
    assert "simulated_chain, transaction" in body


def test_a_failed_verification_names_the_first_bad_seq(auditor_user: Any, admin_user: Any) -> None:
    drifted_model()
    now = timezone.now()
    VerificationRun.objects.create(
        ok=False,
        checked_entries=9,
        first_bad_seq=4,
        problem="entry_hash does not match",
        started_at=now,
        finished_at=now,
    )
    for user in (auditor_user, admin_user):
        body = page(client_for(user))[1]
        assert 'id="integrity-status" class="integrity-bad"' in body
        status = text_of(body, "integrity-status")
        assert "Audit log verification FAILED (first bad seq 4)" in status
        assert "entry_hash does not match" in status


def test_verify_now_runs_the_verification_and_goes_back_with_a_message(auditor_user: Any) -> None:
    drifted_model()
    client = client_for(auditor_user)
    response = client.post(f"{REPORT}verify", {**PERIOD, "version": "1"})
    assert response.status_code == 302
    assert response["Location"] == "/reports/loan_model/?start=2026-10-01&end=2026-10-01&version=1"
    assert VerificationRun.objects.get().ok
    body = client.get(response["Location"]).content.decode()
    assert "Audit log verified:" in body
    assert 'class="message-success"' in body
    assert 'id="integrity-status" class="integrity-ok"' in body
    assert client.get(f"{REPORT}verify").status_code == 405


# --- Decryption ------------------------------------------------------------------------------------------------


def test_decrypting_with_a_reason_shows_the_plaintext_and_is_audited(auditor_user: Any) -> None:
    drifted_model()
    alert = Alert.objects.get()
    client = client_for(auditor_user)
    form = {**PERIOD, "reason": "quarterly fairness review", "otp": totp_code(auditor_user)}
    posted = client.post(f"{REPORT}alerts/{alert.pk}/decrypt", form)
    # the POST redirects (a reload does not post it again) to the same period's report at the explanation
    assert posted.status_code == 302
    assert posted["Location"].startswith(f"{REPORT}?start=2026-10-01")
    assert posted["Location"].endswith(f"#alert-{alert.pk}-explanation")
    assert "Potential bias" not in posted["Location"]
    response = client.get(posted["Location"])
    body = response.content.decode()
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    entry = AuditEntry.objects.get(action="data.decrypt")
    assert (entry.object_type, entry.object_id, entry.actor) == ("alerts.alert", str(alert.pk), "bob-auditor")
    assert entry.payload["reason"] == "quarterly fairness review"
    plaintext = explanation_of(alert, auditor_user)
    assert f'id="alert-{alert.pk}-explanation"' in body
    assert plaintext.split(".")[0] in body
    assert "Potential bias" in body
    assert "this access is recorded in the audit log" in body
    # still the report of the same period
    assert 'name="start" value="2026-10-01"' in body
    assert text_of(body, "volume-predictions") == "2000"
    # and the plaintext is shown once: neither a reload nor the session keeps it, and showing it was no new access
    audited = AuditEntry.objects.filter(action="data.decrypt").count()
    assert "Potential bias" not in client.get(posted["Location"]).content.decode()
    assert "Potential bias" not in page(client)[1]
    assert all("Potential bias" not in str(value) for value in client.session.values())
    assert AuditEntry.objects.filter(action="data.decrypt").count() == audited


def test_decrypting_without_a_reason_shows_the_error_and_no_plaintext(auditor_user: Any) -> None:
    drifted_model()
    alert = Alert.objects.get()
    client = client_for(auditor_user)
    for reason in ("", "  ", "why"):
        response = client.post(f"{REPORT}alerts/{alert.pk}/decrypt", {**PERIOD, "reason": reason})
        body = response.content.decode()
        assert response.status_code == 400
        assert "Say why you need the plaintext (at least 5 characters)." in body
        assert f'id="reason-{alert.pk}-error"' in body
        assert "Potential bias" not in body
    assert not AuditEntry.objects.filter(action="data.decrypt").exists()
    assert client.get(f"{REPORT}alerts/{alert.pk}/decrypt").status_code == 405


def test_decrypting_on_the_page_needs_a_fresh_code(auditor_user: Any) -> None:
    drifted_model()
    alert = Alert.objects.get()
    client = client_for(auditor_user)
    form = {**PERIOD, "reason": "quarterly fairness review"}
    missing = client.post(f"{REPORT}alerts/{alert.pk}/decrypt", form)
    assert missing.status_code == 403
    assert "authenticator" in missing.content.decode()
    assert "Potential bias" not in missing.content.decode()
    code = totp_code(auditor_user)
    assert client.post(f"{REPORT}alerts/{alert.pk}/decrypt", {**form, "otp": code}).status_code == 302
    replayed = client.post(f"{REPORT}alerts/{alert.pk}/decrypt", {**form, "otp": code})
    assert replayed.status_code == 403
    assert "Potential bias" not in replayed.content.decode()
    assert AuditEntry.objects.filter(action="data.decrypt").count() == 1


def test_decrypting_with_a_bad_period_decrypts_nothing(auditor_user: Any) -> None:
    drifted_model()
    alert = Alert.objects.get()
    response = client_for(auditor_user).post(
        f"{REPORT}alerts/{alert.pk}/decrypt", {"start": "2026-10-09", "end": "2026-10-01", "reason": "quarterly review"}
    )
    body = response.content.decode()
    assert response.status_code == 400
    assert "The start date is after the end date." in body
    assert "Potential bias" not in body
    assert not AuditEntry.objects.filter(action="data.decrypt").exists()


def test_decrypting_needs_csrf_and_an_alert_of_this_model(auditor_user: Any) -> None:
    drifted_model()
    alert = Alert.objects.get()
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(auditor_user)
    assert strict.post(f"{REPORT}alerts/{alert.pk}/decrypt", {"reason": "quarterly review"}).status_code == 403
    register_model(name="other_model", version="1", registered_by=None, policy=GENDER_POLICY)
    client = client_for(auditor_user)
    response = client.post(f"/reports/other_model/alerts/{alert.pk}/decrypt", {"reason": "quarterly review"})
    assert response.status_code == 404
    assert not AuditEntry.objects.filter(action="data.decrypt").exists()


# --- Evidence --------------------------------------------------------------------------------------------------


def canonical_sha256(value: Any) -> str:
    return hashlib.sha256(
        json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    ).hexdigest()


def test_evidence_json_is_a_self_checking_bundle(auditor_user: Any) -> None:
    version, check = drifted_model()
    alert = Alert.objects.get()
    response = client_for(auditor_user).get(REPORT + "evidence.json", PERIOD)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response["Content-Disposition"] == (
        'attachment; filename="fairlens-report-loan_model-1-20261001-20261001.json"'
    )
    bundle = json.loads(response.content)
    # the digest recomputes over everything else
    claimed = bundle.pop("bundle_sha256")
    assert canonical_sha256(bundle) == claimed
    # what it holds
    assert (bundle["model"], bundle["version"]) == ("loan_model", "1")
    assert bundle["period"]["start"] == "2026-10-01T00:00:00Z"
    assert bundle["period"]["end"] == "2026-10-02T00:00:00Z"
    assert bundle["policy"]["version"] == 1
    assert bundle["policy"]["metric_bands"] == {"DIR": {"min": 0.8, "max": None}}
    assert bundle["policy"]["privileged"] == {"gender": "Male"}
    assert bundle["verdicts"] == json.loads(json.dumps(expected_reports(version)))
    assert bundle["checks"] == [
        {
            **{key: bundle["checks"][0][key] for key in ("window_start", "window_end", "completed_at")},
            "id": check.pk,
            "status": "completed",
            "status_summary": "alert",
            "verdict": "significant_violation",
            "headline_dir": check.headline_dir,
            "n_predictions": 2000,
            "policy_version": 1,
            "inputs_sha256": check.inputs_sha256,
            "engine_version": check.engine_version,
        }
    ]
    assert [item["id"] for item in bundle["alerts"]] == [alert.pk]
    assert bundle["alerts"][0]["explanation_encrypted"] is True
    assert "Potential bias" not in response.content.decode()
    assert "encrypted_explanation" not in response.content.decode()
    assert set(bundle["integrity"]) == {"verification", "checkpoint", "anchor"}
    assert bundle["volumes"] == {"predictions": 2000, "checks": 1, "completed_checks": 1, "alerts": 1}
    # the inputs redo the report
    assert sorted_json_sha256(bundle["inputs"]) == bundle["inputs_sha256"]
    assert bundle["counts_sha256"] == sorted_json_sha256(bundle["inputs"]["counts"])
    counts = window_counts(model_version=version, start=BASE, end=BASE + timedelta(days=1))
    assert bundle["inputs"]["counts"] == counts_as_inputs(counts)
    assert bundle["inputs"]["policy_version"] == 1
    # the download is in the audit log with its digest
    entry = AuditEntry.objects.get(action="report.export")
    assert entry.actor == "bob-auditor"
    assert entry.payload["bundle_sha256"] == claimed
    assert entry.payload["inputs_sha256"] == bundle["inputs_sha256"]
    assert entry.payload["format"] == "json"


def test_the_bundle_is_the_same_for_the_same_request(auditor_user: Any) -> None:
    drifted_model()
    client = client_for(auditor_user)
    first = client.get(REPORT + "evidence.json", PERIOD).json()
    second = client.get(REPORT + "evidence.json", PERIOD).json()
    assert first["bundle_sha256"] == second["bundle_sha256"]
    assert AuditEntry.objects.filter(action="report.export", actor="bob-auditor").count() == 2


def test_admins_get_no_evidence_bundle_only_the_summary(admin_user: Any) -> None:
    # given an admin, who gets the read-only summary of a report (docs/security.md, Roles)
    drifted_model()
    client = client_for(admin_user)
    # when they ask for the full evidence
    responses = [client.get(REPORT + name, PERIOD) for name in ("evidence.json", "evidence.csv")]
    # then both are refused with the HTML page naming who may, nothing is exported, and the summary has no links
    for response in responses:
        assert response.status_code == 403
        assert response["Content-Type"].startswith("text/html")
        assert "auditor" in response.content.decode()
    assert not AuditEntry.objects.filter(action="report.export").exists()
    _, body = page(client, **PERIOD)
    assert "evidence.json" not in body


def test_evidence_csv_is_the_bundles_verdict_rows_header_first(auditor_user: Any) -> None:
    version, _ = drifted_model()
    client = client_for(auditor_user)
    bundle = client.get(REPORT + "evidence.json", PERIOD).json()
    response = client.get(REPORT + "evidence.csv", PERIOD)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert (
        response["Content-Disposition"] == 'attachment; filename="fairlens-report-loan_model-1-20261001-20261001.csv"'
    )
    text = response.content.decode()
    # header row first (a spreadsheet opens it as a table); the metadata and digests are the JSON bundle's
    assert text.splitlines()[0] == "attribute,group,metric,value,lower,upper,verdict,n"
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == len(bundle["verdict_rows"])
    for row, expected in zip(rows, bundle["verdict_rows"], strict=True):
        assert (row["attribute"], row["group"], row["metric"]) == (
            expected["attribute"],
            expected["group"],
            expected["metric"],
        )
        assert (float(row["value"]) if row["value"] else None) == expected["value"]
    female = expected_reports(version)["gender"]["comparisons"]["Female"]
    dir_row = next(row for row in rows if (row["group"], row["metric"]) == ("Female", "DIR"))
    assert float(dir_row["value"]) == female["DIR"]
    assert [float(dir_row["lower"]), float(dir_row["upper"])] == female["intervals"]["DIR"]
    assert dir_row["verdict"] == "significant_violation"
    assert dir_row["attribute"] == "gender"
    assert int(dir_row["n"]) == expected_reports(version)["gender"]["groups"]["Female"]["n"]
    male_rate = next(row for row in rows if (row["group"], row["metric"]) == ("Male", "selection_rate"))
    assert float(male_rate["value"]) == expected_reports(version)["gender"]["groups"]["Male"]["selection_rate"]
    assert len(rows) == 2 + 5  # a selection rate per group, five metrics for the compared group
    assert AuditEntry.objects.filter(action="report.export", payload__format="csv").count() == 1


def test_checks_outside_the_period_are_left_out(auditor_user: Any) -> None:
    version, check = drifted_model()
    later = BASE + timedelta(days=3)
    ingest_loans(version, hour=72, n=200, drift=0.0, seed=30)
    run_check(model_version=version, window_end=later + HOUR, trigger="manual", claim_token="t")
    bundle = client_for(auditor_user).get(REPORT + "evidence.json", PERIOD).json()
    assert [item["id"] for item in bundle["checks"]] == [check.pk]
    assert FairnessCheck.objects.count() == 2
    assert bundle["volumes"]["predictions"] == 2000


# --- The same report over the API --------------------------------------------------------------------------------

API_REPORT = "/api/v1/models/loan_model/versions/1/audit-report"


def test_the_api_serves_the_bundle_the_page_downloads(auditor_user: Any, client_as: Any) -> None:
    drifted_model()
    page_bundle = json.loads(client_for(auditor_user).get(REPORT + "evidence.json", PERIOD).content)
    response = client_as("auditor").get(API_REPORT, PERIOD)
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    api_bundle = response.json()
    assert api_bundle == page_bundle
    claimed = api_bundle.pop("bundle_sha256")
    assert canonical_sha256(api_bundle) == claimed
    exports = AuditEntry.objects.filter(action="report.export").order_by("seq")
    assert [entry.payload["format"] for entry in exports] == ["json", "api"]
    assert exports.last().payload["bundle_sha256"] == claimed


@pytest.mark.parametrize("principal", ["anonymous", "monitor", "admin", "api_key"])
def test_only_auditors_get_the_report_over_the_api(principal: str, client_as: Any) -> None:
    drifted_model()
    response = client_as(principal).get(API_REPORT, PERIOD)
    assert response.status_code in (401, 403)
    assert not AuditEntry.objects.filter(action="report.export").exists()


def test_a_bad_period_or_version_over_the_api_is_a_clear_4xx(client_as: Any) -> None:
    drifted_model()
    client = client_as("auditor")
    bad = client.get(API_REPORT, {"start": "2026-10-05", "end": "2026-10-01"})
    assert bad.status_code == 400
    assert bad.json()["code"] == "invalid_period"
    assert bad.json()["details"]["start"] == "The start date is after the end date."
    missing = client.get(API_REPORT.replace("/versions/1/", "/versions/9/"), PERIOD)
    assert missing.status_code == 404
    assert missing.json()["message"] == "loan_model has no version '9'."
    assert not AuditEntry.objects.filter(action="report.export").exists()
