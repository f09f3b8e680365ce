"""Reads for the audit trail."""

from __future__ import annotations

from django.db.models import QuerySet

from compliance.models import Anchor, AuditEntry, Checkpoint
from core.api.errors import ApplicationError


def entry_list() -> QuerySet[AuditEntry]:
    return AuditEntry.objects.order_by("-seq")


def entries_for_object(object_type: str, object_id: str) -> QuerySet[AuditEntry]:
    return AuditEntry.objects.filter(object_type=object_type, object_id=object_id).order_by("seq")


def anchor_for_hash(value: str) -> dict:
    """The anchor of a checkpoint root, or of the first anchored checkpoint covering an entry with this hash."""
    digest = value.lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ApplicationError(
            "Give a SHA-256 hash as 64 hex characters.", code="invalid", details={"hash": ["64 hex characters"]}
        )
    anchor = Anchor.objects.select_related("checkpoint").filter(anchored_hash=digest).first()
    if anchor is not None:
        return {"kind": "checkpoint_root", "anchor": anchor, "checkpoint": anchor.checkpoint, "entry": None}
    entry = AuditEntry.objects.filter(entry_hash=digest).first()
    if entry is None:
        raise ApplicationError("No audit entry or checkpoint has this hash.", code="not_found", status_code=404)
    checkpoint = (
        Checkpoint.objects.filter(tree_size__gte=entry.seq, anchors__isnull=False).order_by("tree_size").first()
    )
    if checkpoint is None:
        raise ApplicationError(
            f"Entry #{entry.seq} is not yet covered by an anchored checkpoint.",
            code="not_anchored_yet",
            status_code=404,
        )
    return {"kind": "entry", "anchor": checkpoint.anchors.first(), "checkpoint": checkpoint, "entry": entry}
