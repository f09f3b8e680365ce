"""Accounts resources under /api/v1/accounts/: who am I, users (admin), model-client API keys (admin)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.api.serializers import (
    ApiKeyCreatedSerializer,
    ApiKeyCreateInputSerializer,
    ApiKeyOutputSerializer,
    PasswordInputSerializer,
    PrincipalSerializer,
    UserCreateInputSerializer,
    UserOutputSerializer,
    UserUpdateInputSerializer,
)
from accounts.roles import MODEL_CLIENT, USER_ROLES, Role, primary_role, roles_of
from fairlens_site.api.errors import ApplicationError
from registry.models import MLModel

ADMIN = {Role.ADMIN}
ADMIN_OR_AUDITOR = {Role.ADMIN, Role.AUDITOR}


class MeView(APIView):
    """The calling principal: a user with roles, or a model client with the model its key is scoped to."""

    required_roles = {"GET": {*USER_ROLES, MODEL_CLIENT}}

    @extend_schema(responses=PrincipalSerializer, tags=["accounts"])
    def get(self, request: Request) -> Response:
        roles = roles_of(request.user)
        if MODEL_CLIENT in roles:
            body = {
                "kind": "model_client",
                "username": request.user.get_username(),
                "role": MODEL_CLIENT,
                "roles": [MODEL_CLIENT],
                "model": request.auth.model.name,
            }
        else:
            body = {
                "kind": "user",
                "username": request.user.get_username(),
                "role": primary_role(roles),
                "roles": sorted(roles),
                "model": None,
            }
        return Response(PrincipalSerializer(body).data)


class UserViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Users and their roles. Admins manage; auditors read (separation of duties: admins cannot audit)."""

    serializer_class = UserOutputSerializer
    required_roles = {
        "list": ADMIN_OR_AUDITOR,
        "retrieve": ADMIN_OR_AUDITOR,
        "create": ADMIN,
        "partial_update": ADMIN,
        "set_password": ADMIN,
    }
    filterset_fields = ("is_active",)
    ordering_fields = ("username", "date_joined", "last_login")

    def get_queryset(self):  # noqa: ANN201 - DRF hook
        return selectors.user_list()

    @extend_schema(request=UserCreateInputSerializer, responses={201: UserOutputSerializer})
    def create(self, request: Request) -> Response:
        data = UserCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_create(**data.validated_data, created_by=request.user)
        return Response(UserOutputSerializer(user).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=UserUpdateInputSerializer, responses=UserOutputSerializer)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        user = self.get_object()
        data = UserUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        if "role" in fields:
            services.user_set_role(user=user, role=fields.pop("role"), changed_by=request.user)
        if fields:
            services.user_update(user=user, changed_by=request.user, **fields)
        return Response(UserOutputSerializer(selectors.user_list().get(pk=user.pk)).data)

    @extend_schema(request=PasswordInputSerializer, responses={204: None})
    @action(detail=True, methods=["post"], url_path="set-password")
    def set_password(self, request: Request, pk: str | None = None) -> Response:
        user = self.get_object()
        data = PasswordInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.user_set_password(user=user, password=data.validated_data["password"], changed_by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


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
        return selectors.model_client_key_list()

    @extend_schema(request=ApiKeyCreateInputSerializer, responses={201: ApiKeyCreatedSerializer})
    def create(self, request: Request) -> Response:
        data = ApiKeyCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        model = MLModel.objects.filter(name=data.validated_data["model"]).first()
        if model is None:
            raise ApplicationError(
                f"No registered model named {data.validated_data['model']!r}.",
                code="unknown_model",
                details={"model": ["unknown model"]},
            )
        key, raw_key = services.model_client_key_create(
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
        services.model_client_key_revoke(key=key, revoked_by=request.user)
        return Response(ApiKeyOutputSerializer(key).data)
