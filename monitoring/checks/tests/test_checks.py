"""Fairness checks over ingested loan decisions: one row per window, alerts, leases, recomputation, scheduling.

The builders (loan decisions for one hour, the check of its window) are in ``monitoring/checks/tests/builders.py``.
"""

from __future__ import annotations

import json
import statistics
import time
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from compliance.crypto.canonical import sorted_json_sha256
from compliance.field_encryption import decrypt_for
from compliance.models import AuditEntry
from conftest import totp_code
from core.api.errors import ApplicationError
from monitoring.alerts.models import Alert, OutboxEvent
from monitoring.checks.analysis import analyse_window
from monitoring.checks.evidence import advance_evidence, hour_index
from monitoring.checks.services import (
    CheckBusy,
    baseline_histograms,
    due_checks,
    open_ingestion_gate,
    redraw,
)
from monitoring.checks.tests.builders import (
    BASE,
    HOUR,
    audit_count,
    check_hour,
    counts_of_loans,
    ingest_loans,
    ingest_rates,
    loan_version,
    window_end,
)
from monitoring.fairness import GroupedCounts
from monitoring.models import FairnessCheck, IngestionCheckGate
from monitoring.reporting import engine_policy
from registry.models import ModelVersion
from registry.services import current_policy

pytestmark = pytest.mark.django_db

# --- Tests ---------------------------------------------------------------------------------------------------


def test_fair_data_passes_and_opens_no_alert() -> None:
    # given
    version = loan_version()
    ingest_loans(version, hour=0, n=2000, drift=0.0, seed=1)
    # when
    check = check_hour(version, 0)
    # then
    assert check.status == FairnessCheck.Status.COMPLETED
    assert check.status_summary == "pass"
    assert check.verdict == "pass"
    assert check.n_predictions == 2000
    assert 0.9 < check.headline_dir < 1.1
    assert check.result["violations"] == []
    assert not Alert.objects.exists()
    assert not OutboxEvent.objects.exists()
    assert audit_count("fairness_check.completed", str(check.pk)) == 1


def test_a_drifted_window_opens_an_alert_with_an_encrypted_explanation(auditor_user: Any, monitor_user: Any) -> None:
    # given
    version = loan_version()
    ingest_loans(version, hour=0, n=2000, drift=0.8, seed=2)
    # when
    check = check_hour(version, 0)
    # then the check found a significant DIR violation
    assert check.status_summary == "alert"
    assert check.verdict == "significant_violation"
    assert check.headline_dir < 0.65
    violation = next(item for item in check.result["violations"] if item["metric"] == "DIR")
    assert violation["verdict"] == "significant_violation"
    assert violation["interval"][1] < 0.8
    # and one alert is open about it
    alert = Alert.objects.get()
    assert (alert.model_id, alert.model_version_id) == (version.model_id, version.pk)
    assert (alert.attribute, alert.group, alert.metric) == ("gender", "Female", "DIR")
    assert (alert.status, alert.severity, alert.occurrences) == ("open", "critical", 1)
    assert alert.first_check_id == alert.last_check_id == check.pk
    assert alert.value == pytest.approx(violation["value"])
    assert [alert.interval_lower, alert.interval_upper] == pytest.approx(violation["interval"])
    assert alert.band == {"min": 0.8, "max": None}
    # its explanation is stored encrypted
    assert alert.encrypted_explanation
    assert alert.explanation_key_id
    assert "Potential bias" not in alert.encrypted_explanation
    # audit entries for the check and the alert, and an outbox event that carries ids, not the explanation
    assert audit_count("fairness_check.completed", str(check.pk)) == 1
    opened = AuditEntry.objects.get(action="alert.opened", object_id=str(alert.pk))
    assert opened.payload["check_id"] == check.pk
    event = OutboxEvent.objects.get(type="alert.opened")
    assert event.model_id == version.model_id
    assert event.msg_id.startswith("msg_")
    assert event.payload["type"] == "alert.opened"
    assert event.payload["data"]["alert_id"] == alert.pk
    assert event.payload["data"]["severity"] == "critical"
    assert "Potential bias" not in json.dumps(event.payload)
    # only an auditor who gives a reason reads the explanation, and that read is audited
    with pytest.raises(ApplicationError) as denied:
        decrypt_for(user=monitor_user, obj=alert, field="encrypted_explanation", reason="curious about it")
    assert denied.value.status_code == 403
    with pytest.raises(ApplicationError) as no_reason:
        decrypt_for(user=auditor_user, obj=alert, field="encrypted_explanation", reason=" ")
    assert no_reason.value.code == "reason_required"
    assert audit_count("data.decrypt") == 0
    text = decrypt_for(
        user=auditor_user,
        obj=alert,
        field="encrypted_explanation",
        reason="quarterly fairness review",
        otp=totp_code(auditor_user),
    )
    assert text.startswith(f"DIR = {alert.value:.2f} (<0.8). Potential bias")
    assert "gender=Female" in text
    entry = AuditEntry.objects.get(action="data.decrypt")
    assert (entry.object_type, entry.object_id) == ("alerts.alert", str(alert.pk))
    assert entry.payload["reason"] == "quarterly fairness review"
    assert entry.actor == auditor_user.username


def test_rerunning_a_window_returns_the_stored_check() -> None:
    # given
    version = loan_version()
    ingest_loans(version, hour=0, n=2000, drift=0.8, seed=3)
    first = check_hour(version, 0, runner="task:first")
    # when the same window is checked again, by another runner, even after more data arrived
    ingest_loans(version, hour=0, n=100, drift=0.0, seed=4)
    again = check_hour(version, 0, runner="task:second")
    # then
    assert again.pk == first.pk
    assert again.inputs_sha256 == first.inputs_sha256
    assert again.result == first.result
    assert FairnessCheck.objects.count() == 1
    assert audit_count("fairness_check.completed") == 1
    assert audit_count("alert.opened") == 1
    assert Alert.objects.get().occurrences == 1
    assert OutboxEvent.objects.filter(type="alert.opened").count() == 1


def test_a_live_claim_makes_other_runners_wait_until_its_lease_runs_out(settings: Any) -> None:
    # given a check another worker claimed a moment ago
    version = loan_version()
    ingest_loans(version, hour=0, n=400, drift=0.0, seed=5)
    held = FairnessCheck.objects.create(
        model_version=version,
        policy=current_policy(version.model),
        window_start=BASE,
        window_end=window_end(0),
        trigger="schedule",
        status=FairnessCheck.Status.RUNNING,
        claim_token="task:other",
        claimed_at=timezone.now(),
    )
    # when / then: another runner is turned away while the lease lives
    with pytest.raises(CheckBusy):
        check_hour(version, 0, runner="task:mine")
    held.refresh_from_db()
    assert (held.status, held.claim_token) == ("running", "task:other")
    # once the lease has expired the check is taken over and completed, in the same row
    settings.CHECK_LEASE_SECONDS = 0
    check = check_hour(version, 0, runner="task:mine")
    assert check.pk == held.pk
    assert (check.status, check.claim_token, check.attempts) == ("completed", "task:mine", 1)
    assert FairnessCheck.objects.count() == 1


def test_a_redelivered_task_may_continue_its_own_claim() -> None:
    version = loan_version()
    ingest_loans(version, hour=0, n=400, drift=0.0, seed=6)
    FairnessCheck.objects.create(
        model_version=version,
        policy=current_policy(version.model),
        window_start=BASE,
        window_end=window_end(0),
        trigger="schedule",
        status=FairnessCheck.Status.RUNNING,
        claim_token="task:same",
        claimed_at=timezone.now(),
    )
    assert check_hour(version, 0, runner="task:same").status == "completed"


def test_stored_inputs_recompute_to_the_stored_result() -> None:
    # given three consecutive checks (so the third has a trend and a score baseline)
    version = loan_version()
    for hour, drift in enumerate((0.0, 0.3, 0.6)):
        ingest_loans(version, hour=hour, n=1500, drift=drift, seed=10 + hour)
        check = check_hour(version, hour)
    policy = check.policy
    # when the result is redrawn from the stored counts and histograms
    assert sorted_json_sha256(check.inputs) == check.inputs_sha256
    assert check.result["score_drift"]["baseline"] == "version"
    assert check.inputs["earlier_dirs"] == list(
        FairnessCheck.objects.filter(pk__lt=check.pk).order_by("completed_at").values_list("headline_dir", flat=True)
    )
    assert check.inputs["baseline_score_histograms"] == baseline_histograms(version, policy, check.window_start)
    redrawn = redraw(check.inputs, policy, seed=int(check.window_end.timestamp()) % (2**32))
    # then it is the same result, and the stored JSON round-trips to the same digest
    assert json.loads(json.dumps(redrawn)) == check.result
    stored = FairnessCheck.objects.get(pk=check.pk)
    assert sorted_json_sha256(stored.inputs) == stored.inputs_sha256
    # and any change to the inputs changes the digest
    tampered = json.loads(json.dumps(stored.inputs))
    tampered["counts"]["gender"]["Female"][0] += 1
    assert sorted_json_sha256(tampered) != stored.inputs_sha256


def test_due_checks_lists_versions_with_data_in_the_window() -> None:
    # given two monitored versions, only one with predictions in the current window
    with_data = loan_version()
    without_data = loan_version(name="idle_model")
    ingest_loans(with_data, hour=0, n=200, drift=0.0, seed=20)
    now = BASE + HOUR + timedelta(minutes=7)  # the window [BASE, BASE + 1 h) has just closed
    # when
    due = due_checks(now)
    # then
    assert [(version.pk, end) for version, _, end in due] == [(with_data.pk, BASE + HOUR)]
    assert due[0][1] == current_policy(with_data.model)
    assert without_data.pk not in {version.pk for version, _, _ in due}
    # a stored check is not due again, and a retired version is never due
    check_hour(with_data, 0)
    assert due_checks(now) == []
    ingest_loans(with_data, hour=1, n=200, drift=0.0, seed=21)
    assert [version.pk for version, _, _ in due_checks(now + HOUR)] == [with_data.pk]
    ModelVersion.objects.filter(pk=with_data.pk).update(stage=ModelVersion.Stage.RETIRED)
    assert due_checks(now + HOUR) == []


def test_the_ingestion_gate_opens_once_per_debounce_period(settings: Any) -> None:
    settings.CHECK_DEBOUNCE_SECONDS = 60
    version = loan_version()
    other = loan_version(name="other_model")
    now = BASE
    assert open_ingestion_gate(version, now) is True
    assert open_ingestion_gate(version, now) is False
    assert open_ingestion_gate(version, now + timedelta(seconds=59)) is False
    assert open_ingestion_gate(other, now + timedelta(seconds=59)) is True  # each version has its own gate
    assert open_ingestion_gate(version, now + timedelta(seconds=60)) is True
    assert open_ingestion_gate(version, now + timedelta(seconds=61)) is False
    gate = IngestionCheckGate.objects.get(model_version=version)
    assert gate.next_allowed_at == now + timedelta(seconds=120)


# --- False alarms and detection delay ------------------------------------------------------------------------

FALSE_ALARM_CHECKS = 200
SMALL_WINDOW = 200
DETECTION_DRIFT = 0.5
DETECTION_SEQUENCES = 40
# Measured (printed with -s): alerts come from the evidence, one closed hour per check (true DIR about 0.70, 200
# rows an hour). The run_check path alerts at check 3; 40 seeded sequences of the same analysis need a median of
# 9 checks, at worst 52. The window length changes what is read, not when an alert opens: with 1 h windows the
# delays are the same. (The window rule alerted in a median of 3.5 checks, but paged a compliant model every
# month; see docs/monitoring.md.) The bounds leave a little room, no more.
DETECTION_BOUND_DB = 3
DETECTION_MEDIAN_BOUND = 12
DETECTION_WORST_BOUND = 60
ISOLATED_MEDIAN_BOUND = 12


@pytest.mark.slow
def test_no_false_alarms_in_200_small_fair_windows() -> None:
    # given a policy that checks each hour of data on its own
    version = loan_version()
    started = time.monotonic()
    statuses: dict[str, int] = {}
    # when 200 consecutive hours of 200 fair decisions each are checked
    for hour in range(FALSE_ALARM_CHECKS):
        ingest_loans(version, hour=hour, n=SMALL_WINDOW, drift=0.0, seed=100_000 + hour)
        check = check_hour(version, hour)
        assert check.n_predictions == SMALL_WINDOW
        statuses[check.status_summary] = statuses.get(check.status_summary, 0) + 1
    # then nothing pages anybody
    alerts = Alert.objects.count()
    print(  # noqa: T201 - the measured numbers, shown with -s
        f"\nfalse alarms: {alerts} alerts in {FALSE_ALARM_CHECKS} checks of {SMALL_WINDOW}-row fair windows, rate "
        f"{alerts / FALSE_ALARM_CHECKS:.1%} (95 % upper bound {3 / FALSE_ALARM_CHECKS:.1%} by the rule of three); "
        f"statuses {statuses}; {time.monotonic() - started:.1f} s"
    )
    assert alerts == 0
    assert statuses.get("alert", 0) == 0
    assert not OutboxEvent.objects.filter(type__startswith="alert.").exists()
    assert not OutboxEvent.objects.filter(type="retraining.requested").exists()


def first_alerting_check(sequence: int, *, accumulate: bool = True, max_checks: int = 72) -> int | None:
    """Checks until an alert when each hour brings 200 decisions at drift 0.5, through the same pure code a stored
    check runs (evidence advanced one closed hour per check, then the window analysis): each check's window
    holds every hour so far (24 h window, ``accumulate``) or only its own hour (1 h window)."""
    policy = engine_policy(metric_bands={"DIR": {"min": 0.8, "max": None}}, min_group_size=30, confidence_level=0.95)
    window: dict[str, GroupedCounts] | None = None
    earlier: list[float | None] = []
    first_hour = hour_index(BASE)
    # The first check's window starts 23 hours before its only hour of data (24 h window), as run_check's does.
    start_hour = first_hour - 23 if accumulate else first_hour
    evidence = None
    for number in range(1, max_checks + 1):
        hour_counts = counts_of_loans(SMALL_WINDOW, DETECTION_DRIFT, seed=sequence * 1000 + number)
        counts = hour_counts
        if accumulate and window is not None:
            counts = {
                "gender": GroupedCounts(
                    ("gender",), {g: window["gender"].groups[g] + c for g, c in counts["gender"].groups.items()}
                )
            }
        window = counts
        evidence = advance_evidence(
            policy=policy,
            privileged={"gender": "Male"},
            alpha=0.05,
            review_period_days=91,
            previous=evidence,
            hours=[(first_hour + number - 1, hour_counts)],
            start_hour=start_hour if evidence is None else first_hour + number - 1,
            resets=[],
            window=window,
            window_hours=24 if accumulate else 1,
        )
        result = analyse_window(
            counts=window,
            privileged={"gender": "Male"},
            policy=policy,
            earlier_dirs=earlier[-29:],
            threshold=0.8,
            histograms={},
            baseline_histograms=None,
            evidence=evidence,
        )
        earlier.append(result["headline_dir"])
        if result["status"] == "alert":
            return number
    return None


def test_detection_delay_at_drift_half_with_small_windows() -> None:
    # given a policy with the default 24 h window, checked hourly, and 200 decisions a hour at drift 0.5
    version = loan_version(window_hours=24)
    delay = None
    for hour in range(24):
        ingest_loans(version, hour=hour, n=SMALL_WINDOW, drift=DETECTION_DRIFT, seed=hour + 1)
        check_hour(version, hour)
        if Alert.objects.exists():
            delay = hour + 1
            break
    # then an alert opens within a few checks, and the database path agrees with the pure analysis
    assert delay is not None
    assert first_alerting_check(0) == delay
    delays = [first_alerting_check(sequence) for sequence in range(DETECTION_SEQUENCES)]
    assert None not in delays
    ordered = sorted(delays)
    median = statistics.median(delays)
    isolated = sorted(first_alerting_check(s, accumulate=False) or 999 for s in range(DETECTION_SEQUENCES))
    print(  # noqa: T201 - the measured numbers, shown with -s
        f"\ndetection delay at drift {DETECTION_DRIFT}, {SMALL_WINDOW} new rows per check: run_check path {delay} "
        f"checks; {DETECTION_SEQUENCES} sequences (24 h window): median {median}, max {ordered[-1]}, {ordered}; "
        f"1 h windows: median {statistics.median(isolated)}, max {isolated[-1]}, {isolated}"
    )
    assert delay <= DETECTION_BOUND_DB
    assert median <= DETECTION_MEDIAN_BOUND
    assert ordered[-1] <= DETECTION_WORST_BOUND
    assert statistics.median(isolated) <= ISOLATED_MEDIAN_BOUND


def test_the_forecast_reads_period_counts_per_group_and_is_redrawn_exactly() -> None:
    # given hourly windows whose female approval rate falls by 4 points an hour against 50% of men
    version = loan_version()
    female_rates = [50, 46, 42, 38, 34, 30]
    checks = []
    for hour, approved in enumerate(female_rates):
        ingest_rates(version, hour=hour, male=(100, 50), female=(100, approved))
        checks.append(check_hour(version, hour))
    # then a check with fewer than four periods has no forecast, and says why
    early = checks[2].result["trend"]["forecast"]
    assert (early["predicted_next"], early["action"], early["reason"]) == (None, "none", "need_at_least_4_periods")
    # and the last check read one [selected, total] per group and period, its own window last
    check = checks[-1]
    stored = check.inputs["forecast_periods"]
    assert stored["period_hours"] == 1
    assert stored["counts"]["gender"]["Female"] == [[approved, 100] for approved in female_rates]
    assert stored["counts"]["gender"]["Male"] == [[50, 100]] * 6
    forecast = check.result["trend"]["forecast"]
    assert forecast["points_used"] == 6
    assert forecast["groups"]["gender"]["Female"]["periods_used"] == 6
    assert forecast["predicted_next"] < 0.6
    assert forecast["action"] == "retrain"
    assert {"predicted_next", "prediction_interval", "breach_probability", "action", "slope"} <= set(forecast)
    # and redrawing from the stored inputs gives the stored result; the periods are part of the digest
    redrawn = redraw(check.inputs, check.policy, seed=int(check.window_end.timestamp()) % (2**32))
    assert json.loads(json.dumps(redrawn)) == check.result
    tampered = json.loads(json.dumps(check.inputs))
    tampered["forecast_periods"]["counts"]["gender"]["Female"][-1][0] += 1
    assert sorted_json_sha256(tampered) != check.inputs_sha256
