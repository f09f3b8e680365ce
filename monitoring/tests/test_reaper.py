"""The reaper: claimed work whose holder died is re-enqueued once its lease runs out, and finishes once.

Tasks the reaper enqueues run in this process (Celery's eager mode) through the same task code a worker runs;
tests/test_monitoring_integration.py kills a real worker and watches the reaper through Redis.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from compliance.field_encryption import encrypt_for, key_provider, rewrap_owed, rotate_encryption_key
from compliance.models import AuditEntry
from compliance.tasks import resume_rewrap
from monitoring.alerts.models import Delivery
from monitoring.alerts.tasks import deliver_due_task
from monitoring.alerts.tests.builders import delivery_for, emit, make_endpoint
from monitoring.checks.services import take_over
from monitoring.checks.tests.builders import BASE, audit_count, ingest_loans, loan_version, window_end
from monitoring.models import FairnessCheck, IngestionRecord
from monitoring.tasks import reap_expired_claims_task, run_check_task
from registry.services import current_policy

pytestmark = pytest.mark.django_db


def held_check(*, claimed_seconds_ago: float, token: str = "task:dead") -> FairnessCheck:  # noqa: S107
    """A check of hour 0 of a drifted loan model, claimed by ``token`` that long ago."""
    version = loan_version()
    ingest_loans(version, hour=0, n=600, drift=0.8, seed=11)
    return FairnessCheck.objects.create(
        model_version=version,
        policy=current_policy(version.model),
        window_start=BASE,
        window_end=window_end(0),
        trigger="ingestion",
        status=FairnessCheck.Status.RUNNING,
        claim_token=token,
        claimed_at=timezone.now() - timedelta(seconds=claimed_seconds_ago),
    )


# --- Checks --------------------------------------------------------------------------------------------------


def test_a_check_whose_lease_expired_is_reenqueued_and_completes_once(settings: Any, eager_tasks: None) -> None:
    # given a check whose worker died after claiming it, longer ago than the lease
    held = held_check(claimed_seconds_ago=settings.CHECK_LEASE_SECONDS + 1)
    # when the reaper runs (as beat calls it)
    assert reap_expired_claims_task() == 1
    # then a new task took the check over and completed it, in the same row, audited once
    check = FairnessCheck.objects.get()
    assert check.pk == held.pk
    assert check.status == FairnessCheck.Status.COMPLETED
    assert check.claim_token.startswith("task:")
    assert check.claim_token != "task:dead"
    assert (check.trigger, check.window_end, check.attempts) == ("ingestion", window_end(0), 1)
    assert check.status_summary == "alert"
    assert audit_count("fairness_check.completed", str(check.pk)) == 1
    # and when the dead worker's message comes back from the broker later, it finds the stored result
    args = (check.model_version_id, check.policy_id, check.window_end.isoformat(), "ingestion")
    assert run_check_task.apply(args=args, task_id="dead").get() == check.pk
    assert FairnessCheck.objects.count() == 1
    assert audit_count("fairness_check.completed", str(check.pk)) == 1
    # and the next pass finds nothing to do
    assert reap_expired_claims_task() == 0


def test_a_live_lease_is_left_alone(settings: Any, eager_tasks: None) -> None:
    # given a check claimed a little less than a lease ago (its worker may still be computing)
    held = held_check(claimed_seconds_ago=settings.CHECK_LEASE_SECONDS - 5, token="task:alive")
    # when the reaper runs, then it leaves the check to its holder
    assert reap_expired_claims_task() == 0
    held_now = FairnessCheck.objects.get()
    assert (held_now.status, held_now.claim_token, held_now.claimed_at) == ("running", "task:alive", held.claimed_at)
    assert audit_count("fairness_check.completed") == 0


def test_a_check_created_but_never_claimed_is_reaped(settings: Any, eager_tasks: None) -> None:
    # given a check row whose runner died between creating and claiming it, a lease ago
    held = held_check(claimed_seconds_ago=0)
    old = timezone.now() - timedelta(seconds=settings.CHECK_LEASE_SECONDS + 1)
    FairnessCheck.objects.filter(pk=held.pk).update(status="pending", claim_token="", claimed_at=None, created_at=old)
    # when the reaper runs, then it is completed
    assert reap_expired_claims_task() == 1
    assert FairnessCheck.objects.get().status == FairnessCheck.Status.COMPLETED


def test_of_two_reapers_one_takes_the_check_over(settings: Any) -> None:
    held = held_check(claimed_seconds_ago=settings.CHECK_LEASE_SECONDS + 1)
    now = timezone.now()
    assert take_over(held, "task:first", now) is True
    assert take_over(held, "task:second", now) is False
    held.refresh_from_db()
    assert (held.status, held.claim_token) == ("running", "task:first")


# --- Deliveries ----------------------------------------------------------------------------------------------


def test_a_delivery_whose_sender_died_is_sent_again_once_its_claim_runs_out(
    receiver: Any,  # noqa: F811 - the imported fixture
) -> None:
    # given two due deliveries claimed by senders that then vanished: one claim ran out, one is still live
    version = loan_version()
    endpoint, _ = make_endpoint(receiver)
    expired, live = (delivery_for(emit(version), endpoint) for _ in range(2))
    Delivery.objects.filter(pk=expired.pk).update(locked_until=timezone.now() - timedelta(seconds=1))
    Delivery.objects.filter(pk=live.pk).update(locked_until=timezone.now() + timedelta(seconds=60))
    # when the deliver-due sweep runs (beat, every DELIVERY_SWEEP_SECONDS), twice
    assert deliver_due_task() == 1
    assert deliver_due_task() == 0
    # then the expired one was sent exactly once and the live one was left to its sender
    assert [request.headers["webhook-id"] for request in receiver.received] == [expired.event.msg_id]
    assert Delivery.objects.get(pk=expired.pk).status == Delivery.Status.DELIVERED
    assert Delivery.objects.get(pk=live.pk).attempts == 0


# --- Key re-encryption ---------------------------------------------------------------------------------------


def rotated_with_lost_reencryption(admin_user: Any, n: int = 5) -> str:
    """Records encrypted under the first key, then a rotation whose re-encryption task never ran (in a test
    the rotation's on-commit enqueue does not fire, as if the broker had lost it). Returns the new key id."""
    version = loan_version()
    for number in range(n):
        record = IngestionRecord.objects.create(model_version=version, source="submit", principal="test")
        encrypt_for(record, "encrypted_alert", f"explanation {number}")
        record.save()
    return rotate_encryption_key(rotated_by=admin_user)["new_key_id"]


def test_an_unfinished_reencryption_is_resumed_by_the_reaper(admin_user: Any, eager_tasks: None) -> None:
    # given a rotation whose re-encryption was lost
    old_key_id = key_provider().primary_key_id
    new_key_id = rotated_with_lost_reencryption(admin_user)
    assert rewrap_owed()
    # when the reaper runs
    assert reap_expired_claims_task() == 1
    # then every record is under the new key, the old key is retired, and nothing more is owed
    assert set(IngestionRecord.objects.values_list("alert_key_id", flat=True)) == {new_key_id}
    assert old_key_id not in key_provider().key_ids
    assert AuditEntry.objects.filter(action="keys.retire").count() == 1
    assert not rewrap_owed()
    assert reap_expired_claims_task() == 0


def test_a_queued_reencryption_is_not_enqueued_twice(admin_user: Any) -> None:
    # given a lost re-encryption: the first pass enqueues one (it waits in the broker), the second does not
    rotated_with_lost_reencryption(admin_user)
    assert resume_rewrap() is True
    assert resume_rewrap() is False


def test_no_reencryption_is_owed_without_a_rotation(admin_user: Any) -> None:
    version = loan_version()
    record = IngestionRecord.objects.create(model_version=version, source="submit", principal="test")
    encrypt_for(record, "encrypted_alert", "explanation")
    record.save()
    assert not rewrap_owed()
    assert resume_rewrap() is False
