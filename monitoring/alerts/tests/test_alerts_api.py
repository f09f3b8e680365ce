"""/api/v1/checks/, /api/v1/alerts/ and /api/v1/webhooks/: reads, filters, roles, writes, and bad input that must
be a 4xx JSON error in the standard shape, never a 500."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from compliance.models import AuditEntry
from conftest import totp_code
from monitoring.alerts import services
from monitoring.alerts.delivery import deliver
from monitoring.alerts.models import Alert, Delivery, WebhookEndpoint
from monitoring.checks.tests.builders import BASE, check_hour, ingest_loans, loan_version, window_end
from monitoring.models import FairnessCheck
from registry.services import current_policy

pytestmark = pytest.mark.django_db

ALLOWED_PORT = 18080  # allowlisted for the tests; nothing needs to listen there to create an endpoint


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["status"] == "error"
    assert isinstance(body["code"], str)
    assert isinstance(body["message"], str)
    assert body["message"]
    assert isinstance(body["details"], dict)
    if code is not None:
        assert body["code"] == code, body
    return body


def send(client: APIClient, method: str, url: str, body: Any = None) -> Any:
    if body is None:
        return getattr(client, method)(url)
    return getattr(client, method)(url, data=json.dumps(body), content_type="application/json")


@pytest.fixture(autouse=True)
def _loopback_webhooks(settings: Any) -> None:
    settings.WEBHOOK_ALLOW_INSECURE_HTTP = True
    settings.WEBHOOK_ALLOWED_PRIVATE_TARGETS = [f"127.0.0.1:{ALLOWED_PORT}"]
    settings.WEBHOOK_RETRY_JITTER = 0.0
    settings.ALERT_EMAIL_TO = []


@pytest.fixture
def version(ml_model: Any) -> Any:
    """The loan model's version (registered after the ``ml_model`` fixture made the model)."""
    return loan_version()


@pytest.fixture
def checks(version: Any) -> list[FairnessCheck]:
    """A passing check (hour 0) and an alerting one (hour 2) of loan_model v1, plus one of another model.

    The alerting check's evidence covers the two drifted hours closed since the passing check (1 and 2)."""
    ingest_loans(version, hour=0, n=1000, drift=0.0, seed=31)
    ingest_loans(version, hour=1, n=2000, drift=0.8, seed=32)
    ingest_loans(version, hour=2, n=2000, drift=0.8, seed=34)
    other = loan_version(name="other_model")
    ingest_loans(other, hour=0, n=300, drift=0.0, seed=33)
    return [check_hour(version, 0), check_hour(version, 2), check_hour(other, 0)]


@pytest.fixture
def alert(checks: list[FairnessCheck]) -> Alert:
    return Alert.objects.get()


# --- Checks -----------------------------------------------------------------------------------------------------


def test_checks_list_filter_and_detail(client_as: Callable[[str], APIClient], checks: list[FairnessCheck]) -> None:
    passing, alerting, other = checks
    monitor = client_as("monitor")
    body = monitor.get("/api/v1/checks/").json()
    assert body["count"] == 3
    assert [c["id"] for c in body["results"]] == [alerting.pk, other.pk, passing.pk]  # newest window first
    first = body["results"][0]
    assert (first["model"], first["version"], first["policy_version"]) == ("loan_model", "1", 1)
    assert (first["status"], first["status_summary"], first["trigger"]) == ("completed", "alert", "schedule")
    assert first["inputs_sha256"] == alerting.inputs_sha256
    assert first["n_predictions"] == 2000
    # Pages carry summaries: the full result is at the check's own URL.
    assert "result" not in first
    assert first["url"].endswith(f"/api/v1/checks/{alerting.pk}/")
    assert monitor.get(first["url"]).json()["result"] == alerting.result

    def ids(query: str) -> list[int]:
        return [c["id"] for c in monitor.get(f"/api/v1/checks/?{query}").json()["results"]]

    assert ids("model=loan_model") == [alerting.pk, passing.pk]
    assert ids("model=loan_model&version=1&status=pass") == [passing.pk]
    assert ids("status=alert") == [alerting.pk]
    assert ids("model=nobody") == []
    assert ids("limit=1&offset=1") == [other.pk]
    detail = client_as("auditor").get(f"/api/v1/checks/{alerting.pk}/")
    assert detail.status_code == 200
    data = detail.json()
    assert data["result"]["violations"][0]["metric"] == "DIR"
    assert data["window_end"].startswith(window_end(2).strftime("%Y-%m-%dT%H:%M"))
    assert_error(monitor.get("/api/v1/checks/999999/"), 404, "not_found")
    assert_error(client_as("anonymous").get("/api/v1/checks/"), 401)
    assert_error(client_as("api_key").get("/api/v1/checks/"), 403)


def test_a_monitor_runs_a_manual_check(client_as: Callable[[str], APIClient], version: Any) -> None:
    ingest_loans(version, hour=0, n=1000, drift=0.0, seed=34)
    end = window_end(0).isoformat()
    body = {"model": "loan_model", "version": "1", "window_end": end}
    response = send(client_as("monitor"), "post", "/api/v1/checks/", body)
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["trigger"], data["status"], data["status_summary"]) == ("manual", "completed", "pass")
    assert data["n_predictions"] == 1000
    # the same window again is the same check
    again = send(client_as("admin"), "post", "/api/v1/checks/", body)
    assert again.status_code == 201
    assert again.json()["id"] == data["id"]
    assert FairnessCheck.objects.count() == 1
    # without window_end the window ends now
    now_check = send(client_as("monitor"), "post", "/api/v1/checks/", {"model": "loan_model", "version": "1"})
    assert now_check.status_code == 201
    assert now_check.json()["id"] != data["id"]
    # an auditor reads, does not run
    assert_error(send(client_as("auditor"), "post", "/api/v1/checks/", body), 403)


def test_a_manual_check_of_a_window_someone_is_running_is_a_conflict(
    client_as: Callable[[str], APIClient], version: Any
) -> None:
    FairnessCheck.objects.create(
        model_version=version,
        policy=current_policy(version.model),
        window_start=BASE,
        window_end=window_end(0),
        trigger="schedule",
        status=FairnessCheck.Status.RUNNING,
        claim_token="task:elsewhere",
        claimed_at=timezone.now(),
    )
    body = {"model": "loan_model", "version": "1", "window_end": window_end(0).isoformat()}
    assert_error(send(client_as("monitor"), "post", "/api/v1/checks/", body), 409, "check_running")


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({}, 400, "invalid", "model"),
        ({"model": "loan_model"}, 400, "invalid", "version"),
        ({"model": "loan_model", "version": "1", "window_end": "yesterday"}, 400, "invalid", "window_end"),
        ({"model": "loan_model", "version": "1", "window_end": "0001-01-01T00:00:00Z"}, 400, "invalid", "window_end"),
        ({"model": "loan_model", "version": "1", "window_end": "9999-12-31T23:59:59Z"}, 400, "invalid", "window_end"),
        ({"model": "x" * 101, "version": "1"}, 400, "invalid", "model"),
        # refused by the strict JSON parser before the serializer sees it
        ({"model": "loan\x00model", "version": "1"}, 400, "invalid_value", "model"),
        ({"model": ["loan_model"], "version": "1"}, 400, "invalid", "model"),
        ({"model": "unknown", "version": "1"}, 404, "not_found", None),
        ({"model": "loan_model", "version": "7"}, 404, "not_found", None),
        ([], 400, "invalid", None),
    ],
)
def test_bad_manual_check_requests_are_4xx(
    client_as: Callable[[str], APIClient], version: Any, body: Any, status: int, code: str, field: str | None
) -> None:
    error = assert_error(send(client_as("monitor"), "post", "/api/v1/checks/", body), status, code)
    if field:
        assert field in error["details"]
    assert not FairnessCheck.objects.exists()


def test_a_malformed_json_body_is_a_parse_error(client_as: Callable[[str], APIClient], version: Any) -> None:
    response = client_as("monitor").post("/api/v1/checks/", data="{not json", content_type="application/json")
    assert_error(response, 400, "parse_error")


# --- Alerts -----------------------------------------------------------------------------------------------------


def test_alerts_list_filter_and_detail(client_as: Callable[[str], APIClient], alert: Alert) -> None:
    for principal in ("monitor", "auditor", "admin"):
        body = client_as(principal).get("/api/v1/alerts/").json()
        assert [a["id"] for a in body["results"]] == [alert.pk]
    item = client_as("auditor").get("/api/v1/alerts/").json()["results"][0]
    assert (item["model"], item["version"], item["attribute"], item["group"]) == ("loan_model", "1", "gender", "Female")
    assert (item["metric"], item["status"], item["severity"]) == ("DIR", "open", alert.severity)
    assert item["has_explanation"] is True
    assert "encrypted_explanation" not in item
    assert "explanation" not in item
    monitor = client_as("monitor")

    def ids(query: str) -> list[int]:
        return [a["id"] for a in monitor.get(f"/api/v1/alerts/?{query}").json()["results"]]

    assert ids(f"status=open&severity={alert.severity}&metric=DIR&model=loan_model") == [alert.pk]
    assert ids("status=resolved") == []
    assert ids("severity=medium") == []  # drift 0.8 in 2,000 rows is well beyond medium
    assert ids("model=other_model") == []
    detail = monitor.get(f"/api/v1/alerts/{alert.pk}/")
    assert detail.status_code == 200
    assert detail.json()["first_check"] == alert.first_check_id
    assert_error(monitor.get("/api/v1/alerts/999999/"), 404, "not_found")
    assert_error(client_as("anonymous").get(f"/api/v1/alerts/{alert.pk}/"), 401)


def test_acknowledge_and_resolve_over_the_api(client_as: Callable[[str], APIClient], alert: Alert) -> None:
    url = f"/api/v1/alerts/{alert.pk}"
    assert_error(send(client_as("auditor"), "post", f"{url}/acknowledge", {"note": "mine"}), 403)
    assert_error(send(client_as("monitor"), "post", f"{url}/acknowledge", {"note": "x" * 2001}), 400, "invalid")
    assert_error(send(client_as("monitor"), "post", f"{url}/acknowledge", {"note": ["a"]}), 400, "invalid")
    acknowledged = send(client_as("monitor"), "post", f"{url}/acknowledge", {"note": "paging the model owner"})
    assert acknowledged.json()["status"] == "acknowledged"
    assert_error(send(client_as("monitor"), "post", f"{url}/acknowledge", {"note": "again"}), 409, "conflict")
    assert_error(send(client_as("auditor"), "post", f"{url}/resolve", {"note": "mine"}), 403)
    resolved = send(client_as("admin"), "post", f"{url}/resolve", {"note": "model rolled back"})
    assert (resolved.json()["status"], resolved.json()["resolution"]) == ("resolved", "manual")
    assert_error(send(client_as("admin"), "post", f"{url}/resolve", {"note": "again"}), 409, "conflict")
    assert_error(send(client_as("admin"), "post", "/api/v1/alerts/999999/resolve", {"note": "who"}), 404)


def test_only_an_auditor_with_a_reason_decrypts_an_alert(
    client_as: Callable[[str], APIClient], alert: Alert, auditor_user: Any
) -> None:
    url = f"/api/v1/alerts/{alert.pk}/decrypt"
    assert_error(send(client_as("monitor"), "post", url, {"reason": "I would like to know"}), 403)
    assert_error(send(client_as("admin"), "post", url, {"reason": "I would like to know"}), 403)
    assert_error(send(client_as("auditor"), "post", url, {}), 400, "invalid")
    assert_error(send(client_as("auditor"), "post", url, {"reason": "why"}), 400, "reason_required")
    assert not AuditEntry.objects.filter(action="data.decrypt").exists()
    response = send(
        client_as("auditor"), "post", url, {"reason": "fairness audit ticket FA-12", "otp": totp_code(auditor_user)}
    )
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["alert_id"] == alert.pk
    assert data["explanation"].startswith(f"DIR = {alert.value:.2f} (<0.8). Potential bias — likely causes:")
    entry = AuditEntry.objects.get(action="data.decrypt")
    assert (entry.object_type, entry.object_id, entry.actor) == ("alerts.alert", str(alert.pk), auditor_user.username)
    assert entry.payload["reason"] == "fairness audit ticket FA-12"
    assert_error(send(client_as("auditor"), "post", "/api/v1/alerts/999999/decrypt", {"reason": "looking"}), 404)


# --- Webhook endpoints ------------------------------------------------------------------------------------------

ENDPOINTS = "/api/v1/webhooks/endpoints/"
LOOPBACK_URL = f"http://127.0.0.1:{ALLOWED_PORT}/hooks/fairlens"


def create(client: APIClient, **fields: Any) -> Any:
    return send(client, "post", ENDPOINTS, {"name": "ops", "url": LOOPBACK_URL, **fields})


def test_an_admin_creates_an_endpoint_and_sees_its_secret_once(
    client_as: Callable[[str], APIClient], version: Any
) -> None:
    admin = client_as("admin")
    response = create(admin, event_types=["alert.opened", "alert.resolved"], model="loan_model")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["secret"].startswith("whsec_")
    assert (data["name"], data["url"], data["format"], data["model"]) == ("ops", LOOPBACK_URL, "standard", "loan_model")
    assert data["event_types"] == ["alert.opened", "alert.resolved"]
    assert data["active"] is True
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.encrypted_secret
    assert data["secret"] not in endpoint.encrypted_secret
    # later reads never show the secret, and the audit log does not hold it
    listed = client_as("auditor").get(ENDPOINTS).json()
    assert [e["name"] for e in listed] == ["ops"]
    detail = admin.get(f"{ENDPOINTS}{endpoint.pk}/").json()
    for shown in (listed[0], detail):
        assert "secret" not in shown
        assert "encrypted_secret" not in shown
    assert data["secret"] not in json.dumps(list(AuditEntry.objects.values_list("payload", flat=True)))
    assert AuditEntry.objects.filter(action="webhook_endpoint.create", object_id=str(endpoint.pk)).exists()
    # roles: monitors neither read nor create; auditors read only
    assert_error(client_as("monitor").get(ENDPOINTS), 403)
    assert_error(create(client_as("auditor"), name="audit"), 403)
    assert_error(create(client_as("monitor"), name="mon"), 403)
    # a second endpoint with the same name is a conflict
    assert_error(create(admin), 409, "conflict")
    assert WebhookEndpoint.objects.count() == 1


@pytest.mark.parametrize(
    ("url", "code", "reason"),
    [
        ("http://169.254.169.254/", "url_not_allowed", "port_not_allowed"),  # port 80 is refused before the address
        ("https://169.254.169.254/latest/meta-data/", "url_not_allowed", "address_not_public"),
        ("https://10.0.0.1/hook", "url_not_allowed", "address_not_public"),
        ("https://127.0.0.1/hook", "url_not_allowed", "address_not_public"),
        ("https://[::1]/hook", "url_not_allowed", "address_not_public"),
        ("https://[::ffff:169.254.169.254]/", "url_not_allowed", "address_not_public"),
        (f"http://127.0.0.1:{ALLOWED_PORT + 1}/hook", "url_not_allowed", "port_not_allowed"),
        ("https://user@127.0.0.1/hook", "url_not_allowed", "userinfo_not_allowed"),
        ("https://127.0.0.1:99999/hook", "url_not_allowed", "invalid_port"),
        ("ftp://127.0.0.1/hook", "url_not_allowed", "scheme_not_allowed"),
        ("https://2130706433/hook", "invalid", None),  # not a URL to the serializer already
        ("javascript:alert(1)", "invalid", None),
    ],
)
def test_hostile_endpoint_urls_are_refused(
    client_as: Callable[[str], APIClient], url: str, code: str, reason: str | None
) -> None:
    error = assert_error(create(client_as("admin"), url=url), 400, code)
    if reason is not None:
        assert error["details"] == {"url": [reason]}
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    "fields",
    [
        {"name": "has space"},
        {"name": ""},
        {"name": "x" * 101},
        {"url": "not a url"},
        {"url": None},
        {"url": "https://" + "a" * 2000 + ".com/"},
        {"format": "teams"},
        {"event_types": ["alert.exploded"]},
        {"event_types": "alert.opened"},
        {"model": "nobody"},
    ],
)
def test_bad_endpoint_input_is_4xx(client_as: Callable[[str], APIClient], fields: dict[str, Any]) -> None:
    response = create(client_as("admin"), **fields)
    assert 400 <= response.status_code < 500
    assert_error(response, response.status_code)
    assert not WebhookEndpoint.objects.exists()


def test_an_admin_updates_an_endpoint(client_as: Callable[[str], APIClient]) -> None:
    admin = client_as("admin")
    endpoint_id = create(admin).json()["id"]
    url = f"{ENDPOINTS}{endpoint_id}/"
    response = send(admin, "patch", url, {"format": "slack", "event_types": ["alert.opened"]})
    assert response.status_code == 200, response.content
    assert (response.json()["format"], response.json()["event_types"]) == ("slack", ["alert.opened"])
    new_url = f"http://127.0.0.1:{ALLOWED_PORT}/other"
    assert send(admin, "patch", url, {"url": new_url}).json()["url"] == new_url
    # a hostile URL is refused and the stored one kept
    assert_error(send(admin, "patch", url, {"url": "http://169.254.169.254/"}), 400, "url_not_allowed")
    assert WebhookEndpoint.objects.get().url == new_url
    # switched off (as a 410 would) and on again: the reason is cleared
    services.disable_endpoint(endpoint_id, "receiver answered 410 Gone")
    enabled = send(admin, "patch", url, {"active": True}).json()
    assert (enabled["active"], enabled["disabled_reason"], enabled["disabled_at"]) == (True, "", None)
    assert AuditEntry.objects.filter(action="webhook_endpoint.update", object_id=str(endpoint_id)).count() == 3
    # bad input, other roles, unknown endpoints
    assert_error(send(admin, "patch", url, {"active": "maybe"}), 400, "invalid")
    assert_error(send(admin, "patch", url, {"event_types": ["nope"]}), 400, "invalid")
    assert_error(send(admin, "patch", url, {"url": None}), 400, "invalid")
    assert_error(send(client_as("auditor"), "patch", url, {"active": False}), 403)
    assert_error(send(admin, "patch", f"{ENDPOINTS}999999/", {"active": False}), 404, "not_found")
    assert_error(admin.get(f"{ENDPOINTS}999999/"), 404, "not_found")


def test_an_admin_rotates_an_endpoint_secret(client_as: Callable[[str], APIClient]) -> None:
    admin = client_as("admin")
    created = create(admin).json()
    url = f"{ENDPOINTS}{created['id']}/rotate-secret"
    assert_error(client_as("auditor").post(url), 403)
    response = admin.post(url)
    assert response.status_code == 200, response.content
    rotated = response.json()
    assert rotated["id"] == created["id"]
    assert rotated["secret"].startswith("whsec_")
    assert rotated["secret"] != created["secret"]
    entry = AuditEntry.objects.get(action="webhook_endpoint.rotate_secret")
    assert rotated["secret"] not in json.dumps(entry.payload)
    assert_error(admin.post(f"{ENDPOINTS}999999/rotate-secret"), 404, "not_found")


# --- Deliveries -------------------------------------------------------------------------------------------------


def closed_port() -> int:
    """A loopback port nobody listens on (so attempts fail with a connection error)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_deliveries_list_detail_and_replay(client_as: Callable[[str], APIClient], alert: Alert, settings: Any) -> None:
    # given an endpoint nobody answers on, and an event for it whose one allowed attempt failed
    port = closed_port()
    settings.WEBHOOK_ALLOWED_PRIVATE_TARGETS = [f"127.0.0.1:{port}"]
    settings.WEBHOOK_RETRY_SCHEDULE = [0.0]
    endpoint, _ = services.endpoint_create(created_by=None, name="silent", url=f"http://127.0.0.1:{port}/hook")
    event = services.emit_event("alert.resolved", model=alert.model, data={"alert_id": alert.pk})
    delivery = Delivery.objects.get(event=event, endpoint=endpoint)
    assert deliver(delivery.pk) == "failed"
    pending = Delivery.objects.get(event=services.emit_event("alert.opened", model=alert.model, data={}))
    # when / then: the list shows each delivery with its attempts
    auditor = client_as("auditor")
    body = auditor.get("/api/v1/webhooks/deliveries/").json()
    assert {d["id"] for d in body["results"]} == {delivery.pk, pending.pk}
    shown = next(d for d in body["results"] if d["id"] == delivery.pk)
    assert (shown["event_type"], shown["webhook_id"], shown["endpoint"]) == ("alert.resolved", event.msg_id, "silent")
    assert (shown["status"], shown["attempts"], shown["channel"]) == ("failed", 1, "webhook")
    assert shown["payload"] == event.payload
    (attempt,) = shown["attempt_log"]
    assert (attempt["number"], attempt["status_code"], attempt["error_class"]) == (1, None, "connection")
    assert attempt["latency_ms"] is not None

    def ids(query: str) -> set[int]:
        return {d["id"] for d in auditor.get(f"/api/v1/webhooks/deliveries/?{query}").json()["results"]}

    assert ids("status=failed") == {delivery.pk}
    assert ids("status=pending&endpoint=silent") == {pending.pk}
    assert ids("event_type=alert.resolved") == {delivery.pk}
    assert ids("endpoint=nobody") == set()
    detail = client_as("admin").get(f"/api/v1/webhooks/deliveries/{delivery.pk}/")
    assert detail.status_code == 200
    assert detail.json()["attempt_log"] == shown["attempt_log"]
    assert_error(client_as("monitor").get("/api/v1/webhooks/deliveries/"), 403)
    assert_error(auditor.get("/api/v1/webhooks/deliveries/999999/"), 404, "not_found")
    # replay: admins only, and only failed or cancelled deliveries
    assert_error(auditor.post(f"/api/v1/webhooks/deliveries/{delivery.pk}/replay"), 403)
    assert_error(client_as("admin").post(f"/api/v1/webhooks/deliveries/{pending.pk}/replay"), 409, "conflict")
    replayed = client_as("admin").post(f"/api/v1/webhooks/deliveries/{delivery.pk}/replay")
    assert replayed.status_code == 200, replayed.content
    assert (replayed.json()["status"], replayed.json()["webhook_id"]) == ("pending", event.msg_id)
    assert AuditEntry.objects.filter(action="delivery.replay", object_id=str(delivery.pk)).exists()


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/checks/?limit=abc&offset=-3",
        "/api/v1/checks/?ordering=nonexistent",
        "/api/v1/checks/?ordering=-model",
        "/api/v1/alerts/?status=weird&severity=&metric=%00",
        "/api/v1/checks/?model=loan%00model",
        "/api/v1/alerts/?ordering=-severity",
        "/api/v1/webhooks/deliveries/?status=&endpoint=%00&limit=100000",
        "/api/v1/checks/99999999999999999999/",
        "/api/v1/alerts/99999999999999999999/",
        "/api/v1/webhooks/deliveries/99999999999999999999/",
        "/api/v1/checks/abc/",
        "/api/v1/alerts/1",
    ],
)
def test_odd_queries_never_fail_with_a_server_error(
    client_as: Callable[[str], APIClient], checks: list[FairnessCheck], url: str
) -> None:
    response = client_as("admin").get(url)
    assert response.status_code < 500, response.content
    assert response["Content-Type"].startswith("application/json")
    if response.status_code >= 400:
        assert_error(response, response.status_code)
