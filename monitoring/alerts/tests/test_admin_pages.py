"""Admin manages webhook endpoints and the beat schedules; both sites show checks, alerts and deliveries
read-only; the auditor site never offers a change."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from compliance.models import AuditEntry
from monitoring.alerts.models import WebhookEndpoint

pytestmark = pytest.mark.django_db

READ_ONLY_PAGES = (
    "monitoring/fairnesscheck/",
    "alerts/alert/",
    "alerts/delivery/",
    "alerts/outboxevent/",
    "alerts/webhookendpoint/",
)


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("page", READ_ONLY_PAGES)
def test_checks_alerts_and_deliveries_open_on_both_sites(admin_user: Any, auditor_user: Any, page: str) -> None:
    assert _client(admin_user).get(f"/admin/{page}").status_code == 200
    assert _client(auditor_user).get(f"/auditor/{page}").status_code == 200


@pytest.mark.parametrize("page", READ_ONLY_PAGES)
def test_the_auditor_site_offers_no_additions(auditor_user: Any, page: str) -> None:
    assert _client(auditor_user).get(f"/auditor/{page}add/").status_code == 403


def test_admins_see_and_edit_the_beat_schedules(admin_user: Any) -> None:
    client = _client(admin_user)
    assert client.get("/admin/django_celery_beat/periodictask/").status_code == 200
    assert client.get("/admin/django_celery_beat/intervalschedule/add/").status_code == 200


def test_an_admin_adds_an_endpoint_through_the_service_checks(admin_user: Any, settings: Any) -> None:
    client = _client(admin_user)
    form = {"name": "ops", "url": "https://93.184.215.14/hooks", "format": "standard", "event_types": "[]"}
    response = client.post("/admin/alerts/webhookendpoint/add/", form, follow=True)
    assert response.status_code == 200
    endpoint = WebhookEndpoint.objects.get(name="ops")
    assert endpoint.encrypted_secret  # a secret was made and stored encrypted
    assert "Signing secret (shown once): whsec_" in response.content.decode()
    assert AuditEntry.objects.filter(action="webhook_endpoint.create", object_id=str(endpoint.pk)).exists()


def test_an_admin_cannot_point_an_endpoint_at_a_private_address(admin_user: Any) -> None:
    client = _client(admin_user)
    form = {"name": "sneaky", "url": "https://169.254.169.254/latest", "format": "standard", "event_types": "[]"}
    response = client.post("/admin/alerts/webhookendpoint/add/", form, follow=True)
    assert "not allowed" in response.content.decode()
    assert not WebhookEndpoint.objects.filter(name="sneaky").exists()


def test_nobody_changes_an_audit_entry_through_either_site(admin_user: Any, auditor_user: Any) -> None:
    entry = AuditEntry.objects.order_by("seq").last()
    assert entry is not None
    for user, prefix in ((admin_user, "/admin/"), (auditor_user, "/auditor/")):
        client = _client(user)
        response = client.post(f"{prefix}compliance/auditentry/{entry.pk}/change/", {"action": "forged"})
        assert response.status_code in (403, 404)
    entry.refresh_from_db()
    assert entry.action != "forged"
