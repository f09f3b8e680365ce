"""The seed's evaluate_model: run a registered model on simulated loan applicants and store the predictions."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from fairlens_site.api.errors import ApplicationError
from monitoring.fairness import generate_loan_data
from monitoring.ingestion.parsing import frame_from_json_records
from monitoring.locking import retry_when_locked
from monitoring.metrics_service import batch_metrics
from monitoring.models import IngestionRecord
from monitoring.records import explain_alert, finish_record
from monitoring.services import IngestionResult, prepare_predictions, protected_attributes_for, store_predictions
from registry.demo import predict_frame
from registry.models import ModelVersion
from registry.services import load_model

SIMULATED_ATTRIBUTE = "gender"


def evaluate_model(
    *,
    model_version: ModelVersion,
    n_samples: int,
    drift_level: float,
    mode: str,
    principal: str,
    seed: int | None = None,
) -> dict[str, Any]:
    """Simulate ``n_samples`` applicants at ``drift_level``; decide with the simulator (``demo``) or with the
    registered model's artifact (``prod``); store the predictions and return their summary and metrics.

    Simulation, validation and metrics come first; only storing the predictions and finishing their record
    run in the (short) write transaction, which is rerun if SQLite's write lock was busy.
    """
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
    raw = frame_from_json_records(items, attributes, settings.INGEST_MAX_ROWS)
    prepared = prepare_predictions(model_version=model_version, raw=raw, attributes=attributes)
    metrics, alert = batch_metrics(model_version=model_version, frame=prepared.valid_frame, attributes=attributes)
    truth = data["creditworthy"].astype(int).to_numpy()
    summary = {
        "n": n_samples,
        "approval_rate": float(predicted.mean()),
        "approval_rate_by_group": {
            str(group): float(predicted[(data["gender"] == group).to_numpy()].mean())
            for group in sorted(data["gender"].unique())
        },
        "accuracy": float(np.mean(predicted == truth)),
        "drift_level": drift_level,
        "seed": seed,
    }
    explanation = explain_alert(metrics, data) if alert else None

    @transaction.atomic
    def store() -> IngestionResult:
        result = store_predictions(
            model_version=model_version, prepared=prepared, principal=principal, source=IngestionRecord.Source.EVALUATE
        )
        finish_record(
            result.record,
            summary={"mode": mode, "predictions_summary": summary, "metrics": metrics, "alert": alert},
            explanation=explanation,
        )
        return result

    result = retry_when_locked(store, what=f"evaluation of {model_version}")
    return {
        **result.as_dict(),
        "model": model_version.model.name,
        "version": model_version.version,
        "mode": mode,
        "predictions_summary": summary,
        "metrics": metrics,
        "alert": alert,
        "explanation": explanation,
        "encrypted_alert": result.record.encrypted_alert or None,
    }
