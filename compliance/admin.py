"""Audit records on the auditor site only, read-only (only auditors read the audit log; nobody edits it)."""

from __future__ import annotations

from compliance.models import Anchor, AuditEntry, Checkpoint, SigningKeyRecord, VerificationRun
from core.admin_sites import ReadOnlyAdmin, auditor_site


class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ("seq", "time", "actor", "role", "action", "object_type", "object_id")
    list_filter = ("action", "role")
    search_fields = ("actor", "object_id", "entry_hash", "request_id")
    fields = (
        "seq",
        "time",
        "actor",
        "role",
        "action",
        "object_type",
        "object_id",
        "request_id",
        "payload",
        "prev_hash",
        "entry_hash",
        "signature",
        "key_id",
    )


class CheckpointAdmin(ReadOnlyAdmin):
    list_display = ("tree_size", "root_hash", "timestamp", "key_id")
    fields = ("tree_size", "root_hash", "timestamp", "key_id", "signed_note", "consistency_proof")


class AnchorAdmin(ReadOnlyAdmin):
    list_display = ("tx_id", "sink", "anchored_hash", "anchored_at")


class VerificationRunAdmin(ReadOnlyAdmin):
    list_display = ("finished_at", "ok", "checked_entries", "first_bad_seq", "problem")


class SigningKeyAdmin(ReadOnlyAdmin):
    list_display = ("key_id", "name", "created_at", "retired_at")


auditor_site.register(AuditEntry, AuditEntryAdmin)
auditor_site.register(Checkpoint, CheckpointAdmin)
auditor_site.register(Anchor, AnchorAdmin)
auditor_site.register(VerificationRun, VerificationRunAdmin)
auditor_site.register(SigningKeyRecord, SigningKeyAdmin)
