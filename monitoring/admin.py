"""Admin for monitoring data. Predictions and rollups are written only by ingestion, so both sites show them
read-only."""

from __future__ import annotations

from django.contrib import admin

from core.admin_sites import ReadOnlyAdmin, auditor_site
from monitoring.models import IngestionRecord, Prediction, PredictionRollup

RECORD_FIELDS = (
    "record_id",
    "model_version",
    "source",
    "principal",
    "accepted",
    "duplicates",
    "rejected",
    "summary",
    "created_at",
)


class IngestionRecordAdmin(ReadOnlyAdmin):
    list_display = (
        "record_id",
        "model_version",
        "source",
        "principal",
        "accepted",
        "duplicates",
        "rejected",
        "created_at",
    )
    list_filter = ("source",)
    search_fields = ("record_id", "principal")
    fields = RECORD_FIELDS


class PredictionRollupAdmin(ReadOnlyAdmin):
    list_display = (
        "model_version",
        "bucket_start",
        "attribute",
        "group",
        "tp",
        "fp",
        "tn",
        "fn",
        "unlabeled_pos",
        "unlabeled_neg",
    )
    list_filter = ("attribute",)


class PredictionAdmin(ReadOnlyAdmin):
    list_display = ("prediction_key", "model_version", "occurred_at", "y_pred", "y_true", "score")
    fields = (
        "prediction_key",
        "model_version",
        "occurred_at",
        "attributes",
        "y_pred",
        "y_true",
        "score",
        "features",
        "record",
        "received_at",
        "labeled_at",
    )


for site in (admin.site, auditor_site):
    site.register(IngestionRecord, IngestionRecordAdmin)
    site.register(PredictionRollup, PredictionRollupAdmin)
    site.register(Prediction, PredictionAdmin)
