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


def current_version(model: MLModel) -> ModelVersion | None:
    """The version a reader means when they name none: the newest production version, else the newest version
    not retired; None when every version is retired (a retired version is shown only when asked for by name).
    Pages, reports, the API and the demo all use this one rule."""
    live = live_versions(model)
    return live.filter(stage=ModelVersion.Stage.PRODUCTION).first() or live.first()


def model_named(name: str) -> MLModel | None:
    return MLModel.objects.filter(name=name).first()


def versions_newest_first(model: MLModel) -> list[ModelVersion]:
    return list(model.versions.order_by("-created_at", "-id"))


def live_versions(model: MLModel) -> QuerySet[ModelVersion]:
    """The versions not retired, newest first."""
    return model.versions.exclude(stage=ModelVersion.Stage.RETIRED).order_by("-created_at", "-id")
