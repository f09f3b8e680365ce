"""Reads of stored checks: the API's list, a version's checks by window, the evidence chain, the current check."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db.models import Max, QuerySet
from django.db.models.fields.json import KeyTextTransform

from core.api.errors import ApplicationError
from monitoring.models import FairnessCheck


def check_list(filters: Mapping[str, str]) -> QuerySet[FairnessCheck]:
    checks = FairnessCheck.objects.select_related("model_version__model", "policy").order_by("-window_end", "-id")
    if filters.get("model"):
        checks = checks.filter(model_version__model__name=filters["model"])
    if filters.get("version"):
        checks = checks.filter(model_version__version=filters["version"])
    if filters.get("status"):
        checks = checks.filter(status_summary=filters["status"])
    return checks


def check_summaries(filters: Mapping[str, str]) -> QuerySet[FairnessCheck]:
    """``check_list`` without each check's full result (the list endpoint's pages; the detail has it) or the
    inputs it was computed from (kept for redrawing it, tens of kilobytes a check)."""
    return check_list(filters).defer("result", "inputs")


def check_by_id(pk: int) -> FairnessCheck:
    check = check_list({}).defer("inputs").filter(pk=pk).first()
    if check is None:
        raise ApplicationError(f"No check {pk}.", code="not_found", status_code=404)
    return check


def completed_checks_by_window(model_version_id: int) -> QuerySet[FairnessCheck]:
    """A version's completed checks, latest window first.

    Window end, not completion order: checks of older windows may complete late (a scheduled check of the hour
    that closed at 03:00 can run after an ingestion-triggered one ending 03:39), and what is current is what
    the latest window says. Checks of the same window end (another policy version) are ordered by completion.
    """
    return FairnessCheck.objects.filter(
        model_version_id=model_version_id, status=FairnessCheck.Status.COMPLETED
    ).order_by("-window_end", "-completed_at", "-id")


def is_stale(check: FairnessCheck) -> bool:
    """Whether another completed check of the version covers a later window than ``check`` does."""
    return (
        completed_checks_by_window(check.model_version_id)
        .exclude(pk=check.pk)
        .filter(window_end__gt=check.window_end)
        .exists()
    )


def evidence_checks(model_version_id: int) -> QuerySet[FairnessCheck]:
    """The version's checks that brought new evidence (``new_evidence``), latest window first: the checks a
    persisting violation is counted over."""
    return completed_checks_by_window(model_version_id).filter(new_evidence=True)


def evidence_chain_head(check: FairnessCheck) -> FairnessCheck | None:
    """The latest completed check of the same version and policy version whose evidence is in the chain:
    the check whose stored evidence this one continues."""
    return (
        FairnessCheck.objects.filter(
            model_version_id=check.model_version_id,
            policy_id=check.policy_id,
            status=FairnessCheck.Status.COMPLETED,
            result__evidence__chained=True,
        )
        .exclude(pk=check.pk)
        .order_by("-window_end", "-completed_at", "-id")
        .first()
    )


def current_check_summary(model_version_id: int) -> dict[str, Any] | None:
    """Status, headline DIR and completion time of the version's current check (its latest window)."""
    return completed_checks_by_window(model_version_id).values("status_summary", "headline_dir", "completed_at").first()


def completed_checks_between(model_version_id: int, start: datetime, end: datetime, limit: int) -> list[FairnessCheck]:
    """The completed checks whose window ends in ``[start, end)``, oldest window first, at most the latest
    ``limit``; without their inputs."""
    checks = list(
        completed_checks_by_window(model_version_id)
        .filter(window_end__gte=start, window_end__lt=end)
        .defer("inputs")[:limit]
    )
    checks.reverse()
    return checks


def score_histograms_of(check_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The window's and the baseline's score histograms a check read, ``{attribute: {group: counts}}``: two keys
    of its stored inputs, without loading the rest (the evidence state is much larger)."""
    row = (
        FairnessCheck.objects.filter(pk=check_id)
        .values(
            window=KeyTextTransform("score_histograms", "inputs"),
            baseline=KeyTextTransform("baseline_score_histograms", "inputs"),
        )
        .first()
    ) or {}
    return _json_object(row.get("window")), _json_object(row.get("baseline"))


def _json_object(text: str | None) -> dict[str, Any]:
    value = json.loads(text) if text else None
    return value if isinstance(value, dict) else {}


def recent_completed_checks(model_version_id: int, limit: int) -> list[FairnessCheck]:
    """The completed checks of the version's last ``limit`` windows, oldest window first (a chart's x-axis): the
    last one is the current check, whatever order they completed in. Without their (large) inputs."""
    checks = list(completed_checks_by_window(model_version_id).defer("inputs")[:limit])
    checks.reverse()
    return checks


def latest_checks_per_version(limit: int) -> list[FairnessCheck]:
    """The latest completed check of each model version (at most ``limit`` versions, most recent first)."""
    latest_ids = (
        FairnessCheck.objects.filter(status=FairnessCheck.Status.COMPLETED)
        .values("model_version")
        .annotate(latest=Max("id"))
        .order_by("-latest")
        .values_list("latest", flat=True)[:limit]
    )
    return list(
        FairnessCheck.objects.filter(id__in=list(latest_ids)).select_related("model_version__model").order_by("-id")
    )


def recent_check_durations(limit: int = 200) -> list[float]:
    """Seconds from claim to completion of the latest ``limit`` completed checks."""
    rows = (
        FairnessCheck.objects.filter(status=FairnessCheck.Status.COMPLETED, claimed_at__isnull=False)
        .order_by("-completed_at")
        .values_list("claimed_at", "completed_at")[:limit]
    )
    return [max((done - claimed).total_seconds(), 0.0) for claimed, done in rows if done is not None]


def checked_version_count() -> int:
    """How many model versions have a completed check."""
    return (
        FairnessCheck.objects.filter(status=FairnessCheck.Status.COMPLETED).values("model_version").distinct().count()
    )
