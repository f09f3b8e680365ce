"""Alerts (acknowledge, resolve, decrypt), webhook endpoints and deliveries under /api/v1/."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from compliance.api.serializers import DecryptInputSerializer
from compliance.field_encryption import decrypt_for
from core.api.schema import string_filters
from core.roles import Role
from monitoring.alerts import selectors, services
from monitoring.alerts.api.serializers import (
    AlertSerializer,
    DeliverySerializer,
    EndpointCreatedSerializer,
    EndpointInputSerializer,
    EndpointSerializer,
    EndpointUpdateSerializer,
    NoteInputSerializer,
)
from registry.selectors import model_by_name

READERS = {Role.MONITOR, Role.AUDITOR, Role.ADMIN}
OPERATORS = {Role.MONITOR, Role.ADMIN}
ADMIN = {Role.ADMIN}
ADMIN_AUDITOR = {Role.ADMIN, Role.AUDITOR}
AUDITOR = {Role.AUDITOR}


class AlertListView(ListAPIView):
    """Alerts, most recently seen first; filter by status, severity, metric, model."""

    required_roles = {"GET": READERS}
    serializer_class = AlertSerializer

    def get_queryset(self):  # noqa: ANN201 - DRF hook
        return selectors.alert_list(self.request.query_params)

    @extend_schema(parameters=string_filters("status", "severity", "metric", "model"), tags=["alerts"])
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)


class AlertDetailView(APIView):
    required_roles = {"GET": READERS}

    @extend_schema(responses=AlertSerializer, tags=["alerts"])
    def get(self, request: Request, alert_id: int) -> Response:
        return Response(AlertSerializer(selectors.alert_by_id(alert_id)).data)


class AlertAcknowledgeView(APIView):
    """open -> acknowledged, with a note."""

    required_roles = {"POST": OPERATORS}

    @extend_schema(request=NoteInputSerializer, responses=AlertSerializer, tags=["alerts"])
    def post(self, request: Request, alert_id: int) -> Response:
        data = NoteInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        alert = services.acknowledge_alert(alert_id=alert_id, user=request.user, note=data.validated_data["note"])
        return Response(AlertSerializer(alert).data)


class AlertResolveView(APIView):
    """open or acknowledged -> resolved, with a note."""

    required_roles = {"POST": OPERATORS}

    @extend_schema(request=NoteInputSerializer, responses=AlertSerializer, tags=["alerts"])
    def post(self, request: Request, alert_id: int) -> Response:
        data = NoteInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        alert = services.resolve_alert(alert_id=alert_id, user=request.user, note=data.validated_data["note"])
        return Response(AlertSerializer(alert).data)


class AlertDecryptView(APIView):
    """The alert's explanation in plain text, for an auditor who gives a reason (an audit entry records it)."""

    required_roles = {"POST": AUDITOR}

    @extend_schema(
        request=DecryptInputSerializer,
        responses=inline_serializer(
            "DecryptedAlertExplanation",
            {"alert_id": serializers.IntegerField(), "explanation": serializers.CharField()},
        ),
        tags=["alerts"],
    )
    def post(self, request: Request, alert_id: int) -> Response:
        data = DecryptInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        alert = selectors.alert_by_id(alert_id)
        text = decrypt_for(
            user=request.user,
            obj=alert,
            field="encrypted_explanation",
            reason=data.validated_data["reason"],
            otp=data.validated_data.get("otp"),
        )
        return Response({"alert_id": alert.pk, "explanation": text})


class EndpointListView(APIView):
    """Webhook endpoints. Creating one returns its signing secret once."""

    required_roles = {"GET": ADMIN_AUDITOR, "POST": ADMIN}

    @extend_schema(responses=EndpointSerializer(many=True), tags=["webhooks"])
    def get(self, request: Request) -> Response:
        return Response(EndpointSerializer(selectors.endpoint_list(), many=True).data)

    @extend_schema(request=EndpointInputSerializer, responses={201: EndpointCreatedSerializer}, tags=["webhooks"])
    def post(self, request: Request) -> Response:
        data = EndpointInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        if services.WebhookEndpoint.objects.filter(name=fields["name"]).exists():
            raise services.ApplicationError(
                f"An endpoint named {fields['name']!r} exists.", code="conflict", status_code=409
            )
        fields["model"] = model_by_name(fields["model"]) if fields.get("model") else None
        endpoint, secret = services.endpoint_create(created_by=request.user, **fields)
        body = EndpointSerializer(endpoint).data
        return Response({**body, "secret": secret}, status=status.HTTP_201_CREATED)


class EndpointDetailView(APIView):
    """One endpoint; admins change its URL, format, event types, or switch it on and off."""

    required_roles = {"GET": ADMIN_AUDITOR, "PATCH": ADMIN}

    @extend_schema(responses=EndpointSerializer, tags=["webhooks"])
    def get(self, request: Request, endpoint_id: int) -> Response:
        return Response(EndpointSerializer(selectors.endpoint_by_id(endpoint_id)).data)

    @extend_schema(request=EndpointUpdateSerializer, responses=EndpointSerializer, tags=["webhooks"])
    def patch(self, request: Request, endpoint_id: int) -> Response:
        endpoint = selectors.endpoint_by_id(endpoint_id)
        data = EndpointUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = services.endpoint_update(endpoint=endpoint, changed_by=request.user, **data.validated_data)
        return Response(EndpointSerializer(endpoint).data)


class EndpointRotateSecretView(APIView):
    """A new signing secret for the endpoint, shown this once; the old one stops working at once."""

    required_roles = {"POST": ADMIN}

    @extend_schema(
        request=None,
        responses=inline_serializer(
            "RotatedSecret", {"id": serializers.IntegerField(), "secret": serializers.CharField()}
        ),
        tags=["webhooks"],
    )
    def post(self, request: Request, endpoint_id: int) -> Response:
        endpoint = selectors.endpoint_by_id(endpoint_id)
        return Response(
            {"id": endpoint.pk, "secret": services.endpoint_rotate_secret(endpoint=endpoint, changed_by=request.user)}
        )


class DeliveryListView(ListAPIView):
    """Deliveries with every attempt (status code, latency, error); filter by status, endpoint, event_type."""

    required_roles = {"GET": ADMIN_AUDITOR}
    serializer_class = DeliverySerializer

    def get_queryset(self):  # noqa: ANN201 - DRF hook
        return selectors.delivery_list(self.request.query_params)

    @extend_schema(parameters=string_filters("status", "endpoint", "event_type"), tags=["webhooks"])
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)


class DeliveryDetailView(APIView):
    required_roles = {"GET": ADMIN_AUDITOR}

    @extend_schema(responses=DeliverySerializer, tags=["webhooks"])
    def get(self, request: Request, delivery_id: int) -> Response:
        return Response(DeliverySerializer(selectors.delivery_by_id(delivery_id)).data)


class DeliveryReplayView(APIView):
    """Send a failed or cancelled delivery again (same webhook-id)."""

    required_roles = {"POST": ADMIN}

    @extend_schema(request=None, responses=DeliverySerializer, tags=["webhooks"])
    def post(self, request: Request, delivery_id: int) -> Response:
        delivery = services.replay_delivery(delivery_id=delivery_id, user=request.user)
        return Response(DeliverySerializer(selectors.delivery_by_id(delivery.pk)).data)
