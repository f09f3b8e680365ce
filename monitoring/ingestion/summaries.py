"""Finishing an ingestion record: its summary, the encrypted alert explanation, and a signed digest of both."""

from __future__ import annotations

from typing import Any

import pandas as pd
from django.conf import settings
from django.db import transaction

from compliance.crypto.canonical import jcs_sha256
from compliance.field_encryption import encrypt_for
from compliance.services import audit_append
from monitoring.fairness import analyze_feature_impact, generate_explanation
from monitoring.models import IngestionRecord


def worst_dir(metrics: dict[str, Any]) -> tuple[str, str, float | None]:
    """(attribute, group, DIR) of the comparison furthest below parity across single attributes."""
    worst: tuple[str, str, float | None] = ("", "", None)
    for attribute, report in metrics.items():
        for group, comparison in report["comparisons"].items():
            value = comparison.get("DIR")
            if value is not None and (worst[2] is None or value < worst[2]):
                worst = (attribute, group, value)
    return worst


def explain_alert(metrics: dict[str, Any], data: pd.DataFrame | None = None) -> str:
    """The seed's explanation sentence for the worst DIR, with likely causes when feature data is at hand."""
    attribute, group, value = worst_dir(metrics)
    causes: list[str] = []
    if data is not None and attribute and attribute in data:
        privileged = metrics[attribute]["privileged"]
        numeric = [c for c in ("credit_score", "income") if c in data]
        impact = analyze_feature_impact(
            data, attribute, numeric, outcome="approved", privileged=privileged, unprivileged=group
        )
        causes = list(impact["likely_causes"])
    elif attribute:
        causes = [f"lower selection rate for {attribute}={group}"]
    return generate_explanation(value, causes, threshold=settings.FAIRLENS_ALERT_THRESHOLD)


@transaction.atomic
def finish_record(record: IngestionRecord, *, summary: dict[str, Any], explanation: str | None) -> None:
    """Store what the ingestion reported; encrypt the alert explanation (bound to this row); sign a digest.

    The audit entry holds SHA-256 digests, not the metrics or the explanation themselves, so
    /api/verify_alert can later prove the stored record is what was reported, without the log holding
    sensitive text.
    """
    record.summary = summary
    if explanation:
        encrypt_for(record, "encrypted_alert", explanation)
    record.save(update_fields=["summary", "encrypted_alert", "alert_key_id"])
    audit_append(
        action="ingestion.summary",
        object_type="ingestion_record",
        object_id=str(record.record_id),
        payload={
            "summary_sha256": jcs_sha256(summary),
            "alert": bool(summary.get("alert")),
            "explanation_sha256": jcs_sha256(explanation) if explanation else None,
            "key_id": record.alert_key_id or None,
        },
    )
