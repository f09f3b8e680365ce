"""Writes for the audit trail: append an entry (in the caller's transaction), checkpoint, anchor, verify."""

from __future__ import annotations

import fcntl
import json
import logging
import os
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from compliance.audit_keys import signing_key
from compliance.crypto import (
    GENESIS_HASH,
    audit_entry_fields,
    canonical_entry,
    chain_hash,
    format_rfc3339_utc,
    sign_entry_hash,
)
from compliance.models import AuditEntry, AuditHead
from core.request_context import current_request_id
from core.roles import principal_label

logger = logging.getLogger("fairlens.audit")
SYSTEM_ACTOR = "system"


def _actor(actor: Any) -> tuple[str, str]:
    if actor is None:
        return SYSTEM_ACTOR, ""
    if isinstance(actor, str):
        return actor, ""
    name, role = principal_label(actor)
    return name, "" if role == "-" else role


def audit_append(
    *,
    action: str,
    actor: Any = None,
    object_type: str = "",
    object_id: str = "",
    payload: dict[str, Any] | None = None,
    role: str | None = None,
) -> AuditEntry:
    """Append one entry to the audit log, inside the caller's transaction.

    If the caller's transaction rolls back, so does the entry, and the lock on the head row means no ``seq`` is
    skipped. ``actor`` is a user, a model-client principal, a name, or None for the system.
    """
    actor_name, actor_role = _actor(actor)
    request_id = current_request_id()
    with transaction.atomic():
        head = locked_head()
        seq = head.seq + 1
        now = timezone.now()
        fields = audit_entry_fields(
            seq=seq,
            time=format_rfc3339_utc(now),
            actor=actor_name,
            role=role if role is not None else actor_role,
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            request_id="" if request_id == "-" else request_id,
            payload=payload or {},
        )
        prev_hash = bytes.fromhex(head.entry_hash) if head.seq else GENESIS_HASH
        entry_hash = chain_hash(prev_hash, canonical_entry(fields))
        key = signing_key()
        entry = AuditEntry.objects.create(
            seq=seq,
            time=now,
            actor=fields["actor"],
            role=fields["role"],
            action=action,
            object_type=object_type,
            object_id=fields["object_id"],
            request_id=fields["request_id"],
            payload=fields["payload"],
            prev_hash=prev_hash.hex(),
            entry_hash=entry_hash.hex(),
            signature=sign_entry_hash(key, entry_hash),
            key_id=key.key_id,
        )
        head.seq = seq
        head.entry_hash = entry_hash.hex()
        head.save(update_fields=["seq", "entry_hash"])
    transaction.on_commit(sync_mirror)
    return entry


def locked_head() -> AuditHead:
    """The head row, locked. A migration creates it; should it be missing, it is rebuilt from the last entry
    rather than restarted at 0, so a lost head cannot fork the chain."""
    head = AuditHead.objects.select_for_update().filter(pk=1).first()
    if head is not None:
        return head
    last = AuditEntry.objects.order_by("-seq").first()
    AuditHead.objects.get_or_create(
        pk=1, defaults={"seq": last.seq if last else 0, "entry_hash": last.entry_hash if last else "0" * 64}
    )
    return AuditHead.objects.select_for_update().get(pk=1)


def export_line(entry: AuditEntry) -> dict[str, Any]:
    """An entry in the export format the offline verifier reads (one JSON object per line)."""
    return {
        "seq": entry.seq,
        "time": format_rfc3339_utc(entry.time),
        "actor": entry.actor,
        "role": entry.role,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "request_id": entry.request_id,
        "payload": entry.payload,
        "prev_hash": entry.prev_hash,
        "entry_hash": entry.entry_hash,
        "signature": entry.signature,
        "key_id": entry.key_id,
    }


def sync_mirror() -> int:
    """Append committed entries not yet in the JSONL mirror (the seed's compliance_audit_log.jsonl), in seq order.

    The mirror is written after commit, so rolled-back entries never reach it; a file lock and the last seq in
    the file keep concurrent writers from duplicating or reordering lines. Returns how many lines were added.
    """
    with open_private_append(settings.AUDIT_MIRROR_PATH, readable=True) as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        last_seq = _last_mirrored_seq(handle)
        added = 0
        for entry in AuditEntry.objects.filter(seq__gt=last_seq).order_by("seq").iterator(chunk_size=2000):
            handle.write(json.dumps(export_line(entry), separators=(",", ":"), ensure_ascii=False) + "\n")
            added += 1
        if added:
            handle.flush()
            os.fsync(handle.fileno())
        return added


def open_private_append(path: str | os.PathLike[str], *, readable: bool = False) -> Any:
    """Open a local audit file (the mirror, the simulated chain) for appending, readable by its owner only.

    They hold the whole log and its anchors, so like the secrets they are 0600: created with that mode, and a
    file left 0644 by an older version is narrowed on the next write.
    """
    os.makedirs(os.path.dirname(path), exist_ok=True)
    flags = os.O_CREAT | os.O_APPEND | (os.O_RDWR if readable else os.O_WRONLY)
    fd = os.open(path, flags, 0o600)
    try:
        os.fchmod(fd, 0o600)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "a+" if readable else "a")


def _last_mirrored_seq(handle: Any) -> int:
    handle.seek(0, os.SEEK_END)
    size = handle.tell()
    if size == 0:
        return 0
    window = min(size, 1 << 16)
    handle.seek(size - window)
    tail = handle.read(window).rstrip("\n").rsplit("\n", 1)[-1]
    try:
        return int(json.loads(tail)["seq"])
    except (ValueError, KeyError):
        logger.error("the audit mirror %s ends with an unreadable line; not appending to it", handle.name)
        raise
