"""What alerts does when monitoring announces a check (signals declared in ``monitoring.signals``)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from core.api.errors import ApplicationError
from monitoring.alerts.models import Alert
from monitoring.alerts.services import apply_check, ensure_default_endpoint
from monitoring.models import FairnessCheck

logger = logging.getLogger("fairlens.alerts")


def apply_stored_check(sender: Any, *, check: FairnessCheck, **_kwargs: Any) -> None:
    """Open, update or resolve the alerts the check speaks to, in the check's transaction."""
    apply_check(check)


def resolved_subjects(sender: Any, *, model_version_id: int, since: datetime, **_kwargs: Any) -> list[tuple]:
    """Subjects of the version's alerts resolved after ``since`` (by a person or by evidence of compliance):
    their evidence restarts from the next hour."""
    resolved = Alert.objects.filter(model_version_id=model_version_id, resolved_at__gt=since, resolved_at__isnull=False)
    return sorted({(alert.attribute, alert.group, alert.metric) for alert in resolved})


def ensure_endpoint_before_checks(sender: Any, **_kwargs: Any) -> None:
    try:
        ensure_default_endpoint()
    except ApplicationError as exc:  # WEBHOOK_URL refused (e.g. http:// in production): checks still run
        logger.error("WEBHOOK_URL is not usable: %s", exc.message)
