"""Writes around an audit report: its export is recorded in the audit trail (who took which evidence)."""

from __future__ import annotations

import hashlib
from typing import Any

from compliance.report_signing import sign_document
from compliance.services import audit_append
from monitoring.audit_report.build import Report
from monitoring.audit_report.documents import document_of
from monitoring.audit_report.pdf import render_pdf


def record_export(*, actor: Any, report: Report, bundle: dict[str, Any], fmt: str) -> None:
    """Append ``report.export`` naming the report, its format and the digests the exported bytes carry."""
    audit_append(
        action="report.export",
        actor=actor,
        object_type="model_version",
        object_id=f"{report.model.name}:{report.version.version}",
        payload={
            "format": fmt,
            "model": report.model.name,
            "version": report.version.version,
            "period": report.period.as_dict(),
            "policy_version": report.policy.version if report.policy is not None else None,
            "inputs_sha256": report.inputs_sha256,
            "bundle_sha256": bundle["bundle_sha256"],
        },
    )


def record_document_export(
    *, actor: Any, bundle: dict[str, Any], fmt: str, object_type: str, object_id: str, **extra: Any
) -> None:
    """Append ``report.export`` for a document (an LL144 bias audit, a monitoring plan, a log report): who took
    it, in which format, and the digest of its bundle (and of the PDF's bytes), so the document can later be
    shown to be the one that was issued, and when (the next checkpoint covers the entry)."""
    audit_append(
        action="report.export",
        actor=actor,
        object_type=object_type,
        object_id=object_id,
        payload={
            "format": fmt,
            "document": bundle["kind"],
            **{key: bundle[key] for key in ("model", "version", "period", "policy_version") if key in bundle},
            "bundle_sha256": bundle["bundle_sha256"],
            **extra,
        },
    )


def record_bias_audit_export(*, actor: Any, bundle: dict[str, Any], fmt: str) -> None:
    record_document_export(
        actor=actor,
        bundle=bundle,
        fmt=fmt,
        object_type="model_version",
        object_id=f"{bundle['model']}:{bundle['version']}",
    )


def issue_pdf(*, actor: Any, bundle: dict[str, Any], object_type: str, object_id: str) -> bytes:
    """The bundle's document as a signed PDF; its export is recorded with the PDF's SHA-256 and the signer's
    certificate fingerprint. Raises ``ReportSigningUnavailable`` (or ``SigningMaterialError``) when the
    deployment has no usable report-signing key."""
    document = document_of(bundle)
    signed = sign_document(render_pdf(document), reason=f"{document.title} (bundle SHA-256 {bundle['bundle_sha256']})")
    record_document_export(
        actor=actor,
        bundle=bundle,
        fmt="pdf",
        object_type=object_type,
        object_id=object_id,
        document_sha256=hashlib.sha256(signed.pdf).hexdigest(),
        signer_certificate_sha256=signed.certificate_sha256,
    )
    return signed.pdf
