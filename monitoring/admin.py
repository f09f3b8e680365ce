"""Admin for monitoring data. Predictions and rollups are written only by ingestion, so both sites show them
read-only. Opening a stored prediction (its protected attribute values) is an audited access."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from core.admin_sites import ReadOnlyAdmin, auditor_site
from monitoring.ingestion.services import record_special_category_access
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

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None) -> Any:
        response = super().change_view(request, object_id, form_url, extra_context)
        prediction = self.get_object(request, object_id)
        if request.method == "GET" and response.status_code == 200 and prediction is not None:
            record_special_category_access(
                actor=request.user, model_version=prediction.model_version, where="admin prediction page", rows=1
            )
        return response


for site in (admin.site, auditor_site):
    site.register(IngestionRecord, IngestionRecordAdmin)
    site.register(PredictionRollup, PredictionRollupAdmin)
    site.register(Prediction, PredictionAdmin)
