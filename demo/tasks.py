"""Demo tasks: the demo model's retraining with reweighing, and the demo prediction stream (make run).

Thin entry points, like monitoring's: they name what to do by ids and call the demo services.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.db import OperationalError, transaction
from django.utils import timezone

from core.api.errors import ApplicationError
from demo.retraining import retrain_with_reweighing
from demo.stream import drift_at, stream_batch
from monitoring.alerts.services import emit_event
from registry.models import ModelVersion

logger = logging.getLogger("fairlens.checks")
TRANSIENT = (OperationalError, ConnectionError)


@shared_task(name="demo.tasks.retrain_task", acks_late=True)
def retrain_task(version_id: int, reason: str) -> int | None:
    """Retrain a model that supports it (the demo model) with reweighing and register the result in staging;
    other models only get the ``retraining.requested`` event. Emits ``retraining.completed``."""

    version = ModelVersion.objects.select_related("model").get(pk=version_id)
    if ModelVersion.objects.filter(model=version.model, training_metrics__source_version=version.version).exists():
        return None  # a redelivered task: this version was retrained already
    drift = drift_at(timezone.now()) if settings.FAIRLENS_DEMO_STREAM else 0.5
    try:
        with transaction.atomic():
            new_version = retrain_with_reweighing(source_version=version, reason=reason, drift_level=drift)
            emit_event(
                "retraining.completed",
                model=version.model,
                data={
                    "model": version.model.name,
                    "source_version": version.version,
                    "new_version": new_version.version,
                    "stage": new_version.stage,
                },
            )
    except ApplicationError as exc:
        if exc.code != "retraining_not_supported":
            raise
        logger.info("retraining of %s requested; it is not retrained here: %s", version, exc)
        return None
    return new_version.pk


@shared_task(
    name="demo.tasks.demo_stream_task",
    acks_late=True,
    autoretry_for=TRANSIENT,
    retry_backoff=True,
    retry_backoff_max=30,
    max_retries=3,
)
def demo_stream_task() -> int:
    """Post one batch of simulated predictions for the demo model (make run), drift rising over time.

    Storing reruns itself while SQLite is locked (see monitoring.ingestion.locking); a batch that still failed stored
    nothing, so the task's own retry makes a fresh one.
    """
    if not settings.FAIRLENS_DEMO_STREAM:
        return 0

    return stream_batch(timezone.now())
