"""Delivery tasks: send one delivery now, and the sweep that sends whatever is due (retries, missed enqueues)."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from monitoring.alerts.delivery import deliver, due_delivery_ids


@shared_task(name="alerts.tasks.deliver_task", acks_late=True)
def deliver_task(delivery_id: int) -> str | None:
    """One attempt at one delivery; a no-op when it is not due or another sender holds it."""
    return deliver(delivery_id)


@shared_task(name="alerts.tasks.deliver_due_task", acks_late=True)
def deliver_due_task() -> int:
    """Attempt every due delivery (beat, every DELIVERY_SWEEP_SECONDS)."""
    sent = 0
    for delivery_id in due_delivery_ids(timezone.now()):
        if deliver(delivery_id) is not None:
            sent += 1
    return sent
