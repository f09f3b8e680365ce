"""The record-keeping report (EU AI Act, Regulation 2024/1689, Art. 12; retention under Art. 19 and 26(6)) for a
period: what the audit log recorded (events by kind), whether anything is missing, the last verification, the
checkpoints and their anchors, how long the log is kept, and the command that verifies it all offline."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings

from compliance.crypto.canonical import sorted_json_sha256
from compliance.integrity import integrity_status
from compliance.selectors import (
    checkpoints_between,
    first_checkpoint_covering,
    log_summary_between,
    signing_key_records,
)
from core.timestamps import rfc3339_utc_or_none
from monitoring.audit_report.period import Period

KIND = "eu_ai_act_art12_log_report"
VERIFY_COMMAND = (
    "python manage.py export_audit_log --out audit-export --checkpoint-now\n"
    "python -m compliance.crypto.verify --entries audit-export/audit-export.jsonl "
    "--checkpoint audit-export/checkpoint.txt --public-key audit-export/public-key-<key id>.pem"
)


def _checkpoint(checkpoint: Any) -> dict[str, Any]:
    return {
        "tree_size": checkpoint.tree_size,
        "root_hash": checkpoint.root_hash,
        "key_id": checkpoint.key_id,
        "signed_at": rfc3339_utc_or_none(checkpoint.timestamp),
        "anchors": [
            {"sink": anchor.sink, "tx_id": anchor.tx_id, "anchored_at": rfc3339_utc_or_none(anchor.anchored_at)}
            for anchor in checkpoint.anchors.all()
        ],
    }


def build_log_report(period: Period, *, generated_at: datetime) -> dict[str, Any]:
    """The report as its JSON bundle, with ``bundle_sha256`` over everything else in it."""
    summary = log_summary_between(period.start, period.end)
    covering = first_checkpoint_covering(summary["last_seq"]) if summary["last_seq"] is not None else None
    integrity = integrity_status().as_dict()
    oldest = summary.pop("oldest_entry_time")
    body: dict[str, Any] = {
        "kind": KIND,
        "rule": "Regulation (EU) 2024/1689, Article 12 (record-keeping); Articles 19 and 26(6) (retention of logs)",
        "generated_at": rfc3339_utc_or_none(generated_at),
        "period": period.as_dict(),
        "events": summary,
        "gaps": "none"
        if summary["missing_in_period"] == 0 and summary["log_missing_total"] == 0
        else "missing entries",
        "verification": integrity["verification"],
        "checkpoints_in_period": [
            _checkpoint(checkpoint) for checkpoint in checkpoints_between(period.start, period.end)
        ],
        "covering_checkpoint": _checkpoint(covering) if covering is not None else None,
        "signing_keys": [
            {
                "key_id": record.key_id,
                "name": record.name,
                "created_at": rfc3339_utc_or_none(record.created_at),
                "retired_at": rfc3339_utc_or_none(record.retired_at),
            }
            for record in signing_key_records()
        ],
        "retention": {
            "log_retention_days": settings.AUDIT_LOG_RETENTION_DAYS,
            "minimum_days": 183,
            "oldest_entry": rfc3339_utc_or_none(oldest),
            "deletion": "never: the application has no update or delete path, and on PostgreSQL triggers refuse both",
        },
        "offline_verification": VERIFY_COMMAND,
    }
    return {**body, "bundle_sha256": sorted_json_sha256(body)}
