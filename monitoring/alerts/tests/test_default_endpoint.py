"""WEBHOOK_URL (the seed's setting) becomes the endpoint named "default"; a refused URL never stops checks."""

from __future__ import annotations

from typing import Any

import pytest

from compliance.field_encryption import system_decrypt
from monitoring.alerts.models import WebhookEndpoint
from monitoring.alerts.services import ensure_default_endpoint
from monitoring.tasks import dispatch_checks_task

pytestmark = pytest.mark.django_db
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def test_webhook_url_creates_the_default_endpoint_with_the_configured_secret(settings: Any) -> None:
    settings.FAIRLENS_WEBHOOK_URL = "http://127.0.0.1:8765/webhooks"
    settings.FAIRLENS_WEBHOOK_SECRET = SECRET
    settings.WEBHOOK_ALLOW_INSECURE_HTTP = True
    settings.WEBHOOK_ALLOWED_PRIVATE_TARGETS = ["127.0.0.1:8765"]
    endpoint = ensure_default_endpoint()
    assert endpoint is not None
    assert endpoint.name == "default"
    assert system_decrypt(endpoint, "encrypted_secret") == SECRET
    # idempotent, and it follows a changed URL
    settings.FAIRLENS_WEBHOOK_URL = "http://127.0.0.1:8765/other"
    ensure_default_endpoint()
    assert WebhookEndpoint.objects.get(name="default").url == "http://127.0.0.1:8765/other"
    assert WebhookEndpoint.objects.count() == 1


def test_a_refused_webhook_url_is_logged_and_the_dispatcher_still_runs(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.FAIRLENS_WEBHOOK_URL = "http://169.254.169.254/latest/meta-data"
    settings.WEBHOOK_ALLOW_INSECURE_HTTP = False
    assert dispatch_checks_task() == 0
    assert not WebhookEndpoint.objects.exists()
    assert "WEBHOOK_URL is not usable" in caplog.text


def test_without_webhook_url_there_is_no_default_endpoint(settings: Any) -> None:
    settings.FAIRLENS_WEBHOOK_URL = ""
    assert ensure_default_endpoint() is None
    assert not WebhookEndpoint.objects.exists()
