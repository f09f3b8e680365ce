"""Reads for the model registry."""

from __future__ import annotations

from django.db.models import QuerySet

from core.api.errors import ApplicationError
from registry.models import MLModel, ModelVersion, MonitoringPolicy


def model_list() -> QuerySet[MLModel]:
    return MLModel.objects.prefetch_related("versions", "policies").order_by("name")


def model_by_name(name: str) -> MLModel:
    model = model_list().filter(name=name).first()
    if model is None:
        raise ApplicationError(f"No registered model named {name!r}.", code="not_found", status_code=404)
    return model


def version_list(model: MLModel) -> QuerySet[ModelVersion]:
    return model.versions.select_related("model", "registered_by").order_by("-created_at")


def version_by_name(name: str, version: str) -> ModelVersion:
    found = ModelVersion.objects.select_related("model").filter(model__name=name, version=version).first()
    if found is None:
        model_by_name(name)  # says which part is unknown
        raise ApplicationError(f"{name} has no version {version!r}.", code="not_found", status_code=404)
    return found


def policy_list(model: MLModel) -> QuerySet[MonitoringPolicy]:
    return model.policies.order_by("-version")
