"""Input and output serializers for the accounts API."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from accounts.models import ModelClientKey, User
from accounts.roles import Role, primary_role


class LoginInputSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)


class RefreshTokenInputSerializer(serializers.Serializer):
    refresh_token = serializers.CharField(max_length=4096)


class TokenPairSerializer(serializers.Serializer):
    access_token = serializers.CharField()
    refresh_token = serializers.CharField()
    token_type = serializers.CharField()
    expires_in = serializers.IntegerField(help_text="Access token lifetime in seconds.")
    role = serializers.CharField(allow_null=True)
    roles = serializers.ListField(child=serializers.CharField())


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
            "last_login",
            "date_joined",
        )
        read_only_fields = fields

    def get_role(self, user: User) -> str | None:
        return primary_role(frozenset(_user_roles(user)))

    def get_roles(self, user: User) -> list[str]:
        return _user_roles(user)


class UserCreateInputSerializer(serializers.Serializer):
    username = serializers.RegexField(r"^[\w.@+-]{1,150}$", max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False, write_only=True)
    role = serializers.ChoiceField(choices=Role.choices, allow_null=True)
    email = serializers.EmailField(required=False, allow_blank=True, default="")


class UserUpdateInputSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices, allow_null=True, required=False)
    email = serializers.EmailField(required=False, allow_blank=True)
    first_name = serializers.CharField(required=False, allow_blank=True, max_length=150)
    last_name = serializers.CharField(required=False, allow_blank=True, max_length=150)
    is_active = serializers.BooleanField(required=False)


class PasswordInputSerializer(serializers.Serializer):
    password = serializers.CharField(max_length=4096, trim_whitespace=False, write_only=True)


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
