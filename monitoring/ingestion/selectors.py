"""Reads for monitoring: window counts summed from rollups, stored predictions."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import F, Min, QuerySet, Sum

from monitoring.constants import BUCKET_SECONDS, INTERSECTION_SEPARATOR, SCORE_BINS
from monitoring.fairness import ConfusionCounts, GroupedCounts
from monitoring.fairness.counts import flip_favorable
from monitoring.group_labels import group_from_stored
from monitoring.ingestion.rollup_math import COUNT_FIELDS
from monitoring.models import FeatureRollup, IngestionRecord, Prediction, PredictionRollup
from registry.models import ModelVersion


def _rollups(model_version: ModelVersion, start: datetime | None, end: datetime | None) -> QuerySet[PredictionRollup]:
    rows = PredictionRollup.objects.filter(model_version=model_version)
    if start is not None:
        rows = rows.filter(bucket_start__gte=start)
    if end is not None:
        rows = rows.filter(bucket_start__lt=end)
    return rows


def _rows_summed(fields: tuple[str, ...] = COUNT_FIELDS):
    """The sum of the given count fields of a rollup cell (all of them: its rows)."""
    return sum((F(name) for name in fields[1:]), F(fields[0]))


# The labelled outcomes come first in COUNT_FIELDS (tp, fp, tn, fn), then the unlabelled ones.
LABELLED_FIELDS = COUNT_FIELDS[:4]


def first_rollup_start(model_version: ModelVersion) -> datetime | None:
    """Start of the version's first hourly bucket with any row (``None``: no data yet)."""
    return _rollups(model_version, None, None).aggregate(first=Min("bucket_start"))["first"]


def attribute_totals(
    *, model_version: ModelVersion, attribute: str, start: datetime, end: datetime, labelled_only: bool = False
) -> int:
    """Rows (or labelled rows) of one attribute's groups in ``[start, end)``: every row has each attribute once,
    so this is the version's rows in that time."""
    fields = LABELLED_FIELDS if labelled_only else COUNT_FIELDS
    total = _rollups(model_version, start, end).filter(attribute=attribute).aggregate(total=Sum(_rows_summed(fields)))
    return int(total["total"] or 0)


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
        grouped.setdefault(row["attribute"], {})[group_from_stored(row["attribute"], row["group"])] = counts
    return {
        attribute: GroupedCounts(tuple(attribute.split(INTERSECTION_SEPARATOR)), groups)
        for attribute, groups in grouped.items()
    }


def period_selection_counts(
    *, model_version: ModelVersion, end: datetime, period_hours: int, periods: int, favorable_label: int = 1
) -> dict[str, dict[str, list[list[int]]]]:
    """``{attribute: {group: [[selected, total], ...]}}`` over ``periods`` consecutive non-overlapping periods
    of ``period_hours`` ending at ``end``, oldest first (the last one is the window ending at ``end``), for the
    single protected attributes. Empty periods are ``[0, 0]``; periods before the version's first bucket are
    left out. One aggregate query over the hourly buckets (O(buckets), independent of the number of rows).
    """
    span = timedelta(hours=period_hours)
    start = end - span * periods
    rows = (
        _rollups(model_version, start, end)
        .exclude(attribute__contains=INTERSECTION_SEPARATOR)
        .values("bucket_start", "attribute", "group")
        .annotate(**{name: Sum(name) for name in COUNT_FIELDS})
        .order_by("bucket_start", "attribute", "group")
    )
    sums: dict[str, dict[str, dict[int, list[int]]]] = {}
    first = periods
    for row in rows:
        counts = ConfusionCounts(**{name: int(row[name]) for name in COUNT_FIELDS})
        if favorable_label == 0:
            counts = flip_favorable(counts)
        index = int((row["bucket_start"] - start) // span)
        first = min(first, index)
        cell = sums.setdefault(row["attribute"], {}).setdefault(row["group"], {}).setdefault(index, [0, 0])
        cell[0] += int(counts.predicted_positive)
        cell[1] += int(counts.n)
    return {
        attribute: {
            group: [by_period.get(index, [0, 0]) for index in range(first, periods)]
            for group, by_period in sorted(groups.items())
        }
        for attribute, groups in sorted(sums.items())
    }


def window_score_histograms(
    *, model_version: ModelVersion, attribute: str, start: datetime | None = None, end: datetime | None = None
) -> dict[str | tuple[str, ...], list[int]]:
    """Score histogram (SCORE_BINS bins over [0, 1]) per group of ``attribute`` over the window."""
    histograms: dict[str | tuple[str, ...], list[int]] = {}
    for group, histogram in (
        _rollups(model_version, start, end).filter(attribute=attribute).values_list("group", "score_histogram")
    ):
        label = group_from_stored(attribute, group)
        current = histograms.setdefault(label, [0] * SCORE_BINS)
        histograms[label] = [a + b for a, b in zip(current, histogram or [0] * SCORE_BINS, strict=True)]
    return histograms


def prediction_list(model_version: ModelVersion) -> QuerySet[Prediction]:
    return Prediction.objects.filter(model_version=model_version).order_by("-id")


def prediction_page(model_version: ModelVersion, *, before_id: int | None, size: int) -> list[Prediction]:
    """Up to ``size`` + 1 of the version's predictions, newest (highest id) first, older than ``before_id``: a
    page by keyset, whose cost does not grow with how far back it is (the extra row says whether more follow)."""
    rows = prediction_list(model_version).defer("features")
    if before_id is not None:
        rows = rows.filter(id__lt=before_id)
    return list(rows[: size + 1])


def predictions_received(model_version: ModelVersion) -> int:
    """Predictions stored for the version so far: the rows its ingestions accepted (labels add none).

    A sum of committed ingestions, so it only grows, whatever order concurrent ingestions commit in.
    """
    total = (
        IngestionRecord.objects.filter(model_version=model_version)
        .exclude(source=IngestionRecord.Source.LABELS)
        .aggregate(total=Sum("accepted"))["total"]
    )
    return int(total or 0)


def window_has_data(*, model_version: ModelVersion, start: datetime, end: datetime) -> bool:
    """Whether any prediction of the version falls in an hourly bucket starting in ``[start, end)``."""
    return start < end and _rollups(model_version, start, end).exists()


def hourly_counts(
    *, model_version: ModelVersion, start: datetime, end: datetime, favorable_label: int = 1
) -> list[tuple[datetime, dict[str, GroupedCounts]]]:
    """Counts per hourly bucket starting in ``[start, end)``, oldest first: the units the evidence bets on.

    One query over the buckets since the last check (so a check stays O(buckets since the last check)).
    """
    rows = (
        _rollups(model_version, start, end)
        .values("bucket_start", "attribute", "group", *COUNT_FIELDS)
        .order_by("bucket_start", "attribute", "group")
    )
    hours: dict[datetime, dict[str, dict]] = {}
    for row in rows:
        counts = ConfusionCounts(**{name: int(row[name]) for name in COUNT_FIELDS})
        if favorable_label == 0:
            counts = flip_favorable(counts)
        attribute = row["attribute"]
        hours.setdefault(row["bucket_start"], {}).setdefault(attribute, {})[
            group_from_stored(attribute, row["group"])
        ] = counts
    return [
        (
            moment,
            {
                attribute: GroupedCounts(tuple(attribute.split(INTERSECTION_SEPARATOR)), groups)
                for attribute, groups in attributes.items()
            },
        )
        for moment, attributes in sorted(hours.items())
    ]


FeatureCounts = dict[str, dict[str, dict[str, dict[str, int]]]]  # feature -> attribute -> group -> fine bin -> n


def first_feature_hour(model_version: ModelVersion) -> datetime | None:
    """The first hourly bucket holding feature values of the version (where its input baseline starts)."""
    return FeatureRollup.objects.filter(model_version=model_version).aggregate(first=Min("bucket_start"))["first"]


def _feature_rows(model_version: ModelVersion, start: datetime, end: datetime) -> QuerySet[FeatureRollup]:
    return FeatureRollup.objects.filter(model_version=model_version, bucket_start__gte=start, bucket_start__lt=end)


def _nest(counts: FeatureCounts, row: dict, count: str) -> None:
    cell = counts.setdefault(row["feature"], {}).setdefault(row["attribute"], {}).setdefault(row["group"], {})
    cell[row["value"]] = cell.get(row["value"], 0) + int(row[count])


def feature_counts(*, model_version: ModelVersion, start: datetime, end: datetime) -> FeatureCounts:
    """Counts per feature, attribute, group and fine bin over the hours in ``[start, end)`` (one aggregate)."""
    totals = (
        _feature_rows(model_version, start, end)
        .values("feature", "attribute", "group", "value")
        .annotate(total=Sum("count"))
        .order_by("feature", "attribute", "group", "value")
    )
    counts: FeatureCounts = {}
    for row in totals:
        _nest(counts, row, "total")
    return counts


def hourly_feature_counts(
    *, model_version: ModelVersion, start: datetime, end: datetime
) -> list[tuple[datetime, FeatureCounts]]:
    """:func:`feature_counts` of each hour in ``[start, end)`` that has any, oldest first (a cell is one row)."""
    rows = (
        _feature_rows(model_version, start, end)
        .values("bucket_start", "feature", "attribute", "group", "value", "count")
        .order_by("bucket_start", "feature", "attribute", "group", "value")
    )
    hours: dict[datetime, FeatureCounts] = {}
    for row in rows:
        _nest(hours.setdefault(row["bucket_start"], {}), row, "count")
    return list(hours.items())


def hourly_group_rows(
    *, model_version: ModelVersion, attributes: list[str], start: datetime, end: datetime
) -> list[tuple[int, dict[tuple[str, str], int]]]:
    """Rows per (attribute, group) of each hour in ``[start, end)`` with any, as (hours since the epoch, counts),
    oldest first: what decides where the input baseline ends."""
    hours: dict[int, dict[tuple[str, str], int]] = {}
    rows = (
        _rollups(model_version, start, end)
        .filter(attribute__in=attributes)
        .annotate(rows=_rows_summed())
        .values_list("bucket_start", "attribute", "group", "rows")
    )
    for moment, attribute, group, count in rows:
        hours.setdefault(int(moment.timestamp()) // BUCKET_SECONDS, {})[(attribute, group)] = int(count)
    return sorted(hours.items())


MAX_DELAY_ROWS = 200_000


def label_delays(
    *, model_version: ModelVersion, start: datetime, end: datetime, attributes: list[str]
) -> dict[str, dict[str, list[float]]]:
    """Hours from prediction to label of the labeled predictions that occurred in ``[start, end)``, per attribute
    and group (the newest ``MAX_DELAY_ROWS`` when there are more: a bounded read on a page)."""
    rows = (
        Prediction.objects.filter(
            model_version=model_version, occurred_at__gte=start, occurred_at__lt=end, labeled_at__isnull=False
        )
        .order_by("-occurred_at")
        .values_list("attributes", "occurred_at", "labeled_at")[:MAX_DELAY_ROWS]
    )
    delays: dict[str, dict[str, list[float]]] = {attribute: {} for attribute in attributes}
    for values, occurred_at, labeled_at in rows.iterator(chunk_size=5000):
        hours = max((labeled_at - occurred_at).total_seconds(), 0.0) / 3600
        for attribute in attributes:
            group = str((values or {}).get(attribute, ""))
            delays[attribute].setdefault(group, []).append(hours)
    return delays


def ingestion_totals() -> dict[str, dict[str, int]]:
    """Rows accepted, duplicate and rejected since the start, per ingestion source (monotonic: records stay)."""
    rows = IngestionRecord.objects.values("source").annotate(
        accepted=Sum("accepted"), duplicates=Sum("duplicates"), rejected=Sum("rejected")
    )
    return {
        row["source"]: {
            "accepted": row["accepted"] or 0,
            "duplicate": row["duplicates"] or 0,
            "rejected": row["rejected"] or 0,
        }
        for row in rows
    }
