"""Which check is current, and which checks count as evidence of a persisting violation.

* The current check of a version is the one of its latest window (ties by completion), not the last one to
  complete: a scheduled check of an hour that closed at 01:00 can complete after an ingestion-triggered one
  ending 01:39. A check of an older window is stored, but changes no alert.
* A violation persists over checks of new data only: re-checks of the same rows (the ingestion trigger, the
  beat and a manual check over one batch) are one piece of evidence, never three.

Each hour holds 400 men (280 approved) and 400 women, as in the alert lifecycle tests.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from rest_framework.test import APIClient

from monitoring.alerts.models import Alert, OutboxEvent
from monitoring.alerts.tests.builders import CRITICAL, MEDIUM, MEN, events
from monitoring.checks.evidence import hour_index
from monitoring.checks.selectors import completed_checks_by_window
from monitoring.checks.services import due_checks, run_check
from monitoring.checks.tests.builders import (
    BASE,
    HOUR,
    audit_count,
    check_hour,
    ingest_items,
    ingest_rates,
    loan_version,
)
from monitoring.ingestion.parsing import frame_from_json_records
from monitoring.ingestion.services import ingest_predictions
from monitoring.models import FairnessCheck
from monitoring.tasks import run_check_task
from registry.models import ModelVersion

pytestmark = pytest.mark.django_db
MINUTE = timedelta(minutes=1)


def ingestion_check(version: ModelVersion, at: datetime) -> FairnessCheck:
    """The check an ingestion enqueues (window ending at the ingestion's time), run by its task."""
    check_id = run_check_task.apply(args=(version.pk, None, at.isoformat(), "ingestion")).get()
    return FairnessCheck.objects.get(pk=check_id)


def scheduled_check(now: datetime) -> FairnessCheck:
    """The scheduled check the dispatcher finds due at ``now``, run by its task."""
    ((version, policy, end),) = due_checks(now)
    check_id = run_check_task.apply(args=(version.pk, policy.pk, end.isoformat(), "schedule")).get()
    return FairnessCheck.objects.get(pk=check_id)


def decisions(version: ModelVersion, tag: str, start: datetime, minutes: int, women_approved: int) -> list[dict]:
    """400 men (280 approved) and 400 women spread evenly over ``minutes`` from ``start``."""
    items = []
    for gender, approved in (("Male", MEN[1]), ("Female", women_approved)):
        for index in range(400):
            moment = start + timedelta(seconds=index * minutes * 60 / 400)
            items.append(
                {
                    "id": f"v{version.pk}-{tag}-{gender}-{index}",
                    "timestamp": moment.isoformat().replace("+00:00", "Z"),
                    "attributes": {"gender": gender},
                    "y_pred": int(index < approved),
                    "y_true": int(index < approved),
                }
            )
    return items


# --- Persistence counts new evidence only ---------------------------------------------------------------------


def test_rechecks_of_one_batch_request_no_retraining_and_new_data_requests_it_once(
    client_as: Callable[[str], APIClient], settings: Any
) -> None:
    settings.RETRAIN_AFTER_CHECKS = 3
    version = loan_version(window_hours=24)
    # given a new model's first upload: one batch with a critical DIR violation, all in hour 0
    ingest_rates(version, hour=0, male=MEN, female=(400, CRITICAL))
    # when it is checked three times: by the ingestion trigger, the beat once the hour closed, and by hand
    first = ingestion_check(version, BASE + 59 * MINUTE)
    scheduled = scheduled_check(BASE + HOUR + MINUTE)
    response = client_as("monitor").post(
        "/api/v1/checks/",
        {"model": "loan_model", "version": "1", "window_end": (BASE + 90 * MINUTE).isoformat()},
        format="json",
    )
    assert response.status_code == 201, response.content
    manual = FairnessCheck.objects.get(pk=response.json()["id"])
    # then three checks of the same rows found the violation, in three windows ...
    checks = [first, scheduled, manual]
    assert [check.trigger for check in checks] == ["ingestion", "schedule", "manual"]
    assert len({check.window_end for check in checks}) == 3
    # ... the ingestion check at 00:59 reads an hour still open: shown in its window, counted toward no alert;
    # the evidence counts hour 0 once it has closed, at the scheduled check, and the manual check adds no hour
    assert [check.status_summary for check in checks] == ["pass", "alert", "alert"]
    assert [check.result["evidence"]["hours_processed"] for check in checks] == [[], [hour_index(BASE)], []]
    assert {check.n_predictions for check in checks} == {800}
    assert all(check.inputs["counts"] == first.inputs["counts"] for check in checks)
    # ... but they are one piece of evidence, and nothing asks for retraining
    assert [check.new_evidence for check in checks] == [True, False, False]
    assert response.json()["new_evidence"] is False
    assert not events("retraining.requested")
    assert audit_count("retraining.requested") == 0
    # the alert saw the two checks whose evidence held it (its value is the latest window's, the same data)
    assert Alert.objects.get().occurrences == 2

    # when new data with the same violation arrives in three later hours, each checked by the beat
    later, requests = [], []
    for hour in (1, 2, 3):
        ingest_rates(version, hour=hour, male=MEN, female=(400, CRITICAL))
        later.append(scheduled_check(BASE + (hour + 1) * HOUR + MINUTE))
        requests.append(len(events("retraining.requested")))
    # then each is new evidence, and retraining is requested exactly once: at the third, by the persisting rule
    # (three checks in a row holding an alert; the first, of the open hour, did not). The forecast cannot ask
    # yet: all rows lie in one 24-h window, and it needs four non-overlapping ones.
    assert [check.new_evidence for check in later] == [True, True, True]
    assert [check.status_summary for check in later] == ["alert", "alert", "alert"]
    assert {check.result["trend"]["forecast"]["reason"] for check in later} == {"need_at_least_4_periods"}
    (request,) = events("retraining.requested")
    assert requests == [0, 0, 1]
    assert request.payload["data"]["check_id"] == later[2].pk
    assert request.payload["data"]["reason"] == "violation_persisted_3_checks"
    assert audit_count("retraining.requested") == 1


def test_late_rows_of_the_same_hour_are_new_evidence_and_a_sliding_window_is_not(settings: Any) -> None:
    settings.RETRAIN_AFTER_CHECKS = 3
    version = loan_version(window_hours=24)
    # rows of 00:00-00:29 checked at 00:30, then rows of 00:30-00:58 (the same hourly bucket) checked at 00:59
    ingest_items(version, decisions(version, "early", BASE, 29, CRITICAL))
    early = ingestion_check(version, BASE + 30 * MINUTE)
    ingest_items(version, decisions(version, "late", BASE + 30 * MINUTE, 28, CRITICAL))
    late = ingestion_check(version, BASE + 59 * MINUTE)
    assert (early.n_predictions, late.n_predictions) == (800, 1600)
    assert late.predictions_seen > early.predictions_seen
    assert (early.new_evidence, late.new_evidence) == (True, True)
    # the same batch sent again stores nothing new: its check is a re-check
    raw = frame_from_json_records(
        decisions(version, "late", BASE + 30 * MINUTE, 28, CRITICAL), ["gender"], max_rows=50_000
    )
    resent = ingest_predictions(model_version=version, raw=raw, attributes=["gender"], principal="check-tests")
    assert (resent.accepted, resent.duplicates) == (0, 800)
    again = ingestion_check(version, BASE + 61 * MINUTE)
    assert (again.n_predictions, again.new_evidence) == (1600, False)
    # the two checks of the open hour count nothing toward alerts; the first check after it closed counts it once
    assert (early.status_summary, late.status_summary, again.status_summary) == ("pass", "pass", "alert")
    # a day later the window has slid past the early rows: fewer rows, no new ones, no evidence
    ingest_rates(version, hour=1, male=MEN, female=(400, CRITICAL))
    after_hour_1 = run_check(
        model_version=version, window_end=BASE + 2 * HOUR, trigger="schedule", claim_token="test-runner"
    )
    slid = run_check(model_version=version, window_end=BASE + 25 * HOUR, trigger="schedule", claim_token="test-runner")
    assert after_hour_1.new_evidence is True
    assert (slid.n_predictions, slid.status_summary, slid.new_evidence) == (800, "alert", False)
    # three pieces of new data (00:30, 00:59, 02:00), but only the last held an alert: no retraining; the slid
    # window, alerting on the evidence still standing, brought no new data and does not count
    assert after_hour_1.status_summary == "alert"
    assert not events("retraining.requested")


# --- The current check is the latest window's -----------------------------------------------------------------


def test_a_check_of_an_older_window_completed_late_moves_no_alert_back() -> None:
    version = loan_version(window_hours=24)
    ingest_rates(version, hour=0, male=MEN, female=(400, CRITICAL))
    ingest_rates(version, hour=1, male=MEN, female=(400, MEDIUM))
    current = ingestion_check(version, BASE + HOUR + 39 * MINUTE)
    alert = Alert.objects.get()
    seen = (alert.value, alert.interval_lower, alert.interval_upper, alert.severity, alert.occurrences)
    assert alert.value == pytest.approx(current.headline_dir)
    # when the scheduled check of the window ending 01:00 completes after it, with a worse DIR
    stale = check_hour(version, 0)
    assert stale.status == FairnessCheck.Status.COMPLETED
    assert stale.status_summary == "alert"
    assert stale.headline_dir < current.headline_dir - 0.05
    # then the stale check is stored and audited, but the alert keeps the latest window's value
    assert audit_count("fairness_check.completed", str(stale.pk)) == 1
    alert.refresh_from_db()
    assert (alert.value, alert.interval_lower, alert.interval_upper, alert.severity, alert.occurrences) == seen
    assert alert.last_check_id == current.pk
    assert audit_count("alert.updated") == 0
    assert not events("alert.escalated")
    # it is neither the current check nor new evidence, and its trend reads only windows before its own
    assert completed_checks_by_window(version.pk).first() == current
    assert stale.new_evidence is False
    assert stale.inputs["earlier_dirs"] == []
    # the next check of a later window updates the alert as usual
    ingest_rates(version, hour=2, male=MEN, female=(400, CRITICAL))
    newer = check_hour(version, 2)
    alert.refresh_from_db()
    assert (alert.last_check_id, alert.occurrences) == (newer.pk, 2)
    assert alert.value == pytest.approx(newer.headline_dir)
    assert newer.inputs["earlier_dirs"] == [stale.headline_dir, current.headline_dir]


def test_an_alert_is_not_moved_back_by_an_older_window_of_another_version() -> None:
    # given an alert last seen by v1's check of the window ending 02:00
    v1 = loan_version(window_hours=1)
    ingest_rates(v1, hour=1, male=MEN, female=(400, MEDIUM))
    newest = check_hour(v1, 1)
    alert = Alert.objects.get()
    # when v2 (a new version of the same model) is checked over the window ending 01:00, with a worse DIR
    v2 = loan_version(version="2", window_hours=1)
    ingest_rates(v2, hour=0, male=MEN, female=(400, CRITICAL))
    older = check_hour(v2, 0)
    assert older.status_summary == "alert"
    # then the alert keeps v1's later window
    alert.refresh_from_db()
    assert (alert.last_check_id, alert.model_version_id, alert.occurrences) == (newest.pk, v1.pk, 1)
    assert alert.value == pytest.approx(newest.headline_dir)
    assert Alert.objects.count() == 1
    assert not OutboxEvent.objects.filter(type="alert.escalated").exists()
