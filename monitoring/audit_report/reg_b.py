"""The Reg B / ECOA self-test record of a period (12 CFR 1002.15) for a lender's model: the disparate-impact
analysis of the period's decisions (selection rates, DIR and SPD with intervals and verdicts, per group and
intersection), what was found, and the corrective action taken from the period's start until the record is
made (each alert's lifecycle with its notes, retraining
requests, policy changes, version stage changes), as a dossier an examiner can read.

§1002.15 makes a self-test's results privileged when appropriate corrective action follows; whether the action
was appropriate is the lender's and the examiner's judgement. The dossier records what happened and when,
from the audit trail; it does not judge. (The CFPB's 2026 rule removed the federal effects test from
§1002.6(a); state laws may still apply one.)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from compliance.crypto.canonical import sorted_json_sha256
from compliance.selectors import entries_about_model
from core.timestamps import rfc3339_utc, rfc3339_utc_or_none
from monitoring.audit_report.build import Report
from monitoring.audit_report.bundle import alert_as_dict, native

KIND = "reg_b_ecoa_self_test"
ANALYSED = ("DIR", "SPD")
FINDINGS = ("significant_violation", "possible_violation")
ACTIONS = [
    "retraining.requested",
    "policy.create",
    "model.stage_change",
    "model.register",
    "alert.acknowledged",
    "alert.resolved",
]


def _analysis(report: Report) -> list[dict[str, Any]]:
    rows = []
    for attribute, result in report.reports.items():
        for group, summary in result["groups"].items():
            comparison = result["comparisons"].get(group) or {}
            row: dict[str, Any] = {
                "attribute": attribute,
                "group": group,
                "reference": group == result["privileged"],
                "n": summary["n"],
                "selection_rate": summary["selection_rate"],
            }
            for metric in ANALYSED:
                interval = (comparison.get("intervals") or {}).get(metric) or [None, None]
                row[metric] = {
                    "value": comparison.get(metric),
                    "lower": interval[0],
                    "upper": interval[1],
                    "verdict": (comparison.get("verdicts") or {}).get(metric),
                }
            rows.append(row)
    return native(rows)


def build_self_test(report: Report, *, generated_at: datetime) -> dict[str, Any]:
    """The dossier as its JSON bundle, with ``bundle_sha256`` over everything else in it."""
    analysis = _analysis(report)
    findings = [
        {"attribute": row["attribute"], "group": row["group"], "metric": metric, **row[metric]}
        for row in analysis
        for metric in ANALYSED
        if row[metric]["verdict"] in FINDINGS
    ]
    actions = [
        {
            "seq": entry.seq,
            "time": rfc3339_utc(entry.time),
            "action": entry.action,
            "actor": entry.actor or "system",
            "object": f"{entry.object_type}:{entry.object_id}",
            "detail": {
                key: value
                for key, value in entry.payload.items()
                if key in ("reason", "stage", "previous_stage", "version", "note", "resolution")
            },
        }
        for entry in entries_about_model(report.model.name, ACTIONS, report.period.start)
    ]
    body = {
        "kind": KIND,
        "rule": "ECOA / Regulation B, 12 CFR 1002.15 (incentives for self-testing and self-correction)",
        "model": report.model.name,
        "version": report.version.version,
        "policy_version": report.policy.version if report.policy is not None else None,
        "period": report.period.as_dict(),
        "generated_at": rfc3339_utc_or_none(generated_at),
        "predictions": report.predictions,
        "confidence_level": report.policy.confidence_level if report.policy is not None else None,
        "metric_bands": report.policy.metric_bands if report.policy is not None else {},
        "analysis": analysis,
        "findings": findings,
        "alerts": [alert_as_dict(alert) for alert in report.alerts],
        "corrective_actions": actions,
        "labels": report.labels,
        "inputs_sha256": report.inputs_sha256,
    }
    body = native(body)
    return {**body, "bundle_sha256": sorted_json_sha256(body)}
