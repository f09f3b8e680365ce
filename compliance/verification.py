"""Verifying the whole log, and one record, against the chain, the signatures and the anchored checkpoints."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from django.utils import timezone

from compliance.audit_keys import verifying_keys
from compliance.checkpoints import leaf_hashes
from compliance.crypto import (
    audit_entry_fields,
    canonical_entry,
    chain_hash,
    inclusion_proof,
    leaf_hash,
    parse_signed_checkpoint,
    verify_consistency,
    verify_entry_signature,
    verify_inclusion,
)
from compliance.crypto.verify import verify_export
from compliance.models import AuditEntry, Checkpoint, VerificationRun
from compliance.services import audit_append, export_line
from core.roles import Role


def export_lines(upto: int | None = None) -> Iterator[str]:
    """The log in the offline verifier's JSONL format, in seq order."""
    entries = AuditEntry.objects.order_by("seq")
    if upto is not None:
        entries = entries.filter(seq__lte=upto)
    for entry in entries.iterator(chunk_size=2000):
        yield json.dumps(export_line(entry), separators=(",", ":"), ensure_ascii=False)


def latest_checkpoint() -> Checkpoint | None:
    """The newest checkpoint that has been anchored (or, before any anchoring, the newest one)."""
    anchored = Checkpoint.objects.filter(anchors__isnull=False).order_by("-tree_size").first()
    return anchored or Checkpoint.objects.order_by("-tree_size").first()


def verify_log(*, record: bool = True) -> VerificationRun:
    """Verify every entry (sequence, chain, hash, signature), every checkpoint's signature and consistency with
    the one before, and the Merkle root of the latest anchored checkpoint. Records the run (and, if ``record``,
    an audit entry); returns it."""
    started = timezone.now()
    keys = verifying_keys()
    checkpoint = latest_checkpoint()
    ok, checked, first_bad, problem = True, AuditEntry.objects.count(), None, ""
    if checkpoint is not None:
        result = verify_export(export_lines(), checkpoint.signed_note, list(keys.values()))
        ok, checked, first_bad, problem = result.ok, result.checked, result.first_bad_seq, result.problem
    else:
        problem_seq, problem = _verify_chain_only(keys)
        ok, first_bad = problem_seq is None, problem_seq
    if ok:
        problem = _verify_checkpoint_sequence(keys) or ""
        ok = not problem
    run = VerificationRun.objects.create(
        ok=ok,
        checked_entries=checked,
        checkpoint=checkpoint,
        first_bad_seq=first_bad,
        problem=problem,
        started_at=started,
        finished_at=timezone.now(),
    )
    if record:
        audit_append(
            action="audit.verify",
            object_type="verification",
            object_id=str(run.pk),
            payload={
                "ok": ok,
                "checked": checked,
                "first_bad_seq": first_bad,
                "checkpoint_size": checkpoint.tree_size if checkpoint else None,
            },
        )
    return run


def _verify_chain_only(keys: dict[str, Any]) -> tuple[int | None, str]:
    previous = bytes(32)
    for expected_seq, entry in enumerate(AuditEntry.objects.order_by("seq").iterator(chunk_size=2000), start=1):
        problem = _entry_problem(entry, expected_seq, previous, keys)
        if problem:
            return entry.seq, problem
        previous = bytes.fromhex(entry.entry_hash)
    return None, ""


def _entry_problem(entry: AuditEntry, expected_seq: int, previous: bytes, keys: dict[str, Any]) -> str:
    if entry.seq != expected_seq:
        return f"expected seq {expected_seq}"
    if entry.prev_hash != previous.hex():
        return "prev_hash does not match the previous entry"
    line = export_line(entry)
    fields = audit_entry_fields(
        **{
            name: line[name]
            for name in ("seq", "time", "actor", "role", "action", "object_type", "object_id", "request_id", "payload")
        }
    )
    recomputed = chain_hash(previous, canonical_entry(fields))
    if recomputed.hex() != entry.entry_hash:
        return "entry_hash does not match the entry's contents"
    if entry.key_id not in keys:
        return f"signed by unknown key {entry.key_id}"
    try:
        verify_entry_signature(keys[entry.key_id], recomputed, entry.signature)
    except ValueError:
        return "signature does not verify"
    return ""


def _verify_checkpoint_sequence(keys: dict[str, Any]) -> str | None:
    """Every checkpoint is signed, matches the log's root at its size, and extends the one before it."""
    leaves = leaf_hashes()
    previous: Checkpoint | None = None
    for checkpoint in Checkpoint.objects.order_by("tree_size"):
        try:
            body = parse_signed_checkpoint(checkpoint.signed_note, list(keys.values()))
        except ValueError as exc:
            return f"checkpoint at {checkpoint.tree_size}: {exc}"
        if body.tree_size != checkpoint.tree_size or body.root_hash.hex() != checkpoint.root_hash:
            return f"checkpoint at {checkpoint.tree_size}: stored size/root differ from its signed note"
        if checkpoint.tree_size > len(leaves):
            return f"checkpoint at {checkpoint.tree_size} covers more entries than the log has ({len(leaves)})"
        if previous is not None:
            try:
                verify_consistency(
                    old_size=previous.tree_size,
                    new_size=checkpoint.tree_size,
                    old_root=bytes.fromhex(previous.root_hash),
                    new_root=body.root_hash,
                    proof=[bytes.fromhex(node) for node in checkpoint.consistency_proof],
                )
            except ValueError as exc:
                return f"checkpoint at {checkpoint.tree_size} does not extend the one at {previous.tree_size}: {exc}"
        previous = checkpoint
    return None


def verify_entry(entry: AuditEntry) -> dict[str, Any]:
    """Checks of one entry: its hash, signature, links to its neighbours, inclusion in the latest checkpoint.

    Each check is True or False (None when it does not apply yet, e.g. no checkpoint covers the entry).
    """
    keys = verifying_keys()
    before = AuditEntry.objects.filter(seq=entry.seq - 1).values_list("entry_hash", flat=True).first()
    after = AuditEntry.objects.filter(seq=entry.seq + 1).values_list("prev_hash", flat=True).first()
    line = export_line(entry)
    fields = audit_entry_fields(
        **{
            name: line[name]
            for name in ("seq", "time", "actor", "role", "action", "object_type", "object_id", "request_id", "payload")
        }
    )
    recomputed = chain_hash(bytes.fromhex(entry.prev_hash), canonical_entry(fields))
    try:
        verify_entry_signature(keys[entry.key_id], recomputed, entry.signature)
        signature_ok = True
    except (KeyError, ValueError):
        signature_ok = False
    checks: dict[str, Any] = {
        "hash_matches_contents": recomputed.hex() == entry.entry_hash,
        "signature_valid": signature_ok,
        "linked_to_previous": entry.prev_hash == (before if before else bytes(32).hex())
        and (before is not None or entry.seq == 1),
        "linked_to_next": None if after is None else after == entry.entry_hash,
    }
    checkpoint = latest_checkpoint()
    if checkpoint is None or checkpoint.tree_size < entry.seq:
        checks["in_checkpoint"] = None
        checks["checkpoint"] = None
        return checks
    proof = inclusion_proof(entry.seq - 1, leaf_hashes(checkpoint.tree_size))
    try:
        verify_inclusion(
            leaf_index=entry.seq - 1,
            tree_size=checkpoint.tree_size,
            leaf_hash=leaf_hash(bytes.fromhex(entry.entry_hash)),
            proof=proof,
            root=bytes.fromhex(checkpoint.root_hash),
        )
        checks["in_checkpoint"] = True
    except ValueError:
        checks["in_checkpoint"] = False
    checks["checkpoint"] = {
        "tree_size": checkpoint.tree_size,
        "root_hash": checkpoint.root_hash,
        "anchors": [anchor.tx_id for anchor in checkpoint.anchors.all()],
    }
    checks["inclusion_proof"] = [node.hex() for node in proof]
    return checks


def notify_auditors_of_failure(run: VerificationRun) -> int:
    """E-mail every active auditor that the log failed verification; returns how many were notified."""
    from django.contrib.auth import get_user_model
    from django.core.mail import send_mail

    recipients = list(
        get_user_model()
        .objects.filter(groups__name=Role.AUDITOR.value, is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    if not recipients:
        return 0
    where = f"seq {run.first_bad_seq}" if run.first_bad_seq is not None else "the checkpoint"
    send_mail(
        subject=f"[FairLens] Audit log verification FAILED at {where}",
        message=(
            f"Verification run {run.pk} at {run.finished_at:%Y-%m-%d %H:%M:%S} UTC found a problem at {where}:\n"
            f"{run.problem}\n\nChecked {run.checked_entries} entries. Compare with your copy of the last "
            "anchored checkpoint and investigate before trusting later entries."
        ),
        from_email=None,
        recipient_list=recipients,
    )
    return len(recipients)
