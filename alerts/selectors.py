"""Reads for checks, alerts, webhook endpoints and deliveries (filters as the API offers them)."""

from __future__ import annotations

from collections.abc import Mapping

from django.db.models import QuerySet

from alerts.models import Alert, Delivery, WebhookEndpoint
from core.api.errors import ApplicationError
from monitoring.models import FairnessCheck


def _one(queryset: QuerySet, pk: int, what: str):  # noqa: ANN202 - returns the queryset's model
    item = queryset.filter(pk=pk).first()
    if item is None:
        raise ApplicationError(f"No {what} {pk}.", code="not_found", status_code=404)
    return item


def check_list(filters: Mapping[str, str]) -> QuerySet[FairnessCheck]:
    checks = FairnessCheck.objects.select_related("model_version__model", "policy").order_by("-window_end", "-id")
    if filters.get("model"):
        checks = checks.filter(model_version__model__name=filters["model"])
    if filters.get("version"):
        checks = checks.filter(model_version__version=filters["version"])
    if filters.get("status"):
        checks = checks.filter(status_summary=filters["status"])
    return checks


def check_by_id(pk: int) -> FairnessCheck:
    return _one(check_list({}), pk, "check")


def alert_list(filters: Mapping[str, str]) -> QuerySet[Alert]:
    alerts = Alert.objects.select_related("model", "model_version", "acknowledged_by", "resolved_by").order_by(
        "-last_seen_at", "-id"
    )
    for name in ("status", "severity", "metric"):
        if filters.get(name):
            alerts = alerts.filter(**{name: filters[name]})
    if filters.get("model"):
        alerts = alerts.filter(model__name=filters["model"])
    return alerts


def alert_by_id(pk: int) -> Alert:
    return _one(alert_list({}), pk, "alert")


def endpoint_list() -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.select_related("model").order_by("name")


def endpoint_by_id(pk: int) -> WebhookEndpoint:
    return _one(endpoint_list(), pk, "webhook endpoint")


def delivery_list(filters: Mapping[str, str]) -> QuerySet[Delivery]:
    deliveries = (
        Delivery.objects.select_related("event", "endpoint")
        .prefetch_related("attempt_log")
        .order_by("-created_at", "-id")
    )
    if filters.get("status"):
        deliveries = deliveries.filter(status=filters["status"])
    if filters.get("endpoint"):
        deliveries = deliveries.filter(endpoint__name=filters["endpoint"])
    if filters.get("event_type"):
        deliveries = deliveries.filter(event__type=filters["event_type"])
    return deliveries


def delivery_by_id(pk: int) -> Delivery:
    return _one(delivery_list({}), pk, "delivery")
