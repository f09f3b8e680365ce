"""Compliance endpoints: the audit log, verification, export, public keys, proofs, anchors; the seed's
/api/audit_history, /api/verify_alert/<record_id> and /api/get_anchor/<hash>."""

from __future__ import annotations

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from compliance import selectors
from compliance.api.serializers import (
    AuditEntrySerializer,
    CheckpointSerializer,
    ProofSerializer,
    VerificationRunSerializer,
)
from compliance.checkpoints import proof_of_consistency, proof_of_inclusion
from compliance.field_encryption import rewrap_under_current_key, rotate_encryption_key
from compliance.models import Checkpoint, SigningKeyRecord
from compliance.verification import export_lines, latest_checkpoint, verify_log
from core.api.envelope import envelope, envelope_serializer
from core.api.errors import ApplicationError
from core.api.pagination import cursor_page_schema
from core.api.schema import string_filters
from core.roles import ANYONE, Role

AUDITOR = {Role.AUDITOR}


class _EntryCursor(CursorPagination):
    ordering = "-seq"
    page_size = 50
    max_page_size = 500
    page_size_query_param = "limit"


class EntryListView(APIView):
    """Audit entries, newest first (cursor-paginated); filter by action, actor, object_type, object_id."""

    required_roles = {"GET": AUDITOR}

    @extend_schema(
        parameters=string_filters("action", "actor", "object_type", "object_id"),
        responses=cursor_page_schema("AuditEntryPage", AuditEntrySerializer),
        tags=["compliance"],
    )
    def get(self, request: Request) -> Response:
        entries = selectors.entry_list()
        for name in ("action", "actor", "object_type", "object_id"):
            if request.query_params.get(name):
                entries = entries.filter(**{name: request.query_params[name]})
        paginator = _EntryCursor()
        page = paginator.paginate_queryset(entries, request, view=self)
        return paginator.get_paginated_response(AuditEntrySerializer(page, many=True).data)


class VerifyLogView(APIView):
    """Verify the whole chain, every signature and every checkpoint now; says where the first problem is."""

    required_roles = {"GET": AUDITOR}

    @extend_schema(responses=VerificationRunSerializer, tags=["compliance"])
    def get(self, request: Request) -> Response:
        return Response(VerificationRunSerializer(verify_log()).data)


class ExportView(APIView):
    """The log as JSONL (one entry per line), for ``python -m compliance.crypto.verify``."""

    required_roles = {"GET": AUDITOR}

    @extend_schema(responses={(200, "application/x-ndjson"): OpenApiTypes.STR}, tags=["compliance"])
    def get(self, request: Request) -> StreamingHttpResponse:
        response = StreamingHttpResponse((line + "\n" for line in export_lines()), content_type="application/x-ndjson")
        response["Content-Disposition"] = 'attachment; filename="audit-export.jsonl"'
        return response


class CheckpointView(APIView):
    """The latest (anchored) checkpoint; ``?format=note`` gives the signed note as text for the verifier."""

    required_roles = {"GET": {ANYONE}}

    @extend_schema(
        responses=CheckpointSerializer,
        tags=["compliance"],
        parameters=[OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "note"])],
    )
    def get(self, request: Request) -> Response:
        checkpoint = latest_checkpoint()
        if checkpoint is None:
            raise ApplicationError("No checkpoint yet.", code="not_found", status_code=404)
        return Response(CheckpointSerializer(checkpoint).data)


class PublicKeyView(APIView):
    """The public keys that sign the log (PEM), current first. Public by design: anyone may verify."""

    required_roles = {"GET": {ANYONE}}

    @extend_schema(
        responses=inline_serializer("PublicKeys", {"keys": serializers.ListField(child=serializers.DictField())}),
        tags=["compliance"],
    )
    def get(self, request: Request) -> Response:
        records = SigningKeyRecord.objects.order_by("-created_at")
        return Response(
            {
                "keys": [
                    {"key_id": r.key_id, "name": r.name, "public_pem": r.public_pem, "retired_at": r.retired_at}
                    for r in records
                ]
            }
        )


def _int_param(request: Request, name: str) -> int:
    try:
        value = int(request.query_params[name])
    except (KeyError, ValueError):
        raise ApplicationError(f"`{name}` is required and must be an integer.", details={name: ["integer"]}) from None
    if value < 0:
        raise ApplicationError(f"`{name}` must not be negative.", details={name: [">= 0"]})
    return value


class InclusionProofView(APIView):
    """RFC 6962 inclusion proof of entry ``seq`` in the tree of size ``tree_size`` (default: latest checkpoint)."""

    required_roles = {"GET": {Role.AUDITOR}}

    @extend_schema(
        parameters=[
            OpenApiParameter("seq", OpenApiTypes.INT, required=True),
            OpenApiParameter("tree_size", OpenApiTypes.INT),
        ],
        responses=ProofSerializer,
        tags=["compliance"],
    )
    def get(self, request: Request) -> Response:
        seq = _int_param(request, "seq")
        checkpoint = _checkpoint_for(request)
        if not 1 <= seq <= checkpoint.tree_size:
            raise ApplicationError(f"seq must be between 1 and {checkpoint.tree_size}.", details={"seq": ["range"]})
        return Response(
            {
                "tree_size": checkpoint.tree_size,
                "root_hash": checkpoint.root_hash,
                "proof": proof_of_inclusion(seq, checkpoint.tree_size),
            }
        )


class ConsistencyProofView(APIView):
    """RFC 6962 consistency proof that the tree of ``old_size`` is a prefix of the checkpoint's tree."""

    required_roles = {"GET": {Role.AUDITOR}}

    @extend_schema(
        parameters=[
            OpenApiParameter("old_size", OpenApiTypes.INT, required=True),
            OpenApiParameter("tree_size", OpenApiTypes.INT),
        ],
        responses=ProofSerializer,
        tags=["compliance"],
    )
    def get(self, request: Request) -> Response:
        old_size = _int_param(request, "old_size")
        checkpoint = _checkpoint_for(request)
        if not 1 <= old_size <= checkpoint.tree_size:
            raise ApplicationError(
                f"old_size must be between 1 and {checkpoint.tree_size}.", details={"old_size": ["range"]}
            )
        return Response(
            {
                "tree_size": checkpoint.tree_size,
                "root_hash": checkpoint.root_hash,
                "proof": proof_of_consistency(old_size, checkpoint.tree_size),
            }
        )


def _checkpoint_for(request: Request) -> Checkpoint:
    if "tree_size" in request.query_params:
        checkpoint = Checkpoint.objects.filter(tree_size=_int_param(request, "tree_size")).first()
    else:
        checkpoint = latest_checkpoint()
    if checkpoint is None:
        raise ApplicationError("No checkpoint of that size.", code="not_found", status_code=404)
    return checkpoint


class AuditHistoryView(APIView):
    """Seed endpoint: the latest audit entries (auditor)."""

    required_roles = {"GET": AUDITOR}

    @extend_schema(
        parameters=[OpenApiParameter("limit", OpenApiTypes.INT, description="1-500, default 20")],
        responses=envelope_serializer("AuditHistory", AuditEntrySerializer(many=True)),
        tags=["seed"],
    )
    def get(self, request: Request) -> Response:
        limit = _int_param(request, "limit") if "limit" in request.query_params else 20
        if not 1 <= limit <= 500:
            raise ApplicationError("`limit` must be between 1 and 500.", details={"limit": ["1-500"]})
        entries = AuditEntrySerializer(selectors.entry_list()[:limit], many=True).data
        return envelope(entries, f"{len(entries)} latest audit entries")


class AnchorView(APIView):
    """Seed endpoint: where a checkpoint root, or the checkpoint covering an entry hash, was anchored."""

    required_roles = {"GET": {ANYONE}}

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "digest",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                pattern="^[0-9a-fA-F]{64}$",
                description="A checkpoint root or an entry hash: SHA-256, 64 hex characters.",
            )
        ],
        responses=envelope_serializer("AnchorDetails", serializers.DictField()),
        tags=["seed"],
    )
    def get(self, request: Request, digest: str) -> Response:
        found = selectors.anchor_for_hash(digest)
        anchor, checkpoint, entry = found["anchor"], found["checkpoint"], found["entry"]
        data = {
            "kind": found["kind"],
            "hash": digest.lower(),
            "tx_id": anchor.tx_id,
            "sink": anchor.sink,
            "anchored_at": anchor.anchored_at,
            "checkpoint": {
                "tree_size": checkpoint.tree_size,
                "root_hash": checkpoint.root_hash,
                "signed_note": checkpoint.signed_note,
            },
        }
        if entry is not None:
            data["entry_seq"] = entry.seq
            data["inclusion_proof"] = proof_of_inclusion(entry.seq, checkpoint.tree_size)
        return envelope(data, f"anchored as {anchor.tx_id}")


class ResetKeyView(APIView):
    """Seed endpoint: rotate the encryption key (admin). Stored ciphertexts are re-encrypted in the background;
    the old key is retired when nothing uses it.

    ``?rewrap_only=true`` makes no key: it re-encrypts under the provider's current key, after a rotation done in
    Vault or KMS (where FairLens cannot rotate), or to resume an interrupted re-encryption.
    """

    required_roles = {"POST": {Role.ADMIN}}

    @extend_schema(
        request=None,
        parameters=[
            OpenApiParameter(
                "rewrap_only",
                OpenApiTypes.BOOL,
                description="Re-encrypt under the key service's current key without making a new key.",
            )
        ],
        responses=envelope_serializer("KeyRotation", serializers.DictField()),
        tags=["seed"],
    )
    def post(self, request: Request) -> Response:
        if _flag(request, "rewrap_only"):
            result = rewrap_under_current_key(requested_by=request.user)
            return envelope(
                result, f"re-encrypting {result['rows_to_reencrypt']} value(s) under key {result['primary_key_id']}"
            )
        result = rotate_encryption_key(rotated_by=request.user)
        return envelope(result, f"new primary key {result['new_key_id']}; re-encryption started")


def _flag(request: Request, name: str) -> bool:
    raw = request.query_params.get(name)
    if raw is None or raw.strip().lower() in ("", "false", "0", "no"):
        return False
    if raw.strip().lower() in ("true", "1", "yes"):
        return True
    raise ApplicationError(
        f"{name} must be true or false, not {raw!r}.", code="invalid", details={name: ["must be true or false"]}
    )
