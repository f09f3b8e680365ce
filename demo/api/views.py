"""The seed's demo endpoints: /api/evaluate_model (a registered model on simulated applicants),
/api/monitor_fairness (simulated fair and drifted scenarios), /api/fairness_trend, /api/pre_alert and
/api/predict_fairness_drift (from the stored checks of a model).

Readers may call them; anonymous callers too while FAIRLENS_DEMO_ENDPOINTS is on (make run), throttled like
every anonymous request.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from compliance.models import AuditEntry
from core.api.envelope import envelope, envelope_serializer
from core.api.errors import ApplicationError
from core.roles import DEMO_VISITOR, Role, principal_label
from demo.evaluation import evaluate_model
from demo.scenarios import DemoScenarioResult, run_demo_scenarios
from demo.stream import demo_version
from monitoring.api.serializers import EvaluateInputSerializer, EvaluateResultSerializer
from monitoring.api.views import principal_name
from monitoring.checks.selectors import completed_checks_by_window
from monitoring.checks.services import policy_threshold
from monitoring.fairness import pre_alert_check, predict_drift, rolling_average, to_native
from registry.models import ModelVersion
from registry.selectors import version_by_name
from registry.services import current_policy

logger = logging.getLogger("fairlens.monitor")
DEMO_READERS = {Role.MONITOR, Role.AUDITOR, Role.ADMIN, DEMO_VISITOR}


class MonitorQuerySerializer(serializers.Serializer):
    scenario = serializers.ChoiceField(choices=("fair", "drifted"), required=False)
    n_samples = serializers.IntegerField(min_value=2, max_value=100_000, default=1000)
    drift_level = serializers.FloatField(min_value=0.0, max_value=1.0, default=0.5)
    seed = serializers.IntegerField(min_value=0, max_value=2**32 - 1, default=42)


class SeriesQuerySerializer(serializers.Serializer):
    model = serializers.CharField(max_length=100, required=False)
    version = serializers.CharField(max_length=50, required=False)
    window = serializers.IntegerField(min_value=2, max_value=200, default=10)


def _audit_tail(limit: int = 10) -> list[dict[str, Any]]:
    """The last demo fairness checks in the audit log: sequence, time, hashes (no payloads)."""
    entries = AuditEntry.objects.filter(action="fairness_check").order_by("-seq")[:limit]
    return [
        {
            "seq": e.seq,
            "time": e.time.isoformat(),
            "action": e.action,
            "object_id": e.object_id,
            "entry_hash": e.entry_hash,
        }
        for e in entries
    ]


class MonitorFairnessView(APIView):
    """Seed endpoint: DIR and the 20% gap rule on simulated fair and drifted loan decisions; the drifted
    scenario's explanation is encrypted, logged and stored as a record (``record_id`` for /api/verify_alert)."""

    required_roles = {"GET": DEMO_READERS}

    @extend_schema(
        parameters=[MonitorQuerySerializer],
        responses=envelope_serializer("MonitorFairness", serializers.DictField()),
        tags=["seed"],
    )
    def get(self, request: Request) -> Response:
        query = MonitorQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        version = demo_version()
        if version is None:
            raise ApplicationError(
                "The demo model is not registered; run `manage.py train_demo_model`.",
                code="demo_model_missing",
                status_code=409,
            )
        principal = principal_label(request.user, request.auth)[0] if request.user.is_authenticated else "anonymous"
        result: DemoScenarioResult = run_demo_scenarios(
            model_version=version, principal=principal, **query.validated_data
        )
        data = {**result.scenarios, "audit_tail": _audit_tail(), "record_id": result.record_id}
        return envelope(data, "fairness drift detected" if result.alert else "model fairness stable")


def _series_version(query: dict[str, Any]) -> ModelVersion:
    if query.get("model") and query.get("version"):
        return version_by_name(query["model"], query["version"])
    if query.get("model") or query.get("version"):
        raise ApplicationError(
            "Give both model and version, or neither (the demo model).",
            code="invalid",
            details={"model": ["give both model and version"]},
        )
    version = demo_version()
    if version is None:
        raise ApplicationError("The demo model is not registered.", code="demo_model_missing", status_code=409)
    return version


def _series(request: Request) -> tuple[ModelVersion, list[dict[str, Any]], float, int]:
    query = SeriesQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    version = _series_version(query.validated_data)
    window = query.validated_data["window"]
    checks = list(
        completed_checks_by_window(version.pk).values("id", "window_end", "headline_dir", "status_summary")[
            : max(window, 30)
        ]
    )
    checks.reverse()
    policy = current_policy(version.model)
    threshold = policy_threshold(policy) if policy else settings.FAIRLENS_ALERT_THRESHOLD
    points = [
        {
            "check_id": c["id"],
            "window_end": c["window_end"].isoformat(),
            "dir": c["headline_dir"],
            "status": c["status_summary"],
        }
        for c in checks
    ]
    return version, points, threshold, window


def _subject(version: ModelVersion, threshold: float) -> dict[str, Any]:
    return {"model": version.model.name, "version": version.version, "threshold": threshold}


class FairnessTrendView(APIView):
    """Seed endpoint: the last ``window`` headline DIRs of a model's checks, their moving average and velocity."""

    required_roles = {"GET": DEMO_READERS}

    @extend_schema(
        parameters=[SeriesQuerySerializer],
        responses=envelope_serializer("FairnessTrend", serializers.DictField()),
        tags=["seed"],
    )
    def get(self, request: Request) -> Response:
        version, points, threshold, window = _series(request)
        recent = points[-window:]
        average = rolling_average([p["dir"] for p in recent], window)
        data = {
            **_subject(version, threshold),
            "window": window,
            "points": recent,
            "dirs": [p["dir"] for p in recent],
            "moving_average": average.average,
            "velocity": average.velocity,
        }
        return envelope(data, f"{len(recent)} checks")


class PreAlertView(APIView):
    """Seed endpoint: the moving-average and velocity pre-alert rule on the model's recent DIRs."""

    required_roles = {"GET": DEMO_READERS}

    @extend_schema(
        parameters=[SeriesQuerySerializer],
        responses=envelope_serializer("PreAlert", serializers.DictField()),
        tags=["seed"],
    )
    def get(self, request: Request) -> Response:
        version, points, threshold, window = _series(request)
        result = pre_alert_check([p["dir"] for p in points], threshold, window)
        return envelope({**_subject(version, threshold), **to_native(asdict(result))}, result.status)


class PredictDriftView(APIView):
    """Seed endpoint: linear-trend forecast of the next DIR with a bootstrap breach probability and the
    recommended action (none / warn / retrain)."""

    required_roles = {"GET": DEMO_READERS}

    @extend_schema(
        parameters=[SeriesQuerySerializer],
        responses=envelope_serializer("DriftForecast", serializers.DictField()),
        tags=["seed"],
    )
    def get(self, request: Request) -> Response:
        version, points, threshold, _ = _series(request)
        forecast = predict_drift([p["dir"] for p in points], threshold, seed=0)
        return envelope(
            {**_subject(version, threshold), **to_native(asdict(forecast))}, f"recommended action: {forecast.action}"
        )


class EvaluateModelView(APIView):
    """Seed endpoint: run a registered model on simulated applicants (``mode=prod``) or take the simulator's own
    decisions (``mode=demo``); return the predictions, a summary, metrics and the ``record_id`` of an evaluation
    record. The predictions are not stored: a simulation never changes the model's monitoring."""

    required_roles = {"POST": {Role.MONITOR, Role.ADMIN}}

    @extend_schema(
        request=EvaluateInputSerializer,
        responses={200: envelope_serializer("Evaluation", EvaluateResultSerializer())},
        tags=["seed"],
    )
    def post(self, request: Request) -> Response:
        data = EvaluateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        result = evaluate_model(
            model_version=version_by_name(fields["model_name"], fields["version"]),
            n_samples=fields["n_samples"],
            drift_level=fields["drift_level"],
            mode=fields["mode"],
            seed=fields.get("seed"),
            principal=principal_name(request),
        )
        return envelope(result, "alert: fairness violation" if result["alert"] else "no violation")
