"""Writes for the model registry: models, versions with hashed artifacts, versioned monitoring policies."""

from __future__ import annotations

import hashlib
import io
import re
from datetime import date
from typing import Any

import joblib
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile, File
from django.db import IntegrityError, transaction
from django.db.models import Max

from accounts.models import User
from compliance.crypto.canonical import jcs_sha256
from compliance.services import audit_append
from core.api.errors import ApplicationError
from registry.constants import (
    BANDED_METRICS,
    DEFAULT_CONFIDENCE_LEVEL,
    DEFAULT_MIN_GROUP_SIZE,
    FEATURE_TYPES,
    RESERVED_FEATURE_NAMES,
)
from registry.models import MLModel, ModelVersion, MonitoringPolicy

_ATTRIBUTE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class ArtifactIntegrityError(ApplicationError):
    status_code = 409
    code = "artifact_integrity"


def _full_clean(instance: Any, exclude: list[str] | None = None) -> None:
    try:
        instance.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise ApplicationError("Invalid input.", code="invalid", details=exc.message_dict) from exc


@transaction.atomic
def ml_model_create(*, name: str, description: str = "", created_by: User | None = None) -> MLModel:
    """Register a model name. Raises ``ApplicationError`` (409) if the name is taken, (400) if malformed."""
    model = MLModel(name=name, description=description, created_by=created_by)
    _full_clean(model, exclude=["created_by"])
    if MLModel.objects.filter(name=name).exists():
        raise ApplicationError(f"A model named {name!r} already exists.", code="conflict", status_code=409)
    model.save()
    audit_append(action="model.create", actor=created_by, object_type="model", object_id=name, payload={})
    return model


def default_policy_fields() -> dict[str, Any]:
    """A policy's defaults: the four-fifths rule on DIR (ALERT_THRESHOLD), 95% intervals, groups of 30+."""
    return {
        "favorable_label": 1,
        "metric_bands": {"DIR": {"min": settings.FAIRLENS_ALERT_THRESHOLD, "max": None}},
        "min_group_size": DEFAULT_MIN_GROUP_SIZE,
        "confidence_level": DEFAULT_CONFIDENCE_LEVEL,
        "window_hours": 24,
        "check_interval_minutes": 60,
        "alpha": 0.05,
        "review_period_days": 91,
        "label_lag_hours": 0,
        "channels": [],
        "features": [],
        "bias_audit": {},
        "special_category_data": {},
        "label_coverage_final": 0.9,
    }


BIAS_AUDIT_DIMENSIONS = ("sex", "race_ethnicity")
BIAS_AUDIT_KEYS = {*BIAS_AUDIT_DIMENSIONS, "tool", "data_source", "distribution_date"}


def _bias_audit_errors(audit: Any, attributes: Any) -> list[str]:
    """What is wrong with a policy's LL144 settings (none: an empty list; ``{}`` means no bias audits)."""
    if not isinstance(audit, dict):
        return ["an object: {sex: {attribute, categories}, race_ethnicity: {...}, tool, data_source, ...}"]
    if not audit:
        return []
    errors = [
        f"{key}: unknown; use {', '.join(sorted(BIAS_AUDIT_KEYS))}" for key in sorted(set(audit) - BIAS_AUDIT_KEYS)
    ]
    dimensions = [name for name in BIAS_AUDIT_DIMENSIONS if name in audit]
    if not dimensions:
        errors.append("name the sex attribute, the race/ethnicity attribute, or both")
    seen = set()
    for name in dimensions:
        spec = audit[name]
        attribute = spec.get("attribute") if isinstance(spec, dict) else None
        categories = spec.get("categories") if isinstance(spec, dict) else None
        if not isinstance(attribute, str) or not isinstance(attributes, list) or attribute not in attributes:
            errors.append(f"{name}.attribute: one of the protected attributes")
        elif attribute in seen:
            errors.append(f"{name}.attribute: sex and race/ethnicity are different attributes")
        seen.add(attribute)
        if (
            not isinstance(categories, dict)
            or not categories
            or not all(isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in categories.items())
        ):
            errors.append(f"{name}.categories: map each attribute value to its EEO-1 category (unmapped: unknown)")
    if audit.get("tool", "selection") not in ("selection", "scoring"):
        errors.append("tool: selection (binary decisions) or scoring (scores)")
    if audit.get("data_source", "historical") not in ("historical", "test"):
        errors.append("data_source: historical or test (§5-302)")
    if audit.get("distribution_date") is not None and not _is_iso_date(audit["distribution_date"]):
        errors.append("distribution_date: the date the tool was first used, YYYY-MM-DD")
    return errors


SPECIAL_CATEGORY_KEYS = {"purpose", "deletion_date", "safeguards"}


def _special_category_errors(record: Any) -> list[str]:
    """What is wrong with a policy's Art. 10(5) record (``{}``: none kept)."""
    if not isinstance(record, dict):
        return ["an object: {purpose, deletion_date: YYYY-MM-DD, safeguards}"]
    if not record:
        return []
    errors = [
        f"{key}: unknown; use {', '.join(sorted(SPECIAL_CATEGORY_KEYS))}"
        for key in sorted(set(record) - SPECIAL_CATEGORY_KEYS)
    ]
    purpose = record.get("purpose")
    if not isinstance(purpose, str) or not purpose.strip() or len(purpose) > 2000:
        errors.append("purpose: why processing these attributes is strictly necessary for bias detection (text)")
    if not _is_iso_date(record.get("deletion_date")):
        errors.append("deletion_date: when the special-category data are to be deleted, YYYY-MM-DD")
    safeguards = record.get("safeguards", "")
    if not isinstance(safeguards, str) or len(safeguards) > 2000:
        errors.append("safeguards: further safeguards in place (text)")
    return errors


def _is_iso_date(value: Any) -> bool:
    try:
        date.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return isinstance(value, str)


def _feature_schema_errors(features: Any, attributes: Any) -> list[str]:
    """What is wrong with a policy's feature declarations (none: an empty list)."""
    if not isinstance(features, list):
        return ["a list of {name, type, identifier} objects"]
    errors: list[str] = []
    seen: set[str] = set()
    taken = set(RESERVED_FEATURE_NAMES) | (set(attributes) if isinstance(attributes, list) else set())
    for position, declaration in enumerate(features):
        name = declaration.get("name") if isinstance(declaration, dict) else None
        label = f"{name}" if isinstance(name, str) else f"item {position + 1}"
        if not isinstance(declaration, dict) or set(declaration) - {"name", "type", "identifier"}:
            errors.append(f"{label}: an object with name, type and identifier only")
        elif not isinstance(name, str) or not _ATTRIBUTE_NAME.match(name):
            errors.append(f"{label}: names are letters, digits and '_', starting with a letter or '_'")
        elif name in seen:
            errors.append(f"{name}: declared twice")
        elif name in taken:
            errors.append(f"{name}: is a prediction field or a protected attribute, not a feature")
        elif declaration.get("type") not in FEATURE_TYPES:
            errors.append(f"{name}: type is one of {', '.join(FEATURE_TYPES)}")
        elif not isinstance(declaration.get("identifier", False), bool):
            errors.append(f"{name}: identifier is true or false")
        elif declaration.get("identifier") and declaration["type"] != "categorical":
            errors.append(f"{name}: an identifier is stored as a keyed hash, so its type is categorical")
        if isinstance(name, str):
            seen.add(name)
    return errors


def _normalised_features(features: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every declaration with all three keys, in the order given."""
    return [
        {"name": item["name"], "type": item["type"], "identifier": bool(item.get("identifier", False))}
        for item in features
    ]


def _validate_policy(fields: dict[str, Any]) -> None:
    errors: dict[str, list[str]] = {}
    attributes = fields.get("protected_attributes")
    if not isinstance(attributes, list) or not attributes:
        errors["protected_attributes"] = ["give at least one attribute name"]
    elif not all(isinstance(name, str) and _ATTRIBUTE_NAME.match(name) for name in attributes):
        errors["protected_attributes"] = ["names are letters, digits and '_', starting with a letter or '_'"]
    elif len(set(attributes)) != len(attributes):
        errors["protected_attributes"] = ["names must be unique"]
    privileged = fields.get("privileged")
    if not isinstance(privileged, dict) or not all(isinstance(v, str) and v for v in privileged.values()):
        errors["privileged"] = ["map each attribute to its privileged value (a non-empty string)"]
    elif isinstance(attributes, list) and set(privileged) != set(attributes):
        errors["privileged"] = [f"give a privileged value for exactly these attributes: {', '.join(attributes)}"]
    bands = fields.get("metric_bands")
    if not isinstance(bands, dict) or not bands:
        errors["metric_bands"] = ["give at least one metric band"]
    else:
        for metric, band in bands.items():
            if metric not in BANDED_METRICS:
                errors.setdefault("metric_bands", []).append(f"{metric}: unknown; use {', '.join(BANDED_METRICS)}")
                continue
            low, high = (band or {}).get("min"), (band or {}).get("max")
            if not isinstance(band, dict) or (low is None and high is None):
                errors.setdefault("metric_bands", []).append(f"{metric}: give min and/or max")
            elif any(v is not None and not isinstance(v, int | float) for v in (low, high)):
                errors.setdefault("metric_bands", []).append(f"{metric}: min and max are numbers or null")
            elif low is not None and high is not None and low > high:
                errors.setdefault("metric_bands", []).append(f"{metric}: min is above max")
    confidence = fields.get("confidence_level")
    if not isinstance(confidence, int | float) or not 0.5 <= confidence < 1:
        errors["confidence_level"] = ["a number in [0.5, 1), e.g. 0.95"]
    alpha = fields.get("alpha")
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0.0001 <= alpha <= 0.5:
        errors["alpha"] = ["a number in [0.0001, 0.5], e.g. 0.05"]
    period = fields.get("review_period_days")
    if isinstance(period, bool) or not isinstance(period, int) or not 1 <= period <= 3660:
        errors["review_period_days"] = ["whole days in [1, 3660], e.g. 91 (a quarter)"]
    lag = fields.get("label_lag_hours")
    if isinstance(lag, bool) or not isinstance(lag, int) or not 0 <= lag <= 24 * 90:
        errors["label_lag_hours"] = ["whole hours in [0, 2160], e.g. 48 when labels take up to two days"]
    if fields.get("favorable_label") not in (0, 1):
        errors["favorable_label"] = ["0 or 1"]
    channels = fields.get("channels")
    if not isinstance(channels, list) or not all(c in ("webhook", "email", "slack") for c in channels):
        errors["channels"] = ["a list of: webhook, email, slack"]
    feature_errors = _feature_schema_errors(fields.get("features"), attributes)
    if feature_errors:
        errors["features"] = feature_errors
    audit_errors = _bias_audit_errors(fields.get("bias_audit"), attributes)
    if audit_errors:
        errors["bias_audit"] = audit_errors
    special_errors = _special_category_errors(fields.get("special_category_data"))
    if special_errors:
        errors["special_category_data"] = special_errors
    coverage = fields.get("label_coverage_final")
    if isinstance(coverage, bool) or not isinstance(coverage, int | float) or not 0.01 <= coverage <= 1:
        errors["label_coverage_final"] = ["a share in [0.01, 1], e.g. 0.9: final once 90% of predictions have labels"]
    if errors:
        raise ApplicationError("Invalid monitoring policy.", code="invalid_policy", details=errors)


def policy_fields_validated(**fields: Any) -> dict[str, Any]:
    """The policy ``fields`` with the defaults filled in; raises ``ApplicationError`` (details per field) when
    they do not make a valid policy. Forms call it to show the errors before anything is written."""
    values = {**default_policy_fields(), **{k: v for k, v in fields.items() if v is not None}}
    _validate_policy(values)
    values["features"] = _normalised_features(values["features"])
    return values


@transaction.atomic
def policy_create(*, model: MLModel, created_by: User | None = None, **fields: Any) -> MonitoringPolicy:
    """Put a new policy version in force for ``model`` (unspecified fields take the defaults)."""
    values = policy_fields_validated(**fields)
    MLModel.objects.select_for_update().filter(pk=model.pk).first()  # serialises version numbering
    next_version = (model.policies.aggregate(last=Max("version"))["last"] or 0) + 1
    policy = MonitoringPolicy(model=model, version=next_version, created_by=created_by, **values)
    _full_clean(policy, exclude=["model", "created_by"])
    policy.save()
    audit_append(
        action="policy.create",
        actor=created_by,
        object_type="policy",
        object_id=f"{model.name}:{next_version}",
        payload={"model": model.name, "version": next_version, "policy_sha256": jcs_sha256(values)},
    )
    return policy


def current_policy(model: MLModel) -> MonitoringPolicy | None:
    return model.policies.order_by("-version").first()


def _hash_file(handle: File) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    handle.seek(0)
    for chunk in handle.chunks() if hasattr(handle, "chunks") else iter(lambda: handle.read(1 << 20), b""):
        digest.update(chunk)
        size += len(chunk)
    handle.seek(0)
    return digest.hexdigest(), size


@transaction.atomic
def register_model(
    *,
    name: str,
    version: str,
    registered_by: User | None,
    description: str = "",
    metadata: dict[str, Any] | None = None,
    training_metrics: dict[str, Any] | None = None,
    policy: dict[str, Any] | None = None,
    artifact: File | None = None,
    stage: str = ModelVersion.Stage.STAGING,
) -> ModelVersion:
    """Register ``version`` of model ``name`` (creating the model if new), optionally with an artifact
    (joblib file; its SHA-256 is recorded) and a policy (a new policy version). 409 if the version exists.
    """
    model = MLModel.objects.filter(name=name).first() or ml_model_create(
        name=name, description=description, created_by=registered_by
    )
    if model.versions.filter(version=version).exists():
        raise ApplicationError(f"{name} version {version} is already registered.", code="conflict", status_code=409)
    model_version = ModelVersion(
        model=model,
        version=version,
        description=description,
        metadata=metadata or {},
        training_metrics=training_metrics or {},
        stage=stage,
        registered_by=registered_by,
    )
    if artifact is not None:
        if artifact.size is not None and artifact.size > settings.FAIRLENS_ARTIFACT_MAX_BYTES:
            raise ApplicationError(
                "The artifact is larger than FAIRLENS_ARTIFACT_MAX_BYTES.", code="artifact_too_large", status_code=413
            )
        model_version.artifact_sha256, model_version.artifact_size = _hash_file(artifact)
        model_version.framework = ModelVersion.Framework.SKLEARN
    _full_clean(model_version, exclude=["model", "registered_by", "artifact"])
    if artifact is not None:
        model_version.artifact.save(f"{name}-{version}.joblib", artifact, save=False)
    try:
        with transaction.atomic():
            model_version.save()
    except IntegrityError as exc:  # a concurrent registration of the same version won
        raise ApplicationError(
            f"{name} version {version} is already registered.", code="conflict", status_code=409
        ) from exc
    if policy is not None or current_policy(model) is None:
        if policy is None:
            raise ApplicationError(
                "The first version of a model needs a policy (protected_attributes, privileged).",
                code="invalid_policy",
                details={"policy": ["required for a new model"]},
            )
        policy_create(model=model, created_by=registered_by, **policy)
    audit_append(
        action="model.register",
        actor=registered_by,
        object_type="model_version",
        object_id=f"{name}:{version}",
        payload={
            "model": name,
            "version": version,
            "stage": stage,
            "artifact_sha256": model_version.artifact_sha256 or None,
            "metadata_sha256": jcs_sha256(model_version.metadata),
        },
    )
    return model_version


def register_artifact_bytes(**kwargs: Any) -> ModelVersion:
    """``register_model`` with an in-memory artifact (e.g. a freshly trained model)."""
    payload: bytes = kwargs.pop("artifact_bytes")
    return register_model(artifact=ContentFile(payload, name="artifact.joblib"), **kwargs)


def dump_artifact(model_object: Any) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(model_object, buffer)
    return buffer.getvalue()


def load_model(name: str, version: str) -> Any:
    """Load a registered artifact, refusing it unless its bytes hash to the SHA-256 recorded at upload.

    Artifacts are pickles, and unpickling runs code: only files an admin uploaded, byte-identical to what was
    registered, are ever loaded.
    """
    model_version = ModelVersion.objects.select_related("model").filter(model__name=name, version=version).first()
    if model_version is None:
        raise ApplicationError(f"No model {name!r} version {version!r}.", code="not_found", status_code=404)
    if not model_version.artifact:
        raise ApplicationError(
            f"{name} v{version} has no artifact (it is served elsewhere).", code="no_artifact", status_code=409
        )
    with model_version.artifact.open("rb") as handle:
        payload = handle.read()
    if hashlib.sha256(payload).hexdigest() != model_version.artifact_sha256:
        raise ArtifactIntegrityError(
            f"The artifact of {name} v{version} does not match its recorded SHA-256; refusing to load it."
        )
    return joblib.load(io.BytesIO(payload))


@transaction.atomic
def version_set_stage(*, model_version: ModelVersion, stage: str, changed_by: User | None = None) -> ModelVersion:
    if stage not in ModelVersion.Stage.values:
        raise ApplicationError(f"Unknown stage {stage!r}.", details={"stage": list(ModelVersion.Stage.values)})
    previous = model_version.stage
    model_version.stage = stage
    model_version.save(update_fields=["stage"])
    audit_append(
        action="model.stage_change",
        actor=changed_by,
        object_type="model_version",
        object_id=f"{model_version.model.name}:{model_version.version}",
        payload={"stage": stage, "previous_stage": previous},
    )
    return model_version
