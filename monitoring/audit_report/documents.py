"""Each document's JSON bundle as a printable ``Document`` (no Django): the PDF says what the bundle says, with
the numbers formatted by ``pdf.number``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from monitoring.audit_report.pdf import MISSING, Document, Section, Table, number
from monitoring.fairness.ll144 import DIMENSION_NAMES


def _created(bundle: Mapping[str, Any]) -> datetime:
    stamp = bundle.get("generated_at") or f"{bundle['audit_date']}T00:00:00Z"
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _range(low: Any, high: Any) -> str:
    return number(low) if high is None or high == low else f"{number(low)}–{number(high)}"


def ll144_document(bundle: Mapping[str, Any]) -> Document:
    scoring = bundle["tool"] == "scoring"
    fields: list[tuple[str, Any]] = [
        ("Date of the audit", bundle["audit_date"]),
        ("Valid until (one year)", bundle["valid_until"]),
        ("Period of the data (UTC)", f"{bundle['period']['start_date']} to {bundle['period']['end_date']}"),
        ("Kind of tool", "scoring (scores)" if scoring else "selection (binary decisions)"),
        ("Source of the data", "test data" if bundle["data_source"] == "test" else "historical data of the tool's use"),
        ("Distribution date of the tool", bundle["distribution_date"] or "not given"),
        ("Individuals assessed", bundle["assessed"]),
        ("Model and version", f"{bundle['model']} v{bundle['version']} (policy v{bundle['policy_version']})"),
    ]
    median = bundle.get("median_score")
    if median:
        split = "exact split at a bin edge" if median["exact_split"] else "rates given from none to all of that bin"
        fields.append(("Median score of the sample", f"{number(median['low'])} to {number(median['high'])} ({split})"))
    rate = "Scoring rate" if scoring else "Selection rate"
    sections = []
    for dimension, table in bundle["tables"].items():
        rows = [
            (
                row["category"] + (" (reference)" if row["category"] == table["reference"] else ""),
                row["assessed"],
                _range(row["positive"], row.get("positive_upper")),
                _range(row["rate"], row.get("rate_upper")),
                f"excluded: {row['justification']}"
                if row["excluded"]
                else _range(row["impact_ratio"], row.get("impact_ratio_upper")),
            )
            for row in table["rows"]
        ]
        sections.append(
            Section(
                heading=DIMENSION_NAMES.get(dimension, dimension),
                tables=(
                    Table(
                        columns=(
                            "Category",
                            "Assessed",
                            "Scored above median" if scoring else "Selected",
                            rate,
                            "Impact ratio",
                        ),
                        rows=rows,
                        widths=(3, 1, 1.4, 1.4, 1.6),
                    ),
                ),
                paragraphs=(f"Unknown category (left out of the rates and ratios): {table['unknown']} individuals.",),
            )
        )
    return Document(
        kind=bundle["kind"],
        title=f"Bias audit (NYC Local Law 144): {bundle['model']}",
        subtitle=f"{bundle['rule']}. The rule sets no pass mark: the tables report.",
        bundle_sha256=bundle["bundle_sha256"],
        created_at=_created(bundle),
        fields=fields,
        sections=sections,
    )


def monitoring_plan_document(bundle: Mapping[str, Any]) -> Document:
    monitored, schedule, alerting = bundle["monitored"], bundle["schedule"], bundle["alerting"]
    sections = [
        Section(
            heading="Versions monitored",
            tables=(
                Table(
                    columns=("Version", "Stage", "Registered"),
                    rows=[(item["version"], item["stage"], item["registered_at"]) for item in bundle["versions"]],
                ),
            ),
        ),
        Section(
            heading="Policy history (the plan is versioned with it)",
            tables=(
                Table(
                    columns=("Policy version", "Created", "By"),
                    rows=[
                        (item["version"], item["created_at"], item["created_by"]) for item in bundle["policy_history"]
                    ],
                ),
            ),
        ),
    ]
    if monitored is not None:
        sections.append(
            Section(
                heading="What is monitored",
                fields=(
                    ("Protected attributes", ", ".join(monitored["protected_attributes"])),
                    (
                        "Privileged (reference) values",
                        ", ".join(f"{k}={v}" for k, v in monitored["privileged"].items()),
                    ),
                    ("Favorable label", monitored["favorable_label"]),
                    ("Minimum group size", monitored["min_group_size"]),
                    ("Confidence level", monitored["confidence_level"]),
                    ("False-alert level (alpha)", monitored["alpha"]),
                    ("Input features checked for drift", ", ".join(monitored["features"]) or "none"),
                    ("Label lag (hours)", monitored["label_lag_hours"]),
                    ("NYC LL144 bias audits configured", monitored["bias_audit"]),
                ),
                tables=(
                    Table(
                        columns=("Metric", "Name", "Lower bound", "Upper bound"),
                        rows=[
                            (band["metric"], band["name"], band["min"], band["max"])
                            for band in monitored["metric_bands"]
                        ],
                        caption="Metric bands",
                    ),
                ),
                paragraphs=(bundle["method"],),
            )
        )
    if schedule is not None:
        sections.append(
            Section(
                heading="How often",
                fields=(
                    ("Scheduled check every (minutes)", schedule["check_interval_minutes"]),
                    ("Window of each check (hours)", schedule["window_hours"]),
                    (
                        "Near-real-time check after ingestion, at most every (seconds)",
                        schedule["near_real_time_debounce_seconds"],
                    ),
                    ("Review period (days)", schedule["review_period_days"]),
                    ("Audit log checkpoint at least every (minutes)", schedule["audit_checkpoint_minutes"]),
                    ("Audit log verification", schedule["audit_verification"]),
                ),
            )
        )
    endpoints = [
        (item["name"], item["url"], "yes" if item["active"] else "no", ", ".join(item["event_types"]), item["scope"])
        for item in alerting["webhook_endpoints"]
    ]
    sections.append(
        Section(
            heading="Who is alerted",
            fields=(
                ("Channels of the policy", ", ".join(alerting["channels"]) or "none"),
                ("E-mail recipients", ", ".join(alerting["email_to"]) or "none"),
                ("E-mail events", ", ".join(alerting["email_events"])),
                (
                    "Webhook retries (seconds)",
                    ", ".join(number(value, 0) for value in alerting["webhook_retry_schedule_seconds"]),
                ),
                ("Retraining requested after (checks)", alerting["retrain_after_checks"]),
            ),
            tables=(
                Table(
                    columns=("Webhook endpoint", "URL", "Active", "Events", "Scope"),
                    rows=endpoints or [("none", "", "", "", "")],
                    widths=(1.4, 3, 0.8, 1.6, 1.2),
                ),
            ),
        )
    )
    special = bundle["special_category_data"]
    sections.append(
        Section(
            heading="Special-category data for bias detection (Art. 10(5))",
            fields=(
                ("Attributes", ", ".join(special["attributes"]) or "none"),
                ("Why strictly necessary", special["purpose"] or "not recorded"),
                ("To be deleted on", special["deletion_date"] or "not recorded"),
                ("Further safeguards", special["safeguards"] or "none recorded"),
                ("Access logged", special["access_logged"]),
                ("Accesses recorded", special["accesses_recorded"]),
                ("Last access", special["last_access"] or "none"),
            ),
            paragraphs=tuple(special["pseudonymisation"]),
            tables=(
                Table(
                    columns=("Role", "Individual records", "Aggregates"),
                    rows=[(row["role"], row["individual_records"], row["aggregates"]) for row in special["access"]],
                ),
            ),
        )
    )
    sections.append(
        Section(
            heading="How incidents are handled",
            paragraphs=[f"{i}. {step}" for i, step in enumerate(bundle["incident_handling"], 1)],
        )
    )
    records = bundle["records"]
    sections.append(
        Section(
            heading="Records",
            fields=(
                ("Audit log", records["audit_log"]),
                ("Anchored to", ", ".join(records["anchor_sinks"]) or "none"),
                ("Log retention (days)", records["log_retention_days"]),
                ("Stored predictions kept (days)", records["prediction_retention_days"] or "until deleted"),
            ),
        )
    )
    return Document(
        kind=bundle["kind"],
        title=f"Post-market monitoring plan: {bundle['model']}",
        subtitle=f"{bundle['rule']}. Generated from the configuration in force at {bundle['generated_at']}.",
        bundle_sha256=bundle["bundle_sha256"],
        created_at=_created(bundle),
        fields=(
            ("Model", bundle["model"]),
            (
                "Plan version (policy version)",
                bundle["policy_version"] if bundle["policy_version"] is not None else "no policy",
            ),
            ("Description", bundle["description"] or "–"),
        ),
        sections=sections,
    )


def _checkpoint_rows(checkpoints: list[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (
            item["tree_size"],
            item["signed_at"],
            item["root_hash"],
            "; ".join(f"{anchor['sink']} {anchor['tx_id']}" for anchor in item["anchors"]) or "not anchored yet",
        )
        for item in checkpoints
    ]


def log_report_document(bundle: Mapping[str, Any]) -> Document:
    events, verification, retention = bundle["events"], bundle["verification"], bundle["retention"]
    counts = [
        Section(
            heading=heading,
            tables=(
                Table(columns=(column, "Entries"), rows=sorted(events[key].items()) or [("none", 0)], widths=(3, 1)),
            ),
        )
        for heading, column, key in (
            ("Events by kind", "Action", "by_action"),
            ("Events by object", "Object type", "by_object_type"),
            ("Events by role", "Role", "by_role"),
        )
    ]
    covering = bundle["covering_checkpoint"]
    columns = ("Tree size", "Signed", "Root hash", "Anchors")
    sections = [
        Section(
            heading="What the log recorded",
            fields=(
                ("Entries in the period", events["entries"]),
                ("First and last seq", f"{number(events['first_seq'])} to {number(events['last_seq'])}"),
                ("Gaps", bundle["gaps"]),
                ("Entries missing in the period", events["missing_in_period"]),
                ("Entries in the whole log", events["log_entries_total"]),
                ("Entries missing from the whole log", events["log_missing_total"]),
            ),
        ),
        *counts,
        Section(
            heading="Verification",
            fields=(
                (
                    "Last verification",
                    "none yet" if verification is None else ("passed" if verification["ok"] else "FAILED"),
                ),
                ("Entries checked", None if verification is None else verification["checked_entries"]),
                ("Against checkpoint", None if verification is None else verification["checkpoint_tree_size"]),
                ("Finished", None if verification is None else verification["finished_at"]),
                ("Problem", None if verification is None else (verification["problem"] or "none")),
            ),
        ),
        Section(
            heading="Checkpoints and anchors",
            tables=(
                Table(
                    columns=columns,
                    rows=_checkpoint_rows(bundle["checkpoints_in_period"]) or [("none", "", "", "")],
                    caption="Signed in the period",
                    widths=(1, 2, 4, 2.4),
                ),
                Table(
                    columns=columns,
                    rows=_checkpoint_rows([covering]) if covering else [("none yet", "", "", "")],
                    caption="First checkpoint covering the period's last entry",
                    widths=(1, 2, 4, 2.4),
                ),
            ),
        ),
        Section(
            heading="Signing keys",
            tables=(
                Table(
                    columns=("Key id", "Name", "Created", "Retired"),
                    rows=[
                        (key["key_id"], key["name"], key["created_at"], key["retired_at"])
                        for key in bundle["signing_keys"]
                    ],
                ),
            ),
        ),
        Section(
            heading="Retention (Art. 19, 26(6))",
            fields=(
                ("Kept for (days)", retention["log_retention_days"]),
                ("Minimum (days)", retention["minimum_days"]),
                ("Oldest entry", retention["oldest_entry"]),
                ("Deletion", retention["deletion"]),
            ),
        ),
        Section(heading="Verify it offline", paragraphs=(bundle["offline_verification"],)),
    ]
    period = bundle["period"]
    return Document(
        kind=bundle["kind"],
        title="Record-keeping report (audit log)",
        subtitle=f"{bundle['rule']}. Period {period['start_date']} to {period['end_date']} (UTC).",
        bundle_sha256=bundle["bundle_sha256"],
        created_at=_created(bundle),
        sections=sections,
    )


def _metric_text(cell: Mapping[str, Any]) -> str:
    if cell["value"] is None:
        return MISSING
    interval = f" [{number(cell['lower'])}, {number(cell['upper'])}]" if cell["lower"] is not None else ""
    return f"{number(cell['value'])}{interval} {cell['verdict'] or ''}".strip()


def _step(when: str | None, who: str | None, note: str, how: str = "") -> str:
    if when is None:
        return MISSING
    said = f": {note}" if note else ""
    return f"{when} by {who or 'system'}{f' ({how})' if how else ''}{said}"


def self_test_document(bundle: Mapping[str, Any]) -> Document:
    analysis = Table(
        columns=("Attribute", "Group", "n", "Approval rate", "DIR [interval] verdict", "SPD [interval] verdict"),
        rows=[
            (
                row["attribute"],
                row["group"] + (" (reference)" if row["reference"] else ""),
                row["n"],
                row["selection_rate"],
                "reference" if row["reference"] else _metric_text(row["DIR"]),
                "reference" if row["reference"] else _metric_text(row["SPD"]),
            )
            for row in bundle["analysis"]
        ],
        widths=(1.2, 1.6, 0.8, 1, 2.4, 2.4),
    )
    findings = [
        f"{item['metric']} for {item['attribute']}={item['group']}: {number(item['value'])} "
        f"[{number(item['lower'])}, {number(item['upper'])}], {item['verdict']}"
        for item in bundle["findings"]
    ] or ["No comparison's evidence found a violation of the policy's bands in this period."]
    alerts = Table(
        columns=("Alert", "Subject", "Opened", "Acknowledged (note)", "Resolved (note)", "Status"),
        rows=[
            (
                f"#{alert['id']} {alert['severity']}",
                f"{alert['metric']} {alert['attribute']}={alert['group']}",
                alert["opened_at"],
                _step(alert["acknowledged_at"], alert["acknowledged_by"], alert["acknowledgement_note"]),
                _step(alert["resolved_at"], alert["resolved_by"], alert["resolution_note"], alert["resolution"]),
                alert["status"],
            )
            for alert in bundle["alerts"]
        ]
        or [("none", "", "", "", "", "")],
        widths=(1, 1.8, 1.6, 2, 2, 1),
    )
    actions = Table(
        columns=("Seq", "Time", "Action", "By", "Object", "Detail"),
        rows=[
            (
                item["seq"],
                item["time"],
                item["action"],
                item["actor"],
                item["object"],
                ", ".join(f"{k}={v}" for k, v in item["detail"].items()),
            )
            for item in bundle["corrective_actions"]
        ]
        or [("none", "", "", "", "", "")],
        widths=(0.6, 1.8, 1.6, 1, 1.6, 2),
    )
    labels = bundle.get("labels") or {}
    period = bundle["period"]
    return Document(
        kind=bundle["kind"],
        title=f"Self-test record (ECOA / Regulation B): {bundle['model']} v{bundle['version']}",
        subtitle=f"{bundle['rule']}. Period {period['start_date']} to {period['end_date']} (UTC).",
        bundle_sha256=bundle["bundle_sha256"],
        created_at=_created(bundle),
        fields=(
            ("Decisions analysed", bundle["predictions"]),
            ("Policy version", bundle["policy_version"]),
            ("Confidence level", bundle["confidence_level"]),
            (
                "Label coverage (for EOD, AOD, FPR)",
                f"{number(labels.get('coverage'))} ({labels.get('status', MISSING)})",
            ),
            ("Inputs SHA-256", bundle["inputs_sha256"]),
        ),
        sections=(
            Section(heading="Disparate-impact analysis", tables=(analysis,)),
            Section(heading="Findings", paragraphs=findings),
            Section(heading="Alerts and their handling", tables=(alerts,)),
            Section(heading="Corrective actions recorded in the audit log", tables=(actions,)),
        ),
    )


DOCUMENTS: dict[str, Callable[[Mapping[str, Any]], Document]] = {
    "nyc_ll144_bias_audit": ll144_document,
    "eu_ai_act_art72_monitoring_plan": monitoring_plan_document,
    "eu_ai_act_art12_log_report": log_report_document,
    "reg_b_ecoa_self_test": self_test_document,
}


def document_of(bundle: Mapping[str, Any]) -> Document:
    return DOCUMENTS[bundle["kind"]](bundle)
