"""The audit trail: a gapless, hash-chained, signed log with signed Merkle checkpoints and external anchors."""

from __future__ import annotations

from django.db import models


class AuditEntry(models.Model):
    """One audited event. Append-only: the application has no update or delete path, and on PostgreSQL
    triggers refuse UPDATE, DELETE and TRUNCATE.

    ``seq`` is gapless (assigned under a lock, not from a sequence). ``entry_hash`` = SHA-256(prev_hash ‖
    canonical JSON of the nine entry fields), signed with Ed25519 under ``key_id``.
    """

    seq = models.BigIntegerField(unique=True)
    time = models.DateTimeField()
    actor = models.CharField(max_length=200, blank=True)
    role = models.CharField(max_length=50, blank=True)
    action = models.CharField(max_length=100)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=200, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    payload = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64)
    entry_hash = models.CharField(max_length=64, unique=True)
    signature = models.TextField()
    key_id = models.CharField(max_length=8)

    class Meta:
        ordering = ("seq",)
        verbose_name_plural = "audit entries"
        indexes = [
            models.Index(fields=("object_type", "object_id"), name="audit_object"),
            models.Index(fields=("action", "time"), name="audit_action_time"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.object_type}:{self.object_id}"


class AuditHead(models.Model):
    """The single row holding the chain's tip; locking it serialises appends and keeps ``seq`` gapless."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField(default=0)
    entry_hash = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"head at #{self.seq}"


class SigningKeyRecord(models.Model):
    """A public key that has signed audit entries or checkpoints. Kept after rotation so old entries verify."""

    key_id = models.CharField(max_length=8, unique=True)
    name = models.CharField(max_length=100)
    public_pem = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("created_at",)

    def __str__(self) -> str:
        return f"{self.name} {self.key_id}"


class Checkpoint(models.Model):
    """A signed tree head over entries 1..tree_size (C2SP tlog-checkpoint text, signed-note signature)."""

    tree_size = models.BigIntegerField(unique=True)
    root_hash = models.CharField(max_length=64)
    timestamp = models.DateTimeField()
    key_id = models.CharField(max_length=8)
    signed_note = models.TextField()
    previous = models.OneToOneField("self", on_delete=models.PROTECT, null=True, blank=True, related_name="next")
    consistency_proof = models.JSONField(default=list, help_text="Hex hashes proving the previous tree is a prefix.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("tree_size",)

    def __str__(self) -> str:
        return f"checkpoint at {self.tree_size}"


class Anchor(models.Model):
    """Where a checkpoint root was published outside the database (the seed's simulated chain by default)."""

    checkpoint = models.ForeignKey(Checkpoint, on_delete=models.PROTECT, related_name="anchors")
    anchored_hash = models.CharField(max_length=64, db_index=True)
    sink = models.CharField(max_length=50)
    tx_id = models.CharField(max_length=100)
    anchored_at = models.DateTimeField()
    receipt = models.JSONField(default=dict)

    class Meta:
        ordering = ("anchored_at",)
        constraints = [models.UniqueConstraint(fields=("checkpoint", "sink"), name="one_anchor_per_sink")]

    def __str__(self) -> str:
        return f"{self.sink} {self.tx_id}"


class VerificationRun(models.Model):
    """The outcome of verifying the whole log against its latest anchored checkpoint."""

    ok = models.BooleanField()
    checked_entries = models.BigIntegerField()
    checkpoint = models.ForeignKey(Checkpoint, on_delete=models.SET_NULL, null=True, blank=True)
    first_bad_seq = models.BigIntegerField(null=True, blank=True)
    problem = models.TextField(blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()

    class Meta:
        ordering = ("-finished_at",)

    def __str__(self) -> str:
        return f"{'ok' if self.ok else 'FAILED'} at {self.finished_at:%Y-%m-%d %H:%M}"
