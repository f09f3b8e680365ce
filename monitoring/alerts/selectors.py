"""Reads for alerts, webhook endpoints and deliveries (filters as the API offers them)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from django.db.models import Count, Prefetch, Q, QuerySet

from core.api.errors import ApplicationError
from monitoring.alerts.models import Alert, Delivery, DeliveryAttempt, OutboxEvent, WebhookEndpoint
from monitoring.checks.selectors import recent_completed_checks
from monitoring.models import FairnessCheck
from registry.models import MLModel


def _one(queryset: QuerySet, pk: int, what: str):  # noqa: ANN202 - returns the queryset's model
    item = queryset.filter(pk=pk).first()
    if item is None:
        raise ApplicationError(f"No {what} {pk}.", code="not_found", status_code=404)
    return item


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


def endpoints_for_model(model: MLModel) -> QuerySet[WebhookEndpoint]:
    """The endpoints that receive ``model``'s events: its own and those of every model."""
    return endpoint_list().filter(Q(model=model) | Q(model__isnull=True))


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


UNRESOLVED = (Alert.Status.OPEN, Alert.Status.ACKNOWLEDGED)
SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2}


def models_with_unresolved_counts() -> QuerySet[MLModel]:
    """Every model by name, annotated with ``open_alerts`` and ``acknowledged_alerts``."""
    return MLModel.objects.order_by("name").annotate(
        open_alerts=Count("alerts", filter=Q(alerts__status=Alert.Status.OPEN)),
        acknowledged_alerts=Count("alerts", filter=Q(alerts__status=Alert.Status.ACKNOWLEDGED)),
    )


def unresolved_alerts_of(model: MLModel) -> list[Alert]:
    """The model's open and acknowledged alerts, most severe first, then the most recently seen."""
    alerts = list(
        Alert.objects.filter(model=model, status__in=UNRESOLVED)
        .select_related("model_version", "acknowledged_by")
        .order_by("-last_seen_at", "-id")
    )
    alerts.sort(key=lambda alert: SEVERITY_ORDER.get(alert.severity, len(SEVERITY_ORDER)))
    return alerts


def inbox_alerts(
    filters: Mapping[str, str], *, opened_from: datetime | None = None, opened_before: datetime | None = None
) -> QuerySet[Alert]:
    """Alerts of every model, newest activity first, filtered as ``alert_list`` and by when they opened."""
    alerts = alert_list(filters)
    if opened_from is not None:
        alerts = alerts.filter(opened_at__gte=opened_from)
    if opened_before is not None:
        alerts = alerts.filter(opened_at__lt=opened_before)
    return alerts


def alert_metrics() -> list[str]:
    """Every metric some alert was raised on, for the inbox's filter."""
    return sorted(Alert.objects.values_list("metric", flat=True).distinct())


def alert_events(alert: Alert) -> list[OutboxEvent]:
    """The events that told people and systems about ``alert``, oldest first, with each delivery and its
    attempts (the event's thin payload names the alert by id)."""
    return list(
        OutboxEvent.objects.filter(payload__data__alert_id=alert.pk)
        .prefetch_related(
            Prefetch(
                "deliveries",
                queryset=Delivery.objects.select_related("endpoint")
                .prefetch_related(Prefetch("attempt_log", queryset=DeliveryAttempt.objects.order_by("number")))
                .order_by("id"),
            )
        )
        .order_by("created_at", "id")
    )


def violation_still_found(alert: Alert) -> FairnessCheck | None:
    """The latest completed check of the alert's version when it still finds the alert's violation, else None.

    Resolving such an alert by hand closes it while the evidence says the violation goes on; the pages warn."""
    latest = recent_completed_checks(alert.model_version_id, 1)
    if not latest:
        return None
    check = latest[-1]
    for violation in (check.result or {}).get("violations") or []:
        subject = (violation.get("attribute"), violation.get("group"), violation.get("metric"))
        if subject == (alert.attribute, alert.group, alert.metric):
            return check
    return None


def open_alert_counts() -> dict[str, int]:
    """Unresolved alerts (open or acknowledged) per severity."""
    rows = Alert.objects.exclude(status=Alert.Status.RESOLVED).values("severity").annotate(n=Count("id"))
    return {row["severity"]: row["n"] for row in rows}


def delivery_counts() -> dict[tuple[str, str], int]:
    """Deliveries per (channel, status): the pending ones are the backlog, the failed ones exhausted retries."""
    rows = Delivery.objects.values("channel", "status").annotate(n=Count("id"))
    return {(row["channel"], row["status"]): row["n"] for row in rows}
