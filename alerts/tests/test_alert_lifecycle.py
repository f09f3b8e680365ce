"""An alert's life: opened by a check, updated and escalated by later ones, acknowledged and resolved by people
or by passing checks, reopened as a new alert; severity rules; retraining requested once per version.

Each check covers one hour holding exactly 400 men (280 approved) and 400 women; the number of approved women
sets the verdict (calibrated with the engine's 95 % intervals).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from rest_framework.test import APIClient

from alerts import rules
from alerts.models import Alert, OutboxEvent
from alerts.tests.test_checks import audit_count, check_hour, ingest_rates, loan_version
from compliance.models import AuditEntry
from monitoring.models import FairnessCheck

pytestmark = pytest.mark.django_db

MEN = (400, 280)
# Approved women out of 400, and what a check of such an hour concludes about DIR (male rate 0.70).
CRITICAL = 140  # DIR 0.50, interval [0.43, 0.58]: significant, >= 25 % short of 0.8
HIGH = 165  # DIR 0.59, interval ends ~0.67: significant, 10-25 % short
MEDIUM = 190  # DIR 0.68, interval [0.60, 0.77]: significant, < 10 % short
POSSIBLE = 210  # DIR 0.75, interval [0.67, 0.84]: possible violation, pages nobody
PASSING = 280  # DIR 1.0


def checked(version: Any, hour: int, women_approved: int) -> FairnessCheck:
    ingest_rates(version, hour=hour, male=MEN, female=(400, women_approved))
    return check_hour(version, hour)


def events(event_type: str) -> list[OutboxEvent]:
    return list(OutboxEvent.objects.filter(type=event_type).order_by("id"))


@pytest.fixture
def version(db: None) -> Any:
    return loan_version()


def test_the_calibration_gives_the_intended_verdicts(version: Any) -> None:
    expected = {CRITICAL: "critical", HIGH: "high", MEDIUM: "medium"}
    for hour, women in enumerate((CRITICAL, HIGH, MEDIUM)):
        check = checked(version, hour, women)
        (violation,) = check.result["violations"]
        assert violation["verdict"] == "significant_violation"
        assert rules.severity("DIR", violation["interval"], {"min": 0.8}) == expected[women]
        Alert.objects.update(status=Alert.Status.RESOLVED)  # the next hour starts from no open alert
    assert checked(version, 3, POSSIBLE).result["violations"][0]["verdict"] == "possible_violation"
    assert checked(version, 4, PASSING).result["violations"] == []


def test_repeated_violations_update_one_alert_and_escalation_is_announced(version: Any) -> None:
    # given an alert opened at medium severity
    first = checked(version, 0, MEDIUM)
    alert = Alert.objects.get()
    assert (alert.severity, alert.occurrences, alert.first_check_id) == ("medium", 1, first.pk)
    # when a later check finds the violation worse
    second = checked(version, 1, CRITICAL)
    # then the same alert is updated and escalated, and the escalation is an event
    alert.refresh_from_db()
    assert Alert.objects.count() == 1
    assert (alert.severity, alert.occurrences) == ("critical", 2)
    assert (alert.first_check_id, alert.last_check_id) == (first.pk, second.pk)
    assert alert.value == pytest.approx(0.5)
    (escalated,) = events("alert.escalated")
    assert escalated.payload["data"]["previous_severity"] == "medium"
    assert escalated.payload["data"]["severity"] == "critical"
    assert escalated.payload["data"]["alert_id"] == alert.pk
    assert audit_count("alert.updated", str(alert.pk)) == 1
    # a passing check starts the streak towards resolution; a violation again resets it
    checked(version, 2, PASSING)
    alert.refresh_from_db()
    assert (alert.status, alert.passing_streak) == ("open", 1)
    fourth = checked(version, 3, MEDIUM)
    alert.refresh_from_db()
    assert (alert.passing_streak, alert.occurrences, alert.last_check_id) == (0, 3, fourth.pk)
    # severity does not drop while the alert lives, and only a rise is announced
    assert alert.severity == "critical"
    assert len(events("alert.escalated")) == 1
    assert len(events("alert.opened")) == 1


def test_passing_checks_resolve_the_alert_and_a_new_violation_opens_a_new_one(version: Any, settings: Any) -> None:
    settings.ALERT_RESOLVE_AFTER_PASSES = 3
    # given an open alert
    checked(version, 0, CRITICAL)
    alert = Alert.objects.get()
    # when two checks pass, one is only borderline (it neither confirms nor clears), and one more passes
    checked(version, 1, PASSING)
    checked(version, 2, PASSING)
    checked(version, 3, POSSIBLE)
    alert.refresh_from_db()
    assert (alert.status, alert.passing_streak) == ("open", 2)
    last = checked(version, 4, PASSING)
    # then it is resolved automatically, audited and announced
    alert.refresh_from_db()
    assert (alert.status, alert.resolution, alert.passing_streak) == ("resolved", "auto", 3)
    assert alert.resolved_at is not None
    assert alert.resolved_by is None
    assert alert.last_check_id == last.pk
    (resolved,) = events("alert.resolved")
    assert resolved.payload["data"]["resolution"] == "auto"
    assert resolved.payload["data"]["alert_id"] == alert.pk
    entry = AuditEntry.objects.get(action="alert.resolved", object_id=str(alert.pk))
    assert entry.payload["passing_checks"] == 3
    # when the violation comes back, a new alert opens; the resolved one stays as it was
    checked(version, 5, HIGH)
    assert Alert.objects.count() == 2
    reopened = Alert.objects.exclude(pk=alert.pk).get()
    assert (reopened.status, reopened.severity, reopened.occurrences) == ("open", "high", 1)
    assert len(events("alert.opened")) == 2
    alert.refresh_from_db()
    assert alert.status == "resolved"


def test_the_database_allows_one_unresolved_alert_per_subject(version: Any) -> None:
    checked(version, 0, CRITICAL)
    alert = Alert.objects.get()
    duplicate = {
        field: getattr(alert, field)
        for field in ("model", "model_version", "attribute", "group", "metric", "first_check", "last_check")
    }
    with pytest.raises(IntegrityError), transaction.atomic():
        Alert.objects.create(**duplicate, severity="high", last_seen_at=alert.last_seen_at)
    Alert.objects.filter(pk=alert.pk).update(status=Alert.Status.RESOLVED)
    Alert.objects.create(**duplicate, severity="high", last_seen_at=alert.last_seen_at)  # allowed once resolved
    assert Alert.objects.count() == 2


def test_a_borderline_check_is_a_pre_alert_event_once(version: Any) -> None:
    first = checked(version, 0, POSSIBLE)
    assert first.status_summary == "pre_alert"
    assert not Alert.objects.exists()
    checked(version, 1, POSSIBLE)
    (event,) = events("fairness.pre_alert")
    assert event.payload["data"]["check_id"] == first.pk


def test_retraining_is_requested_once_when_a_violation_persists(version: Any, settings: Any) -> None:
    settings.RETRAIN_AFTER_CHECKS = 3
    checked(version, 0, CRITICAL)
    checked(version, 1, CRITICAL)
    assert not events("retraining.requested")
    third = checked(version, 2, CRITICAL)
    (request,) = events("retraining.requested")
    assert request.payload["data"] == {
        "model": "loan_model",
        "version": "1",
        "version_id": version.pk,
        "check_id": third.pk,
        "reason": "violation_persisted_3_checks",
    }
    assert audit_count("retraining.requested", str(version.pk)) == 1
    # the violation goes on: no second request for this version
    checked(version, 3, CRITICAL)
    checked(version, 4, CRITICAL)
    assert len(events("retraining.requested")) == 1
    assert audit_count("retraining.requested") == 1


def test_a_violation_interrupted_by_a_pass_does_not_request_retraining(version: Any, settings: Any) -> None:
    settings.RETRAIN_AFTER_CHECKS = 3
    for hour, women in enumerate((CRITICAL, CRITICAL, PASSING, CRITICAL)):
        checked(version, hour, women)
    assert not events("retraining.requested")


@pytest.mark.parametrize(
    ("metric", "interval", "band", "expected"),
    [
        # DIR: relative shortfall of the interval's upper end below the minimum (cut-offs 10 % and 25 %)
        ("DIR", [0.70, 0.76], {"min": 0.8, "max": None}, "medium"),  # 5 % short
        ("DIR", [0.60, 0.70], {"min": 0.8, "max": None}, "high"),  # 12.5 % short
        ("DIR", [0.40, 0.56], {"min": 0.8, "max": None}, "critical"),  # 30 % short
        ("DIR", [0.50, 0.80], {"min": 0.8, "max": None}, "medium"),  # touches the band
        ("DIR", [1.40, 1.60], {"min": 0.8, "max": 1.25}, "high"),  # 12 % above a maximum of 1.25
        ("DIR", None, {"min": 0.8}, "medium"),  # no interval: the mildest
        # difference metrics: absolute distance beyond the band (cut-offs 0.10 and 0.20)
        ("SPD", [-0.30, -0.15], {"min": -0.1, "max": 0.1}, "medium"),  # 0.05 beyond
        ("SPD", [-0.40, -0.25], {"min": -0.1, "max": 0.1}, "high"),  # 0.15 beyond
        ("SPD", [-0.50, -0.35], {"min": -0.1, "max": 0.1}, "critical"),  # 0.25 beyond
        ("EOD", [0.25, 0.40], {"min": -0.1, "max": 0.1}, "high"),  # 0.15 above the maximum
        ("FPR_DIFF", [0.45, 0.60], {"min": None, "max": 0.1}, "critical"),  # 0.35 above
    ],
)
def test_severity_is_the_conservative_shortfall(
    metric: str, interval: list[float] | None, band: dict[str, float | None], expected: str
) -> None:
    assert rules.severity(metric, interval, band) == expected


def test_escalation_only_goes_up() -> None:
    assert rules.escalated("medium", "critical")
    assert rules.escalated("high", "critical")
    assert not rules.escalated("critical", "high")
    assert not rules.escalated("high", "high")


# --- Acknowledge and resolve over the API ----------------------------------------------------------------------


@pytest.fixture
def api_version(ml_model: Any) -> Any:
    """The loan model's version, registered after the ``ml_model`` fixture created the model."""
    return loan_version()


@pytest.fixture
def open_alert(api_version: Any) -> Alert:
    checked(api_version, 0, CRITICAL)
    return Alert.objects.get()


def post(client: APIClient, url: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(url, data=body or {}, format="json")


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["status"] == "error"
    assert set(body) >= {"code", "message", "details"}
    if code is not None:
        assert body["code"] == code
    return body


def test_acknowledge_needs_a_note_and_an_open_alert(
    client_as: Callable[[str], APIClient], open_alert: Alert, monitor_user: Any
) -> None:
    monitor = client_as("monitor")
    url = f"/api/v1/alerts/{open_alert.pk}/acknowledge"
    # a note is required
    body = assert_error(post(monitor, url), 400)
    assert "note" in body["details"]
    assert_error(post(monitor, url, {"note": "   "}), 400)
    # with one, the alert is acknowledged, audited and announced
    response = post(monitor, url, {"note": "Looking into the scoring service rollout"})
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["status"], data["acknowledged_by"]) == ("acknowledged", monitor_user.username)
    assert data["acknowledgement_note"] == "Looking into the scoring service rollout"
    entry = AuditEntry.objects.get(action="alert.acknowledged", object_id=str(open_alert.pk))
    assert entry.actor == monitor_user.username
    assert len(events("alert.acknowledged")) == 1
    # acknowledging again is a conflict
    assert_error(post(monitor, url, {"note": "again"}), 409, "conflict")
    # an auditor may not acknowledge; an unknown alert is 404
    assert_error(post(client_as("auditor"), url, {"note": "mine"}), 403)
    assert_error(post(monitor, "/api/v1/alerts/999999/acknowledge", {"note": "who?"}), 404, "not_found")


def test_manual_resolution_with_a_note(client_as: Callable[[str], APIClient], open_alert: Alert) -> None:
    admin = client_as("admin")
    url = f"/api/v1/alerts/{open_alert.pk}/resolve"
    assert_error(post(admin, url, {}), 400)
    response = post(admin, url, {"note": "Rolled back to the previous model"})
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["status"], data["resolution"], data["resolved_by"]) == ("resolved", "manual", "alice-admin")
    assert data["resolution_note"] == "Rolled back to the previous model"
    (resolved,) = events("alert.resolved")
    assert resolved.payload["data"]["resolution"] == "manual"
    assert AuditEntry.objects.get(action="alert.resolved").payload["note"] == "Rolled back to the previous model"
    # resolved is final: neither resolve nor acknowledge again
    assert_error(post(admin, url, {"note": "twice"}), 409, "conflict")
    assert_error(post(admin, f"/api/v1/alerts/{open_alert.pk}/acknowledge", {"note": "late"}), 409, "conflict")


def test_an_acknowledged_alert_can_be_resolved_and_then_reopens_as_a_new_alert(
    client_as: Callable[[str], APIClient], open_alert: Alert, api_version: Any
) -> None:
    monitor = client_as("monitor")
    post(monitor, f"/api/v1/alerts/{open_alert.pk}/acknowledge", {"note": "on it"})
    # an acknowledged alert is still unresolved: a violation updates it
    checked(api_version, 1, CRITICAL)
    open_alert.refresh_from_db()
    assert (open_alert.status, open_alert.occurrences) == ("acknowledged", 2)
    response = post(monitor, f"/api/v1/alerts/{open_alert.pk}/resolve", {"note": "fixed the feature pipeline"})
    assert response.json()["status"] == "resolved"
    checked(api_version, 2, CRITICAL)
    assert Alert.objects.filter(status="open").exclude(pk=open_alert.pk).count() == 1
