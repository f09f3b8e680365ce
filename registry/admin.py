"""Admin for the registry: models, versions (artifact hash read-only), immutable policies."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from accounts.admin_sites import ReadOnlyAdmin, auditor_site
from registry.models import MLModel, ModelVersion, MonitoringPolicy

VERSION_FIELDS = (
    "model",
    "version",
    "stage",
    "framework",
    "artifact_sha256",
    "artifact_size",
    "registered_by",
    "created_at",
)
POLICY_FIELDS = (
    "model",
    "version",
    "protected_attributes",
    "privileged",
    "favorable_label",
    "metric_bands",
    "min_group_size",
    "confidence_level",
    "window_hours",
    "check_interval_minutes",
    "channels",
    "features",
    "created_by",
    "created_at",
)


@admin.register(MLModel)
class MLModelAdmin(admin.ModelAdmin):
    list_display = ("name", "created_at", "created_by")
    search_fields = ("name",)
    readonly_fields = ("created_at", "created_by")

    def save_model(self, request: HttpRequest, obj: MLModel, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    """Versions are registered through the API (which hashes the artifact); here only stage and text change."""

    list_display = ("model", "version", "stage", "framework", "created_at")
    list_filter = ("stage", "framework", "model")
    search_fields = ("model__name", "version")
    fields = (*VERSION_FIELDS, "description", "metadata", "training_metrics")
    readonly_fields = (*[f for f in VERSION_FIELDS if f != "stage"], "metadata", "training_metrics")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(MonitoringPolicy)
class MonitoringPolicyAdmin(admin.ModelAdmin):
    """Policies are immutable: a change is a new version, created through the API."""

    list_display = ("model", "version", "protected_attributes", "min_group_size", "created_at")
    list_filter = ("model",)
    fields = POLICY_FIELDS
    readonly_fields = POLICY_FIELDS

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(MLModel, site=auditor_site)
class MLModelAuditorAdmin(ReadOnlyAdmin):
    list_display = ("name", "created_at", "created_by")
    search_fields = ("name",)


@admin.register(ModelVersion, site=auditor_site)
class ModelVersionAuditorAdmin(ReadOnlyAdmin):
    list_display = ("model", "version", "stage", "artifact_sha256", "created_at")
    fields = (*VERSION_FIELDS, "description", "metadata", "training_metrics")


@admin.register(MonitoringPolicy, site=auditor_site)
class MonitoringPolicyAuditorAdmin(ReadOnlyAdmin):
    list_display = ("model", "version", "protected_attributes", "created_at")
    fields = POLICY_FIELDS
