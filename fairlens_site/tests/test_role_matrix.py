"""Role x endpoint matrix: every API endpoint, every principal, the expected status.

The table is the access policy in executable form. ``test_every_endpoint_is_in_the_matrix`` fails when an
endpoint is added without a row, so the matrix grows with the API.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from rest_framework.test import APIClient

from fairlens_site.startup import endpoints

pytestmark = pytest.mark.django_db

PRINCIPALS = ("anonymous", "monitor", "auditor", "admin", "api_key")


@dataclass(frozen=True)
class Row:
    method: str
    path: str  # {pk}, {prefix}, {name}, {version}, {record_id}, {digest} come from the fixture `targets`
    expected: dict[str, int]
    body: Callable[[str], dict[str, Any]] | None = None
    query: str = ""


def _statuses(anonymous: int, monitor: int, auditor: int, admin: int, api_key: int) -> dict[str, int]:
    return dict(zip(PRINCIPALS, (anonymous, monitor, auditor, admin, api_key), strict=True))


OPEN = _statuses(200, 200, 200, 200, 200)
ANY_ROLE = _statuses(401, 200, 200, 200, 200)
ADMIN_AUDITOR_READ = _statuses(401, 403, 200, 200, 403)
ADMIN_ONLY = _statuses(401, 403, 403, 200, 403)
ADMIN_CREATE = _statuses(401, 403, 403, 201, 403)
READERS = _statuses(401, 200, 200, 200, 403)
INGEST_CREATE = _statuses(401, 201, 403, 201, 201)
INGEST_OK = _statuses(401, 200, 403, 200, 200)
MONITOR_ADMIN = _statuses(401, 200, 403, 200, 403)
AUDITOR_ONLY = _statuses(401, 403, 200, 403, 403)
OPERATE_CREATE = _statuses(401, 201, 403, 201, 403)
GENDER_POLICY = {"protected_attributes": ["gender"], "privileged": {"gender": "Male"}}


def _code_of(who: str) -> str:
    """A fresh authenticator code of the enrolled personas (decryption and recovery codes take one)."""
    from accounts.models import User
    from conftest import totp_code

    username = {"auditor": "bob-auditor", "admin": "alice-admin"}.get(who)
    return totp_code(User.objects.get(username=username)) if username else "000000"


def _prediction(who: str, index: int = 0) -> dict[str, Any]:
    return {
        "id": f"{who}-{index}",
        "timestamp": "2026-03-02T09:00:00Z",
        "attributes": {"gender": "Female"},
        "y_pred": 1,
    }


MATRIX = [
    Row("GET", "/", OPEN),
    Row("GET", "/api/health", OPEN),
    # Session endpoints ignore Authorization headers: everyone gets the same answer for the same body.
    Row(
        "POST",
        "/api/login",
        _statuses(401, 401, 401, 401, 401),
        body=lambda who: {"username": "nobody", "password": "wrong"},
    ),
    Row("POST", "/api/refresh", _statuses(401, 401, 401, 401, 401), body=lambda who: {"refresh_token": "x.y.z"}),
    Row("POST", "/api/logout", _statuses(401, 401, 401, 401, 401), body=lambda who: {"refresh_token": "x.y.z"}),
    # Docs are private unless FAIRLENS_API_DOCS_PUBLIC (off in tests, as in production).
    Row("GET", "/api/schema/", ANY_ROLE),
    Row("GET", "/api/docs/", ANY_ROLE),
    Row("GET", "/api/v1/accounts/me/", ANY_ROLE),
    Row("GET", "/api/v1/accounts/users/", ADMIN_AUDITOR_READ),
    Row(
        "POST",
        "/api/v1/accounts/users/",
        ADMIN_CREATE,
        body=lambda who: {"username": f"new-{who}", "email": f"new-{who}@example.com", "role": "monitor"},
    ),
    Row("GET", "/api/v1/accounts/users/{pk}/", ADMIN_AUDITOR_READ),
    Row("PATCH", "/api/v1/accounts/users/{pk}/", ADMIN_ONLY, body=lambda who: {"email": f"{who}@example.com"}),
    # Nobody sets another user's password: admins start a reset the user completes from an e-mailed link.
    Row("POST", "/api/v1/accounts/users/{pk}/reset/", _statuses(401, 403, 403, 202, 403)),
    # Admins and auditors may ask; the target has no role waiting, so both get 409 (access, nothing to approve).
    Row("POST", "/api/v1/accounts/users/{pk}/approve/", _statuses(401, 403, 409, 409, 403)),
    Row(
        "POST",
        "/api/v1/accounts/password-reset/complete",
        _statuses(400, 400, 400, 400, 400),
        body=lambda who: {"token": "not-a-token", "password": "a-Long-enough-passphrase-7"},
    ),
    # Second factor of the caller. The auditor and admin personas are enrolled; the monitor is not.
    Row("GET", "/api/v1/accounts/mfa/", _statuses(401, 200, 200, 200, 403)),
    Row("POST", "/api/v1/accounts/mfa/totp/", _statuses(401, 201, 409, 409, 403)),
    Row("POST", "/api/v1/accounts/mfa/totp/confirm", _statuses(401, 409, 409, 409, 403), body=lambda who: {"otp": "1"}),
    Row(
        "POST",
        "/api/v1/accounts/mfa/recovery-codes/",
        _statuses(401, 403, 200, 200, 403),
        body=lambda who: {"otp": _code_of(who)},
    ),
    Row("GET", "/api/v1/accounts/api-keys/", ADMIN_AUDITOR_READ),
    Row("POST", "/api/v1/accounts/api-keys/", ADMIN_CREATE, body=lambda who: {"model": "loan_model", "name": who}),
    Row("GET", "/api/v1/accounts/api-keys/{prefix}/", ADMIN_AUDITOR_READ),
    Row("POST", "/api/v1/accounts/api-keys/{prefix}/revoke/", ADMIN_ONLY),
    # Registry.
    Row("GET", "/api/models", READERS),
    Row(
        "POST",
        "/api/models/register",
        ADMIN_CREATE,
        body=lambda who: {"name": f"reg-{who}", "version": "1", "policy": GENDER_POLICY},
    ),
    Row("GET", "/api/v1/models/", READERS),
    Row(
        "POST",
        "/api/v1/models/",
        ADMIN_CREATE,
        body=lambda who: {"name": f"new-{who}", "version": "1", "policy": GENDER_POLICY},
    ),
    Row("GET", "/api/v1/models/{name}/", READERS),
    Row("GET", "/api/v1/models/{name}/versions/", READERS),
    Row("POST", "/api/v1/models/{name}/versions/", ADMIN_CREATE, body=lambda who: {"version": f"v-{who}"}),
    Row("GET", "/api/v1/models/{name}/versions/{version}/", READERS),
    Row("PATCH", "/api/v1/models/{name}/versions/{version}/", ADMIN_ONLY, body=lambda who: {"stage": "production"}),
    Row("GET", "/api/v1/models/{name}/policies/", READERS),
    Row("POST", "/api/v1/models/{name}/policies/", ADMIN_CREATE, body=lambda who: GENDER_POLICY),
    # Ingestion (model clients only for their own model; the matrix key is for loan_model).
    Row(
        "POST",
        "/api/v1/models/{name}/versions/{version}/predictions",
        INGEST_CREATE,
        body=lambda who: {"predictions": [_prediction(who)]},
    ),
    Row("GET", "/api/v1/models/{name}/versions/{version}/predictions", READERS),
    Row(
        "POST",
        "/api/v1/models/{name}/versions/{version}/labels",
        INGEST_OK,
        body=lambda who: {"labels": [{"id": "known-0", "y_true": 1}]},
    ),
    Row(
        "POST",
        "/api/submit_predictions",
        INGEST_OK,
        body=lambda who: {"model_name": "loan_model", "version": "1", "predictions": [_prediction(who, 1)]},
    ),
    # The audit report is evidence for an outside review: auditors only, as on the report pages.
    Row(
        "GET",
        "/api/v1/models/{name}/versions/{version}/audit-report",
        AUDITOR_ONLY,
        query="start=2026-03-01&end=2026-03-31",
    ),
    # The LL144 bias audit's bundle, as its page's download: auditors (409 here: the matrix's model sets no
    # bias-audit attributes, which is checked after the role).
    Row(
        "GET",
        "/api/v1/models/{name}/versions/{version}/bias-audit",
        _statuses(401, 403, 409, 403, 403),
        query="start=2026-03-01&end=2026-03-31",
    ),
    Row("POST", "/api/evaluate_model", MONITOR_ADMIN, body=lambda who: {"n_samples": 50, "seed": 1}),
    # Compliance: only auditors read, verify and decrypt; public keys, checkpoints and anchors are public.
    Row("GET", "/api/audit_history", AUDITOR_ONLY),
    Row("GET", "/api/verify_alert/{record_id}", AUDITOR_ONLY),
    Row("GET", "/api/get_anchor/{digest}", OPEN),
    Row("POST", "/api/admin/reset_key", ADMIN_ONLY),
    Row("POST", "/api/admin/reset_key", ADMIN_ONLY, query="rewrap_only=true"),
    Row("GET", "/api/v1/compliance/entries/", AUDITOR_ONLY),
    Row("GET", "/api/v1/compliance/verify", AUDITOR_ONLY),
    Row("GET", "/api/v1/compliance/export", AUDITOR_ONLY),
    Row("GET", "/api/v1/compliance/checkpoint", OPEN),
    Row("GET", "/api/v1/compliance/public-key", OPEN),
    Row("GET", "/api/v1/compliance/proofs/inclusion", AUDITOR_ONLY, query="seq=1"),
    Row("GET", "/api/v1/compliance/proofs/consistency", AUDITOR_ONLY, query="old_size=1"),
    Row(
        "POST",
        "/api/v1/compliance/records/{record_id}/decrypt",
        AUDITOR_ONLY,
        body=lambda who: {"reason": f"matrix check by {who}", "otp": _code_of(who)},
    ),
    # Monitoring: readers see checks, trends and alerts; monitors and admins act on them.
    Row("GET", "/api/monitor_fairness", READERS, query="n_samples=60"),
    Row("GET", "/api/fairness_trend", READERS),
    Row("GET", "/api/pre_alert", READERS),
    Row("GET", "/api/predict_fairness_drift", READERS),
    Row("GET", "/api/v1/checks/", READERS),
    Row("POST", "/api/v1/checks/", OPERATE_CREATE, body=lambda who: {"model": "loan_model", "version": "1"}),
    Row("GET", "/api/v1/checks/{check_id}/", READERS),
    Row("GET", "/api/v1/alerts/", READERS),
    Row("GET", "/api/v1/alerts/{alert_id}/", READERS),
    Row("POST", "/api/v1/alerts/{alert_id}/acknowledge", MONITOR_ADMIN, body=lambda who: {"note": f"{who} is on it"}),
    Row("POST", "/api/v1/alerts/{alert_id}/resolve", MONITOR_ADMIN, body=lambda who: {"note": f"{who} fixed it"}),
    Row(
        "POST",
        "/api/v1/alerts/{alert_id}/decrypt",
        AUDITOR_ONLY,
        body=lambda who: {"reason": f"matrix check by {who}", "otp": _code_of(who)},
    ),
    # Webhooks: admins manage endpoints and replay deliveries; auditors read them.
    Row("GET", "/api/v1/webhooks/endpoints/", ADMIN_AUDITOR_READ),
    Row(
        "POST",
        "/api/v1/webhooks/endpoints/",
        ADMIN_CREATE,
        body=lambda who: {"name": f"hook-{who}", "url": "https://93.184.215.14/hook"},
    ),
    Row("GET", "/api/v1/webhooks/endpoints/{endpoint_id}/", ADMIN_AUDITOR_READ),
    Row(
        "PATCH",
        "/api/v1/webhooks/endpoints/{endpoint_id}/",
        ADMIN_ONLY,
        body=lambda who: {"event_types": ["alert.opened"]},
    ),
    Row("POST", "/api/v1/webhooks/endpoints/{endpoint_id}/rotate-secret", ADMIN_ONLY),
    Row("GET", "/api/v1/webhooks/deliveries/", ADMIN_AUDITOR_READ),
    Row("GET", "/api/v1/webhooks/deliveries/{delivery_id}/", ADMIN_AUDITOR_READ),
    Row("POST", "/api/v1/webhooks/deliveries/{delivery_id}/replay", ADMIN_ONLY),
]


@pytest.fixture
def targets(make_user: Callable[..., Any], ml_model: Any) -> dict[str, str]:
    """Objects the parameterised paths point at, distinct from the principals' own user and key."""
    from accounts.services import model_client_key_create
    from compliance.checkpoints import anchor_checkpoint, create_checkpoint
    from registry.services import register_model

    target_user = make_user("dave-target", "monitor")
    other_key, _ = model_client_key_create(model=ml_model, name="other-client", created_by=None)
    version = register_model(name=ml_model.name, version="1", registered_by=None, policy=GENDER_POLICY)
    record = _audited_record(version)
    monitoring_targets = _monitoring_targets(version)
    checkpoint = create_checkpoint()
    anchor_checkpoint(checkpoint.pk)
    return {
        **monitoring_targets,
        "pk": str(target_user.pk),
        "prefix": other_key.prefix,
        "name": ml_model.name,
        "version": "1",
        "record_id": str(record.record_id),
        "digest": checkpoint.root_hash,
    }


def _monitoring_targets(version: Any) -> dict[str, str]:
    """A completed check with an open alert, a webhook endpoint and a failed delivery to it."""
    from compliance.field_encryption import encrypt_for
    from monitoring.alerts.models import Delivery, OutboxEvent, WebhookEndpoint
    from monitoring.tests.factories import open_encrypted_alert

    alert = open_encrypted_alert(version)
    now = alert.last_seen_at
    endpoint = WebhookEndpoint.objects.create(name="matrix-hook", url="https://93.184.215.14/hook")
    encrypt_for(endpoint, "encrypted_secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    endpoint.save()
    event = OutboxEvent.objects.create(msg_id="msg_matrix", type="alert.opened", payload={"type": "alert.opened"})
    delivery = Delivery.objects.create(
        event=event, channel="webhook", endpoint=endpoint, status="failed", attempts=10, next_attempt_at=now
    )
    return {
        "check_id": str(alert.last_check_id),
        "alert_id": str(alert.pk),
        "endpoint_id": str(endpoint.pk),
        "delivery_id": str(delivery.pk),
    }


def _audited_record(version: Any) -> Any:
    from monitoring.ingestion.summaries import finish_record
    from monitoring.models import IngestionRecord

    record = IngestionRecord.objects.create(model_version=version, source="submit", principal="matrix")
    finish_record(record, summary={"alert": True}, explanation="DIR = 0.50 (<0.8). Potential bias.")
    return record


@pytest.mark.parametrize("principal", PRINCIPALS)
@pytest.mark.parametrize("row", MATRIX, ids=lambda row: f"{row.method} {row.path}")
def test_access_matches_the_policy(
    row: Row, principal: str, client_as: Callable[[str], APIClient], targets: dict[str, str]
) -> None:
    # given
    client = client_as(principal)
    path = row.path.format(**targets) + (f"?{row.query}" if row.query else "")
    # when
    body = row.body(principal) if row.body else None
    response = client.generic(row.method, path, data=_json(body), content_type="application/json")
    # then
    assert response.status_code == row.expected[principal], response.content[:300]
    if response.status_code >= 400:
        assert response.json()["status"] == "error"
        assert isinstance(response.json()["message"], str)
        assert "ErrorDetail(" not in response.json()["message"]


def _json(body: dict[str, Any] | None) -> str:
    import json

    return json.dumps(body) if body is not None else ""


def test_every_endpoint_is_in_the_matrix() -> None:
    covered = {row.path for row in MATRIX}
    served = {path for path in endpoints() if not path.startswith("/api-auth/")}
    assert served - covered == set(), "add these endpoints to MATRIX"


# --- Pages (signed-in session) ------------------------------------------------------------------------------
# The same roles table for the server-rendered pages: anonymous visitors go to the login page (302), a wrong
# role gets the HTML 403 page. Admins get the report's read-only summary but not the evidence bundle, which
# holds the full report.
PAGE_PRINCIPALS = ("anonymous", "monitor", "auditor", "admin")


def _pages(anonymous: int, monitor: int, auditor: int, admin: int) -> dict[str, int]:
    return dict(zip(PAGE_PRINCIPALS, (anonymous, monitor, auditor, admin), strict=True))


PAGE_MATRIX = [
    Row("GET", "/dashboard/", _pages(302, 200, 200, 200)),
    Row("GET", "/dashboard/{name}/", _pages(302, 200, 200, 200)),
    Row("GET", "/reports/", _pages(302, 403, 200, 200)),
    Row("GET", "/reports/{name}/", _pages(302, 403, 200, 200)),
    Row("GET", "/reports/{name}/evidence.json", _pages(302, 403, 200, 403)),
    Row("GET", "/reports/{name}/evidence.csv", _pages(302, 403, 200, 403)),
    Row("GET", "/alerts/", _pages(302, 200, 200, 200)),
    Row("GET", "/alerts/{alert_id}/", _pages(302, 200, 200, 200)),
    Row("GET", "/dashboard/{name}/compare/", _pages(302, 200, 200, 200)),
    Row("GET", "/dashboard/{name}/predictions/", _pages(302, 200, 200, 200)),
    Row("GET", "/onboarding/", _pages(302, 403, 403, 200)),
    Row("GET", "/onboarding/{name}/", _pages(302, 403, 403, 200)),
    Row("GET", "/onboarding/{name}/template.csv", _pages(302, 403, 403, 200)),
    # A form posted without its fields: refused before validation unless the role may use it (then a 400 page).
    Row("POST", "/onboarding/{name}/keys", _pages(302, 403, 403, 400)),
    Row("POST", "/onboarding/{name}/upload", _pages(302, 403, 403, 400)),
    # The bias audit: its page for auditors and admins, its bundle for auditors (the matrix's model sets no
    # bias-audit attributes, so the page says so and the bundle is a 409).
    Row("GET", "/reports/{name}/ll144/", _pages(302, 403, 200, 200)),
    Row("GET", "/reports/{name}/ll144.json", _pages(302, 403, 409, 403)),
    Row("GET", "/reports/{name}/ll144.csv", _pages(302, 403, 409, 403)),
    Row("GET", "/reports/{name}/ll144.pdf", _pages(302, 403, 409, 403)),
    # The EU AI Act documents: the monitoring plan's page for auditors and admins, its downloads and the log
    # report for auditors; the signing certificate for both (it is public information, but no monitor needs it).
    Row("GET", "/reports/{name}/monitoring-plan/", _pages(302, 403, 200, 200)),
    # The Reg B self-test record holds the alerts' notes, like the evidence bundle: auditors only.
    Row("GET", "/reports/{name}/reg-b/", _pages(302, 403, 200, 403)),
    Row("GET", "/reports/{name}/reg-b.json", _pages(302, 403, 200, 403)),
    Row("GET", "/reports/{name}/reg-b.pdf", _pages(302, 403, 200, 403)),
    Row("GET", "/reports/{name}/monitoring-plan.json", _pages(302, 403, 200, 403)),
    Row("GET", "/reports/{name}/monitoring-plan.pdf", _pages(302, 403, 200, 403)),
    Row("GET", "/records/log/", _pages(302, 403, 200, 403)),
    Row("GET", "/records/log.json", _pages(302, 403, 200, 403)),
    Row("GET", "/records/log.pdf", _pages(302, 403, 200, 403)),
    Row("GET", "/records/signing-certificate.pem", _pages(302, 403, 200, 200)),
]


@pytest.mark.parametrize("principal", PAGE_PRINCIPALS)
@pytest.mark.parametrize("row", PAGE_MATRIX, ids=lambda row: f"{row.method} {row.path}")
def test_page_access_matches_the_policy(
    row: Row,
    principal: str,
    targets: dict[str, str],
    admin_user: Any,
    auditor_user: Any,
    monitor_user: Any,
) -> None:
    from django.test import Client

    # given
    client = Client()
    user = {"monitor": monitor_user, "auditor": auditor_user, "admin": admin_user}.get(principal)
    if user is not None:
        client.force_login(user)
    # when
    response = client.generic(row.method, row.path.format(**targets))
    # then
    assert response.status_code == row.expected[principal], response.content[:300]
    if response.status_code == 302:
        assert response["Location"].startswith("/login/")
    if response.status_code == 403:
        assert response["Content-Type"].startswith("text/html")
