"""Ingestion endpoints: predictions and labels per model version, and the seed's submit_predictions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.envelope import envelope, envelope_serializer
from core.api.errors import ApplicationError
from core.api.pagination import cursor_page_schema
from core.roles import MODEL_CLIENT, Role, roles_of
from monitoring.api.parsers import INGESTION_PARSERS, RawBody, RawJSONParser
from monitoring.api.serializers import (
    IngestionResultSerializer,
    LabelBatchSerializer,
    LabelResultSerializer,
    PredictionBatchSerializer,
    PredictionOutputSerializer,
    SubmitInputSerializer,
    SubmitResultSerializer,
)
from monitoring.idempotency import run_idempotently
from monitoring.ingestion import selectors as monitoring_selectors
from monitoring.ingestion import services
from monitoring.ingestion.columnar import ARROW_STREAM, COLUMNAR_MEDIA_TYPES, PARQUET
from monitoring.ingestion.locking import retry_when_locked
from monitoring.ingestion.parsing import (
    bad_batch,
    frame_from_json_records,
    labels_from_csv,
    parse_json_body,
)
from monitoring.ingestion.summaries import explain_alert, finish_record
from monitoring.metrics_service import batch_metrics
from monitoring.models import IngestionRecord
from registry.models import MLModel, ModelVersion
from registry.selectors import version_by_name

INGESTERS = {Role.MONITOR, Role.ADMIN, MODEL_CLIENT}
READERS = {Role.MONITOR, Role.AUDITOR, Role.ADMIN}
IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="Repeat a request safely: the first response to a key is replayed for the same request.",
)


def principal_name(request: Request) -> str:
    return request.user.get_username()


def require_model_scope(request: Request, model: MLModel) -> None:
    """A model client's key acts for one model only."""
    if MODEL_CLIENT in roles_of(request.user) and request.auth.model_id != model.pk:
        raise ApplicationError("This API key is for another model.", code="wrong_model", status_code=403)


def _flag(request: Request, name: str) -> bool:
    value = request.query_params.get(name, "false").lower()
    if value not in {"true", "false", "1", "0"}:
        raise ApplicationError(f"`{name}` must be true or false.", details={name: ["true or false"]})
    return value in {"true", "1"}


def _attributes_param(request: Request) -> list[str] | None:
    value = request.query_params.get("protected_attributes")
    return [part.strip() for part in value.split(",") if part.strip()] if value else None


def _json_field(body: RawBody, name: str) -> Any:
    payload = parse_json_body(body.content)
    if not isinstance(payload, dict) or name not in payload:
        raise bad_batch(f"The body must be a JSON object with a `{name}` list.", **{name: ["required"]})
    return payload[name]


def _idempotent(request: Request, body: RawBody, handler: Callable[[], Response]) -> Response:
    """Run ``handler`` at most once per (caller, Idempotency-Key); repeats get the first response.

    The whole exchange is rerun if SQLite's write lock stayed busy: a failed attempt stored nothing, not even
    the key, so the rerun is the first run again.
    """
    return retry_when_locked(
        lambda: run_idempotently(
            key=request.headers.get("Idempotency-Key"),
            principal=principal_name(request),
            method=request.method,
            path=request.get_full_path(),
            body=body.content,
            handler=handler,
        ),
        what=f"{request.method} {request.path}",
    )


def _body(request: Request) -> RawBody:
    body = request.data
    if not isinstance(body, RawBody) or not body.content:
        raise bad_batch("The request has no body.", code="empty_batch")
    return body


# CSV text, or an Arrow IPC stream or Parquet file with the same columns (typed: see docs/api.md).
_TABULAR_BODIES = {"text/csv": OpenApiTypes.STR, ARROW_STREAM: OpenApiTypes.BINARY, PARQUET: OpenApiTypes.BINARY}


class PredictionsView(APIView):
    """Ingest a batch of predictions (JSON, CSV, Arrow IPC stream or Parquet) for one model version, or list
    stored predictions.

    JSON: ``{"predictions": [{id, timestamp, attributes, y_pred, y_true?, score?, features?}]}``. CSV: a header
    row with ``id, timestamp``, one column per protected attribute, ``y_pred``, optional ``y_true``, ``score``;
    other columns are features. Arrow IPC stream and Parquet: the CSV's columns, typed. Ids are stored only as
    keyed hashes; re-sent ids are duplicates. Only the features the policy declares are stored (identifiers as
    keyed hashes); the others are dropped and listed in ``dropped_features``.
    """

    required_roles = {"POST": INGESTERS, "GET": READERS}
    parser_classes = INGESTION_PARSERS

    @extend_schema(
        request={"application/json": PredictionBatchSerializer, **_TABULAR_BODIES},
        responses={200: IngestionResultSerializer, 201: IngestionResultSerializer, 422: None},
        parameters=[
            IDEMPOTENCY_HEADER,
            OpenApiParameter("atomic", OpenApiTypes.BOOL, description="Reject the whole batch on any invalid row."),
            OpenApiParameter(
                "protected_attributes",
                OpenApiTypes.STR,
                description="Comma-separated attributes; if given, they must be the policy's (which are fixed).",
            ),
        ],
        tags=["ingestion"],
    )
    def post(self, request: Request, name: str, version: str) -> Response:
        model_version = version_by_name(name, version)
        require_model_scope(request, model_version.model)
        body = _body(request)
        atomic = _flag(request, "atomic")
        attributes = services.protected_attributes_for(model_version, _attributes_param(request))
        # Parsed and validated before any transaction: on SQLite the write lock is held only to store.
        prepared = _prepare(model_version, body, attributes, atomic)

        def ingest() -> Response:
            result = services.store_predictions(
                model_version=model_version, prepared=prepared, principal=principal_name(request)
            )
            return Response(result.as_dict(), status=201 if result.accepted else 200)

        return _idempotent(request, body, ingest)

    @extend_schema(responses=cursor_page_schema("PredictionPage", PredictionOutputSerializer), tags=["ingestion"])
    def get(self, request: Request, name: str, version: str) -> Response:
        paginator = _PredictionCursor()
        page = paginator.paginate_queryset(
            monitoring_selectors.prediction_list(version_by_name(name, version)), request, view=self
        )
        return paginator.get_paginated_response(PredictionOutputSerializer(page, many=True).data)


class _PredictionCursor(CursorPagination):
    ordering = "-id"
    page_size = 100
    max_page_size = 1000
    page_size_query_param = "limit"


def _column_limit(model_version: ModelVersion, attributes: list[str]) -> int:
    """The most CSV columns, or keys in one row's JSON ``features``, a batch for this model may have."""
    return services.csv_column_limit(attributes, services.feature_schema_for(model_version))


def _prepare(model_version: ModelVersion, body: RawBody, attributes: list[str], atomic: bool) -> services.PreparedBatch:
    if body.media_type in COLUMNAR_MEDIA_TYPES:
        return services.prepare_columnar_predictions(
            model_version=model_version,
            payload=body.content,
            media_type=body.media_type,
            attributes=attributes,
            atomic=atomic,
        )
    if body.media_type == "text/csv":
        return services.prepare_csv_predictions(
            model_version=model_version, payload=body.content, attributes=attributes, atomic=atomic
        )
    raw = frame_from_json_records(
        _json_field(body, "predictions"),
        attributes,
        settings.INGEST_MAX_ROWS,
        _column_limit(model_version, attributes),
    )
    return services.prepare_predictions(model_version=model_version, raw=raw, attributes=attributes, atomic=atomic)


class LabelsView(APIView):
    """Attach true outcomes to stored predictions: JSON ``{"labels": [{"id": ..., "y_true": 0|1}]}``, a CSV
    with the header ``id,y_true``, or an Arrow IPC stream or Parquet file with those two columns."""

    required_roles = {"POST": INGESTERS}
    parser_classes = INGESTION_PARSERS

    @extend_schema(
        request={"application/json": LabelBatchSerializer, **_TABULAR_BODIES},
        responses=LabelResultSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        tags=["ingestion"],
    )
    def post(self, request: Request, name: str, version: str) -> Response:
        model_version = version_by_name(name, version)
        require_model_scope(request, model_version.model)
        body = _body(request)

        def label() -> Response:
            labels = _labels(body)
            return Response(
                services.ingest_labels(model_version=model_version, labels=labels, principal=principal_name(request))
            )

        return _idempotent(request, body, label)


def _labels(body: RawBody) -> Any:
    if body.media_type in COLUMNAR_MEDIA_TYPES:
        return services.columnar_labels(body.content, body.media_type)
    if body.media_type == "text/csv":
        return labels_from_csv(body.content, settings.INGEST_MAX_ROWS)
    return _json_field(body, "labels")


class SubmitPredictionsView(APIView):
    """Seed endpoint: store a batch of predictions and return fairness metrics computed over it."""

    required_roles = {"POST": INGESTERS}
    parser_classes = [RawJSONParser]

    @extend_schema(
        request=SubmitInputSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={200: envelope_serializer("Submitted", SubmitResultSerializer())},
        tags=["seed"],
    )
    def post(self, request: Request) -> Response:
        body = _body(request)
        data = SubmitInputSerializer(data=parse_json_body(body.content))
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        model_version = version_by_name(fields["model_name"], fields["version"])
        require_model_scope(request, model_version.model)
        attributes = services.protected_attributes_for(model_version, fields.get("protected_attributes"))
        # Validation and metrics need no transaction, so they run before the write lock is taken; metrics that
        # cannot be computed (400) leave nothing stored.
        raw = frame_from_json_records(
            fields["predictions"], attributes, settings.INGEST_MAX_ROWS, _column_limit(model_version, attributes)
        )
        prepared = services.prepare_predictions(model_version=model_version, raw=raw, attributes=attributes)
        metrics, alert = batch_metrics(
            model_version=model_version,
            frame=prepared.valid_frame,
            attributes=attributes,
            privileged=fields.get("privileged"),
            favorable_label=fields.get("favorable_label"),
        )
        explanation = explain_alert(metrics) if alert else None

        @transaction.atomic
        def submit() -> Response:
            result = services.store_predictions(
                model_version=model_version,
                prepared=prepared,
                principal=principal_name(request),
                source=IngestionRecord.Source.SUBMIT,
            )
            finish_record(
                result.record,
                summary={"metrics": metrics, "alert": alert},
                explanation=explanation,
            )
            return envelope(
                {**result.as_dict(), "alert": alert, "metrics": metrics},
                "alert: fairness violation" if alert else "no violation",
            )

        return _idempotent(request, body, submit)
