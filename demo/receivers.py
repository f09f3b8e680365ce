"""What the demo app does when alerts ask for a retraining: enqueue the reweighing retrain task."""

from __future__ import annotations

from typing import Any

from demo.tasks import retrain_task


def retrain_when_requested(*, version_id: int, reason: str, **_kwargs: Any) -> None:
    """Enqueue the retraining; the task itself tells a model it can retrain (the demo model) from one it cannot."""
    retrain_task.delay(version_id, reason)
