"""Shapes of alerts, webhook endpoints and deliveries in the API."""

from __future__ import annotations

from rest_framework import serializers

from monitoring.alerts.models import Alert, Delivery, DeliveryAttempt, WebhookEndpoint

EVENT_TYPES = (
    "alert.opened",
    "alert.escalated",
    "alert.acknowledged",
    "alert.resolved",
    "fairness.pre_alert",
    "retraining.requested",
    "retraining.completed",
)


class AlertSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="model.name", read_only=True)
    version = serializers.CharField(source="model_version.version", read_only=True)
    acknowledged_by = serializers.CharField(
        source="acknowledged_by.username", read_only=True, allow_null=True, default=None
    )
    resolved_by = serializers.CharField(source="resolved_by.username", read_only=True, allow_null=True, default=None)
    has_explanation = serializers.SerializerMethodField()

    class Meta:
        model = Alert
        fields = (
            "id",
            "model",
            "version",
            "attribute",
            "group",
            "metric",
            "status",
            "severity",
            "value",
            "interval_lower",
            "interval_upper",
            "band",
            "first_check",
            "last_check",
            "occurrences",
            "passing_streak",
            "has_explanation",
            "opened_at",
            "last_seen_at",
            "acknowledged_at",
            "acknowledged_by",
            "acknowledgement_note",
            "resolved_at",
            "resolved_by",
            "resolution",
            "resolution_note",
        )
        read_only_fields = fields

    def get_has_explanation(self, alert: Alert) -> bool:
        return bool(alert.encrypted_explanation)


class NoteInputSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=2000)


class EndpointSerializer(serializers.ModelSerializer):
    model = serializers.SlugRelatedField(
        slug_field="name",
        read_only=True,
        allow_null=True,
        help_text="Only events about this model; null for every model.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = (
            "id",
            "name",
            "url",
            "format",
            "event_types",
            "model",
            "active",
            "disabled_reason",
            "disabled_at",
            "created_at",
        )
        read_only_fields = fields


class EndpointInputSerializer(serializers.Serializer):
    name = serializers.RegexField(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
    url = serializers.URLField(max_length=2000)
    format = serializers.ChoiceField(choices=WebhookEndpoint.Format.choices, default=WebhookEndpoint.Format.STANDARD)
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_TYPES), required=False, default=list, max_length=len(EVENT_TYPES)
    )
    model = serializers.CharField(max_length=100, required=False, allow_null=True, default=None)


class EndpointUpdateSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=2000, required=False)
    format = serializers.ChoiceField(choices=WebhookEndpoint.Format.choices, required=False)
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_TYPES), required=False, max_length=len(EVENT_TYPES)
    )
    active = serializers.BooleanField(required=False)


class EndpointCreatedSerializer(EndpointSerializer):
    secret = serializers.CharField(read_only=True, help_text="The signing secret (whsec_...), shown this once.")

    class Meta(EndpointSerializer.Meta):
        fields = (*EndpointSerializer.Meta.fields, "secret")
        read_only_fields = fields


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = ("number", "started_at", "status_code", "error_class", "error", "latency_ms", "response_excerpt")
        read_only_fields = fields


class DeliverySerializer(serializers.ModelSerializer):
    event_type = serializers.CharField(source="event.type", read_only=True)
    webhook_id = serializers.CharField(source="event.msg_id", read_only=True)
    payload = serializers.JSONField(source="event.payload", read_only=True)
    endpoint = serializers.CharField(source="endpoint.name", read_only=True, allow_null=True, default=None)
    attempt_log = AttemptSerializer(many=True, read_only=True)

    class Meta:
        model = Delivery
        fields = (
            "id",
            "event_type",
            "webhook_id",
            "payload",
            "channel",
            "endpoint",
            "recipients",
            "status",
            "attempts",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "delivered_at",
            "created_at",
            "attempt_log",
        )
        read_only_fields = fields
