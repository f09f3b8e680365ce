"""Alerts raised by fairness checks, and the outbox that notifies people and systems about them.

An alert is one (model, attribute, group, metric) while it is not resolved. Every notification is an
``OutboxEvent`` written in the same transaction as the change it reports, with one ``Delivery`` per
destination; deliveries are retried from the database (``next_attempt_at``), never from broker countdowns.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from monitoring.models import FairnessCheck
from registry.models import MLModel, ModelVersion


class Alert(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"

    class Severity(models.TextChoices):
        MEDIUM = "medium", "Medium"
        HIGH = "high", "High"
        CRITICAL = "critical", "Critical"

    model = models.ForeignKey(MLModel, on_delete=models.PROTECT, related_name="alerts")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="alerts")
    attribute = models.CharField(max_length=200)
    group = models.CharField(max_length=400)
    metric = models.CharField(max_length=20, help_text="Short metric name: DIR, SPD, EOD, AOD or FPR_DIFF.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    severity = models.CharField(max_length=20, choices=Severity.choices)
    value = models.FloatField(null=True)
    interval_lower = models.FloatField(null=True)
    interval_upper = models.FloatField(null=True)
    band = models.JSONField(default=dict, help_text="The policy band the metric violated, e.g. {'min': 0.8}.")
    first_check = models.ForeignKey(FairnessCheck, on_delete=models.PROTECT, related_name="alerts_opened")
    last_check = models.ForeignKey(FairnessCheck, on_delete=models.PROTECT, related_name="alerts_seen")
    occurrences = models.PositiveIntegerField(default=1, help_text="Checks that found the violation.")
    passing_streak = models.PositiveIntegerField(
        default=0,
        help_text="Always 0, kept for the API: alerts resolve on evidence of compliance, not after passing checks.",
    )
    encrypted_explanation = models.TextField(blank=True)
    explanation_key_id = models.CharField(max_length=64, blank=True)
    opened_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    acknowledgement_note = models.TextField(blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resolution = models.CharField(max_length=20, blank=True, help_text="auto (evidence of compliance) or manual.")
    resolution_note = models.TextField(blank=True)

    class Meta:
        ordering = ("-last_seen_at", "-id")
        constraints = [
            models.UniqueConstraint(
                fields=("model", "attribute", "group", "metric"),
                condition=~Q(status="resolved"),
                name="one_unresolved_alert_per_subject",
            ),
        ]
        indexes = [models.Index(fields=("model", "status"), name="alert_model_status")]

    def __str__(self) -> str:
        return f"{self.model.name} {self.attribute}={self.group} {self.metric} ({self.status})"


class WebhookEndpoint(models.Model):
    """Where events are POSTed, signed per Standard Webhooks with this endpoint's secret (stored encrypted)."""

    class Format(models.TextChoices):
        STANDARD = "standard", "Standard Webhooks JSON"
        SLACK = "slack", "Slack-compatible ({'text': ...})"

    name = models.CharField(max_length=100, unique=True)
    url = models.URLField(max_length=2000)
    format = models.CharField(max_length=20, choices=Format.choices, default=Format.STANDARD)
    event_types = models.JSONField(default=list, blank=True, help_text="Event types to send; empty means all.")
    model = models.ForeignKey(
        MLModel, on_delete=models.CASCADE, null=True, blank=True, related_name="+", help_text="Empty: every model."
    )
    active = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    encrypted_secret = models.TextField(blank=True)
    secret_key_id = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name

    def wants(self, event_type: str, model_id: int | None) -> bool:
        """Whether this endpoint subscribes to an event of ``event_type`` about model ``model_id``."""
        type_ok = not self.event_types or event_type in self.event_types
        model_ok = self.model_id is None or self.model_id == model_id
        return self.active and type_ok and model_ok


class OutboxEvent(models.Model):
    """Something to tell the outside world, written in the same transaction as the change it reports."""

    msg_id = models.CharField(max_length=64, unique=True, help_text="The webhook-id: the same on every retry.")
    type = models.CharField(max_length=100)
    model = models.ForeignKey(MLModel, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    payload = models.JSONField(help_text="The thin JSON body: type, timestamp and ids, never alert content.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"{self.type} {self.msg_id}"


class Delivery(models.Model):
    """One event to one destination (a webhook endpoint, or e-mail recipients), with its retry state."""

    class Channel(models.TextChoices):
        WEBHOOK = "webhook", "Webhook"
        EMAIL = "email", "E-mail"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed (retries exhausted)"
        CANCELLED = "cancelled", "Cancelled (endpoint disabled)"

    event = models.ForeignKey(OutboxEvent, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=20, choices=Channel.choices)
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, null=True, blank=True, related_name="deliveries"
    )
    recipients = models.JSONField(default=list, blank=True, help_text="E-mail addresses (e-mail channel).")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    retry_origin = models.PositiveIntegerField(
        default=0, help_text="Attempts made before the last replay: the retry schedule restarts from there."
    )
    next_attempt_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True, help_text="A sender holds it until then.")
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=("event", "endpoint"), condition=Q(endpoint__isnull=False), name="one_delivery_per_endpoint"
            ),
        ]
        indexes = [models.Index(fields=("status", "next_attempt_at"), name="delivery_due")]

    def __str__(self) -> str:
        return f"{self.event.type} -> {self.endpoint or ', '.join(self.recipients)} ({self.status})"


class DeliveryAttempt(models.Model):
    """One try at a delivery: when, what came back, how long it took."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error_class = models.CharField(max_length=30, blank=True)
    error = models.CharField(max_length=500, blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True)

    class Meta:
        ordering = ("delivery", "number")
        constraints = [models.UniqueConstraint(fields=("delivery", "number"), name="one_attempt_number")]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery {self.delivery_id}: {self.status_code or self.error_class}"


# Names for the OpenAPI schema (ENUM_NAME_OVERRIDES): several models have a "status" with different choices.
ALERT_STATUS = Alert.Status
DELIVERY_STATUS = Delivery.Status
