"""The audit trail of one ingestion record (an evaluation or a submitted batch): verify its entries and the
stored summary they signed, and decrypt its alert explanation (auditors). They read monitoring's records, so
they live here, above compliance, and call compliance's verification and decryption gate."""

from __future__ import annotations

import uuid

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from compliance import selectors
from compliance.api.serializers import DecryptInputSerializer
from compliance.crypto.canonical import jcs_sha256
from compliance.field_encryption import decrypt_for
from compliance.models import AuditEntry
from compliance.verification import verify_entry
from core.api.envelope import envelope, envelope_serializer
from core.api.errors import ApplicationError
from core.roles import Role
from monitoring.models import IngestionRecord

AUDITOR = {Role.AUDITOR}


class VerifyRecordView(APIView):
    """Seed endpoint: verify the audit entries of a record (an evaluation or submitted batch) by ``record_id``:
    each entry's hash, signature, chain links and inclusion in the latest checkpoint, and that the record's
    stored summary still hashes to what was signed."""

    required_roles = {"GET": AUDITOR}

    @extend_schema(responses=envelope_serializer("RecordVerification", serializers.DictField()), tags=["seed"])
    def get(self, request: Request, record_id: str) -> Response:
        entries = list(selectors.entries_for_object("ingestion_record", _uuid(record_id) or record_id))
        if not entries:
            raise ApplicationError(f"No audited record {record_id!r}.", code="not_found", status_code=404)
        results = [{"seq": entry.seq, "action": entry.action, **verify_entry(entry)} for entry in entries]
        record_check = _record_summary_check(record_id, entries)
        failed = [name for result in results for name, value in result.items() if value is False]
        if record_check is False:
            failed.append("record_summary_matches_signed_digest")
        verified = not failed
        return envelope(
            {
                "record_id": record_id,
                "verified": verified,
                "failed_checks": failed,
                "record_summary_matches_signed_digest": record_check,
                "entries": results,
            },
            "verified" if verified else "verification failed: " + ", ".join(sorted(set(failed))),
        )


def _record_summary_check(record_id: str, entries: list[AuditEntry]) -> bool | None:
    signed = [entry.payload.get("summary_sha256") for entry in entries if entry.payload.get("summary_sha256")]
    if not signed:
        return None
    record = IngestionRecord.objects.filter(record_id=_uuid(record_id)).first()
    return record is not None and jcs_sha256(record.summary) == signed[-1]


class DecryptRecordAlertView(APIView):
    """Decrypt the alert explanation of a record (auditors only; the reason and the access are audit entries)."""

    required_roles = {"POST": AUDITOR}

    @extend_schema(
        request=DecryptInputSerializer,
        responses=inline_serializer(
            "DecryptedAlert", {"record_id": serializers.CharField(), "explanation": serializers.CharField()}
        ),
        tags=["compliance"],
    )
    def post(self, request: Request, record_id: str) -> Response:
        data = DecryptInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        record = IngestionRecord.objects.filter(record_id=_uuid(record_id)).first()
        if record is None:
            raise ApplicationError(f"No record {record_id!r}.", code="not_found", status_code=404)
        plaintext = decrypt_for(
            user=request.user,
            obj=record,
            field="encrypted_alert",
            reason=data.validated_data["reason"],
            otp=data.validated_data.get("otp"),
        )
        return Response({"record_id": str(record.record_id), "explanation": plaintext})


def _uuid(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None
