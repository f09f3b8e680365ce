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
