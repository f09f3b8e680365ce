"""The seed's evaluate_model: run a registered model on simulated loan applicants and keep a record of the run.

A simulated evaluation is a record, never monitoring data: its predictions are scored and returned, its
metrics and the encrypted explanation are kept on an ``IngestionRecord`` with audit entries, but nothing goes
into the version's predictions or rollups, which checks and alerts read. Only real ingestion writes those (the
demo stream, which is the demo model's client, ingests the same simulated decisions on purpose).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from compliance.services import audit_append
from core.api.errors import ApplicationError
from demo.model import predict_frame
from monitoring.fairness import generate_loan_data
from monitoring.ingestion.locking import retry_when_locked
from monitoring.ingestion.parsing import frame_from_json_records, validate
from monitoring.ingestion.pseudonymize import pseudonymize
from monitoring.ingestion.services import protected_attributes_for
from monitoring.ingestion.summaries import explain_alert, finish_record
from monitoring.metrics_service import batch_metrics
from monitoring.models import IngestionRecord
from registry.models import ModelVersion
from registry.services import load_model

SIMULATED_ATTRIBUTE = "gender"
# The response lists at most this many predictions (the first ones); metrics and summary cover all of them.
MAX_RETURNED_PREDICTIONS = 1000


@dataclass(frozen=True)
class SimulatedDecisions:
    """Simulated applicants and the decisions on them, as prediction items in the ingestion format."""

    data: pd.DataFrame
    predicted: np.ndarray
    items: list[dict[str, Any]]
    attributes: list[str]
    seed: int


def simulate_decisions(
    *, model_version: ModelVersion, n_samples: int, drift_level: float, mode: str, seed: int | None = None
) -> SimulatedDecisions:
    """Simulate ``n_samples`` applicants at ``drift_level``; decide with the simulator (``demo``) or with the
    registered model's artifact (``prod``). Stores nothing."""
    attributes = protected_attributes_for(model_version)
    if attributes != [SIMULATED_ATTRIBUTE]:
        raise ApplicationError(
            f"evaluate_model simulates applicants with a '{SIMULATED_ATTRIBUTE}' attribute; "
            f"{model_version.model.name}'s policy protects {', '.join(attributes)}.",
            code="not_simulatable",
        )
    seed = secrets.randbits(32) if seed is None else seed
    data = generate_loan_data(n_samples, drift_level=drift_level, seed=seed)
    if mode == "prod":
        try:
            predicted, scores = predict_frame(load_model(model_version.model.name, model_version.version), data)
        except ValueError as exc:
            raise ApplicationError(
                f"The registered model cannot score simulated applicants: {exc}",
                code="not_simulatable",
                status_code=409,
            ) from exc
    else:
        predicted, scores = data["approved"].astype(int).to_numpy(), None
    batch = uuid.uuid4().hex[:12]
    now = timezone.now().isoformat()
    items = [
        {
            "id": f"eval-{batch}-{row.application_id}",
            "timestamp": now,
            "attributes": {SIMULATED_ATTRIBUTE: row.gender},
            "y_pred": int(predicted[index]),
            "y_true": int(row.creditworthy),
            "score": None if scores is None else float(scores[index]),
            "features": {"credit_score": int(row.credit_score), "income": float(row.income), "region": row.region},
        }
        for index, row in enumerate(data.itertuples(index=False))
    ]
    return SimulatedDecisions(data=data, predicted=predicted, items=items, attributes=attributes, seed=seed)


def predictions_summary(decisions: SimulatedDecisions, drift_level: float) -> dict[str, Any]:
    """Approval rate overall and by group, and accuracy against the simulated truth."""
    data, predicted = decisions.data, decisions.predicted
    truth = data["creditworthy"].astype(int).to_numpy()
    return {
        "n": len(data),
        "approval_rate": float(predicted.mean()),
        "approval_rate_by_group": {
            str(group): float(predicted[(data["gender"] == group).to_numpy()].mean())
            for group in sorted(data["gender"].unique())
        },
        "accuracy": float(np.mean(predicted == truth)),
        "drift_level": drift_level,
        "seed": decisions.seed,
    }


def returned_predictions(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The first MAX_RETURNED_PREDICTIONS items with their ids pseudonymised (the keyed hash storage uses)."""
    shown = items[:MAX_RETURNED_PREDICTIONS]
    keys = pseudonymize([item["id"] for item in shown])
    return [{**item, "id": key} for item, key in zip(shown, keys, strict=True)]


def evaluate_model(
    *,
    model_version: ModelVersion,
    n_samples: int,
    drift_level: float,
    mode: str,
    principal: str,
    seed: int | None = None,
) -> dict[str, Any]:
    """Evaluate the model on simulated applicants: metrics over the run, an evaluation record with its audit
    entries, and the predictions (pseudonymised, up to MAX_RETURNED_PREDICTIONS) in the answer."""
    decisions = simulate_decisions(
        model_version=model_version, n_samples=n_samples, drift_level=drift_level, mode=mode, seed=seed
    )
    attributes = decisions.attributes
    raw = frame_from_json_records(decisions.items, attributes, settings.INGEST_MAX_ROWS)
    # The same validation (and so the same counting) as ingestion, without storing anything.
    parsed = validate(
        raw, attributes, now=timezone.now(), max_future=timedelta(seconds=settings.INGEST_MAX_FUTURE_SECONDS)
    )
    metrics, alert = batch_metrics(model_version=model_version, frame=parsed.frame, attributes=attributes)
    summary = predictions_summary(decisions, drift_level)
    explanation = explain_alert(metrics, decisions.data) if alert else None

    # Simulation and metrics ran outside any transaction; only the record and its audit entries are written, in
    # a short transaction that is rerun if SQLite's write lock was busy.
    @transaction.atomic
    def record_evaluation() -> IngestionRecord:
        record = IngestionRecord.objects.create(
            model_version=model_version, source=IngestionRecord.Source.EVALUATE, principal=principal
        )
        audit_append(
            action="model.evaluate",
            actor=principal,
            object_type="ingestion_record",
            object_id=str(record.record_id),
            payload={
                "model": model_version.model.name,
                "version": model_version.version,
                "mode": mode,
                "simulated": True,
                "n_samples": n_samples,
                "drift_level": drift_level,
                "seed": decisions.seed,
                "stored_predictions": 0,
            },
        )
        finish_record(
            record,
            summary={
                "mode": mode,
                "simulated": True,
                "predictions_summary": summary,
                "metrics": metrics,
                "alert": alert,
            },
            explanation=explanation,
        )
        return record

    record = retry_when_locked(record_evaluation, what=f"evaluation of {model_version}")
    return {
        "record_id": str(record.record_id),
        "simulated": True,
        "model": model_version.model.name,
        "version": model_version.version,
        "mode": mode,
        "predictions": returned_predictions(decisions.items),
        "predictions_truncated": n_samples > MAX_RETURNED_PREDICTIONS,
        "predictions_summary": summary,
        "metrics": metrics,
        "alert": alert,
        "explanation": explanation,
        "encrypted_alert": record.encrypted_alert or None,
    }
