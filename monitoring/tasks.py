"""Monitoring tasks: the check dispatcher (beat), one check, and the reaper of expired claims.

Tasks are thin: they name what to do by ids and call services. They are idempotent (a check is one row per
window; a finished check is returned as it is), acknowledged late, and retried with backoff when the
database is briefly unavailable.
"""

from __future__ import annotations

import logging
from datetime import datetime

from celery import shared_task
from celery.utils import uuid
from django.conf import settings
from django.db import OperationalError
from django.utils import timezone

from compliance.tasks import resume_rewrap
from monitoring.checks.services import (
    RUN_CHECK_TASK,
    CheckBusy,
    due_checks,
    orphaned_checks,
    release,
    run_check,
    take_over,
)
from monitoring.ingestion.services import delete_expired_predictions
from monitoring.signals import checks_dispatching
from registry.models import ModelVersion, MonitoringPolicy

logger = logging.getLogger("fairlens.checks")
TRANSIENT = (OperationalError, ConnectionError)


@shared_task(name="monitoring.tasks.dispatch_checks_task")
def dispatch_checks_task() -> int:
    """Enqueue every scheduled check that is due (beat, every CHECK_DISPATCH_SECONDS)."""
    checks_dispatching.send(sender=MonitoringPolicy)
    due = due_checks(timezone.now())
    for version, policy, end in due:
        run_check_task.delay(version.pk, policy.pk, end.isoformat(), "schedule")
    return len(due)


@shared_task(
    name=RUN_CHECK_TASK,
    bind=True,
    acks_late=True,
    autoretry_for=TRANSIENT,
    retry_backoff=True,
    # Below the Redis visibility timeout (the time limit plus a minute): a longer countdown would be redelivered
    # while it waits, and run twice.
    retry_backoff_max=settings.CELERY_TASK_TIME_LIMIT,
    retry_jitter=True,
    max_retries=5,
)
def run_check_task(self, version_id: int, policy_id: int | None, window_end: str, trigger: str) -> int | None:
    """Run one check. A check another worker is running is left to it (its lease decides)."""
    version = ModelVersion.objects.select_related("model").get(pk=version_id)
    policy = MonitoringPolicy.objects.get(pk=policy_id) if policy_id else None
    try:
        check = run_check(
            model_version=version,
            window_end=datetime.fromisoformat(window_end),
            trigger=trigger,
            claim_token=f"task:{self.request.id}",
            policy=policy,
        )
    except CheckBusy as busy:
        logger.info("%s", busy)
        return None
    return check.pk


@shared_task(name="monitoring.tasks.reap_expired_claims_task")
def reap_expired_claims_task() -> int:
    """Re-enqueue claimed work whose holder is gone (beat, every CHECK_DISPATCH_SECONDS): checks past their
    lease, and the re-encryption a key rotation left unfinished. Returns how many were re-enqueued.

    Deliveries need nothing here: the deliver-due sweep already sends any whose claim (``locked_until``) ran out.
    """
    reaped = reap_checks(timezone.now())
    return reaped + int(resume_rewrap())


def reap_checks(now: datetime) -> int:
    """Hand each orphaned check to a new task and enqueue it; returns how many were enqueued."""
    reaped = 0
    for check in orphaned_checks(now):
        task_id = uuid()
        token = f"task:{task_id}"
        previous_holder, previous_claim = check.claim_token, check.claimed_at
        if not take_over(check, token, now):
            continue  # finished or taken over meanwhile
        args = (check.model_version_id, check.policy_id, check.window_end.isoformat(), check.trigger)
        try:
            run_check_task.apply_async(args=args, task_id=task_id)
        except Exception:  # broker down: give the claim back so the next pass retries
            release(check, token, previous_claim)
            logger.warning("could not re-enqueue check %s", check.pk, exc_info=True)
            continue
        logger.warning(
            "check %s (window ending %s) was held by %s since %s past its lease; re-enqueued as %s",
            check.pk,
            check.window_end.isoformat(),
            previous_holder or "nobody",
            previous_claim.isoformat() if previous_claim else "never",
            token,
        )
        reaped += 1
    return reaped


@shared_task(name="monitoring.tasks.delete_expired_predictions_task")
def delete_expired_predictions_task() -> dict[str, int]:
    """Delete the stored predictions that are due (beat, daily): see ``delete_expired_predictions``."""
    return delete_expired_predictions(timezone.now())
