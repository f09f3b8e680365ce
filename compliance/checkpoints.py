"""Signed Merkle checkpoints over the audit log, and their anchoring outside the database."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from compliance.audit_keys import signing_key
from compliance.crypto import (
    Checkpoint as CheckpointBody,
)
from compliance.crypto import (
    consistency_proof,
    format_rfc3339_utc,
    inclusion_proof,
    leaf_hash,
    merkle_root_from_leaf_hashes,
)
from compliance.models import Anchor, AuditEntry, AuditHead, Checkpoint
from compliance.services import audit_append, locked_head, open_private_append


def leaf_hashes(upto: int | None = None) -> list[bytes]:
    """Merkle leaf hashes of entries 1..upto in seq order (leaf data = the 32-byte entry hash)."""
    entries = AuditEntry.objects.order_by("seq")
    if upto is not None:
        entries = entries.filter(seq__lte=upto)
    return [leaf_hash(bytes.fromhex(value)) for value in entries.values_list("entry_hash", flat=True).iterator(5000)]


def checkpoint_due(now: Any = None) -> bool:
    """New entries exist and either CHECKPOINT_INTERVAL_ENTRIES of them or CHECKPOINT_INTERVAL_MINUTES passed."""
    now = now or timezone.now()
    head = AuditHead.objects.filter(pk=1).first()
    if head is None or head.seq == 0:
        return False
    last = Checkpoint.objects.order_by("-tree_size").first()
    if last is None:
        return True
    new_entries = head.seq - last.tree_size
    if new_entries <= 0:
        return False
    old_enough = now - last.timestamp >= timedelta(minutes=settings.CHECKPOINT_INTERVAL_MINUTES)
    return new_entries >= settings.CHECKPOINT_INTERVAL_ENTRIES or old_enough


@transaction.atomic
def create_checkpoint() -> Checkpoint | None:
    """Sign a checkpoint over every entry so far, with a consistency proof from the previous checkpoint.

    Taken under the head lock, so the size and root describe a committed prefix of the log. Returns None
    when nothing was appended since the last checkpoint.
    """
    head = locked_head()
    previous = Checkpoint.objects.order_by("-tree_size").first()
    if head.seq == 0 or (previous and previous.tree_size >= head.seq):
        return None
    leaves = leaf_hashes(head.seq)
    now = timezone.now()
    key = signing_key()
    body = CheckpointBody(
        origin=settings.AUDIT_LOG_ORIGIN,
        tree_size=len(leaves),
        root_hash=merkle_root_from_leaf_hashes(leaves),
        timestamp=format_rfc3339_utc(now),
    )
    proof = [node.hex() for node in consistency_proof(previous.tree_size, leaves)] if previous else []
    checkpoint = Checkpoint.objects.create(
        tree_size=body.tree_size,
        root_hash=body.root_hash.hex(),
        timestamp=now,
        key_id=key.key_id,
        signed_note=body.signed_note(key),
        previous=previous,
        consistency_proof=proof,
    )
    audit_append(
        action="audit.checkpoint",
        object_type="checkpoint",
        object_id=str(checkpoint.tree_size),
        payload={"tree_size": checkpoint.tree_size, "root_hash": checkpoint.root_hash},
    )
    transaction.on_commit(lambda: anchor_checkpoint(checkpoint.pk))
    return checkpoint


class AnchorSink(Protocol):
    name: str

    def publish(self, checkpoint: Checkpoint) -> dict[str, Any]:
        """Publish the checkpoint somewhere the database operator cannot rewrite; return a receipt with tx_id."""


@dataclass(frozen=True)
class SimulatedChainSink:
    """The seed's simulated blockchain: an append-only JSONL file, ``tx_id = "0x" + first 16 hex of the hash``.

    It stands in for a real external sink (a WORM bucket, a transparency-log witness, an RFC 3161 time-stamping
    authority, e-mail to the auditors); it is only as independent as the file's storage.
    """

    name: str = "simulated_chain"

    def publish(self, checkpoint: Checkpoint) -> dict[str, Any]:
        receipt = {
            "tx_id": "0x" + checkpoint.root_hash[:16],
            "hash": checkpoint.root_hash,
            "tree_size": checkpoint.tree_size,
            "checkpoint": checkpoint.signed_note,
            "anchored_at": format_rfc3339_utc(timezone.now()),
        }
        with open_private_append(settings.ANCHOR_FILE_PATH) as handle:
            handle.write(json.dumps(receipt, separators=(",", ":")) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        return receipt


SINKS: dict[str, AnchorSink] = {"simulated_chain": SimulatedChainSink()}


def anchor_checkpoint(checkpoint_id: int) -> list[Anchor]:
    """Publish a checkpoint to every configured sink not yet holding it (idempotent, safe to retry)."""
    checkpoint = Checkpoint.objects.get(pk=checkpoint_id)
    anchors = []
    for sink_name in settings.ANCHOR_SINKS:
        existing = Anchor.objects.filter(checkpoint=checkpoint, sink=sink_name).first()
        if existing:
            anchors.append(existing)
            continue
        receipt = SINKS[sink_name].publish(checkpoint)
        anchors.append(
            Anchor.objects.create(
                checkpoint=checkpoint,
                anchored_hash=checkpoint.root_hash,
                sink=sink_name,
                tx_id=receipt["tx_id"],
                anchored_at=timezone.now(),
                receipt=receipt,
            )
        )
    return anchors


def proof_of_inclusion(seq: int, tree_size: int) -> list[str]:
    leaves = leaf_hashes(tree_size)
    return [node.hex() for node in inclusion_proof(seq - 1, leaves)]


def proof_of_consistency(old_size: int, new_size: int) -> list[str]:
    leaves = leaf_hashes(new_size)
    return [node.hex() for node in consistency_proof(old_size, leaves)]
