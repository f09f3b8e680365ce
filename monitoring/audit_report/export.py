"""Writes around an audit report: its export is recorded in the audit trail (who took which evidence)."""

from __future__ import annotations

from typing import Any

from compliance.services import audit_append
from monitoring.audit_report.build import Report


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


def record_bias_audit_export(*, actor: Any, bundle: dict[str, Any], fmt: str) -> None:
    """Append ``report.export`` for an LL144 bias audit: who took it, for which version and period, and the
    digest of its bundle, so the document can later be shown to be the one that was issued."""
    audit_append(
        action="report.export",
        actor=actor,
        object_type="model_version",
        object_id=f"{bundle['model']}:{bundle['version']}",
        payload={
            "format": fmt,
            "document": bundle["kind"],
            "model": bundle["model"],
            "version": bundle["version"],
            "period": bundle["period"],
            "policy_version": bundle["policy_version"],
            "bundle_sha256": bundle["bundle_sha256"],
        },
    )
