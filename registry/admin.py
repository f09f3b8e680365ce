"""Admin for the registry: models, versions (artifact hash read-only), immutable policies (added through the
same service as the API, which numbers the version and writes the audit entry)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from core.admin_sites import ReadOnlyAdmin, auditor_site
from core.api.errors import ApplicationError
from registry.models import MLModel, ModelVersion, MonitoringPolicy
from registry.services import default_policy_fields, policy_create, policy_fields_validated

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
    "label_lag_hours",
    "channels",
    "features",
    "bias_audit",
    "special_category_data",
    "label_coverage_final",
    "created_by",
    "created_at",
)
# What a person chooses when adding a policy; the version, author and time are the service's to set.
POLICY_INPUT_FIELDS = tuple(f for f in POLICY_FIELDS if f not in ("version", "created_by", "created_at"))


class PolicyAddForm(forms.ModelForm):
    """A new policy version, checked by the registry's own policy rules, so the admin accepts exactly what the
    API accepts; their messages appear next to the fields they concern."""

    class Meta:
        model = MonitoringPolicy
        fields = POLICY_INPUT_FIELDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Left empty, the lag takes the registry's default (0), as through the API.
        self.fields["label_lag_hours"].required = False
        self.fields["label_coverage_final"].required = False

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            policy_fields_validated(**{name: cleaned.get(name) for name in POLICY_INPUT_FIELDS if name != "model"})
        except ApplicationError as exc:
            if not exc.details:
                raise forms.ValidationError(exc.message) from exc
            for field, problems in exc.details.items():
                self.add_error(field if field in self.fields else None, problems)
        return cleaned


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
    """Policies are immutable: a change is a new version. Adding one here goes through ``policy_create``, as
    the API does; an existing version is shown read-only."""

    list_display = ("model", "version", "protected_attributes", "min_group_size", "created_at")
    list_filter = ("model",)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return POLICY_INPUT_FIELDS if obj is None else POLICY_FIELDS

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return () if obj is None else POLICY_FIELDS

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = PolicyAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        return {**default_policy_fields(), **super().get_changeform_initial_data(request)}

    def save_model(self, request: HttpRequest, obj: MonitoringPolicy, form: Any, change: bool) -> None:
        if change:
            return  # nothing on an existing version is editable
        values = {name: form.cleaned_data[name] for name in POLICY_INPUT_FIELDS if name != "model"}
        policy = policy_create(model=form.cleaned_data["model"], created_by=request.user, **values)
        # The admin's success message, log entry and redirect use ``obj``: make it the row the service wrote.
        obj.pk, obj.version, obj.created_by, obj.created_at = policy.pk, policy.version, request.user, policy.created_at

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
