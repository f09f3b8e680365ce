"""Retrain the demo loan model with reweighing when its fairness fails, and register the result for review.

The new model is trained on simulated loan data at the drift level the model now faces, with Kamiran & Calders
weights on (gender, label) so that, in the weighted training data, gender and the label are independent. Source
and new model are scored on the same held-out split; both scores are stored with the new version (stage
"staging": a person promotes it) and in the audit log.
"""

from __future__ import annotations

import re
from typing import Any

from django.db import transaction

from accounts.models import User
from compliance.services import audit_append
from core.api.errors import ApplicationError
from demo.model import (
    DEMO_FEATURES,
    DEMO_MODEL_NAME,
    DEMO_TARGET,
    evaluate_demo_model,
    fit_demo_pipeline,
    split_demo_data,
)
from monitoring.fairness import FairnessInputError, generate_loan_data, reweighing_weights
from registry.models import MLModel, ModelVersion
from registry.services import dump_artifact, load_model, register_artifact_bytes

RETRAIN_METHOD = "reweighing"
MIN_SAMPLES = 100  # the stratified test split needs both genders and both labels


def _require_supported(source_version: ModelVersion) -> None:
    if source_version.model.name != DEMO_MODEL_NAME or source_version.framework != ModelVersion.Framework.SKLEARN:
        raise ApplicationError(
            f"Retraining is only supported for scikit-learn versions of {DEMO_MODEL_NAME!r}; "
            f"{source_version.model.name} v{source_version.version} is not one.",
            code="retraining_not_supported",
            status_code=409,
        )


def _validate_parameters(drift_level: float, samples: int) -> None:
    errors: dict[str, list[str]] = {}
    if isinstance(drift_level, bool) or not isinstance(drift_level, int | float) or not 0 <= drift_level <= 1:
        errors["drift_level"] = ["a number in [0, 1]"]
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < MIN_SAMPLES:
        errors["samples"] = [f"an integer of at least {MIN_SAMPLES}"]
    if errors:
        raise ApplicationError("Invalid retraining parameters.", code="invalid", details=errors)


def next_retrained_version(model: MLModel, source: str) -> str:
    """``<source>-rw1``, or the next free ``<source>-rwN`` when earlier ones are taken."""
    pattern = re.compile(rf"^{re.escape(source)}-rw(\d+)$")
    taken = [
        int(match.group(1))
        for version in model.versions.filter(version__startswith=f"{source}-rw").values_list("version", flat=True)
        if (match := pattern.match(version))
    ]
    return f"{source}-rw{max(taken, default=0) + 1}"


def _score_source(source_version: ModelVersion, test: Any) -> dict[str, Any]:
    model = load_model(source_version.model.name, source_version.version)  # refuses an artifact whose hash differs
    try:
        return evaluate_demo_model(model, test).summary()
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ApplicationError(
            f"{source_version} cannot score the demo loan features, so it cannot be compared with a retrained model.",
            code="retraining_not_supported",
            status_code=409,
        ) from exc


def retrain_with_reweighing(
    *,
    source_version: ModelVersion,
    requested_by: User | None = None,
    reason: str,
    drift_level: float = 0.5,
    samples: int = 5000,
    seed: int = 7,
) -> ModelVersion:
    """Train a reweighed demo loan model on data at ``drift_level`` and register it as a new staging version.

    Raises ``ApplicationError`` 409 ``retraining_not_supported`` unless ``source_version`` is a scikit-learn
    version of the demo model, 409 ``artifact_integrity`` if its artifact no longer matches its hash, and 400
    ``invalid`` for a drift level outside [0, 1] or fewer than 100 samples. The new version's
    ``training_metrics`` hold accuracy, ROC AUC, DIR and SPD (Female vs Male) of the source ("before") and
    the new model ("after") on the same test split.
    """
    _require_supported(source_version)
    _validate_parameters(drift_level, samples)
    try:
        data = generate_loan_data(samples, drift_level=float(drift_level), seed=seed)
        train, test = split_demo_data(data, seed)
        weights = reweighing_weights(train["gender"], train[DEMO_TARGET].astype(int))
    except FairnessInputError as exc:
        raise ApplicationError(exc.message, code="invalid", details={exc.column or "data": [exc.message]}) from exc
    before = _score_source(source_version, test)
    pipeline = fit_demo_pipeline(train, sample_weight=weights)
    after = evaluate_demo_model(pipeline, test).summary()
    training_metrics = {
        "method": RETRAIN_METHOD,
        "source_version": source_version.version,
        "drift_level": float(drift_level),
        "before": before,
        "after": after,
        "reason": reason,
        "samples": samples,
        "seed": seed,
        "n_train": len(train),
        "n_test": len(test),
        "sample_weights": {"min": float(weights.min()), "max": float(weights.max())},
    }
    # Not a copy of the source's metadata: anything describing the source pipeline's own outputs (e.g. baseline
    # score histograms) would be wrong for the new one.
    metadata = {
        "features": list(DEMO_FEATURES),
        "target": DEMO_TARGET,
        "trained_on": f"generate_loan_data(drift_level={float(drift_level)})",
        "retrained_from": source_version.version,
        "method": RETRAIN_METHOD,
    }
    artifact_bytes = dump_artifact(pipeline)
    model = source_version.model
    with transaction.atomic():
        MLModel.objects.select_for_update().filter(pk=model.pk).first()  # serialises picking the version name
        version = next_retrained_version(model, source_version.version)
        registered = register_artifact_bytes(
            name=model.name,
            version=version,
            registered_by=requested_by,
            description=f"Retrained from v{source_version.version} with reweighing on (gender, creditworthy).",
            metadata=metadata,
            training_metrics=training_metrics,
            stage=ModelVersion.Stage.STAGING,
            artifact_bytes=artifact_bytes,
        )
        audit_append(
            action="model.retrained",
            actor=requested_by,
            object_type="model_version",
            object_id=f"{model.name}:{version}",
            payload={
                "model": model.name,
                "version": version,
                "source_version": source_version.version,
                "method": RETRAIN_METHOD,
                "drift_level": float(drift_level),
                "reason": reason,
                "before": before,
                "after": after,
                "artifact_sha256": registered.artifact_sha256,
            },
        )
    return registered
