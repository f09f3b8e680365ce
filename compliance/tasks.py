"""Periodic audit-trail work: checkpoints with anchoring, and verification against the anchored checkpoint."""

from __future__ import annotations

import logging

from celery import shared_task

from compliance.checkpoints import anchor_checkpoint, checkpoint_due, create_checkpoint
from compliance.field_encryption import retire_unused_keys, rewrap_all, rewrap_owed
from compliance.models import Checkpoint
from compliance.rewrap_lease import hold_rewrap_lease, release_rewrap_lease
from compliance.verification import notify_auditors_of_failure, verify_log

logger = logging.getLogger("fairlens.audit")


@shared_task(name="compliance.tasks.checkpoint_task")
def checkpoint_task() -> int | None:
    """Make a checkpoint when one is due, and anchor any checkpoint an earlier run could not anchor."""
    checkpoint = create_checkpoint() if checkpoint_due() else None
    for pending in Checkpoint.objects.filter(anchors__isnull=True).order_by("tree_size"):
        anchor_checkpoint(pending.pk)
    return checkpoint.tree_size if checkpoint else None


@shared_task(name="compliance.tasks.verify_audit_log_task")
def verify_audit_log_task() -> bool:
    """Verify the whole log; on a mismatch, log at ERROR and e-mail every active auditor."""
    run = verify_log()
    if not run.ok:
        logger.error("audit log verification FAILED at seq %s: %s", run.first_bad_seq, run.problem)
        notify_auditors_of_failure(run)
    return run.ok


def resume_rewrap() -> bool:
    """Enqueue the re-encryption a key rotation left unfinished (its worker died, its task was lost or ran out
    of time), unless one is queued or running. Returns whether one was enqueued (the reaper calls this)."""
    if not rewrap_owed() or not hold_rewrap_lease(take_free_only=True):
        return False
    rewrap_keys_task.delay()
    logger.warning("a key rotation's re-encryption was unfinished; resumed")
    return True


@shared_task(name="compliance.tasks.rewrap_keys_task", acks_late=True)
def rewrap_keys_task(batch_size: int = 500, batches_per_run: int = 200) -> int:
    """Re-encrypt stored ciphertexts under the primary key a bounded amount at a time, re-enqueueing itself
    until done, then retire keys nothing uses any more."""
    hold_rewrap_lease(take_free_only=False)
    done = rewrap_all(batch_size=batch_size, max_batches=batches_per_run)
    if done >= batch_size * batches_per_run:
        rewrap_keys_task.delay(batch_size, batches_per_run)
    else:
        retire_unused_keys()
        release_rewrap_lease()
    return done
