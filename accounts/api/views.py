"""Accounts resources under /api/v1/accounts/: who am I, users (admin), the second factor.

Model clients' API keys are issued for a registered model, so their views are registry's (registry/api/api_keys.py).
"""

from __future__ import annotations

import time

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import mfa, selectors, services
from accounts.api.serializers import (
    MfaStatusSerializer,
    OtpInputSerializer,
    PasswordResetCompleteInputSerializer,
    PasswordResetStartedSerializer,
    PrincipalSerializer,
    RecoveryCodesSerializer,
    TokenPairSerializer,
    TotpEnrolmentSerializer,
    UserCreateInputSerializer,
    UserOutputSerializer,
    UserUpdateInputSerializer,
)
from core.api.throttling import AnonymousRateThrottle, LoginRateThrottle
from core.roles import ANYONE, MODEL_CLIENT, USER_ROLES, Role, primary_role, roles_of

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
    """Users and their roles. Admins manage; auditors read (separation of duties: admins cannot audit).

    Nobody sets another user's password: admins start a reset (``reset``) that the user completes from an
    e-mailed link. A new admin or auditor role waits for ``approve`` by another holder of that role.
    """

    serializer_class = UserOutputSerializer
    required_roles = {
        "list": ADMIN_OR_AUDITOR,
        "retrieve": ADMIN_OR_AUDITOR,
        "create": ADMIN,
        "partial_update": ADMIN,
        "reset": ADMIN,
        # Any admin or auditor may call it; the service lets only a holder of the requested role approve.
        "approve": ADMIN_OR_AUDITOR,
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

    @extend_schema(request=None, responses={202: PasswordResetStartedSerializer})
    @action(detail=True, methods=["post"])
    def reset(self, request: Request, pk: str | None = None) -> Response:
        """E-mail the user a one-time, expiring link to choose a new password; the password is unchanged until
        they do. Resets of auditors are told to every auditor."""
        user = self.get_object()
        row = services.password_reset_start(user=user, requested_by=request.user)
        body = PasswordResetStartedSerializer({"sent_to": user.email, "expires_at": row.expires_at}).data
        return Response(body, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses=UserOutputSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str | None = None) -> Response:
        """Grant the user's requested admin or auditor role (the second person: an existing holder of that role,
        not the requester)."""
        user = self.get_object()
        services.user_approve_role(user=user, approved_by=request.user)
        return Response(UserOutputSerializer(selectors.user_list().get(pk=user.pk)).data)


class PasswordResetCompleteView(APIView):
    """Choose a new password with the token from a reset or invitation e-mail (no sign-in; the token is it)."""

    required_roles = {"POST": {ANYONE}}
    authentication_classes: list = []
    throttle_classes = [LoginRateThrottle, AnonymousRateThrottle]

    @extend_schema(request=PasswordResetCompleteInputSerializer, responses={204: None}, auth=[])
    def post(self, request: Request) -> Response:
        data = PasswordResetCompleteInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.password_reset_complete(token=data.validated_data["token"], password=data.validated_data["password"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class _MfaView(APIView):
    """Second-factor management of the calling user. Reachable before enrolment (``mfa_enrolment``)."""

    required_roles = {"GET": USER_ROLES, "POST": USER_ROLES}
    mfa_enrolment = True


class MfaStatusView(_MfaView):
    @extend_schema(responses=MfaStatusSerializer, tags=["accounts"])
    def get(self, request: Request) -> Response:
        user = request.user
        body = {
            "enrolled": mfa.is_enrolled(user),
            "required": mfa.mfa_required_for(user),
            "recovery_codes_left": mfa.recovery_codes_left(user),
        }
        return Response(MfaStatusSerializer(body).data)


class TotpBeginView(_MfaView):
    """Start TOTP enrolment: the secret for the authenticator app (shown once). Confirm with a first code."""

    @extend_schema(request=None, responses={201: TotpEnrolmentSerializer}, tags=["accounts"])
    def post(self, request: Request) -> Response:
        enrolment = mfa.totp_begin(user=request.user)
        body = TotpEnrolmentSerializer(enrolment).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"})


class TotpConfirmView(_MfaView):
    """Confirm enrolment with the first code: returns recovery codes (shown once) and tokens of a sign-in that
    passed the second factor."""

    @extend_schema(
        request=OtpInputSerializer,
        responses=inline_serializer(
            "TotpConfirmed",
            {"recovery_codes": serializers.ListField(child=serializers.CharField()), "tokens": TokenPairSerializer()},
        ),
        tags=["accounts"],
    )
    def post(self, request: Request) -> Response:
        data = OtpInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        codes = mfa.totp_confirm(user=request.user, otp=data.validated_data["otp"])
        tokens = services.issue_tokens(request.user, mfa_at=int(time.time()))
        return Response({"recovery_codes": codes, "tokens": tokens}, headers={"Cache-Control": "no-store"})


class RecoveryCodesView(_MfaView):
    """New recovery codes against a current authenticator code; the earlier ones stop working."""

    mfa_enrolment = False

    @extend_schema(request=OtpInputSerializer, responses=RecoveryCodesSerializer, tags=["accounts"])
    def post(self, request: Request) -> Response:
        data = OtpInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        codes = mfa.recovery_codes_regenerate(user=request.user, otp=data.validated_data["otp"])
        return Response(RecoveryCodesSerializer({"recovery_codes": codes}).data, headers={"Cache-Control": "no-store"})
