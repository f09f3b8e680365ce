"""Fairness metrics of a batch of predictions, under the model's policy (or a request's overrides)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from core.api.errors import ApplicationError
from monitoring.reporting import counts_of_frame, engine_policy, reports_from_counts
from registry.models import ModelVersion
from registry.services import current_policy, default_policy_fields

VIOLATIONS = {"possible_violation", "significant_violation"}


def batch_metrics(
    *,
    model_version: ModelVersion,
    frame: pd.DataFrame,
    attributes: Sequence[str],
    privileged: Mapping[str, str] | None = None,
    favorable_label: int | None = None,
) -> tuple[dict[str, Any], bool]:
    """Metrics per attribute and intersection over ``frame``; returns (metrics, alert).

    ``alert`` is True when any comparison violates a policy band (possibly or significantly).
    """
    policy = current_policy(model_version.model)
    defaults = default_policy_fields()
    reference = dict(policy.privileged if policy else {})
    reference.update(privileged or {})
    missing = [name for name in attributes if name not in reference]
    if missing:
        raise ApplicationError(
            f"No privileged value for: {', '.join(missing)}.",
            code="invalid",
            details={"privileged": [f"give a value for {name}" for name in missing]},
        )
    label = favorable_label if favorable_label is not None else (policy.favorable_label if policy else 1)
    rules = engine_policy(
        metric_bands=policy.metric_bands if policy else defaults["metric_bands"],
        min_group_size=policy.min_group_size if policy else defaults["min_group_size"],
        confidence_level=policy.confidence_level if policy else defaults["confidence_level"],
    )
    if frame.empty:
        return {}, False
    metrics = reports_from_counts(counts_of_frame(frame, attributes, label), reference, rules)
    alert = any(
        comparison["verdict"] in VIOLATIONS
        for report in metrics.values()
        for comparison in report["comparisons"].values()
    )
    return metrics, alert
