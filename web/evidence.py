"""The audit report's evidence bundle: everything the report shows as plain data, with the SHA-256 of its
canonical JSON, and the same verdict rows as CSV after comment lines naming the digests to check."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

from monitoring.fairness.version import ENGINE_VERSION
from web.report_data import CSV_COLUMNS, Report, alert_as_dict, canonical_sha256, check_as_dict, native, policy_as_dict


def evidence_bundle(report: Report) -> dict[str, Any]:
    """Everything the report shows, as plain data, with ``bundle_sha256`` over the rest (canonical JSON)."""
    bundle = native(
        {
            "kind": "fairlens.audit_report",
            "model": report.model.name,
            "version": report.version.version,
            "version_stage": report.version.stage,
            "period": report.period.as_dict(),
            "policy": policy_as_dict(report.policy) if report.policy is not None else None,
            "engine_version": ENGINE_VERSION,
            "verdicts": report.reports,
            "verdict_rows": report.rows(),
            "volumes": {
                "predictions": report.predictions,
                "checks": len(report.checks),
                "completed_checks": len(report.completed_checks),
                "alerts": len(report.alerts),
            },
            "checks": [check_as_dict(check) for check in report.checks],
            "alerts": [alert_as_dict(alert) for alert in report.alerts],
            "integrity": report.integrity.as_dict(),
            "inputs": report.inputs,
            "inputs_sha256": report.inputs_sha256,
            "counts_sha256": report.counts_sha256,
        }
    )
    bundle["bundle_sha256"] = canonical_sha256(bundle)
    return bundle


def _csv_number(value: Any) -> str:
    return "" if value is None else repr(value) if isinstance(value, float) else str(value)


def _csv_comment(text: str) -> str:
    return "# " + " ".join(text.split())


def evidence_csv_text(report: Report, bundle: Mapping[str, Any]) -> str:
    """The verdict rows as CSV, after ``#`` comment lines naming what they are and the digests to check."""
    policy_version = report.policy.version if report.policy is not None else "none"
    lines = [
        _csv_comment("FairLens audit report evidence"),
        _csv_comment(f"model: {report.model.name}"),
        _csv_comment(f"version: {report.version.version}"),
        _csv_comment(f"period: {report.period.start.isoformat()} to {report.period.end.isoformat()} (end exclusive)"),
        _csv_comment(f"policy_version: {policy_version}"),
        _csv_comment(f"engine_version: {ENGINE_VERSION}"),
        _csv_comment(f"inputs_sha256: {report.inputs_sha256}"),
        _csv_comment(f"bundle_sha256: {bundle['bundle_sha256']}"),
    ]
    buffer = io.StringIO()
    buffer.write("\n".join(lines) + "\n")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in bundle["verdict_rows"]:
        writer.writerow([_csv_cell(row[column]) for column in CSV_COLUMNS])
    return buffer.getvalue()


def _csv_cell(value: Any) -> str:
    text = _csv_number(value)
    # Keep spreadsheet programs from reading a group name as a formula.
    return "'" + text if text[:1] in ("=", "+", "@") or (text[:1] == "-" and not _is_number(text)) else text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
