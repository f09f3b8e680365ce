"""The seed's console echo of a decrypted demo alert: its own audit action, logged at INFO."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from compliance.models import AuditEntry
from demo.model import DEMO_MODEL_NAME, DEMO_POLICY
from monitoring.models import IngestionRecord
from registry.services import register_model

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(ml_model: Any) -> None:
    assert ml_model.name == DEMO_MODEL_NAME
    register_model(name=DEMO_MODEL_NAME, version="1", registered_by=None, policy=DEMO_POLICY)


def test_an_anonymous_demo_run_echoes_the_alert_at_info_under_its_own_audit_action(
    client_as: Callable[[str], APIClient],
    demo: None,
    settings: Any,
    caplog: pytest.LogCaptureFixture,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.FAIRLENS_DEMO_ENDPOINTS = True
    with caplog.at_level(logging.INFO, logger="fairlens.monitor"), django_capture_on_commit_callbacks(execute=True):
        response = client_as("anonymous").get("/api/monitor_fairness", {"n_samples": 2000, "drift_level": 0.8})
    assert response.status_code == 200, response.content
    record = IngestionRecord.objects.get(record_id=response.json()["data"]["record_id"])
    monitor_lines = [r for r in caplog.records if r.name == "fairlens.monitor"]
    (echo,) = [r for r in monitor_lines if r.getMessage().startswith("Decrypted alert:")]
    assert echo.levelno == logging.INFO
    assert "Potential bias" in echo.getMessage()
    (entry,) = AuditEntry.objects.filter(action="demo.decrypt")
    assert (entry.object_type, entry.object_id) == ("monitoring.ingestionrecord", str(record.pk))
    assert not AuditEntry.objects.filter(action="data.decrypt").exists()
