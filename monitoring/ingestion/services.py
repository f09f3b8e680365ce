"""Writes for monitoring: ingesting predictions and labels (with their rollups), rebuilding rollups."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from compliance.services import audit_append
from core.api.errors import ApplicationError
from monitoring.constants import EXTRA_CSV_COLUMNS, MAX_CSV_COLUMNS, MAX_REPORTED_ERRORS
from monitoring.ingestion import columnar
from monitoring.ingestion.features import (
    FEATURE_PREFIX,
    FeatureSpec,
    drift_features,
    feature_records,
    schema_from_policy,
)
from monitoring.ingestion.locking import retry_when_locked
from monitoring.ingestion.parsing import (
    CORE_CSV_COLUMNS,
    LABEL_CSV_COLUMNS,
    ParsedBatch,
    RowError,
    bad_batch,
    frame_from_csv,
    validate,
)
from monitoring.ingestion.pseudonymize import pseudonymize
from monitoring.ingestion.rollup_math import RollupCells, feature_cells, merge_deltas, rollup_cells, rollup_deltas
from monitoring.ingestion.storage import (
    SqliteRows,
    apply_feature_cells,
    apply_rollup_cells,
    apply_rollup_deltas,
    insert_new_predictions,
    sqlite_rows,
)
from monitoring.models import FeatureRollup, IngestionRecord, Prediction, PredictionRollup
from monitoring.signals import predictions_stored
from registry.models import ModelVersion
from registry.services import current_policy


@dataclass
class IngestionResult:
    record: IngestionRecord
    accepted: int
    duplicates: int
    rejected: int
    errors: list[dict[str, Any]]
    dropped_features: list[str]
    # Every valid row of the request (re-sent duplicates included), for metrics "over this request".
    valid_frame: pd.DataFrame = field(repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "record_id": str(self.record.record_id),
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "errors": self.errors,
            "dropped_features": self.dropped_features,
        }


def protected_attributes_for(model_version: ModelVersion, requested: Sequence[str] | None = None) -> list[str]:
    """The attributes every row of a batch must carry: the model's policy's, whoever sends it.

    A request may name them (the seed's ``protected_attributes``) but not change them: a list that differs from
    the policy's is a 400. Otherwise a client could leave out an attribute the policy checks (rows without
    ``gender`` accepted) or roll decisions up under attributes no check reads, keeping them out of the check.
    """
    policy = current_policy(model_version.model)
    if policy is None:
        raise ApplicationError(
            f"{model_version.model.name} has no monitoring policy naming its protected attributes; add one first.",
            code="no_policy",
            status_code=409,
        )
    attributes = list(policy.protected_attributes)
    if requested and set(requested) != set(attributes):
        expected = ", ".join(attributes)
        raise ApplicationError(
            f"`protected_attributes` must be the policy's ({expected}) or be omitted; they are fixed by the policy.",
            code="invalid",
            details={"protected_attributes": [f"must be the policy's: {expected}"]},
        )
    return attributes


def csv_column_limit(attributes: Sequence[str], features: Sequence[FeatureSpec]) -> int:
    """The most columns a CSV batch may have: INGEST_MAX_COLUMNS, or by default the fixed columns, the policy's
    attributes and declared features and EXTRA_CSV_COLUMNS more (undeclared ones are dropped), at most
    MAX_CSV_COLUMNS."""
    if settings.INGEST_MAX_COLUMNS:
        return settings.INGEST_MAX_COLUMNS
    natural = len(CORE_CSV_COLUMNS) + len(attributes) + len(features) + EXTRA_CSV_COLUMNS
    return min(natural, MAX_CSV_COLUMNS)


def feature_schema_for(model_version: ModelVersion) -> list[FeatureSpec]:
    """The features the model's policy lets FairLens store (none without a policy)."""
    policy = current_policy(model_version.model)
    return schema_from_policy(policy.features) if policy is not None else []


def _stored_features(frame: pd.DataFrame, schema: Sequence[FeatureSpec]) -> pd.Series:
    """The per-row feature objects to store, declared identifiers replaced by their keyed hashes."""
    for spec in schema:
        if spec.identifier and spec.column in frame:
            values = frame[spec.column]
            present = values.notna()
            hashed = values.copy()
            hashed[present] = pseudonymize(values[present].tolist())
            frame[spec.column] = hashed
    return feature_records(frame)


@dataclass
class PreparedBatch:
    """A validated batch with everything computed that needs no database: pseudonymised keys, the rollup cells
    of all its rows and (SQLite) the encoded rows. Built before the write transaction, which then stays short."""

    parsed: ParsedBatch
    frame: pd.DataFrame
    attributes: list[str]
    cells: RollupCells
    encoded: SqliteRows | None
    feature_values: pd.DataFrame  # the drift-tested features as ``feat:<name>`` columns, by the frame's index
    drift_features: list[tuple[str, str]]
    feature_cells: pd.DataFrame

    def feature_cells_of(self, rows: pd.DataFrame) -> pd.DataFrame:
        """Feature-bin counts of ``rows`` (a subset of the frame: those actually inserted)."""
        if len(rows) == len(self.frame):
            return self.feature_cells
        return feature_cells(rows.join(self.feature_values), self.attributes, self.drift_features)

    @property
    def valid_frame(self) -> pd.DataFrame:
        """Every valid row (re-sent duplicates included), for metrics "over this request"."""
        return self.frame.drop(columns=["id"])


def prepare_predictions(
    *, model_version: ModelVersion, raw: pd.DataFrame, attributes: Sequence[str], atomic: bool = False
) -> PreparedBatch:
    """Validate and pseudonymise a batch and compute its rollups; reads the policy's feature schema only.

    With ``atomic``, any invalid row rejects the whole batch (422).
    """
    schema = feature_schema_for(model_version)
    parsed = validate(
        raw,
        attributes,
        now=timezone.now(),
        max_future=timedelta(seconds=settings.INGEST_MAX_FUTURE_SECONDS),
        features=schema,
    )
    if atomic and parsed.rejected_rows:
        raise ApplicationError(
            f"{parsed.rejected_rows} of {parsed.total_rows} rows are invalid; nothing was stored (atomic batch).",
            code="batch_rejected",
            status_code=422,
            details={
                "rejected": parsed.rejected_rows,
                "errors": parsed.reported_errors(),
                "dropped_features": parsed.dropped_features,
            },
        )
    frame = parsed.frame.copy()
    frame["prediction_key"] = pseudonymize(frame["id"].tolist())
    frame["features"] = _stored_features(frame, schema)
    drift = drift_features(schema)
    feature_values = frame[[f"{FEATURE_PREFIX}{name}" for name, _ in drift if f"{FEATURE_PREFIX}{name}" in frame]]
    frame = frame.drop(columns=[column for column in frame.columns if column.startswith(FEATURE_PREFIX)])
    return PreparedBatch(
        parsed=parsed,
        frame=frame,
        attributes=list(attributes),
        cells=rollup_cells(frame, attributes),
        encoded=sqlite_rows(frame, attributes) if connection.vendor == "sqlite" else None,
        feature_values=feature_values,
        drift_features=drift,
        feature_cells=feature_cells(frame.join(feature_values), attributes, drift),
    )


def prepare_csv_predictions(
    *, model_version: ModelVersion, payload: bytes, attributes: Sequence[str], atomic: bool = False
) -> PreparedBatch:
    """``prepare_predictions`` of a CSV body (header row first), within the row and column limits of this
    model: the API's CSV ingestion and the pages' test upload read a file the same way."""
    raw = frame_from_csv(
        payload,
        attributes,
        settings.INGEST_MAX_ROWS,
        csv_column_limit(attributes, feature_schema_for(model_version)),
    )
    return prepare_predictions(model_version=model_version, raw=raw, attributes=attributes, atomic=atomic)


def prepare_columnar_predictions(
    *, model_version: ModelVersion, payload: bytes, media_type: str, attributes: Sequence[str], atomic: bool = False
) -> PreparedBatch:
    """``prepare_predictions`` of an Arrow IPC stream or Parquet body, within the CSV path's limits."""
    table = columnar.read_table(
        payload,
        media_type,
        max_rows=settings.INGEST_MAX_ROWS,
        max_columns=csv_column_limit(attributes, feature_schema_for(model_version)),
        max_decoded_bytes=columnar.MAX_EXPANSION * settings.INGEST_MAX_BODY_BYTES,
    )
    raw = columnar.frame_from_table(table, attributes, settings.INGEST_MAX_ROWS)
    return prepare_predictions(model_version=model_version, raw=raw, attributes=attributes, atomic=atomic)


def columnar_labels(payload: bytes, media_type: str) -> list[dict[str, Any]]:
    """An Arrow IPC stream or Parquet labels body as the JSON form's ``{id, y_true}`` objects."""
    table = columnar.read_table(
        payload,
        media_type,
        max_rows=settings.INGEST_MAX_ROWS,
        max_columns=len(LABEL_CSV_COLUMNS) + EXTRA_CSV_COLUMNS,
        max_decoded_bytes=columnar.MAX_EXPANSION * settings.INGEST_MAX_BODY_BYTES,
    )
    return columnar.labels_from_table(table, settings.INGEST_MAX_ROWS)


def ingest_predictions(
    *,
    model_version: ModelVersion,
    raw: pd.DataFrame,
    attributes: Sequence[str],
    principal: str,
    source: str = IngestionRecord.Source.API,
    atomic: bool = False,
) -> IngestionResult:
    """Validate, pseudonymise and store a batch; update the rollups in the same transaction.

    Only the features the model's policy declares are stored; the others are dropped and named in the result.
    Invalid rows are rejected with reasons and valid ones stored, unless ``atomic``, in which case any invalid
    row rejects the whole batch (422) and nothing is stored. A prediction id already stored for this version
    (or repeated within the batch) is a duplicate: it is not stored or counted again.
    """
    prepared = prepare_predictions(model_version=model_version, raw=raw, attributes=attributes, atomic=atomic)
    return store_predictions(model_version=model_version, prepared=prepared, principal=principal, source=source)


def store_predictions(
    *, model_version: ModelVersion, prepared: PreparedBatch, principal: str, source: str = IngestionRecord.Source.API
) -> IngestionResult:
    """Store a prepared batch and its rollups in one transaction, rerun if SQLite's write lock was busy."""
    return retry_when_locked(
        lambda: _store(model_version=model_version, prepared=prepared, principal=principal, source=source),
        what=f"ingestion into {model_version}",
    )


@transaction.atomic
def _store(*, model_version: ModelVersion, prepared: PreparedBatch, principal: str, source: str) -> IngestionResult:
    parsed, frame, attributes = prepared.parsed, prepared.frame, prepared.attributes
    record = IngestionRecord.objects.create(model_version=model_version, source=source, principal=principal)
    inserted = insert_new_predictions(
        frame=frame,
        attributes=attributes,
        model_version_id=model_version.pk,
        record_id=record.pk,
        encoded=prepared.encoded,
    )
    # Usually every row is new and the cells computed beforehand are the ones to add.
    cells = prepared.cells if len(inserted) == len(frame) else rollup_cells(inserted, attributes)
    apply_rollup_cells(model_version_id=model_version.pk, cells=cells)
    apply_feature_cells(model_version_id=model_version.pk, cells=prepared.feature_cells_of(inserted))
    duplicates = parsed.duplicates_in_batch + (len(frame) - len(inserted))
    record.accepted = len(inserted)
    record.duplicates = duplicates
    record.rejected = parsed.rejected_rows
    record.save(update_fields=["accepted", "duplicates", "rejected"])
    audit_append(
        action="predictions.ingest",
        actor=principal,
        object_type="ingestion_record",
        object_id=str(record.record_id),
        payload={
            "model": model_version.model.name,
            "version": model_version.version,
            "source": source,
            "accepted": record.accepted,
            "duplicates": duplicates,
            "rejected": parsed.rejected_rows,
            "dropped_features": parsed.dropped_features,
        },
    )
    if len(inserted):
        # Robust: the batch is committed by then, so a failure to enqueue (e.g. the check gate's row is locked)
        # is logged rather than turned into an error for a request whose rows are stored.
        transaction.on_commit(lambda: _announce(model_version), robust=True)
    return IngestionResult(
        record=record,
        accepted=len(inserted),
        duplicates=duplicates,
        rejected=parsed.rejected_rows,
        errors=parsed.reported_errors(),
        dropped_features=parsed.dropped_features,
        valid_frame=prepared.valid_frame,
    )


def _labels_frame(labels: Any, max_rows: int) -> tuple[pd.DataFrame, list[RowError]]:
    if not isinstance(labels, list):
        raise bad_batch("`labels` must be a list of {id, y_true} objects.", labels=["expected a list"])
    if not labels:
        raise bad_batch("The batch has no labels.", code="empty_batch")
    if len(labels) > max_rows:
        raise bad_batch(f"At most {max_rows} labels per request.", code="batch_too_large", status=413)
    rows, errors = [], []
    for position, item in enumerate(labels, start=1):
        if not isinstance(item, dict):
            errors.append(RowError(position, "-", "each label must be a JSON object"))
            continue
        identifier = item.get("id")
        label = item.get("y_true")
        if isinstance(label, bool):
            label = int(label)
        if not isinstance(identifier, str | int) or isinstance(identifier, bool) or not str(identifier).strip():
            errors.append(RowError(position, "id", "required: a non-empty string"))
        elif label not in (0, 1):
            errors.append(RowError(position, "y_true", "required: 0 or 1"))
        else:
            rows.append((position, str(identifier).strip(), int(label)))
    frame = pd.DataFrame(rows, columns=["row", "id", "y_true"])
    return frame.drop_duplicates("id", keep="last"), errors


@transaction.atomic
def ingest_labels(*, model_version: ModelVersion, labels: Any, principal: str) -> dict[str, Any]:
    """Attach true outcomes to stored predictions (joined by pseudonymised id) and move their rollup counts.

    A label equal to the stored one changes nothing; a changed label moves the prediction's count once from
    the old outcome to the new one. Unknown ids are reported, not stored.
    """
    frame, errors = _labels_frame(labels, settings.INGEST_MAX_ROWS)
    frame["prediction_key"] = pseudonymize(frame["id"].tolist())
    by_key = dict(zip(frame["prediction_key"], frame["y_true"], strict=True))
    stored = list(
        Prediction.objects.select_for_update()
        .filter(model_version=model_version, prediction_key__in=list(by_key))
        .order_by("id")
    )
    known = {prediction.prediction_key for prediction in stored}
    unknown_rows = frame.loc[~frame["prediction_key"].isin(known), "row"].tolist()
    changed = [prediction for prediction in stored if prediction.y_true != by_key[prediction.prediction_key]]
    if changed:
        removed = _stored_deltas(changed, sign=-1, include_scores=False)
        labeled_at = timezone.now()
        for prediction in changed:
            prediction.y_true = by_key[prediction.prediction_key]
            prediction.labeled_at = labeled_at
        added = _stored_deltas(changed, sign=1, include_scores=False)
        # One UPDATE per label value, filtered by the version as every query of the store is (docs/operations.md).
        for label in (0, 1):
            keys = [prediction.pk for prediction in changed if prediction.y_true == label]
            for start in range(0, len(keys), 2000):
                Prediction.objects.filter(model_version=model_version, pk__in=keys[start : start + 2000]).update(
                    y_true=label, labeled_at=labeled_at
                )
        apply_rollup_deltas(model_version_id=model_version.pk, deltas=merge_deltas(removed, added))
        transaction.on_commit(lambda: _announce(model_version))
    record = IngestionRecord.objects.create(
        model_version=model_version,
        source=IngestionRecord.Source.LABELS,
        principal=principal,
        accepted=len(changed),
        rejected=len(errors) + len(unknown_rows),
        summary={"updated": len(changed), "unchanged": len(stored) - len(changed), "unknown": len(unknown_rows)},
    )
    audit_append(
        action="labels.ingest",
        actor=principal,
        object_type="ingestion_record",
        object_id=str(record.record_id),
        payload={"model": model_version.model.name, "version": model_version.version, **record.summary},
    )
    errors.extend(RowError(row, "id", "no stored prediction with this id for this version") for row in unknown_rows)
    errors.sort(key=lambda error: error.row)
    return {
        "record_id": str(record.record_id),
        "updated": len(changed),
        "unchanged": len(stored) - len(changed),
        "unknown": len(unknown_rows),
        "rejected": len(errors) - len(unknown_rows),
        "errors": [error.as_dict() for error in errors[:MAX_REPORTED_ERRORS]],
    }


def _stored_deltas(predictions: Sequence[Prediction], *, sign: int, include_scores: bool = True) -> dict:
    """Rollup deltas of stored predictions, each counted ``sign`` times (+1 add, -1 remove).

    Rows may carry different attribute sets (the policy can change), so each set is rolled up on its own.
    """
    by_attributes: dict[tuple[str, ...], list[Prediction]] = {}
    for prediction in predictions:
        by_attributes.setdefault(tuple(sorted(prediction.attributes)), []).append(prediction)
    parts = []
    for names, group in by_attributes.items():
        frame = _prediction_frame(group, names)
        weights = np.full(len(frame), sign, dtype=np.int64)
        parts.append(rollup_deltas(frame, names, weights=weights, include_scores=include_scores))
    return merge_deltas(*parts)


def _attribute_names(predictions: Sequence[Prediction]) -> list[str]:
    """Every protected attribute any of the predictions carries (a row without one counts in none of its groups)."""
    return sorted(set().union(*(prediction.attributes for prediction in predictions)))


def _prediction_frame(predictions: Sequence[Prediction], attributes: Sequence[str]) -> pd.DataFrame:
    """Stored predictions in the column layout ``rollup_deltas`` reads."""
    return pd.DataFrame(
        {
            "occurred_at": pd.to_datetime([p.occurred_at for p in predictions], utc=True),
            **{f"attr:{name}": [p.attributes.get(name) for p in predictions] for name in attributes},
            "y_pred": np.array([p.y_pred for p in predictions], dtype=np.int8),
            "y_true": np.array([np.nan if p.y_true is None else p.y_true for p in predictions], dtype=float),
            "score": np.array([np.nan if p.score is None else p.score for p in predictions], dtype=float),
        }
    )


@transaction.atomic
def rebuild_rollups(*, model_version: ModelVersion, chunk_size: int = 100_000) -> int:
    """Recompute every rollup cell of ``model_version`` (confusion counts, score histograms and the feature bins
    of the features its policy now tests for drift) from its stored predictions; returns the row count."""
    PredictionRollup.objects.filter(model_version=model_version).delete()
    FeatureRollup.objects.filter(model_version=model_version).delete()
    drift = drift_features(feature_schema_for(model_version))
    total = 0
    queryset = Prediction.objects.filter(model_version=model_version).order_by("id")
    last_id = 0
    while True:
        chunk = list(queryset.filter(id__gt=last_id)[:chunk_size])
        if not chunk:
            return total
        last_id = chunk[-1].id
        total += len(chunk)
        apply_rollup_deltas(model_version_id=model_version.pk, deltas=_stored_deltas(chunk, sign=1))
        if drift:
            names = _attribute_names(chunk)
            frame = _prediction_frame(chunk, names)
            for name, _ in drift:
                frame[f"{FEATURE_PREFIX}{name}"] = [(p.features or {}).get(name) for p in chunk]
            apply_feature_cells(model_version_id=model_version.pk, cells=feature_cells(frame, names, drift))


def _announce(model_version: ModelVersion) -> None:
    """Tell the layers above that the version has new data (the checks enqueue a near-real-time check)."""
    predictions_stored.send(sender=ModelVersion, model_version=model_version)


def record_special_category_access(*, actor: Any, model_version: ModelVersion, where: str, rows: int) -> None:
    """Append ``special_category.access``: someone was shown stored predictions with their protected attribute
    values (special categories of personal data, EU AI Act Art. 10(5)(e)). Aggregates (rates, counts per group,
    reports) are not individual data and are not logged here; their exports are logged as ``report.export``."""
    audit_append(
        action="special_category.access",
        actor=actor,
        object_type="model_version",
        object_id=f"{model_version.model.name}:{model_version.version}",
        payload={"where": where, "rows": rows},
    )


DELETE_BATCH = 10_000


def _delete_in_batches(rows: Any) -> int:
    """Delete ``rows`` (one version's) DELETE_BATCH at a time; each DELETE keeps the rows' version filter."""
    deleted = 0
    while ids := list(rows.order_by("id").values_list("id", flat=True)[:DELETE_BATCH]):
        rows.filter(id__in=ids).delete()
        deleted += len(ids)
    return deleted


def delete_expired_predictions(now: Any) -> dict[str, int]:
    """Delete stored predictions (the individual records, with their protected attribute values) that are due:
    all of a model's once its policy's Art. 10(5) ``deletion_date`` has come, else those that occurred more than
    ``PREDICTION_RETENTION_DAYS`` ago (0: kept). Rollups (counts per hour and group) stay, so checks, reports and
    documents of past periods are unchanged, and the audit log holds no prediction, so its verification is too.
    Each deletion is a ``predictions.delete`` audit entry; returns the rows deleted per ``model:version``."""
    days = settings.PREDICTION_RETENTION_DAYS
    cutoff = now - timedelta(days=days) if days else None
    deleted: dict[str, int] = {}
    for version in ModelVersion.objects.select_related("model").order_by("id"):
        policy = current_policy(version.model)
        deletion_date = ((policy.special_category_data if policy else None) or {}).get("deletion_date")
        if deletion_date and deletion_date <= now.date().isoformat():
            rows, reason = Prediction.objects.filter(model_version=version), "art_10_5_deletion_date"
        elif cutoff is not None:
            rows, reason = Prediction.objects.filter(model_version=version, occurred_at__lt=cutoff), "retention"
        else:
            continue
        with transaction.atomic():
            count = _delete_in_batches(rows)
            if count:
                audit_append(
                    action="predictions.delete",
                    object_type="model_version",
                    object_id=f"{version.model.name}:{version.version}",
                    payload={
                        "rows": count,
                        "reason": reason,
                        "deletion_date": deletion_date if reason == "art_10_5_deletion_date" else None,
                        "occurred_before": cutoff.isoformat() if reason == "retention" else None,
                    },
                )
        if count:
            deleted[f"{version.model.name}:{version.version}"] = count
    return deleted
