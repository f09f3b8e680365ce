"""Reads for monitoring: window counts summed from rollups, stored predictions."""

from __future__ import annotations

import json
from datetime import datetime

from django.db.models import QuerySet, Sum

from monitoring.constants import INTERSECTION_SEPARATOR, SCORE_BINS
from monitoring.fairness import ConfusionCounts, GroupedCounts
from monitoring.ingestion.rollup_math import COUNT_FIELDS
from monitoring.models import FairnessCheck, Prediction, PredictionRollup
from monitoring.reporting import flip_favorable
from registry.models import ModelVersion


def _rollups(model_version: ModelVersion, start: datetime | None, end: datetime | None) -> QuerySet[PredictionRollup]:
    rows = PredictionRollup.objects.filter(model_version=model_version)
    if start is not None:
        rows = rows.filter(bucket_start__gte=start)
    if end is not None:
        rows = rows.filter(bucket_start__lt=end)
    return rows


def _group_label(attribute: str, group: str) -> str | tuple[str, ...]:
    return tuple(json.loads(group)) if INTERSECTION_SEPARATOR in attribute else group


def window_counts(
    *,
    model_version: ModelVersion,
    start: datetime | None = None,
    end: datetime | None = None,
    favorable_label: int = 1,
) -> dict[str, GroupedCounts]:
    """Confusion counts per attribute (and intersection) and group over ``[start, end)``, summed from rollups.

    One aggregate query; its cost depends on the number of groups and hours, not on the number of predictions.
    """
    totals = (
        _rollups(model_version, start, end)
        .values("attribute", "group")
        .annotate(**{name: Sum(name) for name in COUNT_FIELDS})
        .order_by("attribute", "group")
    )
    grouped: dict[str, dict] = {}
    for row in totals:
        counts = ConfusionCounts(**{name: int(row[name]) for name in COUNT_FIELDS})
        if favorable_label == 0:
            counts = flip_favorable(counts)
        grouped.setdefault(row["attribute"], {})[_group_label(row["attribute"], row["group"])] = counts
    return {
        attribute: GroupedCounts(tuple(attribute.split(INTERSECTION_SEPARATOR)), groups)
        for attribute, groups in grouped.items()
    }


def window_score_histograms(
    *, model_version: ModelVersion, attribute: str, start: datetime | None = None, end: datetime | None = None
) -> dict[str | tuple[str, ...], list[int]]:
    """Score histogram (SCORE_BINS bins over [0, 1]) per group of ``attribute`` over the window."""
    histograms: dict[str | tuple[str, ...], list[int]] = {}
    for group, histogram in (
        _rollups(model_version, start, end).filter(attribute=attribute).values_list("group", "score_histogram")
    ):
        label = _group_label(attribute, group)
        current = histograms.setdefault(label, [0] * SCORE_BINS)
        histograms[label] = [a + b for a, b in zip(current, histogram or [0] * SCORE_BINS, strict=True)]
    return histograms


def prediction_list(model_version: ModelVersion) -> QuerySet[Prediction]:
    return Prediction.objects.filter(model_version=model_version).order_by("-id")


def completed_checks(model_version_id: int) -> QuerySet[FairnessCheck]:
    """A version's completed checks, newest first in completion order (the order trends and forecasts use:
    windows are whole hourly buckets, so a later check has seen more data whatever its window end)."""
    return FairnessCheck.objects.filter(
        model_version_id=model_version_id, status=FairnessCheck.Status.COMPLETED
    ).order_by("-completed_at", "-id")
