"""Sending deliveries: claim one, send it (signed webhook, Slack text or e-mail), record the attempt, schedule
the next one.

A delivery is claimed with a conditional UPDATE (``locked_until``), so two workers never send the same one at
once, on PostgreSQL or SQLite, and no transaction stays open during the HTTP call. Retries are rows with
``next_attempt_at`` that the deliver-due sweep picks up; nothing waits in a broker countdown.
"""

from __future__ import annotations

import json
import logging
import random
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from compliance.field_encryption import system_decrypt
from core.timestamps import rfc3339_utc
from monitoring.alerts.destinations import destination_for
from monitoring.alerts.models import Delivery, DeliveryAttempt, OutboxEvent, WebhookEndpoint
from monitoring.alerts.services import disable_endpoint
from monitoring.alerts.webhooks.signing import new_message_id, webhook_headers
from monitoring.alerts.webhooks.ssrf import BlockedDestination
from monitoring.alerts.webhooks.transport import HttpResult, parse_retry_after, post

logger = logging.getLogger("fairlens.delivery")
# A sender holds a claimed delivery this long at most (connect + read timeouts plus slack).
CLAIM_SECONDS = 60
SWEEP_BATCH = 200


def retry_delay(attempts_made: int) -> float | None:
    """Seconds to wait before the next attempt after ``attempts_made`` attempts, or None when none is left.

    The schedule's entry for the next attempt, scaled, with +/- jitter so many failed deliveries do not all
    come back at the same second.
    """
    schedule = settings.WEBHOOK_RETRY_SCHEDULE
    if attempts_made >= len(schedule):
        return None
    base = schedule[attempts_made] * settings.WEBHOOK_RETRY_SCALE
    jitter = settings.WEBHOOK_RETRY_JITTER
    return max(0.0, base * (1 + random.uniform(-jitter, jitter)))  # noqa: S311 - spreading load, not security


def body_of(event: OutboxEvent, endpoint: WebhookEndpoint | None) -> bytes:
    """The exact bytes sent (and signed): the thin event, or a Slack ``text`` message for Slack endpoints."""
    if endpoint is not None and endpoint.format == WebhookEndpoint.Format.SLACK:
        return json.dumps({"text": slack_text(event)}, ensure_ascii=False).encode()
    return json.dumps(event.payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def slack_text(event: OutboxEvent) -> str:
    data = event.payload.get("data", {})
    subject = " ".join(
        f"{key}={data[key]}" for key in ("model", "version", "attribute", "group", "metric", "severity") if key in data
    )
    return f"FairLens {event.type}: {subject} (event {event.msg_id})"


def _claim(delivery_id: int, now: datetime) -> bool:
    due = Q(locked_until__isnull=True) | Q(locked_until__lt=now)
    return (
        Delivery.objects.filter(due, pk=delivery_id, status=Delivery.Status.PENDING, next_attempt_at__lte=now).update(
            locked_until=now + timedelta(seconds=CLAIM_SECONDS)
        )
        == 1
    )


def _send_webhook(delivery: Delivery) -> HttpResult:
    endpoint = delivery.endpoint
    destination = destination_for(endpoint.url)  # checked again at every attempt: DNS may have changed
    body = body_of(delivery.event, endpoint)
    headers = webhook_headers(
        [system_decrypt(endpoint, "encrypted_secret")], delivery.event.msg_id, int(timezone.now().timestamp()), body
    )
    headers["user-agent"] = f"FairLens-Webhooks/{settings.FAIRLENS_VERSION}"
    return post(
        destination,
        body,
        headers,
        connect_timeout=settings.WEBHOOK_CONNECT_TIMEOUT_SECONDS,
        read_timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
    )


def _send_email(delivery: Delivery) -> HttpResult:
    started = timezone.now()
    event = delivery.event
    data = event.payload.get("data", {})
    lines = [f"{key}: {value}" for key, value in sorted(data.items())]
    body = "\n".join([f"FairLens event {event.type} ({event.msg_id})", "", *lines])
    try:
        send_mail(f"[FairLens] {slack_text(event)}", body, None, delivery.recipients, fail_silently=False)
    except Exception as exc:  # SMTP refused, network down: retried like a webhook
        elapsed = (timezone.now() - started).total_seconds() * 1000
        return HttpResult(None, {}, "", f"{type(exc).__name__}: {exc}"[:500], "email", elapsed)
    return HttpResult(250, {}, "", None, None, (timezone.now() - started).total_seconds() * 1000)


def deliver(delivery_id: int) -> str | None:
    """Make one attempt at a due delivery if we can claim it; returns its new status, or None if not claimed."""
    now = timezone.now()
    if not _claim(delivery_id, now):
        return None
    delivery = Delivery.objects.select_related("event", "endpoint").get(pk=delivery_id)
    if delivery.channel == Delivery.Channel.WEBHOOK and not delivery.endpoint.active:
        Delivery.objects.filter(pk=delivery_id).update(status=Delivery.Status.CANCELLED, locked_until=None)
        return Delivery.Status.CANCELLED
    try:
        result = _send_webhook(delivery) if delivery.channel == Delivery.Channel.WEBHOOK else _send_email(delivery)
    except BlockedDestination as exc:
        result = HttpResult(None, {}, "", str(exc)[:500], "blocked", 0.0)
    return _record(delivery, result, now)


def _record(delivery: Delivery, result: HttpResult, started: datetime) -> str:
    number = delivery.attempts + 1
    now = timezone.now()
    succeeded = result.status is not None and (200 <= result.status < 300 or result.status == 250)
    gone = result.status == 410
    with transaction.atomic():
        DeliveryAttempt.objects.create(
            delivery=delivery,
            number=number,
            started_at=started,
            status_code=result.status,
            error_class=result.error_class or "",
            error=(result.error or "")[:500],
            latency_ms=result.latency_ms,
            response_excerpt=result.body_excerpt[:2000],
        )
        fields: dict[str, Any] = {
            "attempts": number,
            "locked_until": None,
            "last_status_code": result.status,
            "last_error": (result.error or ("" if succeeded else f"HTTP {result.status}"))[:500],
        }
        if succeeded:
            fields.update(status=Delivery.Status.DELIVERED, delivered_at=now)
        elif gone:
            fields.update(status=Delivery.Status.CANCELLED)
        else:
            delay = retry_delay(number - delivery.retry_origin)
            if delay is None:
                fields.update(status=Delivery.Status.FAILED)
            else:
                wait = parse_retry_after(result.headers.get("retry-after"), now)
                fields.update(next_attempt_at=now + timedelta(seconds=max(delay, wait or 0.0)))
        Delivery.objects.filter(pk=delivery.pk).update(**fields)
    if gone:
        disable_endpoint(delivery.endpoint_id, "receiver answered 410 Gone")
    status = fields.get("status", Delivery.Status.PENDING)
    log = logger.info if succeeded else logger.warning
    log(
        "delivery %s (%s, attempt %s): %s",
        delivery.pk,
        delivery.event.type,
        number,
        "delivered" if succeeded else f"{result.status or result.error_class} -> {status}",
    )
    return status


def due_delivery_ids(now: datetime, limit: int = SWEEP_BATCH) -> list[int]:
    """Pending deliveries whose time has come and that nobody holds, oldest first."""
    free = Q(locked_until__isnull=True) | Q(locked_until__lt=now)
    return list(
        Delivery.objects.filter(free, status=Delivery.Status.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


TEST_EVENT = "endpoint.test"


def send_test_event(*, endpoint: WebhookEndpoint, requested_by: Any) -> Delivery:
    """Send one ``endpoint.test`` event to ``endpoint`` now, signed like every event, and return its delivery
    with the attempt recorded: the answer an admin wants when wiring an endpoint up. Only this endpoint gets it
    (the endpoint's event filter does not apply: the admin asked for it), and a failure is retried like any
    delivery, so a receiver that comes up a minute later still gets it."""
    now = timezone.now()
    with transaction.atomic():
        event = OutboxEvent.objects.create(
            msg_id=new_message_id(),
            type=TEST_EVENT,
            model=endpoint.model,
            payload={
                "type": TEST_EVENT,
                "timestamp": rfc3339_utc(now),
                "data": {"endpoint": endpoint.name, "requested_by": getattr(requested_by, "username", None)},
            },
        )
        delivery = Delivery.objects.create(
            event=event, channel=Delivery.Channel.WEBHOOK, endpoint=endpoint, next_attempt_at=now
        )
    deliver(delivery.pk)
    return Delivery.objects.select_related("endpoint").prefetch_related("attempt_log").get(pk=delivery.pk)
