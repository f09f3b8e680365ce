"""Compliance API serializers."""

from __future__ import annotations

from rest_framework import serializers

from compliance.models import AuditEntry, Checkpoint, VerificationRun


class AuditEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEntry
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
        read_only_fields = fields


class CheckpointSerializer(serializers.ModelSerializer):
    anchors = serializers.SerializerMethodField()

    class Meta:
        model = Checkpoint
        fields = ("tree_size", "root_hash", "timestamp", "key_id", "signed_note", "consistency_proof", "anchors")
        read_only_fields = fields

    def get_anchors(self, obj: Checkpoint) -> list[dict]:
        return [{"sink": a.sink, "tx_id": a.tx_id, "anchored_at": a.anchored_at} for a in obj.anchors.all()]


class VerificationRunSerializer(serializers.ModelSerializer):
    checkpoint_size = serializers.IntegerField(source="checkpoint.tree_size", allow_null=True, default=None)

    class Meta:
        model = VerificationRun
        fields = ("ok", "checked_entries", "checkpoint_size", "first_bad_seq", "problem", "started_at", "finished_at")
        read_only_fields = fields


class ProofSerializer(serializers.Serializer):
    tree_size = serializers.IntegerField()
    root_hash = serializers.CharField()
    proof = serializers.ListField(child=serializers.CharField())


class DecryptInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, help_text="Why the plaintext is needed; it is logged.")
    otp = serializers.CharField(
        max_length=32,
        required=False,
        allow_blank=True,
        help_text="A current authenticator code, required for every decryption (each code is accepted once).",
    )
