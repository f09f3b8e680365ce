"""Admin for checks, alerts and notifications. Admins manage webhook endpoints (through the services, so URL
checks, secrets and audit entries apply); everything else is written by the monitor itself and shown
read-only on both sites."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db import models

from core.admin_sites import ReadOnlyAdmin, auditor_site
from core.api.errors import ApplicationError
from monitoring.alerts import services
from monitoring.alerts.models import Alert, Delivery, DeliveryAttempt, OutboxEvent, WebhookEndpoint
from monitoring.models import CHECK_RECORD_FIELDS, FairnessCheck

ENDPOINT_FIELDS = ("name", "url", "format", "event_types", "model", "active")


class FairnessCheckAdmin(ReadOnlyAdmin):
    list_display = ("id", "model_version", "window_end", "trigger", "status", "status_summary", "headline_dir")
    list_filter = ("status_summary", "trigger", "status")
    fields = ("model_version", "policy", *CHECK_RECORD_FIELDS)


class AlertAdmin(ReadOnlyAdmin):
    list_display = ("id", "model", "attribute", "group", "metric", "severity", "status", "value", "last_seen_at")
    list_filter = ("status", "severity", "metric")
    exclude = ("encrypted_explanation",)  # decrypted only through the audited decryption service


class AttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    readonly_fields = ("number", "started_at", "status_code", "error_class", "error", "latency_ms")
    fields = readonly_fields

    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False


class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ("id", "event", "channel", "endpoint", "status", "attempts", "next_attempt_at", "last_status_code")
    list_filter = ("status", "channel")
    inlines = (AttemptInline,)


class OutboxEventAdmin(ReadOnlyAdmin):
    list_display = ("msg_id", "type", "model", "created_at")
    list_filter = ("type",)


class EndpointReadOnlyAdmin(ReadOnlyAdmin):
    list_display = ("name", "url", "format", "active", "disabled_reason")
    exclude = ("encrypted_secret",)


class EndpointAdmin(admin.ModelAdmin):
    list_display = ("name", "url", "format", "active", "disabled_reason")
    fields = ENDPOINT_FIELDS
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}  # a bare host means https, never http

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False  # keep the delivery history; switch an endpoint off instead

    def save_model(self, request: Any, obj: WebhookEndpoint, form: Any, change: bool) -> None:
        values = {name: form.cleaned_data[name] for name in ENDPOINT_FIELDS if name in form.cleaned_data}
        try:
            if change:
                services.endpoint_update(endpoint=obj, changed_by=request.user, **values)
            else:
                endpoint, secret = services.endpoint_create(created_by=request.user, **values)
                obj.pk = endpoint.pk
                messages.warning(request, f"Signing secret (shown once): {secret}")
        except ApplicationError as exc:
            messages.error(request, exc.message)


admin.site.register(WebhookEndpoint, EndpointAdmin)
auditor_site.register(WebhookEndpoint, EndpointReadOnlyAdmin)
for site in (admin.site, auditor_site):
    site.register(FairnessCheck, FairnessCheckAdmin)
    site.register(Alert, AlertAdmin)
    site.register(Delivery, DeliveryAdmin)
    site.register(OutboxEvent, OutboxEventAdmin)
