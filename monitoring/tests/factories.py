"""Builders for monitoring tests: a registered model version with a policy, and prediction payloads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from registry.models import ModelVersion
from registry.services import register_model

BASE_TIME = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)
CREDIT_POLICY: dict[str, Any] = {
    "protected_attributes": ["race", "sex"],
    "privileged": {"race": "White", "sex": "Male"},
}
INCOME = {"name": "income", "type": "numeric", "identifier": False}
CUSTOMER_ID = {"name": "customer_id", "type": "categorical", "identifier": True}


def make_version(name: str = "credit_model", version: str = "1", **policy: Any) -> ModelVersion:
    return register_model(name=name, version=version, registered_by=None, policy={**CREDIT_POLICY, **policy})


def prediction(
    identifier: str,
    *,
    race: str = "White",
    sex: str = "Male",
    y_pred: int = 1,
    y_true: int | None = None,
    score: float | None = None,
    hours: float = 0,
    **extra: Any,
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": identifier,
        "timestamp": (BASE_TIME + timedelta(hours=hours)).isoformat().replace("+00:00", "Z"),
        "attributes": {"race": race, "sex": sex},
        "y_pred": y_pred,
    }
    if y_true is not None:
        item["y_true"] = y_true
    if score is not None:
        item["score"] = score
    item.update(extra)
    return item


def open_encrypted_alert(version: ModelVersion) -> Any:
    """A completed check of ``version`` with an open DIR alert for gender=Female whose explanation is encrypted
    (what the decryption endpoints and the role matrix read)."""
    from django.utils import timezone

    from compliance.field_encryption import encrypt_for
    from monitoring.alerts.models import Alert
    from monitoring.models import FairnessCheck

    now = timezone.now()
    check = FairnessCheck.objects.create(
        model_version=version,
        policy=version.model.policies.first(),
        window_start=now,
        window_end=now,
        trigger="manual",
        status="completed",
    )
    alert = Alert.objects.create(
        model=version.model,
        model_version=version,
        attribute="gender",
        group="Female",
        metric="DIR",
        severity="high",
        first_check=check,
        last_check=check,
        last_seen_at=now,
    )
    encrypt_for(alert, "encrypted_explanation", "DIR = 0.60 (<0.8). Potential bias.")
    alert.save()
    return alert
