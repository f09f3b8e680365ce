"""Deliveries to a real loopback HTTP receiver: Standard Webhooks signatures (checked with the reference
library), thin bodies, Slack text, retries and Retry-After, exhaustion, 410, redirects, SSRF blocks, the claim,
the due sweep, replay, and e-mail."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from compliance.models import AuditEntry
from monitoring.alerts import services
from monitoring.alerts.delivery import deliver, due_delivery_ids
from monitoring.alerts.models import Alert, Delivery, DeliveryAttempt, OutboxEvent, WebhookEndpoint
from monitoring.alerts.tasks import deliver_due_task
from monitoring.alerts.tests.builders import LoopbackReceiver, Reply, delivery_for, emit, make_endpoint
from monitoring.checks.tests.builders import check_hour, ingest_loans, loan_version
from registry.services import policy_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def version(db: None) -> Any:
    return loan_version()


def make_due(delivery: Delivery) -> None:
    """Time passes until the scheduled retry."""
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))


def test_an_alert_is_delivered_signed_with_a_thin_body(receiver: LoopbackReceiver, version: Any) -> None:
    # given an endpoint, and a drifted window that opens an alert
    endpoint, secret = make_endpoint(receiver)
    ingest_loans(version, hour=0, n=2000, drift=0.8, seed=7)
    check_hour(version, 0)
    alert = Alert.objects.get()
    event = OutboxEvent.objects.get(type="alert.opened")
    delivery = delivery_for(event, endpoint)
    assert (delivery.status, delivery.channel, delivery.attempts) == ("pending", "webhook", 0)
    # when
    assert deliver(delivery.pk) == Delivery.Status.DELIVERED
    # then one request arrived, signed so that the reference library verifies it with the endpoint's secret
    (request,) = receiver.received
    assert request.path == "/hook"
    assert request.headers["webhook-id"] == event.msg_id
    assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 60
    assert request.headers["webhook-signature"].startswith("v1,")
    assert request.headers["content-type"] == "application/json"
    body = Webhook(secret).verify(request.body, request.headers)
    # the body is the thin event: type, time and ids, no explanation
    assert body == event.payload
    assert body["type"] == "alert.opened"
    assert body["data"]["alert_id"] == alert.pk
    assert body["data"]["check_id"] == alert.last_check_id
    assert "explanation" not in json.dumps(body)
    assert "Potential bias" not in request.body.decode()
    # a tampered body or another secret does not verify
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(request.body.replace(b"alert.opened", b"alert.closed"), request.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(services.generate_secret()).verify(request.body, request.headers)
    # and the delivery records its one attempt
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)
    assert delivery.delivered_at is not None
    assert delivery.locked_until is None
    (attempt,) = delivery.attempt_log.all()
    assert (attempt.number, attempt.status_code, attempt.error_class) == (1, 200, "")
    assert attempt.latency_ms > 0
    assert attempt.response_excerpt == '{"ok": true}'
    # a delivered delivery is not sent again
    assert deliver(delivery.pk) is None
    assert len(receiver.received) == 1


def test_a_rotated_secret_signs_the_next_attempt(receiver: LoopbackReceiver, version: Any) -> None:
    endpoint, old = make_endpoint(receiver)
    new = services.endpoint_rotate_secret(endpoint=endpoint, changed_by=None)
    assert new != old
    assert new.startswith("whsec_")
    deliver(delivery_for(emit(version), endpoint).pk)
    (request,) = receiver.received
    Webhook(new).verify(request.body, request.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(request.body, request.headers)


def test_slack_endpoints_get_a_text_message(receiver: LoopbackReceiver, version: Any) -> None:
    endpoint, secret = make_endpoint(receiver, "/slack", format=WebhookEndpoint.Format.SLACK)
    event = emit(version, attribute="gender", group="Female", metric="DIR")
    assert deliver(delivery_for(event, endpoint).pk) == "delivered"
    (request,) = receiver.received
    body = json.loads(request.body)
    assert list(body) == ["text"]
    assert body["text"].startswith("FairLens alert.opened: model=loan_model version=1 attribute=gender")
    assert event.msg_id in body["text"]
    Webhook(secret).verify(request.body, request.headers)  # signed like any other endpoint


def test_endpoints_get_only_the_events_and_models_they_subscribe_to(receiver: LoopbackReceiver, version: Any) -> None:
    everything, _ = make_endpoint(receiver, "/all")
    resolved_only, _ = make_endpoint(receiver, "/resolved", event_types=["alert.resolved"])
    other_only, _ = make_endpoint(receiver, "/other", model=loan_version(name="other_model").model)
    opened = emit(version)
    assert set(Delivery.objects.filter(event=opened).values_list("endpoint", flat=True)) == {everything.pk}
    resolved = emit(version, "alert.resolved")
    assert set(Delivery.objects.filter(event=resolved).values_list("endpoint", flat=True)) == {
        everything.pk,
        resolved_only.pk,
    }
    assert not Delivery.objects.filter(endpoint=other_only).exists()


def test_a_server_error_schedules_the_next_attempt_by_the_schedule(
    receiver: LoopbackReceiver, version: Any, settings: Any
) -> None:
    settings.WEBHOOK_RETRY_SCHEDULE = [0.0, 5.0, 300.0]
    settings.WEBHOOK_RETRY_SCALE = 2.0
    receiver.replies["/hook"] = Reply(500, body=b"database down")
    endpoint, _ = make_endpoint(receiver)
    delivery = delivery_for(emit(version), endpoint)
    # attempt 1 fails: the next one is 5 s x 2 later
    before = timezone.now()
    assert deliver(delivery.pk) == Delivery.Status.PENDING
    after = timezone.now()
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.last_status_code, delivery.last_error) == (1, 500, "HTTP 500")
    assert before + timedelta(seconds=10) <= delivery.next_attempt_at <= after + timedelta(seconds=10)
    assert delivery.locked_until is None
    (attempt,) = DeliveryAttempt.objects.filter(delivery=delivery)
    assert (attempt.number, attempt.status_code, attempt.response_excerpt) == (1, 500, "database down")
    # not due yet: nobody sends it
    assert deliver(delivery.pk) is None
    assert delivery.pk not in due_delivery_ids(timezone.now())
    # attempt 2 fails: 300 s x 2
    make_due(delivery)
    before = timezone.now()
    assert deliver(delivery.pk) == Delivery.Status.PENDING
    delivery.refresh_from_db()
    assert before + timedelta(seconds=600) <= delivery.next_attempt_at <= timezone.now() + timedelta(seconds=600)
    # attempt 3 fails and the schedule has no entry left: the delivery has failed
    make_due(delivery)
    assert deliver(delivery.pk) == Delivery.Status.FAILED
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 3)
    assert list(delivery.attempt_log.values_list("number", "status_code")) == [(1, 500), (2, 500), (3, 500)]
    assert len(receiver.received) == 3
    # every retry carried the same webhook-id
    assert {request.headers["webhook-id"] for request in receiver.received} == {delivery.event.msg_id}


def test_the_default_schedule_is_the_standard_webhooks_one(receiver: LoopbackReceiver, version: Any) -> None:
    receiver.replies["/hook"] = Reply(502)
    endpoint, _ = make_endpoint(receiver)
    delivery = delivery_for(emit(version), endpoint)
    waits = []
    while deliver(delivery.pk) == Delivery.Status.PENDING:
        delivery.refresh_from_db()
        waits.append(round((delivery.next_attempt_at - delivery.attempt_log.last().started_at).total_seconds()))
        make_due(delivery)
    delivery.refresh_from_db()
    assert delivery.status == "failed"
    assert delivery.attempts == 10
    assert waits == [5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400]


def test_retry_after_postpones_the_next_attempt(receiver: LoopbackReceiver, version: Any) -> None:
    receiver.replies["/hook"] = Reply(503, {"Retry-After": "120"})
    endpoint, _ = make_endpoint(receiver)
    delivery = delivery_for(emit(version), endpoint)
    before = timezone.now()
    assert deliver(delivery.pk) == "pending"
    delivery.refresh_from_db()
    assert delivery.next_attempt_at >= before + timedelta(seconds=120)
    assert delivery.next_attempt_at <= timezone.now() + timedelta(seconds=121)
    assert delivery.last_status_code == 503


def test_410_gone_disables_the_endpoint_and_cancels_its_deliveries(receiver: LoopbackReceiver, version: Any) -> None:
    receiver.replies["/gone"] = Reply(410, body=b'{"error": "gone"}')
    gone, _ = make_endpoint(receiver, "/gone")
    healthy, _ = make_endpoint(receiver, "/hook")
    first, second = emit(version), emit(version, "alert.resolved")
    # when the first delivery to it is answered 410
    assert deliver(delivery_for(first, gone).pk) == Delivery.Status.CANCELLED
    # then the endpoint is off, its other pending delivery is cancelled, other endpoints are untouched
    gone.refresh_from_db()
    assert (gone.active, gone.disabled_reason) == (False, "receiver answered 410 Gone")
    assert gone.disabled_at is not None
    assert delivery_for(first, gone).status == "cancelled"
    assert delivery_for(second, gone).status == "cancelled"
    assert delivery_for(second, healthy).status == "pending"
    entry = AuditEntry.objects.get(action="webhook_endpoint.disabled")
    assert (entry.object_id, entry.payload["reason"]) == (str(gone.pk), "receiver answered 410 Gone")
    # nothing more goes to it, and new events skip it
    assert deliver(delivery_for(second, gone).pk) is None
    third = emit(version)
    assert not Delivery.objects.filter(event=third, endpoint=gone).exists()
    assert [request.path for request in receiver.received] == ["/gone"]


def test_a_redirect_is_not_followed(receiver: LoopbackReceiver, version: Any) -> None:
    receiver.replies["/moved"] = Reply(302, {"Location": receiver.url("/elsewhere")}, b"")
    endpoint, _ = make_endpoint(receiver, "/moved")
    delivery = delivery_for(emit(version), endpoint)
    assert deliver(delivery.pk) == Delivery.Status.PENDING  # not a success: retried later
    assert [request.path for request in receiver.received] == ["/moved"]
    delivery.refresh_from_db()
    assert (delivery.last_status_code, delivery.last_error) == (302, "HTTP 302")


def test_a_blocked_destination_is_recorded_without_opening_a_socket(
    receiver: LoopbackReceiver, version: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given an endpoint whose URL was changed behind the API's back to a private address
    endpoint, _ = make_endpoint(receiver)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(url="https://10.0.0.1/hook")
    delivery = delivery_for(emit(version), endpoint)
    connects: list[Any] = []

    def tripwire(*args: Any, **kwargs: Any) -> None:
        connects.append(args)
        raise AssertionError("a socket was opened")

    monkeypatch.setattr(socket, "create_connection", tripwire)
    # when
    assert deliver(delivery.pk) == Delivery.Status.PENDING
    # then
    assert connects == []
    assert receiver.received == []
    (attempt,) = DeliveryAttempt.objects.filter(delivery=delivery)
    assert (attempt.error_class, attempt.status_code) == ("blocked", None)
    assert "non-public address (10.0.0.1)" in attempt.error
    delivery.refresh_from_db()
    assert delivery.last_status_code is None
    assert "10.0.0.1" in delivery.last_error


def test_deliver_due_task_sends_what_is_due(receiver: LoopbackReceiver, version: Any) -> None:
    endpoint, _ = make_endpoint(receiver)
    due = [delivery_for(emit(version), endpoint) for _ in range(2)]
    later = delivery_for(emit(version), endpoint)
    Delivery.objects.filter(pk=later.pk).update(next_attempt_at=timezone.now() + timedelta(hours=1))
    held = delivery_for(emit(version), endpoint)
    Delivery.objects.filter(pk=held.pk).update(locked_until=timezone.now() + timedelta(seconds=60))
    # when the sweep runs (as beat would call it)
    assert deliver_due_task() == 2
    # then exactly the due ones went out
    assert sorted(r.headers["webhook-id"] for r in receiver.received) == sorted(d.event.msg_id for d in due)
    assert set(Delivery.objects.filter(status="delivered").values_list("pk", flat=True)) == {d.pk for d in due}
    assert Delivery.objects.get(pk=later.pk).status == "pending"
    assert Delivery.objects.get(pk=held.pk).attempts == 0
    assert deliver_due_task() == 0


def test_a_failed_delivery_is_replayed_by_the_service(
    receiver: LoopbackReceiver, version: Any, settings: Any, admin_user: Any
) -> None:
    settings.WEBHOOK_RETRY_SCHEDULE = [0.0]
    receiver.replies["/hook"] = Reply(500)
    endpoint, secret = make_endpoint(receiver)
    delivery = delivery_for(emit(version), endpoint)
    assert deliver(delivery.pk) == "failed"
    # when the receiver is fixed and the delivery replayed
    del receiver.replies["/hook"]
    replayed = services.replay_delivery(delivery_id=delivery.pk, user=admin_user)
    assert (replayed.status, replayed.locked_until) == ("pending", None)
    assert deliver(delivery.pk) == "delivered"
    # then it went out again with the same webhook-id, verifiably signed
    assert [r.headers["webhook-id"] for r in receiver.received] == [delivery.event.msg_id] * 2
    Webhook(secret).verify(receiver.received[-1].body, receiver.received[-1].headers)
    entry = AuditEntry.objects.get(action="delivery.replay")
    assert (entry.object_id, entry.actor) == (str(delivery.pk), admin_user.username)
    # a delivered one cannot be replayed
    with pytest.raises(services.ApplicationError) as conflict:
        services.replay_delivery(delivery_id=delivery.pk, user=admin_user)
    assert conflict.value.status_code == 409


def test_replay_over_the_api(
    receiver: LoopbackReceiver, client_as: Callable[[str], APIClient], settings: Any, ml_model: Any
) -> None:
    settings.WEBHOOK_RETRY_SCHEDULE = [0.0]
    version = loan_version()
    receiver.replies["/hook"] = Reply(500)
    endpoint, _ = make_endpoint(receiver)
    delivery = delivery_for(emit(version), endpoint)
    deliver(delivery.pk)
    url = f"/api/v1/webhooks/deliveries/{delivery.pk}/replay"
    assert client_as("auditor").post(url).status_code == 403
    assert client_as("monitor").post(url).status_code == 403
    response = client_as("admin").post(url)
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["id"], body["status"], body["webhook_id"]) == (delivery.pk, "pending", delivery.event.msg_id)
    assert [a["status_code"] for a in body["attempt_log"]] == [500]
    del receiver.replies["/hook"]
    assert deliver(delivery.pk) == "delivered"
    # a cancelled delivery of a disabled endpoint is not replayed until the endpoint is enabled again
    receiver.replies["/gone"] = Reply(410)
    gone, _ = make_endpoint(receiver, "/gone")
    cancelled = delivery_for(emit(version), gone)
    deliver(cancelled.pk)
    conflict = client_as("admin").post(f"/api/v1/webhooks/deliveries/{cancelled.pk}/replay")
    assert conflict.status_code == 409
    assert conflict.json()["code"] == "conflict"
    assert client_as("admin").post("/api/v1/webhooks/deliveries/999999/replay").status_code == 404


def test_email_goes_to_the_configured_recipients(receiver: LoopbackReceiver, version: Any, settings: Any) -> None:
    settings.ALERT_EMAIL_TO = ["fairness-team@example.com", "oncall@example.com"]
    event = emit(version, attribute="gender", group="Female", metric="DIR")
    delivery = Delivery.objects.get(event=event, channel=Delivery.Channel.EMAIL)
    assert delivery.recipients == ["fairness-team@example.com", "oncall@example.com"]
    assert deliver(delivery.pk) == "delivered"
    (message,) = mail.outbox
    assert message.to == ["fairness-team@example.com", "oncall@example.com"]
    assert message.subject.startswith("[FairLens] FairLens alert.opened: model=loan_model")
    assert f"FairLens event alert.opened ({event.msg_id})" in message.body
    assert "severity: high" in message.body
    delivery.refresh_from_db()
    assert (delivery.last_status_code, delivery.attempts) == (250, 1)
    # events outside ALERT_EMAIL_EVENTS are not mailed
    quiet = emit(version, "alert.acknowledged")
    assert not Delivery.objects.filter(event=quiet, channel=Delivery.Channel.EMAIL).exists()


def test_a_policy_limits_the_channels(receiver: LoopbackReceiver, version: Any, settings: Any) -> None:
    settings.ALERT_EMAIL_TO = ["fairness-team@example.com"]
    make_endpoint(receiver)
    make_endpoint(receiver, "/slack", format=WebhookEndpoint.Format.SLACK)
    policy_create(
        model=version.model, protected_attributes=["gender"], privileged={"gender": "Male"}, channels=["slack"]
    )
    event = emit(version)
    (only,) = Delivery.objects.filter(event=event)
    assert only.endpoint.format == "slack"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_concurrent_senders_send_a_delivery_once(receiver: LoopbackReceiver) -> None:
    # given a due delivery, committed, and a receiver slow enough for the two senders to overlap
    version = loan_version()
    endpoint, _ = make_endpoint(receiver)
    delivery = delivery_for(emit(version), endpoint)
    receiver.delay = 0.5
    start = threading.Barrier(2)
    outcomes: list[str | None] = []

    def sender() -> None:
        try:
            start.wait()
            outcomes.append(deliver(delivery.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    # then one sent it and the other found it claimed
    assert sorted(outcomes, key=str) == [None, "delivered"]
    assert len(receiver.received) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 1)
    assert DeliveryAttempt.objects.filter(delivery=delivery).count() == 1
