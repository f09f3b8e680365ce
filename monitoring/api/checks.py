"""Fairness checks under /api/v1/checks/: the list and one check (readers), and running one now (operators)."""

from __future__ import annotations

from datetime import UTC, datetime

from django.urls import path
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import ApplicationError
from core.api.schema import string_filters
from core.roles import Role
from monitoring.checks import selectors as check_selectors
from monitoring.checks.services import CheckBusy, run_check
from monitoring.models import CHECK_RECORD_FIELDS, FairnessCheck
from registry.selectors import version_by_name

READERS = {Role.MONITOR, Role.AUDITOR, Role.ADMIN}
OPERATORS = {Role.MONITOR, Role.ADMIN}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class CheckSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="model_version.model.name", read_only=True)
    version = serializers.CharField(source="model_version.version", read_only=True)
    policy_version = serializers.IntegerField(source="policy.version", read_only=True)

    class Meta:
        model = FairnessCheck
        fields = ("id", "model", "version", "policy_version", *CHECK_RECORD_FIELDS)
        read_only_fields = fields


class CheckSummarySerializer(serializers.ModelSerializer):
    """A check as the list shows it: everything but the full ``result``, which its ``url`` serves."""

    model = serializers.CharField(source="model_version.model.name", read_only=True)
    version = serializers.CharField(source="model_version.version", read_only=True)
    policy_version = serializers.IntegerField(source="policy.version", read_only=True)
    url = serializers.HyperlinkedIdentityField(view_name="check-detail", lookup_url_kwarg="check_id")

    class Meta:
        model = FairnessCheck
        fields = ("id", "url", "model", "version", "policy_version", *(f for f in CHECK_RECORD_FIELDS if f != "result"))
        read_only_fields = fields


class CheckRunInputSerializer(serializers.Serializer):
    model = serializers.CharField(max_length=100)
    version = serializers.CharField(max_length=50)
    window_end = serializers.DateTimeField(required=False, help_text="Defaults to now; not in the future.")

    def validate_window_end(self, value: datetime) -> datetime:
        # A window that has not ended would be stored, once and for good, with part of its data; a time
        # before the epoch is a typo (and years near 1 overflow when the window start is computed).
        if value > timezone.now():
            raise serializers.ValidationError("A window can be checked once it has ended; this one is in the future.")
        if value < EPOCH:
            raise serializers.ValidationError("Give a time after 1970-01-01.")
        return value


class CheckListView(ListAPIView):
    """Fairness checks, newest window first, as summaries (the full ``result`` is at each check's ``url``);
    monitors and admins can run one now (trigger ``manual``)."""

    required_roles = {"GET": READERS, "POST": OPERATORS}
    serializer_class = CheckSummarySerializer

    def get_queryset(self):  # noqa: ANN201 - DRF hook
        return check_selectors.check_summaries(self.request.query_params)

    @extend_schema(parameters=string_filters("model", "version", "status"), tags=["checks"])
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(request=CheckRunInputSerializer, responses={201: CheckSerializer}, tags=["checks"])
    def post(self, request: Request) -> Response:
        data = CheckRunInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = version_by_name(data.validated_data["model"], data.validated_data["version"])
        try:
            check = run_check(
                model_version=version,
                window_end=data.validated_data.get("window_end") or timezone.now(),
                trigger="manual",
                claim_token=f"request:{request.user.pk}:{timezone.now().timestamp()}",
            )
        except CheckBusy as busy:
            raise ApplicationError(str(busy), code="check_running", status_code=409) from None
        except ValueError as exc:
            raise ApplicationError(str(exc), code="no_policy", status_code=409) from None
        return Response(CheckSerializer(check).data, status=status.HTTP_201_CREATED)


class CheckDetailView(APIView):
    required_roles = {"GET": READERS}

    @extend_schema(responses=CheckSerializer, tags=["checks"])
    def get(self, request: Request, check_id: int) -> Response:
        return Response(CheckSerializer(check_selectors.check_by_id(check_id)).data)


# Mounted under /api/v1/ by the site's URLs.
urlpatterns = [
    path("checks/", CheckListView.as_view(), name="check-list"),
    path("checks/<int:check_id>/", CheckDetailView.as_view(), name="check-detail"),
]
