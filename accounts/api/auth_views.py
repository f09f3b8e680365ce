"""The seed's session endpoints: /api/login, /api/refresh, /api/logout (with the {status, data, message} envelope)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.api.serializers import (
    LoginInputSerializer,
    LogoutResultSerializer,
    RefreshTokenInputSerializer,
    TokenPairSerializer,
)
from core.api.envelope import envelope, envelope_serializer
from core.api.throttling import AnonymousRateThrottle, LoginRateThrottle
from core.roles import ANYONE


class _PublicAuthView(APIView):
    """Token endpoints take credentials in the body, so they ignore any Authorization header."""

    required_roles = {"POST": {ANYONE}}
    authentication_classes: list = []
    throttle_classes = [LoginRateThrottle, AnonymousRateThrottle]
    # With the cache down these stay open: axes keeps lockouts in the database (core.api.throttling).
    throttle_fail_open = True


class LoginView(_PublicAuthView):
    """Exchange a username and password for an access token, a refresh token and the user's role."""

    @extend_schema(
        request=LoginInputSerializer,
        responses={200: envelope_serializer("Login", TokenPairSerializer())},
        tags=["auth"],
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = LoginInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        sign_in = services.authenticate_user(
            request=request._request,
            username=data.validated_data["username"],
            password=data.validated_data["password"],
            otp=data.validated_data.get("otp") or None,
        )
        tokens = services.issue_tokens(sign_in.user, mfa_at=sign_in.mfa_at)
        tokens["mfa_verified"] = sign_in.mfa_at is not None
        tokens["mfa_enrolment_required"] = sign_in.must_enrol
        message = "logged in; enrol an authenticator before anything else" if sign_in.must_enrol else "logged in"
        return envelope(tokens, message)


class RefreshView(_PublicAuthView):
    """Exchange a refresh token for a new access token; the refresh token rotates and the old one is revoked."""

    @extend_schema(
        request=RefreshTokenInputSerializer,
        responses={200: envelope_serializer("Refresh", TokenPairSerializer())},
        tags=["auth"],
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = RefreshTokenInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return envelope(services.refresh_session(raw_refresh=data.validated_data["refresh_token"]), "refreshed")


class LogoutView(_PublicAuthView):
    """Revoke a refresh token. Access tokens already issued expire by themselves (JWT_ACCESS_EXPIRE)."""

    @extend_schema(
        request=RefreshTokenInputSerializer,
        responses={200: envelope_serializer("Logout", LogoutResultSerializer())},
        tags=["auth"],
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = RefreshTokenInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        revoked = services.logout_session(raw_refresh=data.validated_data["refresh_token"])
        return envelope({"revoked": revoked}, "logged out" if revoked else "already logged out")
