"""Model clients' API keys under /api/v1/accounts/api-keys/: one registered model each, issued by an admin.

Accounts keeps the key itself (its hash, expiry, revocation and the authentication that reads it); issuing one for a
model needs the model registry, so the endpoint lives here, above both.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from accounts import selectors as key_selectors
from accounts import services as key_services
from accounts.api.serializers import ApiKeyCreatedSerializer, ApiKeyCreateInputSerializer, ApiKeyOutputSerializer
from core.api.errors import ApplicationError
from core.roles import Role
from registry.selectors import model_named

ADMIN = {Role.ADMIN}
ADMIN_OR_AUDITOR = {Role.ADMIN, Role.AUDITOR}


class ApiKeyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """API keys for model clients, one model each. The key is returned once, at creation; only a hash is kept."""

    serializer_class = ApiKeyOutputSerializer
    lookup_field = "prefix"
    lookup_value_regex = r"[A-Za-z0-9]{1,8}"
    required_roles = {
        "list": ADMIN_OR_AUDITOR,
        "retrieve": ADMIN_OR_AUDITOR,
        "create": ADMIN,
        "revoke": ADMIN,
    }
    filterset_fields = ("revoked",)
    ordering_fields = ("created", "last_used_at")

    def get_queryset(self):  # noqa: ANN201 - DRF hook
        return key_selectors.model_client_key_list()

    @extend_schema(request=ApiKeyCreateInputSerializer, responses={201: ApiKeyCreatedSerializer})
    def create(self, request: Request) -> Response:
        data = ApiKeyCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        model = model_named(data.validated_data["model"])
        if model is None:
            raise ApplicationError(
                f"No registered model named {data.validated_data['model']!r}.",
                code="unknown_model",
                details={"model": ["unknown model"]},
            )
        key, raw_key = key_services.model_client_key_create(
            model=model,
            name=data.validated_data["name"],
            created_by=request.user,
            expires_at=data.validated_data["expires_at"],
        )
        body = ApiKeyCreatedSerializer(key, context={"raw_key": raw_key}).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"})

    @extend_schema(request=None, responses=ApiKeyOutputSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, prefix: str | None = None) -> Response:
        key = get_object_or_404(self.get_queryset(), prefix=prefix)
        key_services.model_client_key_revoke(key=key, revoked_by=request.user)
        return Response(ApiKeyOutputSerializer(key).data)


# Mounted under /api/v1/accounts/ by the site's URLs, beside accounts' own routes.
router = SimpleRouter()
router.register("api-keys", ApiKeyViewSet, basename="api-key")
urlpatterns = router.urls
