"""Writes for alerts and notifications: alerts from checks, their lifecycle, events into the outbox, endpoints.

Everything here runs inside the caller's transaction: an alert change, its audit entry and its outbox event
commit together or not at all. Deliveries are handed to Celery only after commit.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from compliance.field_encryption import encrypt_for
from compliance.services import audit_append
from core.api.errors import ApplicationError
from core.task_queue import enqueue
from core.timestamps import rfc3339_utc
from monitoring.alerts import rules
from monitoring.alerts.destinations import destination_for
from monitoring.alerts.models import Alert, Delivery, OutboxEvent, WebhookEndpoint
from monitoring.alerts.signals import retraining_requested
from monitoring.alerts.webhooks.signing import generate_secret, new_message_id, secret_bytes
from monitoring.alerts.webhooks.ssrf import BlockedDestination
from monitoring.checks.selectors import completed_checks_by_window, evidence_checks, is_stale
from monitoring.models import FairnessCheck
from registry.models import MLModel
from registry.services import current_policy

logger = logging.getLogger("fairlens.alerts")
UNRESOLVED = (Alert.Status.OPEN, Alert.Status.ACKNOWLEDGED)
RETRAINING_REQUESTED = "retraining.requested"


# --- Events and deliveries -------------------------------------------------------------------------------


def _channels_for(model: MLModel | None) -> set[str]:
    policy = current_policy(model) if model else None
    return set(policy.channels) if policy and policy.channels else {"webhook", "slack", "email"}


def emit_event(event_type: str, *, model: MLModel | None, data: dict[str, Any]) -> OutboxEvent:
    """Write an event and one delivery per subscribed destination; deliveries start after commit.

    ``data`` is thin: ids, names and states, never alert explanations (receivers fetch those through the
    access-controlled API).
    """
    now = timezone.now()
    event = OutboxEvent.objects.create(
        msg_id=new_message_id(),
        type=event_type,
        model=model,
        payload={"type": event_type, "timestamp": rfc3339_utc(now), "data": data},
    )
    channels = _channels_for(model)
    deliveries = []
    for endpoint in WebhookEndpoint.objects.filter(active=True):
        channel = "slack" if endpoint.format == WebhookEndpoint.Format.SLACK else "webhook"
        if channel in channels and endpoint.wants(event_type, model.pk if model else None):
            deliveries.append(
                Delivery(event=event, channel=Delivery.Channel.WEBHOOK, endpoint=endpoint, next_attempt_at=now)
            )
    if "email" in channels and settings.ALERT_EMAIL_TO and event_type in settings.ALERT_EMAIL_EVENTS:
        deliveries.append(
            Delivery(
                event=event,
                channel=Delivery.Channel.EMAIL,
                recipients=list(settings.ALERT_EMAIL_TO),
                next_attempt_at=now,
            )
        )
    ids = [delivery.pk for delivery in Delivery.objects.bulk_create(deliveries)]
    transaction.on_commit(lambda: _enqueue_deliveries(ids))
    return event


def _enqueue_deliveries(ids: list[int]) -> None:
    for delivery_id in ids:
        try:
            enqueue("alerts.tasks.deliver_task", delivery_id)
        except Exception:  # broker down: the deliver-due sweep sends it later
            logger.warning("could not enqueue delivery %s; the sweep will pick it up", delivery_id, exc_info=True)


# --- Alerts from checks ----------------------------------------------------------------------------------


def _alert_data(alert: Alert) -> dict[str, Any]:
    return {
        "alert_id": alert.pk,
        "model": alert.model.name,
        "version": alert.model_version.version,
        "attribute": alert.attribute,
        "group": alert.group,
        "metric": alert.metric,
        "severity": alert.severity,
        "status": alert.status,
        "check_id": alert.last_check_id,
    }


def _audit_alert(action: str, alert: Alert, actor: Any = None, **extra: Any) -> None:
    audit_append(
        action=action,
        actor=actor,
        object_type="alert",
        object_id=str(alert.pk),
        payload={**_alert_data(alert), **extra},
    )


def _open_or_update(check: FairnessCheck, violation: dict[str, Any], now: datetime) -> None:
    model = check.model_version.model
    band = check.policy.metric_bands.get(violation["metric"], {})
    new_severity = rules.severity(violation["metric"], violation["interval"], band)
    lower, upper = violation["interval"] or (None, None)
    alert = (
        Alert.objects.select_for_update()
        .filter(
            model=model,
            attribute=violation["attribute"],
            group=violation["group"],
            metric=violation["metric"],
            status__in=UNRESOLVED,
        )
        .first()
    )
    if alert is None:
        alert = Alert.objects.create(
            model=model,
            model_version=check.model_version,
            attribute=violation["attribute"],
            group=violation["group"],
            metric=violation["metric"],
            severity=new_severity,
            value=violation["value"],
            interval_lower=lower,
            interval_upper=upper,
            band=band,
            first_check=check,
            last_check=check,
            last_seen_at=now,
        )
        encrypt_for(alert, "encrypted_explanation", rules.explanation(check.result, violation))
        alert.save(update_fields=["encrypted_explanation", "explanation_key_id"])
        _audit_alert("alert.opened", alert, value=alert.value, interval=violation["interval"])
        emit_event("alert.opened", model=model, data=_alert_data(alert))
        logger.warning("ALERT opened: %s (%s)", alert, alert.severity)
        return
    if _older_than_last_seen(check, alert):
        return
    previous = alert.severity
    alert.model_version = check.model_version
    alert.value, alert.interval_lower, alert.interval_upper = violation["value"], lower, upper
    alert.last_check, alert.last_seen_at = check, now
    alert.occurrences += 1
    alert.severity = new_severity if rules.escalated(previous, new_severity) else previous
    encrypt_for(alert, "encrypted_explanation", rules.explanation(check.result, violation))
    alert.save()
    _audit_alert("alert.updated", alert, value=alert.value, interval=violation["interval"])
    if alert.severity != previous:
        emit_event("alert.escalated", model=model, data={**_alert_data(alert), "previous_severity": previous})


def _older_than_last_seen(check: FairnessCheck, alert: Alert) -> bool:
    """Whether ``check`` covers an earlier window than the check the alert last saw (e.g. of another version of
    the model): an alert's value and streak follow the latest window, never move back to an older one."""
    return check.window_end < alert.last_check.window_end


def _resolve_by_evidence(check: FairnessCheck, alert: Alert, evidence: dict[str, Any], now: datetime) -> None:
    """Evidence of compliance (the reverse e-process since the alert opened) reached its threshold: resolve.

    The next check of the version starts the subject's evidence afresh (see ``monitoring.checks.services``)."""
    if _older_than_last_seen(check, alert):
        return
    alert.status = Alert.Status.RESOLVED
    alert.resolved_at = now
    alert.resolution = "auto"
    alert.last_check = check
    alert.resolution_note = (
        f"evidence of compliance: e-value {evidence['reverse_e_value']:.3g} reached {evidence['reverse_threshold']:.3g}"
    )
    alert.save()
    _audit_alert(
        "alert.resolved",
        alert,
        resolution="auto",
        evidence_of_compliance=evidence["reverse_log_e"],
        log_threshold=evidence["reverse_log_threshold"],
    )
    emit_event("alert.resolved", model=alert.model, data={**_alert_data(alert), "resolution": "auto"})


def _compliance_evidence(check: FairnessCheck, subject: tuple[str, str, str]) -> dict[str, Any] | None:
    """The reverse evidence of a subject when every band edge with one has reached its threshold, else None."""
    reverses = [
        entry["reverse"]
        for entry in (check.result.get("evidence") or {}).get("comparisons", [])
        if (entry["attribute"], entry["group"], entry["metric"]) == subject and entry["reverse"] is not None
    ]
    if not reverses or not all(item["compliant"] for item in reverses):
        return None
    weakest = min(reverses, key=lambda item: item["log_e"])
    return {
        "reverse_log_e": weakest["log_e"],
        "reverse_log_threshold": weakest["log_threshold"],
        "reverse_e_value": math.exp(min(weakest["log_e"], 700.0)),
        "reverse_threshold": math.exp(weakest["log_threshold"]),
    }


def apply_check(check: FairnessCheck) -> None:
    """Open, update or auto-resolve the alerts a completed check speaks to; request retraining if due.

    Alerts come from the evidence, not from one window: a subject (attribute, group, metric) of the paging tier
    opens or updates an alert when its evidence decision is ``alert`` (e-value past the family threshold); a
    window's ``significant_violation`` alone pages nobody, and exploratory intersection findings never page.
    An open alert resolves automatically when the evidence of compliance for its subject reaches its threshold.

    Runs in the check's transaction. A check of an older window than the version's latest one (a scheduled
    check that ran after a later ingestion-triggered one) is stored and audited, but speaks to nothing here:
    what is current is what the latest window says.
    """
    if is_stale(check):
        logger.info("check %s covers an older window than the latest check of its version; alerts unchanged", check.pk)
        return
    evidence = check.result.get("evidence") or {}
    if not evidence.get("chained"):
        logger.info("check %s is outside the evidence chain; alerts unchanged", check.pk)
        return
    now = timezone.now()
    result = check.result
    unresolved = {
        (alert.attribute, alert.group, alert.metric): alert
        for alert in Alert.objects.select_for_update().filter(model_version=check.model_version, status__in=UNRESOLVED)
    }
    resolved = set()
    for subject, alert in unresolved.items():
        compliance = _compliance_evidence(check, subject)
        if compliance is not None:
            _resolve_by_evidence(check, alert, compliance, now)
            resolved.add(subject)
    alerting = [
        item
        for item in result["violations"]
        if (item.get("evidence") or {}).get("decision") == rules.ALERT
        and item["evidence"]["tier"] == rules.PAGING_TIER
        and (item["attribute"], item["group"], item["metric"]) not in resolved
    ]
    for violation in alerting:
        _open_or_update(check, violation, now)
    if check.status_summary == "pre_alert" and _previous_status(check) != "pre_alert":
        emit_event(
            "fairness.pre_alert",
            model=check.model_version.model,
            data={
                "model": check.model_version.model.name,
                "version": check.model_version.version,
                "check_id": check.pk,
                "reason": result.get("pre_alert_reason") or result["trend"]["pre_alert"]["reason"],
            },
        )
    maybe_request_retraining(check, persisting=bool(alerting))


def _previous_status(check: FairnessCheck) -> str | None:
    """Status of the version's check before this one in window order (as the trend uses)."""
    return (
        completed_checks_by_window(check.model_version_id)
        .exclude(pk=check.pk)
        .values_list("status_summary", flat=True)
        .first()
    )


def maybe_request_retraining(check: FairnessCheck, *, persisting: bool) -> OutboxEvent | None:
    """Emit ``retraining.requested`` once per version when the forecast says retrain, or when the evidence has
    held an alert for RETRAIN_AFTER_CHECKS checks in a row that each brought new predictions.

    Only a check that brought new evidence (``new_evidence``: new predictions in the latest window) may ask:
    re-checks of rows already seen, however many, are one piece of evidence, not a persisting violation.
    """
    if not check.new_evidence:
        return None
    forecast_says = check.result["trend"]["forecast"]["action"] == "retrain"
    recent = list(
        evidence_checks(check.model_version_id).values_list("status_summary", flat=True)[
            : settings.RETRAIN_AFTER_CHECKS
        ]
    )
    persisted = (
        persisting and len(recent) >= settings.RETRAIN_AFTER_CHECKS and all(status == "alert" for status in recent)
    )
    if not (forecast_says or persisted):
        return None
    version = check.model_version
    if OutboxEvent.objects.filter(type=RETRAINING_REQUESTED, payload__data__version_id=version.pk).exists():
        return None
    reason = "forecast_recommends_retrain" if forecast_says else f"violation_persisted_{len(recent)}_checks"
    event = emit_event(
        RETRAINING_REQUESTED,
        model=version.model,
        data={
            "model": version.model.name,
            "version": version.version,
            "version_id": version.pk,
            "check_id": check.pk,
            "reason": reason,
        },
    )
    audit_append(
        action="retraining.requested",
        object_type="model_version",
        object_id=str(version.pk),
        payload={"model": version.model.name, "version": version.version, "check_id": check.pk, "reason": reason},
    )
    transaction.on_commit(lambda: _enqueue_retraining(version.pk, reason))
    return event


def _enqueue_retraining(version_id: int, reason: str) -> None:
    try:
        retraining_requested.send(sender=RETRAINING_REQUESTED, version_id=version_id, reason=reason)
    except Exception:  # a receiver that cannot enqueue (broker down) leaves the event as the request
        logger.warning("could not hand on the retraining of version %s", version_id, exc_info=True)


# --- Alert lifecycle by people ---------------------------------------------------------------------------


def _locked_alert(alert_id: int) -> Alert:
    try:
        return Alert.objects.select_for_update().select_related("model", "model_version").get(pk=alert_id)
    except Alert.DoesNotExist:
        raise ApplicationError("No such alert.", code="not_found", status_code=404) from None


@transaction.atomic
def acknowledge_alert(*, alert_id: int, user: Any, note: str) -> Alert:
    """open -> acknowledged, with a note saying who is on it and what they will do."""
    note = (note or "").strip()
    if not note:
        raise ApplicationError(
            "Say what you are doing about it (note).", code="invalid", details={"note": ["required"]}
        )
    alert = _locked_alert(alert_id)
    if alert.status != Alert.Status.OPEN:
        raise ApplicationError(
            f"The alert is {alert.status}; only an open alert can be acknowledged.", code="conflict", status_code=409
        )
    alert.status = Alert.Status.ACKNOWLEDGED
    alert.acknowledged_at = timezone.now()
    alert.acknowledged_by = user
    alert.acknowledgement_note = note
    alert.save()
    _audit_alert("alert.acknowledged", alert, actor=user, note=note)
    emit_event("alert.acknowledged", model=alert.model, data=_alert_data(alert))
    return alert


@transaction.atomic
def resolve_alert(*, alert_id: int, user: Any, note: str, persisting_check_id: int | None = None) -> Alert:
    """open or acknowledged -> resolved by a person, with a note. ``persisting_check_id`` names the check that
    still found the violation when the person chose to resolve anyway; the audit entry keeps it."""
    note = (note or "").strip()
    if not note:
        raise ApplicationError("Say why it is resolved (note).", code="invalid", details={"note": ["required"]})
    alert = _locked_alert(alert_id)
    if alert.status == Alert.Status.RESOLVED:
        raise ApplicationError("The alert is already resolved.", code="conflict", status_code=409)
    alert.status = Alert.Status.RESOLVED
    alert.resolved_at = timezone.now()
    alert.resolved_by = user
    alert.resolution = "manual"
    alert.resolution_note = note
    alert.save()
    persisting = {"violation_persisting_in_check": persisting_check_id} if persisting_check_id else {}
    _audit_alert("alert.resolved", alert, actor=user, resolution="manual", note=note, **persisting)
    emit_event("alert.resolved", model=alert.model, data={**_alert_data(alert), "resolution": "manual"})
    return alert


# --- Webhook endpoints -----------------------------------------------------------------------------------


def validate_endpoint_url(url: str) -> None:
    """Refuse a URL the sender would refuse (scheme, userinfo, port, non-public address) at creation time."""
    try:
        destination_for(url)
    except BlockedDestination as exc:
        raise ApplicationError(
            f"This webhook URL is not allowed: {exc}", code="url_not_allowed", details={"url": [exc.reason]}
        ) from None


def _audit_endpoint(change: str, endpoint: WebhookEndpoint, actor: Any, **details: Any) -> None:
    audit_append(
        action=f"webhook_endpoint.{change}",
        actor=actor,
        object_type="webhook_endpoint",
        object_id=str(endpoint.pk),
        payload={"name": endpoint.name, **details},
    )


def _set_secret(endpoint: WebhookEndpoint, secret: str) -> None:
    secret_bytes(secret)  # refuses malformed secrets before anything is stored
    encrypt_for(endpoint, "encrypted_secret", secret)
    endpoint.save(update_fields=["encrypted_secret", "secret_key_id"])


@transaction.atomic
def endpoint_create(*, created_by: Any, secret: str | None = None, **fields: Any) -> tuple[WebhookEndpoint, str]:
    """Create an endpoint; returns it and its signing secret, which is shown this once."""
    validate_endpoint_url(fields["url"])
    endpoint = WebhookEndpoint.objects.create(created_by=created_by, **fields)
    secret = secret or generate_secret()
    _set_secret(endpoint, secret)
    _audit_endpoint("create", endpoint, created_by, url=endpoint.url, format=endpoint.format)
    return endpoint, secret


@transaction.atomic
def endpoint_update(*, endpoint: WebhookEndpoint, changed_by: Any, **fields: Any) -> WebhookEndpoint:
    if "url" in fields:
        validate_endpoint_url(fields["url"])
    for name, value in fields.items():
        setattr(endpoint, name, value)
    if fields.get("active"):
        endpoint.disabled_reason, endpoint.disabled_at = "", None
    endpoint.save()
    _audit_endpoint("update", endpoint, changed_by, changed=sorted(fields))
    return endpoint


@transaction.atomic
def endpoint_rotate_secret(*, endpoint: WebhookEndpoint, changed_by: Any) -> str:
    secret = generate_secret()
    _set_secret(endpoint, secret)
    _audit_endpoint("rotate_secret", endpoint, changed_by, key_id=endpoint.secret_key_id)
    return secret


def disable_endpoint(endpoint_id: int, reason: str) -> None:
    """Stop sending to an endpoint (its receiver answered 410 Gone); pending deliveries are cancelled."""
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint_id)
        if not endpoint.active:
            return
        endpoint.active = False
        endpoint.disabled_reason = reason
        endpoint.disabled_at = timezone.now()
        endpoint.save()
        endpoint.deliveries.filter(status=Delivery.Status.PENDING).update(
            status=Delivery.Status.CANCELLED, locked_until=None
        )
        _audit_endpoint("disabled", endpoint, None, reason=reason)
    logger.warning("webhook endpoint %s disabled: %s", endpoint.name, reason)


DEFAULT_ENDPOINT_NAME = "default"


def ensure_default_endpoint() -> WebhookEndpoint | None:
    """Keep the endpoint named ``default`` pointing at WEBHOOK_URL (the seed's setting), if one is set."""
    url = settings.FAIRLENS_WEBHOOK_URL
    if not url:
        return None
    existing = WebhookEndpoint.objects.filter(name=DEFAULT_ENDPOINT_NAME).first()
    if existing is not None:
        if existing.url != url:
            endpoint_update(endpoint=existing, changed_by=None, url=url)
        return existing
    endpoint, _ = endpoint_create(
        created_by=None, secret=settings.FAIRLENS_WEBHOOK_SECRET or None, name=DEFAULT_ENDPOINT_NAME, url=url
    )
    return endpoint


@transaction.atomic
def replay_delivery(*, delivery_id: int, user: Any) -> Delivery:
    """Send a failed or cancelled delivery again from attempt one (same webhook-id, so receivers dedupe)."""
    delivery = (
        Delivery.objects.select_for_update(of=("self",))  # endpoint is nullable: lock only the delivery row
        .select_related("endpoint", "event")
        .filter(pk=delivery_id)
        .first()
    )
    if delivery is None:
        raise ApplicationError(f"No delivery {delivery_id}.", code="not_found", status_code=404)
    if delivery.status in (Delivery.Status.PENDING, Delivery.Status.DELIVERED):
        raise ApplicationError(
            f"The delivery is {delivery.status}; only failed or cancelled ones are replayed.",
            code="conflict",
            status_code=409,
        )
    if delivery.endpoint is not None and not delivery.endpoint.active:
        raise ApplicationError("Its endpoint is disabled; enable the endpoint first.", code="conflict", status_code=409)
    delivery.status = Delivery.Status.PENDING
    delivery.retry_origin = delivery.attempts  # a replay gets the whole retry schedule again
    delivery.next_attempt_at = timezone.now()
    delivery.locked_until = None
    delivery.save(update_fields=["status", "retry_origin", "next_attempt_at", "locked_until"])
    audit_append(
        action="delivery.replay",
        actor=user,
        object_type="delivery",
        object_id=str(delivery.pk),
        payload={"event": delivery.event.msg_id, "type": delivery.event.type},
    )
    transaction.on_commit(lambda: _enqueue_deliveries([delivery.pk]))
    return delivery
