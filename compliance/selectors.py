"""Reads for the audit trail."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Max, Min, Q, QuerySet

from compliance.models import Anchor, AuditEntry, Checkpoint, SigningKeyRecord
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


def log_summary_between(start: Any, end: Any) -> dict[str, Any]:
    """What the log records in ``[start, end)``: entry counts by action, object type and role, the first and
    last seq, and whether the seqs of the period are contiguous with nothing missing."""
    entries = AuditEntry.objects.filter(time__gte=start, time__lt=end)
    bounds = entries.aggregate(first=Min("seq"), last=Max("seq"), count=Count("id"))

    def counted(field: str) -> dict[str, int]:
        rows = entries.values(field).annotate(n=Count("id")).order_by(field)
        return {row[field] or "(none)": row["n"] for row in rows}

    first, last, count = bounds["first"], bounds["last"], bounds["count"]
    totals = AuditEntry.objects.aggregate(first=Min("seq"), last=Max("seq"), count=Count("id"), oldest=Min("time"))
    return {
        "entries": count,
        "first_seq": first,
        "last_seq": last,
        "missing_in_period": 0 if first is None else (last - first + 1) - count,
        "by_action": counted("action"),
        "by_object_type": counted("object_type"),
        "by_role": counted("role"),
        "log_entries_total": totals["count"],
        "log_missing_total": 0 if totals["last"] is None else totals["last"] - totals["count"] - (totals["first"] - 1),
        "oldest_entry_time": totals["oldest"],
    }


def checkpoints_between(start: Any, end: Any) -> list[Checkpoint]:
    """Checkpoints signed in ``[start, end)``, with their anchors, oldest first."""
    return list(
        Checkpoint.objects.filter(timestamp__gte=start, timestamp__lt=end)
        .prefetch_related("anchors")
        .order_by("tree_size")
    )


def first_checkpoint_covering(seq: int) -> Checkpoint | None:
    return Checkpoint.objects.filter(tree_size__gte=seq).prefetch_related("anchors").order_by("tree_size").first()


def signing_key_records() -> QuerySet[SigningKeyRecord]:
    return SigningKeyRecord.objects.order_by("created_at", "id")


def model_version_entries(action: str, model_name: str) -> QuerySet[AuditEntry]:
    """Entries of ``action`` about any version of ``model_name`` (object ids ``<model>:<version>``)."""
    return AuditEntry.objects.filter(
        action=action, object_type="model_version", object_id__startswith=f"{model_name}:"
    ).order_by("seq")


def entries_about_model(model_name: str, actions: list[str], since: Any) -> QuerySet[AuditEntry]:
    """Entries of ``actions`` from ``since`` on about ``model_name`` or one of its versions, oldest first
    (entries name their model in the object id, ``<model>:<version>``, or in the payload's ``model``)."""
    about = (
        Q(payload__model=model_name)
        | Q(object_type="model", object_id=model_name)
        | Q(object_id__startswith=f"{model_name}:")
    )
    return AuditEntry.objects.filter(about, action__in=actions, time__gte=since).order_by("seq")


def last_seq() -> int:
    """The audit log's last seq, which (the seq being gapless from 1) is its number of entries."""
    return AuditEntry.objects.aggregate(last=Max("seq"))["last"] or 0
