"""A model's post-market monitoring plan (EU AI Act, Regulation 2024/1689, Art. 72), generated from what is in
force: the policy (and its history: the plan is versioned with it), the check schedule, who is alerted and how,
how an incident is handled, and how the evidence is kept. The plan states the configuration; it does not add
promises the system does not keep."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings

from compliance.crypto.canonical import sorted_json_sha256
from compliance.selectors import model_version_entries
from core.timestamps import rfc3339_utc_or_none
from monitoring.alerts.selectors import endpoints_for_model
from monitoring.reporting import SHORT_NAMES
from registry.models import MLModel

KIND = "eu_ai_act_art72_monitoring_plan"
LONG_TO_SHORT = {full: short for short, full in SHORT_NAMES.items()}

INCIDENT_STEPS = (
    "A check whose anytime-valid evidence rules the policy's band out opens an alert (one per model version, "
    "attribute, group and metric); a stronger violation later escalates it.",
    "The alert is sent to the channels below at once; webhook deliveries are signed (Standard Webhooks) and "
    "retried on the schedule below; every delivery attempt is recorded.",
    "A monitor acknowledges the alert with a note, investigates (the alert page shows its evidence and timeline), "
    "and resolves it with a note; resolving while the latest check still finds the violation needs an explicit "
    "'resolve anyway', which the audit log records.",
    "An alert also resolves by itself when the evidence shows the metric back inside its band.",
    "When the forecast says a breach is coming, or an alert persists for the configured number of checks, "
    "retraining is requested (retraining.requested event).",
    "Every step (opening, escalation, acknowledgement, resolution, deliveries, policy changes, report exports) is "
    "an entry of the signed, hash-chained audit log. Whether an incident is serious under Art. 73 is decided by "
    "the provider from this record.",
)


def _feature_text(feature: dict[str, Any]) -> str:
    kept = ", kept only as a keyed hash" if feature.get("identifier") else ""
    return f"{feature['name']} ({feature['type']}{kept})"


def _band_rows(metric_bands: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "metric": LONG_TO_SHORT.get(name, name),
            "name": name,
            "min": band.get("min"),
            "max": band.get("max"),
        }
        for name, band in sorted(metric_bands.items())
    ]


PSEUDONYMISATION = (
    "Prediction ids are kept only as HMAC-SHA256 under a secret pepper (FAIRLENS_ID_PEPPER), never as sent.",
    "Features the policy marks as identifiers are kept only as keyed hashes; other features are dropped.",
    "Alert explanations are encrypted at rest (envelope encryption) and decrypted only by an auditor, audited.",
    "Protected attribute values are kept as received: the counts per group are computed from them.",
)
ACCESS = (
    {"role": "monitor", "individual_records": "the predictions page", "aggregates": "dashboards, alerts"},
    {"role": "admin", "individual_records": "the admin's prediction pages", "aggregates": "dashboards, summaries"},
    {"role": "auditor", "individual_records": "the auditor admin's prediction pages", "aggregates": "every report"},
)


def _special_category(model: MLModel, policy: Any) -> dict[str, Any]:
    """The Art. 10(5) conditions as recorded on the policy, with the system's own safeguards and access log."""
    record = (policy.special_category_data if policy else None) or {}
    accesses = model_version_entries("special_category.access", model.name)
    last = accesses.last()
    return {
        "recorded": bool(record),
        "attributes": policy.protected_attributes if policy else [],
        "purpose": record.get("purpose"),
        "deletion_date": record.get("deletion_date"),
        "safeguards": record.get("safeguards") or None,
        "pseudonymisation": list(PSEUDONYMISATION),
        "access": [dict(row) for row in ACCESS],
        "access_logged": "every opening of stored predictions is a special_category.access audit entry",
        "accesses_recorded": accesses.count(),
        "last_access": rfc3339_utc_or_none(last.time) if last else None,
    }


def build_monitoring_plan(model: MLModel, *, generated_at: datetime) -> dict[str, Any]:
    """The plan as its JSON bundle, with ``bundle_sha256`` over everything else in it."""
    policies = list(model.policies.order_by("version"))
    policy = policies[-1] if policies else None
    endpoints = list(endpoints_for_model(model).order_by("name"))
    body: dict[str, Any] = {
        "kind": KIND,
        "rule": "Regulation (EU) 2024/1689, Article 72 (post-market monitoring by providers)",
        "model": model.name,
        "description": model.description,
        "generated_at": rfc3339_utc_or_none(generated_at),
        "policy_version": policy.version if policy else None,
        "versions": [
            {
                "version": version.version,
                "stage": version.stage,
                "registered_at": rfc3339_utc_or_none(version.created_at),
            }
            for version in model.versions.order_by("created_at", "id")
        ],
        "policy_history": [
            {
                "version": item.version,
                "created_at": rfc3339_utc_or_none(item.created_at),
                "created_by": item.created_by.get_username() if item.created_by else None,
            }
            for item in policies
        ],
        "monitored": None
        if policy is None
        else {
            "protected_attributes": policy.protected_attributes,
            "privileged": policy.privileged,
            "favorable_label": policy.favorable_label,
            "metric_bands": _band_rows(policy.metric_bands),
            "min_group_size": policy.min_group_size,
            "confidence_level": policy.confidence_level,
            "alpha": policy.alpha,
            "features": [_feature_text(feature) for feature in policy.features],
            "label_lag_hours": policy.label_lag_hours,
            "label_coverage_final": policy.label_coverage_final,
            "bias_audit": bool(policy.bias_audit),
        },
        "schedule": None
        if policy is None
        else {
            "check_interval_minutes": policy.check_interval_minutes,
            "window_hours": policy.window_hours,
            "near_real_time_debounce_seconds": settings.CHECK_DEBOUNCE_SECONDS,
            "review_period_days": policy.review_period_days,
            "audit_checkpoint_minutes": settings.CHECKPOINT_INTERVAL_MINUTES,
            "audit_verification": "hourly",
        },
        "method": (
            "Each check computes the metrics exactly from every prediction of its window, with intervals. An alert "
            "needs anytime-valid evidence (an e-process over the hourly counts) that the band is ruled out, with "
            "the false-alert rate held at alpha over the whole family of comparisons of the policy and over every "
            "repeated look, so monitoring continuously does not inflate it."
        ),
        "alerting": {
            "channels": policy.channels if policy else [],
            "webhook_endpoints": [
                {
                    "name": endpoint.name,
                    "url": endpoint.url,
                    "active": endpoint.active,
                    "event_types": endpoint.event_types or ["all"],
                    "scope": "this model" if endpoint.model_id else "every model",
                }
                for endpoint in endpoints
            ],
            "email_to": list(settings.ALERT_EMAIL_TO),
            "email_events": list(settings.ALERT_EMAIL_EVENTS),
            "webhook_retry_schedule_seconds": list(settings.WEBHOOK_RETRY_SCHEDULE),
            "retrain_after_checks": settings.RETRAIN_AFTER_CHECKS,
        },
        "incident_handling": list(INCIDENT_STEPS),
        "special_category_data": _special_category(model, policy),
        "records": {
            "audit_log": "signed (Ed25519), hash-chained, Merkle checkpoints, anchored outside the database",
            "anchor_sinks": list(settings.ANCHOR_SINKS),
            "log_retention_days": settings.AUDIT_LOG_RETENTION_DAYS,
            "prediction_retention_days": settings.PREDICTION_RETENTION_DAYS or None,
        },
    }
    return {**body, "bundle_sha256": sorted_json_sha256(body)}
