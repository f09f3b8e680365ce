"""The seed's monitor_fairness demo: simulated fair and drifted loan decisions, the 80% rule and the gap rule,
an explanation of the drifted scenario (encrypted when it alerts), a record and an audit entry."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction

from compliance.crypto.canonical import jcs_sha256
from compliance.field_encryption import demo_console_decrypt
from compliance.services import audit_append
from monitoring.fairness import (
    analyze_feature_impact,
    calculate_disparate_impact_ratio,
    generate_explanation,
    generate_loan_data,
    to_native,
)
from monitoring.ingestion.summaries import finish_record
from monitoring.models import IngestionRecord
from registry.models import ModelVersion

logger = logging.getLogger("fairlens.monitor")
SCENARIOS = ("fair", "drifted")


@dataclass(frozen=True)
class DemoScenarioResult:
    scenarios: dict[str, dict[str, Any]]
    alert: bool
    record_id: str


def _two_decimals(value: float | None) -> str:
    return "not computable" if value is None else f"{value:.2f}"


def _generating_line(wanted: tuple[str, ...], n_samples: int, drift_level: float) -> str:
    if wanted == SCENARIOS:
        return f"Generating fair and drifted datasets (n={n_samples}, drift={drift_level})"
    if wanted == ("fair",):
        return f"Generating fair dataset (n={n_samples}, drift=0.0)"
    return f"Generating drifted dataset (n={n_samples}, drift={drift_level})"


def _console(record: IngestionRecord, dir_value: float | None, alert: bool) -> None:
    """The seed's console lines, once the record and its audit entries are committed (and so mirrored)."""
    if alert:
        logger.warning("⚠ ALERT: Fairness Drift Detected! DIR = %s", _two_decimals(dir_value))
        if record.encrypted_alert:
            logger.warning("Encrypted alert token: %s", record.encrypted_alert)
            # The seed's debug echo; the decryption itself is an audit entry, and only demo mode allows it.
            if settings.FAIRLENS_DEMO_ENDPOINTS:
                logger.info("Decrypted alert: %s", demo_console_decrypt(record, "encrypted_alert"))
    else:
        logger.info("✅ Model Fairness Stable. DIR = %s", _two_decimals(dir_value))
    logger.info("Event logged at %s", os.path.basename(settings.AUDIT_MIRROR_PATH))


def _rates(n_samples: int, drift_level: float, seed: int) -> tuple[dict[str, Any], Any]:
    data = generate_loan_data(n_samples, drift_level=drift_level, seed=seed)
    return to_native(calculate_disparate_impact_ratio(data)), data


@transaction.atomic
def run_demo_scenarios(
    *,
    model_version: ModelVersion,
    principal: str,
    n_samples: int,
    drift_level: float,
    seed: int,
    scenario: str | None = None,
) -> DemoScenarioResult:
    """Run the fair scenario (drift 0), the drifted one (``drift_level``) or both, as the seed describes."""
    wanted = (scenario,) if scenario else SCENARIOS
    logger.info(_generating_line(wanted, n_samples, drift_level))
    scenarios: dict[str, dict[str, Any]] = {}
    explanation = None
    if "fair" in wanted:
        scenarios["fair_scenario"], _ = _rates(n_samples, 0.0, seed)
    if "drifted" in wanted:
        drifted, data = _rates(n_samples, drift_level, seed)
        impact = analyze_feature_impact(data, "gender", ["credit_score", "income"])
        explanation = generate_explanation(drifted["dir"], impact["likely_causes"], settings.FAIRLENS_ALERT_THRESHOLD)
        scenarios["drifted_scenario"] = {**drifted, "explanation": explanation}
    alerting = scenarios.get("drifted_scenario", scenarios.get("fair_scenario", {}))
    alert = bool(alerting.get("dir_alert"))
    record = IngestionRecord.objects.create(
        model_version=model_version, source=IngestionRecord.Source.MONITOR, principal=principal
    )
    summary = {"n_samples": n_samples, "drift_level": drift_level, "seed": seed, "alert": alert, **scenarios}
    finish_record(record, summary=summary, explanation=explanation if alert else None)
    token = record.encrypted_alert or None
    if "drifted_scenario" in scenarios:
        scenarios["drifted_scenario"]["encrypted_alert"] = token
    audit_append(
        action="fairness_check",
        actor=principal,
        object_type="ingestion_record",
        object_id=str(record.record_id),
        payload={
            "dir": alerting.get("dir"),
            "alert": alert,
            "drift_level": drift_level if "drifted" in wanted else 0.0,
            "encrypted_alert_sha256": jcs_sha256(token) if token else None,
        },
    )
    transaction.on_commit(lambda: _console(record, alerting.get("dir"), alert))
    return DemoScenarioResult(scenarios, alert, str(record.record_id))
