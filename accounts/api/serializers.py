"""Input and output serializers for the accounts API."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from accounts.models import ModelClientKey, User
from core.roles import Role, primary_role


class LoginInputSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)
    otp = serializers.CharField(
        max_length=32,
        required=False,
        allow_blank=True,
        help_text="Authenticator code (or a recovery code) for accounts with a second factor.",
    )


class RefreshTokenInputSerializer(serializers.Serializer):
    refresh_token = serializers.CharField(max_length=4096)


class TokenPairSerializer(serializers.Serializer):
    access_token = serializers.CharField()
    refresh_token = serializers.CharField()
    token_type = serializers.CharField()
    expires_in = serializers.IntegerField(help_text="Access token lifetime in seconds.")
    role = serializers.CharField(allow_null=True)
    roles = serializers.ListField(child=serializers.CharField())
    mfa_verified = serializers.BooleanField(required=False, help_text="This sign-in passed the second factor.")
    mfa_enrolment_required = serializers.BooleanField(
        required=False, help_text="Enrol an authenticator (POST /api/v1/accounts/mfa/totp/) before anything else."
    )


class LogoutResultSerializer(serializers.Serializer):
    revoked = serializers.BooleanField()


def _user_roles(user: User) -> list[str]:
    groups = getattr(user, "role_groups", None)
    names = {group.name for group in groups} if groups is not None else set(user.groups.values_list("name", flat=True))
    if user.is_superuser:
        names.add(Role.ADMIN.value)
    return sorted(names)


class UserOutputSerializer(serializers.ModelSerializer):
    # Plain text, not format=email: accounts may have no address (empty string).
    email = serializers.CharField(read_only=True)
    role = serializers.SerializerMethodField()
    roles = serializers.SerializerMethodField()
    pending_role = serializers.SerializerMethodField(
        help_text="admin or auditor, requested and waiting for approval by another holder of that role."
    )

    class Meta:
        model = User
        fields = (
            "id",
            "username",
            "email",
            "first_name",
            "last_name",
            "is_active",
            "role",
            "roles",
            "pending_role",
            "last_login",
            "date_joined",
        )
        read_only_fields = fields

    def get_pending_role(self, user: User) -> str | None:
        return user.pending_role or None

    def get_role(self, user: User) -> str | None:
        return primary_role(frozenset(_user_roles(user)))

    def get_roles(self, user: User) -> list[str]:
        return _user_roles(user)


class UserCreateInputSerializer(serializers.Serializer):
    """No password: the new user chooses it through the invitation link e-mailed to ``email``."""

    username = serializers.RegexField(r"^[\w.@+-]{1,150}$", max_length=150)
    role = serializers.ChoiceField(
        choices=Role.choices,
        allow_null=True,
        help_text="admin and auditor wait for approval by another admin or auditor (two-person rule).",
    )
    email = serializers.EmailField(help_text="Where the invitation link goes.")


class UserUpdateInputSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices, allow_null=True, required=False)
    email = serializers.EmailField(required=False, allow_blank=True)
    first_name = serializers.CharField(required=False, allow_blank=True, max_length=150)
    last_name = serializers.CharField(required=False, allow_blank=True, max_length=150)
    is_active = serializers.BooleanField(required=False)


class PasswordResetStartedSerializer(serializers.Serializer):
    sent_to = serializers.CharField()
    expires_at = serializers.DateTimeField()


class PasswordResetCompleteInputSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=200, help_text="The token from the e-mailed link.")
    password = serializers.CharField(max_length=4096, trim_whitespace=False, write_only=True)


class OtpInputSerializer(serializers.Serializer):
    otp = serializers.CharField(max_length=32, help_text="A current code from the authenticator app.")


class TotpEnrolmentSerializer(serializers.Serializer):
    secret = serializers.CharField(help_text="Base32 secret for the authenticator app. Shown once.")
    otpauth_url = serializers.CharField()
    digits = serializers.IntegerField()
    period = serializers.IntegerField()


class RecoveryCodesSerializer(serializers.Serializer):
    recovery_codes = serializers.ListField(
        child=serializers.CharField(), help_text="One-time codes for signing in without the authenticator. Shown once."
    )


class MfaStatusSerializer(serializers.Serializer):
    enrolled = serializers.BooleanField()
    required = serializers.BooleanField()
    recovery_codes_left = serializers.IntegerField()


class ApiKeyOutputSerializer(serializers.ModelSerializer):
    model = serializers.SlugRelatedField(slug_field="name", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    revoked_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    expires_at = serializers.DateTimeField(source="expiry_date", read_only=True, allow_null=True)

    class Meta:
        model = ModelClientKey
        fields = (
            "prefix",
            "name",
            "model",
            "created",
            "created_by",
            "expires_at",
            "last_used_at",
            "revoked",
            "revoked_at",
            "revoked_by",
        )
        read_only_fields = fields


class ApiKeyCreatedSerializer(ApiKeyOutputSerializer):
    key = serializers.SerializerMethodField(help_text="The API key. Shown once; store it now.")

    class Meta(ApiKeyOutputSerializer.Meta):
        fields = ("key", *ApiKeyOutputSerializer.Meta.fields)
        read_only_fields = fields

    def get_key(self, obj: Any) -> str:
        return self.context["raw_key"]


class ApiKeyCreateInputSerializer(serializers.Serializer):
    model = serializers.CharField(max_length=100, help_text="Name of the registered model the key may act for.")
    name = serializers.CharField(max_length=50, help_text="A label to tell keys apart, e.g. 'scoring-service'.")
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class PrincipalSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["user", "model_client"])
    username = serializers.CharField()
    role = serializers.CharField(allow_null=True)
    roles = serializers.ListField(child=serializers.CharField())
    model = serializers.CharField(allow_null=True, required=False)
