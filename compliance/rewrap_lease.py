"""The lease of the re-encryption after a key rotation, and its start.

Held while a re-encryption is queued or running, so the reaper does not start a second one beside it. It only
saves duplicate work: two runs at once are safe (each batch locks its rows, skipping those locked). The task is
enqueued by name (``core.task_queue``): the rotation is a service, below the task module that runs it.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import cache

from core.task_queue import enqueue

logger = logging.getLogger("fairlens.audit")
REWRAP_LEASE_KEY = "compliance:rewrap-lease"
REWRAP_TASK = "compliance.tasks.rewrap_keys_task"


def hold_rewrap_lease(*, take_free_only: bool) -> bool:
    """Hold the rewrap lease for as long as one run may last (it is killed at CELERY_TASK_TIME_LIMIT), so a run
    that died lets the reaper start another a minute after that. Without a cache the work goes on unleased."""
    timeout = settings.CELERY_TASK_TIME_LIMIT + 60
    try:
        if take_free_only:
            return bool(cache.add(REWRAP_LEASE_KEY, "held", timeout=timeout))
        cache.set(REWRAP_LEASE_KEY, "held", timeout=timeout)
    except Exception:  # cache down: a duplicate run is the worst case
        logger.warning("the rewrap lease could not be written", exc_info=True)
    return True


def release_rewrap_lease() -> None:
    try:
        cache.delete(REWRAP_LEASE_KEY)
    except Exception:  # the lease then just runs out
        logger.warning("the rewrap lease could not be released", exc_info=True)


def enqueue_rewrap() -> None:
    """Enqueue the re-encryption (``rewrap_keys_task`` takes the lease when it starts)."""
    enqueue(REWRAP_TASK)


def start_rewrap() -> None:
    """Enqueue the re-encryption after a key rotation, holding the lease until it runs."""
    hold_rewrap_lease(take_free_only=False)
    enqueue_rewrap()
